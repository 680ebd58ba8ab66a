"""Typed values of the simpler SIP headers (RFC 3261 §20 and the RFCs named below).

Each type parses one header value (already unfolded) and serialises back with
``str()``.  Parsers raise ``RemoteProtocolError`` and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from phoneagent.sip.grammar import (
    QUOTED_STRING,
    TOKEN_CHARS,
    TOKEN_RE,
    Parameters,
    format_parameters,
    parameter_value,
    parse_delta_seconds,
    parse_parameters,
    quote,
    split_list,
    unquote,
)

# CSeq = "CSeq" HCOLON 1*DIGIT LWS Method
_CSEQ_RE = re.compile(rf"[ \t]*([0-9]+)[ \t]+([{TOKEN_CHARS}]+)[ \t]*")
#: RFC 3261 §8.1.1.5: the sequence number is a 32-bit unsigned integer.
MAX_CSEQ = 2**32 - 1


@dataclass(frozen=True, slots=True)
class CSeq:
    number: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        match = _CSEQ_RE.fullmatch(text)
        if match is None:
            raise RemoteProtocolError(f"malformed CSeq: {text!r}")
        digits = match.group(1)
        if len(digits) > 10 or int(digits) > MAX_CSEQ:
            raise RemoteProtocolError(f"CSeq number too large: {text!r}")
        return cls(int(digits), match.group(2))

    def __post_init__(self) -> None:
        if not 0 <= self.number <= MAX_CSEQ:
            raise LocalProtocolError(f"CSeq number out of range: {self.number}")

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


# media-type = m-type SLASH m-subtype *(SEMI m-parameter)
_MEDIA_TYPE_RE = re.compile(rf"[ \t]*([{TOKEN_CHARS}]+)[ \t]*/[ \t]*([{TOKEN_CHARS}]+)")


@dataclass(frozen=True, slots=True)
class MediaType:
    """Content-Type (RFC 3261 §20.15).  ``type`` and ``subtype`` are lowercased."""

    type: str
    subtype: str
    parameters: Parameters = ()

    @classmethod
    def parse(cls, text: str) -> MediaType:
        match = _MEDIA_TYPE_RE.match(text)
        if match is None:
            raise RemoteProtocolError(f"malformed media type: {text!r}")
        parameters = parse_parameters(text, match.end(), "Content-Type")
        return cls(match.group(1).lower(), match.group(2).lower(), parameters)

    @property
    def mime_type(self) -> str:
        """``type/subtype``, e.g. ``application/sdp``."""
        return f"{self.type}/{self.subtype}"

    def parameter(self, name: str) -> str | None:
        return parameter_value(self.parameters, name.lower())

    def __str__(self) -> str:
        return self.mime_type + format_parameters(self.parameters)


# challenge   = ("Digest" LWS digest-cln *(COMMA digest-cln)) / other-challenge
# auth-param  = auth-param-name EQUAL ( token / quoted-string )
# RFC 7616 §3.3 lets some servers send token68-like bare values; we keep the
# strict auth-param form and accept an empty parameter list for other schemes.
_AUTH_SCHEME_RE = re.compile(rf"[ \t]*([{TOKEN_CHARS}]+)(?:[ \t]+|$)")
_AUTH_PARAM_RE = re.compile(
    rf"[ \t]*([{TOKEN_CHARS}]+)[ \t]*=[ \t]*({QUOTED_STRING}|[{TOKEN_CHARS}/:@?=\[\]]+)[ \t]*"
)


@dataclass(frozen=True, slots=True)
class AuthParameters:
    """A challenge (WWW-/Proxy-Authenticate) or credentials (Authorization,
    Proxy-Authorization): a scheme and its ``name=value`` list (RFC 3261 §22,
    §25.1; RFC 7616).  Values keep their quotes as received; ``get`` unquotes.
    """

    scheme: str
    parameters: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str, header: str = "Authorization") -> AuthParameters:
        match = _AUTH_SCHEME_RE.match(text)
        if match is None:
            raise RemoteProtocolError(f"malformed {header}: no scheme")
        parameters: list[tuple[str, str]] = []
        position = match.end()
        end = len(text.rstrip(" \t"))
        while position < end:
            param = _AUTH_PARAM_RE.match(text, position)
            if param is None:
                raise RemoteProtocolError(f"malformed {header} parameter at {text[position:]!r}")
            parameters.append((param.group(1).lower(), param.group(2)))
            position = param.end()
            if position < end:
                if text[position] != ",":
                    raise RemoteProtocolError(f"expected ',' in {header} at {text[position:]!r}")
                position += 1
        return cls(match.group(1), tuple(parameters))

    def get(self, name: str) -> str | None:
        """The unquoted value of parameter ``name`` (case-insensitive name)."""
        wanted = name.lower()
        for key, value in self.parameters:
            if key == wanted:
                return unquote(value) if value.startswith('"') else value
        return None

    @property
    def is_digest(self) -> bool:
        return self.scheme.lower() == "digest"

    @property
    def realm(self) -> str | None:
        return self.get("realm")

    @property
    def nonce(self) -> str | None:
        return self.get("nonce")

    @property
    def opaque(self) -> str | None:
        return self.get("opaque")

    @property
    def algorithm(self) -> str:
        """The digest algorithm; RFC 3261 §22.4 / RFC 7616: MD5 when absent."""
        return self.get("algorithm") or "MD5"

    @property
    def qop_options(self) -> tuple[str, ...]:
        """The ``qop`` list of a challenge (``"auth,auth-int"``) as lowercase tokens."""
        raw = self.get("qop")
        if raw is None:
            return ()
        return tuple(item.strip().lower() for item in raw.split(",") if item.strip())

    @property
    def stale(self) -> bool:
        """RFC 3261 §22.4 / RFC 7616 §3.3: a new nonce, same credentials."""
        return (self.get("stale") or "").lower() == "true"

    def __str__(self) -> str:
        if not self.parameters:
            return self.scheme
        return self.scheme + " " + ", ".join(f"{name}={value}" for name, value in self.parameters)


def make_auth_parameters(
    scheme: str, quoted: dict[str, str], bare: dict[str, str]
) -> AuthParameters:
    """Build credentials: ``quoted`` values are quoted, ``bare`` ones sent as tokens."""
    parameters = [(name, quote(value)) for name, value in quoted.items()]
    for name, value in bare.items():
        if TOKEN_RE.fullmatch(value) is None:
            raise LocalProtocolError(f"{name} must be a token: {value!r}")
        parameters.append((name, value))
    return AuthParameters(scheme, tuple(parameters))


def parse_token_list(value: str, header: str) -> tuple[str, ...]:
    """Allow, Supported, Require, Proxy-Require, Unsupported: comma-separated tokens."""
    tokens = split_list(value, header)
    for token in tokens:
        if TOKEN_RE.fullmatch(token) is None:
            raise RemoteProtocolError(f"not a token in {header}: {token!r}")
    return tuple(tokens)


# Event = ( "Event" / "o" ) HCOLON event-type *( SEMI event-param )   (RFC 6665 §8.4)
_EVENT_RE = re.compile(rf"[ \t]*([{TOKEN_CHARS}]+)")


@dataclass(frozen=True, slots=True)
class EventHeader:
    package: str
    parameters: Parameters = ()

    @classmethod
    def parse(cls, text: str) -> EventHeader:
        match = _EVENT_RE.match(text)
        if match is None:
            raise RemoteProtocolError(f"malformed Event: {text!r}")
        return cls(match.group(1), parse_parameters(text, match.end(), "Event"))

    @property
    def id(self) -> str | None:
        return parameter_value(self.parameters, "id")

    def __str__(self) -> str:
        return self.package + format_parameters(self.parameters)


# Reason = "Reason" HCOLON reason-value *(COMMA reason-value)          (RFC 3326)
# reason-value = protocol *(SEMI reason-params); reason-params = protocol-cause / reason-text
@dataclass(frozen=True, slots=True)
class ReasonHeader:
    protocol: str
    parameters: Parameters = ()

    @classmethod
    def parse(cls, text: str) -> ReasonHeader:
        match = _EVENT_RE.match(text)
        if match is None:
            raise RemoteProtocolError(f"malformed Reason: {text!r}")
        reason = cls(match.group(1), parse_parameters(text, match.end(), "Reason"))
        cause = parameter_value(reason.parameters, "cause")
        # protocol-cause = "cause" EQUAL cause; cause = 1*DIGIT (SIP codes, Q.850 causes)
        if cause is not None and not (cause.isascii() and cause.isdigit() and len(cause) <= 5):
            raise RemoteProtocolError(f"Reason cause is not a number: {cause!r}")
        return reason

    @property
    def cause(self) -> int | None:
        value = parameter_value(self.parameters, "cause")
        return None if value is None else int(value)

    @property
    def text(self) -> str | None:
        return parameter_value(self.parameters, "text")

    def __str__(self) -> str:
        return self.protocol + format_parameters(self.parameters)


# Retry-After = "Retry-After" HCOLON delta-seconds [ comment ] *( SEMI retry-param )
_RETRY_AFTER_RE = re.compile(r"[ \t]*([0-9]+)[ \t]*")
MAX_COMMENT_DEPTH = 16


def _comment_end(text: str, start: int) -> int:
    """End of the comment opening at ``text[start]`` (§25.1: comments nest, quoted-pairs)."""
    depth = 0
    position = start
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == "(":
            depth += 1
            if depth > MAX_COMMENT_DEPTH:
                break
        elif char == ")":
            depth -= 1
            if depth == 0:
                return position + 1
        position += 1
    raise RemoteProtocolError(f"unbalanced comment: {text[start:][:60]!r}")


@dataclass(frozen=True, slots=True)
class RetryAfter:
    seconds: int
    comment: str | None = None
    parameters: Parameters = ()

    @classmethod
    def parse(cls, text: str) -> RetryAfter:
        match = _RETRY_AFTER_RE.match(text)
        if match is None:
            raise RemoteProtocolError(f"malformed Retry-After: {text!r}")
        seconds = parse_delta_seconds(match.group(1), "Retry-After")
        position = match.end()
        comment = None
        if text.startswith("(", position):
            end = _comment_end(text, position)
            comment, position = text[position:end], end
        return cls(seconds, comment, parse_parameters(text, position, "Retry-After"))

    @property
    def duration(self) -> int | None:
        value = parameter_value(self.parameters, "duration")
        return None if value is None else parse_delta_seconds(value, "Retry-After duration")

    def __str__(self) -> str:
        comment = f" {self.comment}" if self.comment else ""
        return f"{self.seconds}{comment}" + format_parameters(self.parameters)


# SIP-date = rfc1123-date: wkday "," SP date1 SP time SP "GMT"   (RFC 3261 §20.17)
_DATE_RE = re.compile(
    r"[ \t]*(Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([0-9]{4}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT[ \t]*"
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_sip_date(text: str) -> datetime:
    """Parse a Date header.  Only GMT is valid (RFC 4475 §3.1.2.12)."""
    match = _DATE_RE.fullmatch(text)
    if match is None:
        raise RemoteProtocolError(f"malformed Date (must be RFC 1123 in GMT): {text!r}")
    _, day, month, year, hour, minute, second = match.groups()
    try:
        return datetime(
            int(year),
            _MONTHS.index(month) + 1,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=UTC,
        )
    except ValueError:
        raise RemoteProtocolError(f"impossible Date: {text!r}") from None


def format_sip_date(moment: datetime) -> str:
    """Format a Date header value in GMT."""
    utc = moment.astimezone(UTC)
    weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[utc.weekday()]
    return f"{weekday}, {utc.day:02d} {_MONTHS[utc.month - 1]} {utc.year:04d} {utc:%H:%M:%S} GMT"
