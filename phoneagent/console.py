"""The maintenance console's line protocol, sans-IO.

The console is a serial line (``hal/serial.py`` carries its bytes); this module
turns the bytes typed into commands and the answers and events into bytes.  It
never touches pyserial, a socket or a clock.

Grammar
-------
Input::

    line     = *OCTET ( CR / LF / CRLF )   ; UTF-8, at most 512 octets before the line end
    words    = word *( WSP word )           ; WSP: whatever ``str.isspace()`` says
    word     = 1*( bare / quoted )          ; pieces join: key="a b" is the word  key=a b
    bare     = any character except white space and DQUOTE
    quoted   = DQUOTE *( qchar / "\\" DQUOTE / "\\" "\\" ) DQUOTE
    qchar    = any character except DQUOTE and "\\"

A CRLF is one line end, also when the CR ends one chunk and the LF starts the
next.  Blank lines are ignored.  A line over 512 octets is answered
``error line-too-long`` as soon as it overflows and the rest of it is dropped,
so the buffer stays bounded; undecodable UTF-8 is answered ``error bad-encoding``.

Output lines end in CRLF::

    ok [key=value …]                 ; the command worked
    error REASON [detail …]          ; REASON is kebab-case: unknown-command, usage …
    event NAME [key=value …]         ; something happened (format_event)

Every command line is answered exactly once.  The protocol's own reasons:
``line-too-long``, ``bad-encoding``, ``bad-quoting`` (unterminated quote, an
escape other than the two), ``unknown-command NAME``, ``usage SYNOPSIS`` (wrong
argument count, checked against the synopsis given at registration) and
``internal`` (the handler raised; logged with its traceback).  The built-in
``help`` answers ``ok commands="dial help status"``; ``help NAME`` answers
``ok usage="dial NUMBER" help="…"``.  Keys and names are
``[a-z][a-z0-9_-]*``.  A value that is empty or holds white space, ``"`` or
``=`` is written quoted with ``\\"`` and ``\\\\`` escapes, so ``split_words``
reads every line back into the same words.  Control characters (and lone
surrogates) in values and details become U+FFFD: an answer is always one line
and cannot drive the terminal.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "MAX_LINE_BYTES",
    "Command",
    "CommandRegistry",
    "CommandResult",
    "ConsoleProtocol",
    "Handler",
    "LineSplitter",
    "LineTooLong",
    "QuotingError",
    "format_error",
    "format_event",
    "format_ok",
    "parse_fields",
    "split_words",
]

logger = logging.getLogger(__name__)

MAX_LINE_BYTES = 512
"""Longest input line, in bytes, not counting the line end."""

_LINE_END = b"\r\n"
_LINE_BREAK_RE = re.compile(rb"[\r\n]")
_NAME_RE = re.compile(r"[a-z][a-z0-9_-]*")
_REASON_RE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_UNSAFE_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # C0, DEL, C1, lone surrogates
# usage tokens: NAME, [NAME], NAME..., [NAME...]
_USAGE_TOKEN_RE = re.compile(r"(\[)?([^\[\]\s.]+(?:\.[^\[\]\s.]+)*)(\.\.\.)?(\])?")


# -- words --------------------------------------------------------------------------


class QuotingError(ValueError):
    """A line's quotes do not follow the grammar (unterminated, unknown escape)."""


def split_words(line: str) -> list[str]:
    """Split a line into words: white space separates, double quotes group (see grammar)."""
    words: list[str] = []
    position, end = 0, len(line)
    while True:
        while position < end and line[position].isspace():
            position += 1
        if position == end:
            return words
        characters: list[str] = []
        while position < end and not line[position].isspace():
            if line[position] != '"':
                characters.append(line[position])
                position += 1
                continue
            position += 1  # the opening quote
            while True:
                if position == end:
                    raise QuotingError("unterminated quote")
                character = line[position]
                if character == '"':
                    position += 1
                    break
                if character == "\\":
                    escaped = line[position + 1 : position + 2]
                    if escaped not in ('"', "\\"):
                        raise QuotingError(f'unknown escape \\{escaped} (only \\" and \\\\)')
                    character = escaped
                    position += 1
                characters.append(character)
                position += 1
        words.append("".join(characters))


def _safe(text: str) -> str:
    return _UNSAFE_RE.sub("\ufffd", text)


def _quote(text: str) -> str:
    """``text`` as one word: quoted when empty or holding white space, ``"`` or ``=``."""
    text = _safe(text)
    if text and not any(character.isspace() or character in '"=' for character in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or _NAME_RE.fullmatch(name) is None:
        raise ValueError(f"console {what} must match [a-z][a-z0-9_-]*, not {name!r}")


def _line(*words: str) -> bytes:
    return " ".join(words).encode("utf-8") + _LINE_END


def _field_words(fields: Iterable[tuple[str, object]]) -> list[str]:
    words = []
    for key, value in fields:
        _check_name(key, "key")
        words.append(f"{key}={_quote(_value_text(value))}")
    return words


# -- answers and events -------------------------------------------------------------


def format_ok(**fields: object) -> bytes:
    """``ok key=value …`` (None is written as an empty value, booleans as true/false)."""
    return _line("ok", *_field_words(fields.items()))


def format_error(reason: str, detail: str | None = None) -> bytes:
    """``error REASON detail``: REASON kebab-case, detail free text on the same line."""
    if not isinstance(reason, str) or _REASON_RE.fullmatch(reason) is None:
        raise ValueError(f"console error reason must be kebab-case, not {reason!r}")
    words = [reason]
    if detail is not None and detail.strip():
        words.append(_safe(" ".join(detail.split())))
    return _line("error", *words)


def format_event(name: str, /, **fields: object) -> bytes:
    """``event NAME key=value …``, e.g. ``event incoming-call from="Bob <sip:bob@b>"``."""
    _check_name(name, "event name")
    return _line("event", name, *_field_words(fields.items()))


@dataclass(frozen=True, slots=True)
class CommandResult:
    """A handler's answer: ``CommandResult.ok(key=value)`` or ``CommandResult.fail(reason)``."""

    fields: tuple[tuple[str, object], ...] = ()
    reason: str | None = None  # None: success
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.reason is None:
            if self.detail is not None:
                raise ValueError("a successful CommandResult has no detail")
            for key, _ in self.fields:
                _check_name(key, "key")
        else:
            if self.fields:
                raise ValueError("a failed CommandResult has no fields")
            format_error(self.reason)  # validates the reason

    @classmethod
    def ok(cls, **fields: object) -> CommandResult:
        return cls(fields=tuple(fields.items()))

    @classmethod
    def fail(cls, reason: str, detail: str | None = None) -> CommandResult:
        return cls(reason=reason, detail=detail)

    @property
    def is_ok(self) -> bool:
        return self.reason is None

    def __bytes__(self) -> bytes:
        if self.reason is None:
            return _line("ok", *_field_words(self.fields))
        return format_error(self.reason, self.detail)


# -- commands -----------------------------------------------------------------------

Handler = Callable[[list[str]], CommandResult]


@dataclass(frozen=True, slots=True)
class Command:
    """A registered command; ``usage`` is the argument synopsis (``NUMBER [SECONDS]``)."""

    name: str
    handler: Handler
    usage: str
    help: str
    min_args: int
    max_args: int | None  # None: no limit

    @property
    def synopsis(self) -> str:
        return f"{self.name} {self.usage}" if self.usage else self.name

    def accepts(self, count: int) -> bool:
        return self.min_args <= count and (self.max_args is None or count <= self.max_args)


def _arity(usage: str) -> tuple[int, int | None]:
    """Argument counts from a synopsis: ``A`` required, ``[A]`` optional, ``A...`` repeats."""
    minimum, maximum = 0, 0
    optional_seen = repeating_seen = False
    for token in usage.split():
        match = _USAGE_TOKEN_RE.fullmatch(token)
        if match is None or bool(match[1]) != bool(match[4]) or repeating_seen:
            raise ValueError(f"bad usage {usage!r}: NAME, [NAME], NAME... or [NAME...], in order")
        optional, repeating = bool(match[1]), bool(match[3])
        if not optional:
            if optional_seen:
                raise ValueError(f"bad usage {usage!r}: a required argument after optional ones")
            minimum += 1
        optional_seen = optional_seen or optional
        repeating_seen = repeating
        maximum += 1
    return minimum, None if repeating_seen else maximum


class CommandRegistry:
    """The console's commands by name; ``help`` is built in."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}
        self.register(
            "help", self._help, usage="[COMMAND]", help="list the commands, or show one's usage"
        )

    def register(self, name: str, handler: Handler, usage: str, help: str) -> None:
        """Add a command; ``usage`` gives its arguments without the name: ``NUMBER``."""
        _check_name(name, "command name")
        if name in self._commands:
            raise ValueError(f"console command {name!r} is already registered")
        minimum, maximum = _arity(usage)
        self._commands[name] = Command(
            name, handler, " ".join(usage.split()), help, minimum, maximum
        )

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    def names(self) -> list[str]:
        return sorted(self._commands)

    def __contains__(self, name: object) -> bool:
        return name in self._commands

    def _help(self, args: list[str]) -> CommandResult:
        if not args:
            return CommandResult.ok(commands=" ".join(self.names()))
        command = self._commands.get(args[0])
        if command is None:
            return CommandResult.fail("unknown-command", args[0])
        return CommandResult.ok(usage=command.synopsis, help=command.help)


# -- the protocol -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """Stands for a line that overflowed ``MAX_LINE_BYTES``; the rest of it is dropped."""


class LineSplitter:
    """Cuts a byte stream into lines at CR, LF or CRLF, holding at most one line's bytes.

    ``feed`` returns the complete lines (without their line end; blank ones
    too) and a ``LineTooLong`` the moment a line overflows.
    """

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._max_line_bytes = max_line_bytes
        self._buffer = bytearray()
        self._discarding = False  # the current line overflowed: drop it up to its end
        self._after_cr = False  # the last chunk ended in CR: an LF first in the next ends nothing

    @property
    def buffered(self) -> int:
        """Bytes held of the line not yet ended."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes | LineTooLong]:
        lines: list[bytes | LineTooLong] = []
        if not data:
            return lines
        start, end = 0, len(data)
        if self._after_cr and data[0] == 0x0A:
            start = 1
        self._after_cr = False
        while start < end:
            match = _LINE_BREAK_RE.search(data, start)
            stop = end if match is None else match.start()
            self._append(data[start:stop], lines)
            if match is None:
                break
            if self._discarding:
                self._discarding = False
            else:
                lines.append(bytes(self._buffer))
            self._buffer.clear()
            start = stop + 1
            if data[stop] == 0x0D:  # CR: an LF right after it belongs to the same line end
                if start == end:
                    self._after_cr = True
                elif data[start] == 0x0A:
                    start += 1
        return lines

    def _append(self, piece: bytes, lines: list[bytes | LineTooLong]) -> None:
        if self._discarding or not piece:
            return
        if len(self._buffer) + len(piece) > self._max_line_bytes:
            self._buffer.clear()
            self._discarding = True
            lines.append(LineTooLong())
            return
        self._buffer += piece


class ConsoleProtocol:
    """Bytes in, answers out: ``receive_data(data)`` returns the lines to write back."""

    def __init__(self, commands: CommandRegistry) -> None:
        self._commands = commands
        self._splitter = LineSplitter()

    def receive_data(self, data: bytes) -> list[bytes]:
        """Feed bytes from the line; handlers run now; returns the answers, in order."""
        answers = []
        for line in self._splitter.feed(data):
            if isinstance(line, LineTooLong):
                answers.append(format_error("line-too-long", f"over {MAX_LINE_BYTES} bytes"))
                continue
            answer = self._answer(line)
            if answer is not None:
                answers.append(answer)
        return answers

    def _answer(self, line: bytes) -> bytes | None:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return format_error("bad-encoding", "lines must be UTF-8")
        try:
            words = split_words(text)
        except QuotingError as error:
            return format_error("bad-quoting", str(error))
        if not words:
            return None
        name, args = words[0], words[1:]
        command = self._commands.get(name)
        if command is None:
            return format_error("unknown-command", name)
        if not command.accepts(len(args)):
            return format_error("usage", command.synopsis)
        try:
            result = command.handler(args)
            if not isinstance(result, CommandResult):
                raise TypeError(f"handler returned {type(result).__name__}, not CommandResult")
            return bytes(result)
        except Exception:  # a broken handler must not take the console down with it
            logger.exception("console command %r failed", name)
            return format_error("internal")


def parse_fields(words: Iterable[str]) -> Mapping[str, str]:
    """``["a=1", "b=x y"]`` (words from ``split_words``) as ``{"a": "1", "b": "x y"}``."""
    fields: dict[str, str] = {}
    for word in words:
        key, equals, value = word.partition("=")
        if not equals or _NAME_RE.fullmatch(key) is None:
            raise ValueError(f"not a key=value word: {word!r}")
        fields[key] = value
    return fields
