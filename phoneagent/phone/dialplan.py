"""The dial plan: when the digits dialled so far make a number, and what to call.

Theory of operation
-------------------
A desk phone has no "send" key: it must decide by itself when the user has finished
dialling.  The dial plan says so, in the "digit map" notation of the Cisco/Linksys SPA
phones and ATAs (itself derived from the MGCP digit maps of RFC 3435 §2.1.5), which
users of desk phones and ATAs already know.  A plan is a list of patterns::

    pattern  = 1*( item / rewrite )
    item     = element [ "." ]            ; "." repeats the element zero or more times
    element  = key / "x" / set            ; "x" (or "X"): any digit 0-9
    key      = DIGIT / "*" / "#" / "+"
    set      = "[" 1*( DIGIT "-" DIGIT / DIGIT / "*" / "#" ) "]"   ; [2-9], [135], [13-5#]
    rewrite  = "<" *item ":" *key ">"     ; the digits matching the left side are
                                          ; replaced by the right side when dialling

``"911"``, ``"1xxx"`` (four-digit extensions), ``"<:+1>[2-9]xxxxxxxxx"`` (ten digits,
``+1`` inserted), ``"<0:+49>[1-9]x."`` (a national number: the leading 0 becomes +49),
``"<9:>x."`` (strip an outside-line 9), ``"00x."`` (international: ends only by the
inter-digit timeout or ``#``).

:meth:`DialPlan.match` classifies the digits dialled so far against every pattern:

* ``COMPLETE``: some pattern matches them exactly and cannot take another digit — dial
  now.  This wins over a longer pattern that could still match (``"911"`` next to
  ``"[2-9]xxxxxxxxx"``): an emergency number must never wait for a timeout.  Order
  the plan so that a closed pattern does not shadow numbers you need.
* ``PARTIAL``: the digits begin some pattern, or match one that could take more
  (``"0301234"`` with ``"<0:+49>[1-9]x."``) — wait for another digit or the timeout.
* ``NO_MATCH``: no pattern can ever match — the phone plays number-unobtainable.

An empty plan allows anything: every string is ``PARTIAL`` and dialling ends by the
inter-digit timeout or ``#``.  When dialling ends that way, :meth:`DialPlan.accepts`
says whether the digits are a whole number of the plan, and :meth:`DialPlan.rewrite`
applies the rewriting of the first pattern, in list order, that matches them exactly.

While the user dials, :func:`classify` adds what the phone knows besides the plan: a
prefix of a speed-dial key or of a feature code (``*78``/``*79``) is ``PARTIAL``, and
:func:`hash_ends_dialling` says whether ``#`` ends dialling or is one more key.
Speed dials (:func:`call_target`) are looked up first, when dialling has finished: a
dialled string equal to a speed-dial key calls its target (digits, ``+E.164`` or a
``sip:``/``sips:``/``tel:`` URI); digit targets then pass through the plan's rewriting,
URIs are called as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "FEATURE_CODES",
    "MAX_DIGITS",
    "DialPlan",
    "DialPlanError",
    "Match",
    "Pattern",
    "call_target",
    "check_speed_dials",
    "classify",
    "hash_ends_dialling",
    "is_uri",
    "remote_target",
]

#: The longest string the phone collects (E.164 allows 15 digits; room for prefixes).
MAX_DIGITS = 32
#: Feature codes the phone handles itself: code → do-not-disturb on (``*78``) or off (``*79``).
FEATURE_CODES: dict[str, bool] = {"*78": True, "*79": False}

_KEYS = frozenset("0123456789*#+")
_DIGITS = frozenset("0123456789")
_SET_KEYS = frozenset("0123456789*#")
_SPEED_DIAL_KEY = re.compile(r"[0-9*#]{1,8}")
_DIGIT_TARGET = re.compile(r"\+?[0-9*#]{1,32}")
_URI_SCHEMES = ("sip:", "sips:", "tel:")


class Match(Enum):
    COMPLETE = "complete"
    PARTIAL = "partial"
    NO_MATCH = "no-match"


class DialPlanError(ValueError):
    """A pattern is not valid digit-map syntax; names the pattern and the position."""

    def __init__(self, pattern: str, position: int, reason: str) -> None:
        super().__init__(f"dial-plan pattern {pattern!r}, position {position}: {reason}")
        self.pattern = pattern
        self.position = position
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Element:
    """One dialled key's worth of pattern: the keys it takes, repeatable or not."""

    keys: frozenset[str]
    repeat: bool
    part: int  # index into Pattern.replacements


@dataclass(frozen=True, slots=True)
class Pattern:
    """One parsed pattern: its elements, and per part what dialling sends for it.

    A part is a single plain element (``replacement`` None: send what was dialled) or
    one ``<from:to>`` group (send ``to`` instead of the keys its elements matched; an
    insertion ``<:to>`` is a part without elements).
    """

    text: str
    elements: tuple[_Element, ...]
    replacements: tuple[str | None, ...]

    def _positions(self, digits: str) -> set[int]:
        """The element indices the automaton may be at after ``digits`` (``len``: the end)."""
        current = self._closure({0})
        for key in digits:
            following = {
                index + (0 if self.elements[index].repeat else 1)
                for index in current
                if index < len(self.elements) and key in self.elements[index].keys
            }
            if not following:
                return set()
            current = self._closure(following)
        return current

    def _closure(self, positions: set[int]) -> set[int]:
        """Add the positions reachable by skipping repeatable elements (zero repeats)."""
        result = set(positions)
        pending = list(positions)
        while pending:
            index = pending.pop()
            skipped = index + 1
            if index < len(self.elements) and self.elements[index].repeat and skipped not in result:
                result.add(skipped)
                pending.append(skipped)
        return result

    def match(self, digits: str) -> Match:
        positions = self._positions(digits)
        if not positions:
            return Match.NO_MATCH
        end = len(self.elements)
        if positions == {end}:
            return Match.COMPLETE
        return Match.PARTIAL

    def accepts(self, digits: str) -> bool:
        """True when ``digits`` match the whole pattern (more digits may still fit)."""
        return len(self.elements) in self._positions(digits)

    def rewrite(self, digits: str) -> str | None:
        """What dialling ``digits`` sends, or None when they do not match exactly."""
        assignment = self._assign(digits)
        if assignment is None:
            return None
        matched: list[str] = ["" for _ in self.replacements]
        for key, element_index in zip(digits, assignment, strict=True):
            matched[self.elements[element_index].part] += key
        return "".join(
            keys if replacement is None else replacement
            for keys, replacement in zip(matched, self.replacements, strict=True)
        )

    def _assign(self, digits: str) -> list[int] | None:
        """The element each key matched (repeats greedy), or None; memoised failures
        keep patterns like ``x.x.x.`` polynomial."""
        failed: set[tuple[int, int]] = set()
        end = len(self.elements)

        def search(index: int, position: int) -> list[int] | None:
            if (index, position) in failed:
                return None
            if position == len(digits):
                if all(element.repeat for element in self.elements[index:]):
                    return []
                failed.add((index, position))
                return None
            if index < end:
                element = self.elements[index]
                if digits[position] in element.keys:
                    rest = search(index if element.repeat else index + 1, position + 1)
                    if rest is not None:
                        return [index, *rest]
                if element.repeat:
                    rest = search(index + 1, position)
                    if rest is not None:
                        return rest
            failed.add((index, position))
            return None

        return search(0, 0)


@dataclass(frozen=True, slots=True)
class DialPlan:
    """An ordered list of patterns; empty means "anything, ended by timeout or #"."""

    patterns: tuple[Pattern, ...] = ()

    @classmethod
    def parse(cls, patterns: Sequence[str]) -> DialPlan:
        """Parse ``patterns``; :class:`DialPlanError` names the first bad one."""
        if isinstance(patterns, str):
            raise TypeError("DialPlan.parse takes a list of patterns, not one string")
        return cls(tuple(_parse_pattern(text) for text in patterns))

    @property
    def is_empty(self) -> bool:
        return not self.patterns

    def match(self, digits: str) -> Match:
        """``digits`` so far against the plan (see the module docstring)."""
        if not self.patterns:
            return Match.PARTIAL
        results = {pattern.match(digits) for pattern in self.patterns}
        if Match.COMPLETE in results:
            return Match.COMPLETE
        if Match.PARTIAL in results:
            return Match.PARTIAL
        return Match.NO_MATCH

    def accepts(self, digits: str) -> bool:
        """Whether ``digits`` are a whole number of the plan (always, for an empty plan)."""
        if not self.patterns:
            return True
        return any(pattern.accepts(digits) for pattern in self.patterns)

    def rewrite(self, digits: str) -> str:
        """``digits`` rewritten by the first pattern matching them exactly, else unchanged."""
        for pattern in self.patterns:
            rewritten = pattern.rewrite(digits)
            if rewritten is not None:
                return rewritten
        return digits


def _parse_pattern(text: str) -> Pattern:
    """One pattern, by the grammar in the module docstring."""
    if not isinstance(text, str):
        raise TypeError(f"a dial-plan pattern is a string, not {type(text).__name__}")
    if not text:
        raise DialPlanError(text, 0, "empty pattern")
    elements: list[_Element] = []
    replacements: list[str | None] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "<":
            position = _parse_rewrite(text, position, elements, replacements)
        else:
            keys, repeat, position = _parse_item(text, position)
            elements.append(_Element(keys, repeat, len(replacements)))
            replacements.append(None)
    if not elements:
        raise DialPlanError(text, 0, "the pattern matches no key")
    return Pattern(text, tuple(elements), tuple(replacements))


def _parse_item(text: str, position: int) -> tuple[frozenset[str], bool, int]:
    """An element and whether ``.`` repeats it; returns its keys, the flag, the next position."""
    if text[position] == ".":
        raise DialPlanError(text, position, "'.' must follow a key, 'x' or a [set]")
    keys, position = _parse_element(text, position)
    repeat = position < len(text) and text[position] == "."
    return keys, repeat, position + (1 if repeat else 0)


def _parse_element(text: str, position: int) -> tuple[frozenset[str], int]:
    """A key, ``x`` or ``[set]`` at ``position``; returns its keys and the next position."""
    char = text[position]
    if char in "xX":
        return _DIGITS, position + 1
    if char in _KEYS:
        return frozenset(char), position + 1
    if char == "[":
        return _parse_set(text, position)
    if char in ":>":
        raise DialPlanError(text, position, f"{char!r} outside a <from:to> rewrite")
    raise DialPlanError(text, position, f"unexpected character {char!r}")


def _parse_set(text: str, start: int) -> tuple[frozenset[str], int]:
    keys: set[str] = set()
    position = start + 1
    while position < len(text) and text[position] != "]":
        char = text[position]
        if char not in _SET_KEYS:
            raise DialPlanError(text, position, f"{char!r} in a [set] (digits, * and # only)")
        if position + 1 < len(text) and text[position + 1] == "-":
            high_at = position + 2
            if high_at >= len(text) or text[high_at] == "]":
                raise DialPlanError(text, position + 1, "a range needs an upper digit")
            high = text[high_at]
            if char not in _DIGITS or high not in _DIGITS:
                raise DialPlanError(text, position, "a range goes from digit to digit")
            if high < char:
                raise DialPlanError(text, position, f"empty range {char}-{high}")
            keys.update(str(digit) for digit in range(int(char), int(high) + 1))
            position = high_at + 1
        else:
            keys.add(char)
            position += 1
    if position >= len(text):
        raise DialPlanError(text, start, "'[' without ']'")
    if not keys:
        raise DialPlanError(text, start, "empty set []")
    return frozenset(keys), position + 1


def _parse_rewrite(
    text: str, start: int, elements: list[_Element], replacements: list[str | None]
) -> int:
    """``<from:to>`` at ``start``: appends its elements and its part; returns the end."""
    part = len(replacements)
    position = start + 1
    from_elements: list[_Element] = []
    while True:
        if position >= len(text):
            raise DialPlanError(text, start, "'<' without ':'")
        char = text[position]
        if char == ":":
            break
        if char == "<":
            raise DialPlanError(text, position, "rewrites do not nest")
        keys, repeat, position = _parse_item(text, position)
        from_elements.append(_Element(keys, repeat, part))
    position += 1  # the ':'
    to_start = position
    while position < len(text) and text[position] != ">":
        if text[position] not in _KEYS:
            raise DialPlanError(
                text, position, f"{text[position]!r} in a replacement (0-9, *, #, + only)"
            )
        position += 1
    if position >= len(text):
        raise DialPlanError(text, start, "'<' without '>'")
    replacement = text[to_start:position]
    if not from_elements and not replacement:
        raise DialPlanError(text, start, "'<:>' rewrites nothing")
    elements.extend(from_elements)
    replacements.append(replacement)
    return position + 1


# --------------------------------------------------------------------------- speed dials


def is_uri(target: str) -> bool:
    """A ``sip:``, ``sips:`` or ``tel:`` URI (called as it is, never rewritten)."""
    return target.lower().startswith(_URI_SCHEMES)


def check_speed_dials(speed_dials: Mapping[str, str]) -> None:
    """ValueError naming the first bad entry: a key is 1..8 of ``0-9 * #``; a target is
    digits (optionally ``+``-prefixed, up to 32) or a ``sip:``/``sips:``/``tel:`` URI."""
    for key, target in speed_dials.items():
        if not isinstance(key, str) or not _SPEED_DIAL_KEY.fullmatch(key):
            raise ValueError(f"speed dial {key!r}: a key is 1..8 keypad keys (0-9, *, #)")
        if not isinstance(target, str) or not (
            _DIGIT_TARGET.fullmatch(target) or (is_uri(target) and len(target) > 5)
        ):
            raise ValueError(
                f"speed dial {key!r}: target {target!r} is not digits, +E.164 or a "
                "sip:, sips: or tel: URI"
            )


def call_target(dialled: str, plan: DialPlan, speed_dials: Mapping[str, str]) -> str | None:
    """What to call once dialling of ``dialled`` has finished; None: not a number.

    A speed-dial key calls its target; otherwise the digits must be a whole number of
    the plan.  Digit targets are rewritten by the plan, URIs called as they are.
    """
    target = speed_dials.get(dialled)
    if target is None:
        if not plan.accepts(dialled):
            return None
        target = dialled
    return _resolve(target, plan)


def _continues_local_code(digits: str, speed_dials: Mapping[str, str]) -> bool:
    return any(code.startswith(digits) for code in (*speed_dials, *FEATURE_CODES))


def classify(digits: str, plan: DialPlan, speed_dials: Mapping[str, str]) -> Match:
    """:meth:`DialPlan.match`, except that the start of a speed-dial key or feature code
    is ``PARTIAL`` (dialled by ``#`` or the timeout) and over :data:`MAX_DIGITS` keys is
    ``NO_MATCH``."""
    if len(digits) > MAX_DIGITS:
        return Match.NO_MATCH
    match = plan.match(digits)
    if match is Match.NO_MATCH and _continues_local_code(digits, speed_dials):
        return Match.PARTIAL
    return match


def hash_ends_dialling(digits: str, plan: DialPlan, speed_dials: Mapping[str, str]) -> bool:
    """Whether ``#`` after ``digits`` means "dial now" rather than one more key.

    ``#`` as the first key is a key (``#31#``); later it ends dialling unless a
    speed-dial key, a feature code or a pattern of a non-empty plan continues with it.
    """
    if not digits:
        return False
    candidate = digits + "#"
    if _continues_local_code(candidate, speed_dials):
        return False
    return plan.is_empty or plan.match(candidate) is Match.NO_MATCH


def remote_target(target: str, plan: DialPlan, speed_dials: Mapping[str, str]) -> str:
    """What to call for a target given by remote control (console ``dial``): a speed-dial
    key's target, digits rewritten by the plan, a URI as it is.  The plan does not
    refuse anything here: whoever types a whole number at the console means it."""
    return _resolve(speed_dials.get(target, target), plan)


def _resolve(target: str, plan: DialPlan) -> str:
    """Digits are rewritten by the plan; a URI is called as it is."""
    return target if is_uri(target) else plan.rewrite(target)
