"""The machinery behind ``phoneagent.config``: rules, sections, line numbers, errors.

Theory of operation
-------------------
``tomllib`` turns the text into nested dicts but forgets where each key was.
``KeyLines.scan`` recovers that with a small scanner over the same text: it only
ever sees text ``tomllib`` has accepted, so it reads structure (``[table]`` and
``[[array]]`` headers, ``key =`` lines with dotted and quoted keys, arrays,
inline tables, multi-line strings) and skips values without checking them.

A *section* is a frozen dataclass plus a table of ``Setting``\\ s, each naming a
*rule*: a callable that checks one TOML value and converts it (``"udp"`` stays a
string, ``"0.0.0.0:5060"`` becomes a ``HostPort``).  A section may add a *check*
for rules between its keys (exactly one of two keys, a default derived from
another key).  ``build_sections`` runs every rule of every registered section,
collects each problem as a ``ConfigError`` naming the key's dotted path and line,
and raises the one that comes first in the file (the others ride along in
``ConfigError.others``).  Adding a section is one dataclass and one registry
entry; there is no code per key.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime
import difflib
import enum
import json
import math
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

KeyPath = tuple[str | int, ...]
"""A key's place in the document: table and key names, and list indexes."""

_BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")
_TOML_POSITION_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


# -- errors -------------------------------------------------------------------------


def format_key(path: KeyPath) -> str:
    """``account.transport``, ``network.dns_servers[1]``, ``account."odd key"``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = part if _BARE_KEY_RE.fullmatch(part) else json.dumps(part, ensure_ascii=False)
            text += f".{name}" if text else name
    return text


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


class ConfigError(Exception):
    """The configuration cannot be used; ``str()`` is one line naming key and line.

    ``config error: account.transport (line 7): must be one of udp, tcp, tls, not "sctp"``.
    ``key`` is the dotted path (None for errors of the whole file), ``line`` the
    1-based line where it could be found, ``others`` the further problems found
    in the same file, in file order.
    """

    def __init__(
        self,
        problem: str,
        *,
        key: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.key = key
        self.line = line
        self.column = column
        self.others: tuple[ConfigError, ...] = ()

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else ""
        if where and self.column is not None:
            where += f", column {self.column}"
        if self.key is not None:
            where = f"{self.key} ({where})" if where else self.key
        prefix = f"config error: {where}: " if where else "config error: "
        return _one_line(prefix + self.problem)


def parse_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads`` with its syntax errors turned into a ``ConfigError`` with the line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = _TOML_POSITION_RE.search(message)
        if match is not None:
            line, column = int(match[1]), int(match[2])
            message = message[: match.start()]
        else:  # "(at end of document)": name the last line that has anything on it
            line, column = text.rstrip().count("\n") + 1, None
        raise ConfigError(f"invalid TOML: {message}", line=line, column=column) from None


# -- where each key is: a scanner over text tomllib accepted -------------------------


class _ScanError(Exception):
    """The scanner met text it does not understand; it keeps the lines found so far."""


_BLANK_RE = re.compile(r"(?:[ \t\r\n]|#[^\n]*)*")
_SPACE_RE = re.compile(r"[ \t]*")
_BASIC_STRING_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_LITERAL_STRING_RE = re.compile(r"'[^'\n]*'")
# A multi-line string closes at the first unescaped """ (''') ; up to two more quotes
# right before that belong to the content, which the greedy tail absorbs.
_MULTILINE_BASIC_RE = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""(?:""|")?', re.DOTALL)
_MULTILINE_LITERAL_RE = re.compile(r"'''(?:[^']|'(?!''))*'''(?:''|')?")
_SCALAR_RE = re.compile(r"[^\s,\]}#]+")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SPACE_THEN_TIME_RE = re.compile(r" \d{2}:")


class KeyLines:
    """The 1-based line of every table, key and array element of a TOML document."""

    def __init__(self, lines: Mapping[KeyPath, int]) -> None:
        self._lines = dict(lines)

    @classmethod
    def scan(cls, text: str) -> KeyLines:
        scanner = _Scanner(text)
        with contextlib.suppress(_ScanError):  # line numbers are a courtesy: keep those found
            scanner.scan()
        return cls(scanner.lines)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, else of the nearest enclosing table that is in the text."""
        for length in range(len(path), 0, -1):
            line = self._lines.get(path[:length])
            if line is not None:
                return line
        return None

    def __contains__(self, path: object) -> bool:
        return path in self._lines


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.newlines = [match.start() for match in re.finditer("\n", text)]
        self.lines: dict[KeyPath, int] = {}
        self.explicit: set[KeyPath] = set()  # tables named by a header, not just implied
        self.array_lengths: dict[KeyPath, int] = {}  # [[array]] tables seen so far

    def line(self) -> int:
        return bisect.bisect_left(self.newlines, self.pos) + 1

    def record(self, path: KeyPath, line: int, *, explicit: bool = False) -> None:
        for length in range(1, len(path)):
            self.lines.setdefault(path[:length], line)
        if explicit:
            if path not in self.explicit:
                self.explicit.add(path)
                self.lines[path] = line
        else:
            self.lines.setdefault(path, line)

    def skip(self, pattern: re.Pattern[str]) -> None:
        match = pattern.match(self.text, self.pos)
        assert match is not None  # both patterns match the empty string
        self.pos = match.end()

    def expect(self, token: str) -> None:
        if not self.text.startswith(token, self.pos):
            raise _ScanError
        self.pos += len(token)

    def consume(self, pattern: re.Pattern[str]) -> str:
        match = pattern.match(self.text, self.pos)
        if match is None or not match.group():
            raise _ScanError
        self.pos = match.end()
        return match.group()

    def resolve(self, key: KeyPath) -> KeyPath:
        """Put the index of the latest element after each [[array]] a header passes through."""
        resolved: KeyPath = ()
        for part in key:
            resolved = (*resolved, part)
            if resolved in self.array_lengths:
                resolved = (*resolved, self.array_lengths[resolved] - 1)
        return resolved

    def scan(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip(_BLANK_RE)
            if self.pos >= len(self.text):
                return
            line = self.line()
            if self.text.startswith("[[", self.pos):
                self.pos += 2
                key = self.read_key()
                self.expect("]]")
                array = (*self.resolve(key[:-1]), key[-1])
                index = self.array_lengths.get(array, 0)
                self.array_lengths[array] = index + 1
                self.record(array, line, explicit=True)
                table = (*array, index)
                self.record(table, line, explicit=True)
            elif self.text.startswith("[", self.pos):
                self.pos += 1
                table = self.resolve(self.read_key())
                self.expect("]")
                self.record(table, line, explicit=True)
            else:
                self.read_key_value(table)

    def read_key(self) -> KeyPath:
        parts: list[str] = []
        while True:
            self.skip(_SPACE_RE)
            if self.text.startswith('"', self.pos):
                raw = self.consume(_BASIC_STRING_RE)
                parts.append(_decode_basic_string(raw) if "\\" in raw else raw[1:-1])
            elif self.text.startswith("'", self.pos):
                parts.append(self.consume(_LITERAL_STRING_RE)[1:-1])
            else:
                parts.append(self.consume(_BARE_KEY_RE))
            self.skip(_SPACE_RE)
            if not self.text.startswith(".", self.pos):
                return tuple(parts)
            self.pos += 1

    def read_key_value(self, table: KeyPath) -> None:
        line = self.line()
        path = (*table, *self.read_key())
        self.record(path, line)
        self.expect("=")
        self.skip(_SPACE_RE)
        self.read_value(path)

    def read_value(self, path: KeyPath) -> None:
        text, pos = self.text, self.pos
        if text.startswith('"""', pos):
            self.consume(_MULTILINE_BASIC_RE)
        elif text.startswith("'''", pos):
            self.consume(_MULTILINE_LITERAL_RE)
        elif text.startswith('"', pos):
            self.consume(_BASIC_STRING_RE)
        elif text.startswith("'", pos):
            self.consume(_LITERAL_STRING_RE)
        elif text.startswith("[", pos):
            self.read_array(path)
        elif text.startswith("{", pos):
            self.read_inline_table(path)
        else:
            token = self.consume(_SCALAR_RE)
            if _DATE_RE.fullmatch(token) and _SPACE_THEN_TIME_RE.match(text, self.pos):
                self.pos += 1  # "1979-05-27 07:32:00": a date-time with a space in it
                self.consume(_SCALAR_RE)

    def read_array(self, path: KeyPath) -> None:
        self.pos += 1
        index = 0
        while not self.closes("]"):
            element = (*path, index)
            self.record(element, self.line())
            self.read_value(element)
            self.separator("]")
            index += 1

    def read_inline_table(self, path: KeyPath) -> None:
        self.pos += 1
        while not self.closes("}"):
            self.read_key_value(path)
            self.separator("}")

    def closes(self, closer: str) -> bool:
        self.skip(_BLANK_RE)  # TOML 1.1 allows newlines and comments in inline tables too
        if self.text.startswith(closer, self.pos):
            self.pos += 1
            return True
        return False

    def separator(self, closer: str) -> None:
        self.skip(_BLANK_RE)
        if self.text.startswith(",", self.pos):
            self.pos += 1
        elif not self.text.startswith(closer, self.pos):
            raise _ScanError


def _decode_basic_string(raw: str) -> str:
    try:
        value = tomllib.loads(f"k = {raw}")["k"]
    except tomllib.TOMLDecodeError:
        raise _ScanError from None
    assert isinstance(value, str)
    return value


# -- rules: check one TOML value and convert it ----------------------------------------


class SettingError(Exception):
    """A rule's or a check's verdict.

    ``key`` names another key of the same section (for checks between keys);
    ``index`` the offending element of an array.
    """

    def __init__(self, problem: str, *, key: str | None = None, index: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.key = key
        self.index = index


@dataclass(frozen=True)
class RuleContext:
    """What rules may need besides the value: relative paths resolve against ``base_dir``."""

    base_dir: Path | None = None


class Rule(Protocol):
    def __call__(self, value: object, context: RuleContext, /) -> Any: ...


def type_name(value: object) -> str:
    """The TOML type of a value, with its article: "a string", "an array" …"""
    names: tuple[tuple[type, str], ...] = (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (list, "an array"),
        (dict, "a table"),
        (datetime.datetime, "a date-time"),
        (datetime.date, "a date"),
        (datetime.time, "a time"),
    )
    return next((name for kind, name in names if isinstance(value, kind)), type(value).__name__)


def show(value: object) -> str:
    """A value as it would be written in TOML, shortened: ``"sctp"``, ``true``, ``4.5``."""
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 60 else value[:60] + "…", ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return type_name(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def wrong_type(expected: str, value: object) -> SettingError:
    problem = f"must be {expected}, not {type_name(value)}"
    if not isinstance(value, list | dict):
        problem += f" ({show(value)})"
    return SettingError(problem)


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Text:
    """A string; ``choices`` limit it, ``empty_is_none`` reads "" as "not set"."""

    choices: tuple[str, ...] = ()
    non_empty: bool = False
    empty_is_none: bool = False

    def __call__(self, value: object, context: RuleContext, /) -> str | None:
        if not isinstance(value, str):
            raise wrong_type(
                f"one of {', '.join(self.choices)}" if self.choices else "a string", value
            )
        if self.choices and value not in self.choices:
            raise SettingError(f"must be one of {', '.join(self.choices)}, not {show(value)}")
        if not value and self.non_empty:
            raise SettingError("must not be empty")
        return None if not value and self.empty_is_none else value


@dataclass(frozen=True)
class Integer:
    """An integer in ``minimum..maximum`` or one of ``also`` (booleans are not integers)."""

    minimum: int
    maximum: int
    also: tuple[int, ...] = ()

    def __call__(self, value: object, context: RuleContext, /) -> int:
        if type(value) is not int:
            raise wrong_type("an integer", value)
        if not (self.minimum <= value <= self.maximum or value in self.also):
            extra = "".join(f"{number} or " for number in self.also)
            raise SettingError(
                f"must be {extra}an integer from {self.minimum} to {self.maximum}, not {value}"
            )
        return value


@dataclass(frozen=True)
class Number:
    """A float (an integer is welcome too) in ``minimum..maximum``."""

    minimum: float
    maximum: float

    def __call__(self, value: object, context: RuleContext, /) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong_type("a number", value)
        number = float(value)
        if not (math.isfinite(number) and self.minimum <= number <= self.maximum):
            raise SettingError(
                f"must be a number from {_number(self.minimum)} to {_number(self.maximum)}, "
                f"not {show(value)}"
            )
        return number


@dataclass(frozen=True)
class Boolean:
    def __call__(self, value: object, context: RuleContext, /) -> bool:
        if not isinstance(value, bool):
            raise wrong_type("true or false", value)
        return value


@dataclass(frozen=True)
class FilePath:
    """A file name, relative to the config file's directory; "" is "not set" if ``optional``.

    With ``readable`` the file must open for reading now, at start, not at the
    first call that needs it.
    """

    readable: bool = False
    optional: bool = True

    def __call__(self, value: object, context: RuleContext, /) -> Path | None:
        if not isinstance(value, str):
            raise wrong_type("a file name", value)
        if not value:
            if not self.optional:
                raise SettingError("must not be empty")
            return None
        path = Path(value)
        if context.base_dir is not None:
            path = context.base_dir / path
        if self.readable:
            try:
                path.open("rb").close()
            except OSError as error:
                raise SettingError(f"cannot read {path}: {error.strerror}") from None
        return path


@dataclass(frozen=True)
class ArrayOf:
    """An array whose every element passes ``element``; converted to a tuple."""

    element: Rule

    def __call__(self, value: object, context: RuleContext, /) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise wrong_type("an array", value)
        converted = []
        for index, item in enumerate(value):
            try:
                converted.append(self.element(item, context))
            except SettingError as error:
                raise SettingError(error.problem, index=index) from None
        return tuple(converted)


@dataclass(frozen=True)
class TableOf:
    """An inline table ``{ "key" = value }``: every key passes ``key``, every value ``value``."""

    key: Rule
    value: Rule

    def __call__(self, value: object, context: RuleContext, /) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise wrong_type("a table", value)
        converted = {}
        for name, item in value.items():
            try:
                converted[self.key(name, context)] = self.value(item, context)
            except SettingError as error:
                raise SettingError(f"{show(name)}: {error.problem}") from None
        return converted


# -- sections ---------------------------------------------------------------------------


class Marker(enum.Enum):
    REQUIRED = "required"


REQUIRED = Marker.REQUIRED


@dataclass(frozen=True)
class Setting:
    """One key: its rule and its default.

    ``default`` is a TOML value that goes through ``rule`` like a written one,
    ``REQUIRED``, or ``None``: left as None for the section's check to fill in.
    """

    name: str
    rule: Rule
    default: object = REQUIRED


SectionCheck = Callable[[dict[str, Any]], None]
"""Checks between the converted values of a section; may fill in derived defaults."""


@dataclass(frozen=True)
class Section:
    """A ``[name]`` table: the dataclass built from it and the rules of its keys."""

    name: str
    factory: Callable[..., Any]
    settings: tuple[Setting, ...]
    check: SectionCheck | None = None


def build_sections(
    document: Mapping[str, Any],
    sections: Sequence[Section],
    lines: KeyLines,
    context: RuleContext,
) -> dict[str, Any]:
    """Validate ``document`` against ``sections``: ``{name: section dataclass}``.

    Raises the ``ConfigError`` that comes first in the file, with the rest in ``others``.
    """
    problems: list[ConfigError] = []

    def problem(path: KeyPath, text: str) -> None:
        problems.append(ConfigError(text, key=format_key(path), line=lines.line_of(path)))

    known = [section.name for section in sections]
    for name, value in document.items():
        if name not in known:
            kind = "section" if isinstance(value, dict) else "top-level key"
            problem((name,), f"unknown {kind}{_did_you_mean(name, known)}")
    built: dict[str, Any] = {}
    for section in sections:
        table = document.get(section.name, {})
        if not isinstance(table, dict):
            problem((section.name,), f"must be a table [{section.name}], not {type_name(table)}")
            continue
        values = _build_values(section, table, context, problem)
        if values is not None:
            built[section.name] = section.factory(**values)
    if problems:
        problems.sort(key=lambda error: (error.line is None, error.line or 0))
        first = problems[0]
        first.others = tuple(problems[1:])
        raise first
    return built


def _build_values(
    section: Section,
    table: Mapping[str, Any],
    context: RuleContext,
    problem: Callable[[KeyPath, str], None],
) -> dict[str, Any] | None:
    names = [setting.name for setting in section.settings]
    valid = True
    for key in table:
        if key not in names:
            problem((section.name, key), f"unknown key{_did_you_mean(key, names)}")
            valid = False
    values: dict[str, Any] = {}
    for setting in section.settings:
        path: KeyPath = (section.name, setting.name)
        if setting.name in table:
            raw = table[setting.name]
        elif setting.default is REQUIRED:
            problem(path, "required key is missing")
            valid = False
            continue
        elif setting.default is None:
            values[setting.name] = None
            continue
        else:
            raw = setting.default
        try:
            values[setting.name] = setting.rule(raw, context)
        except SettingError as error:
            problem(path if error.index is None else (*path, error.index), error.problem)
            valid = False
    if not valid:
        return None
    if section.check is not None:
        try:
            section.check(values)
        except SettingError as error:
            path = (section.name,) if error.key is None else (section.name, error.key)
            problem(path, error.problem)
            return None
    return values


def _did_you_mean(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f' (did you mean "{close[0]}"?)'
    return f" (known: {', '.join(known)})"
