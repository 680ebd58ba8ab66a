"""SDP session descriptions (RFC 8866) as typed wire types that round-trip.

Theory of operation
-------------------
``SessionDescription.parse(data)`` reads a body line by line.  RFC 8866 §5: each
line is ``<type>=<value>`` with a one-letter, case-sensitive type; lines end in
CRLF, and a parser should accept a bare LF too.  The first line must be ``v=0``;
after it every line is handed to the handler registered for its letter — one
table for the session level, one for a media description, which starts at each
``m=`` line.  ``bytes(description)`` writes every line back in RFC 8866 order
with CRLF line ends, so a well-formed body round-trips byte for byte.

What is kept: every field of RFC 8866 (v o s i u e p c b t r z k a m).  The
fields a phone computes with are typed (``Origin``, ``Connection``,
``Bandwidth``, ``TimeDescription``, ``MediaDescription``); the rest (e=, p=,
u=, r=, z=, k=) are kept as their raw text.  Attributes (``a=``) are kept as
``Attribute(name, value | None)`` in the order received, known or not; the typed
views of the ones that matter (``rtpmap``, ``fmtp``, ``ptime``, ``maxptime``,
the direction, ``rtcp`` (RFC 3605), ``rtcp-mux``, ``crypto``) parse the raw value
when asked, so an attribute nobody asks about can never make a body unparseable.
The per-line types live in ``fields`` and the lexical grammar in ``grammar``; this
module re-exports the types, so ``phoneagent.sdp.model`` is the one place to import from.

Strict where meaning would otherwise be guessed, tolerant where it is not:

* rejected (``RemoteProtocolError``, status hint 400): a first line other than
  ``v=0``; a line that is not ``<letter>=``; a type letter RFC 8866 does not
  define (§5: a parser must "completely ignore or reject" such a description);
  a session-level field inside a media description; a field given twice where
  RFC 8866 allows one; a missing o=, s= or t=; NUL, or a CR that does not end a
  line; a bad number (m= port, o= ids, t= times, b= value); non-numeric formats
  on an RTP m= line; an empty line before the end.
* tolerated: bare LF line ends; no line end after the last line; blank lines at
  the very end; an empty ``s=`` (RFC 5118 §4.8 shows one); runs of spaces
  between the fields of a line; known lines at one level in a different order
  than RFC 8866's.  These parse to the same object as the canonical form, so
  ``bytes()`` normalises them — the only inputs that do not round-trip byte for
  byte.  Leading zeros in numbers are not kept either.

The typed attribute views raise ``RemoteProtocolError`` (400) when the value
they are asked to read is malformed (``a=rtpmap:31 LPC`` from RFC 4475 parses
as a description; only ``rtpmap(31)`` on it fails).

Text is decoded as UTF-8 with ``surrogateescape`` (RFC 8866 §5: the default
charset is UTF-8, but ``a=charset`` may name another), so any octets survive a
round trip.  Parsing raises ``RemoteProtocolError`` and nothing else; building a
value that cannot be written (a CR in a name, a port of 70000) raises
``LocalProtocolError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from phoneagent.sdp.fields import (
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    Origin,
    Rtcp,
    RtpMap,
    TimeDescription,
)
from phoneagent.sdp.grammar import (
    DECIMAL_RE,
    ENCODING,
    ENCODING_ERRORS,
    MAX_PAYLOAD_TYPE,
    NOT_TEXT_RE,
    PROTO_RE,
    TOKEN_RE,
    check,
    check_number,
    check_text,
    check_token,
    integer,
    remote_error,
    show,
    split_fields,
)
from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "MAX_PAYLOAD_TYPE",
    "Attribute",
    "Bandwidth",
    "Connection",
    "Direction",
    "MediaDescription",
    "Origin",
    "Rtcp",
    "RtpMap",
    "SessionDescription",
    "TimeDescription",
]


# -- attribute lists and their typed views -----------------------------------------------


class _Attributes:
    """Typed views shared by the session and media levels (both hold ``attributes``)."""

    attributes: tuple[Attribute, ...]

    def attribute_values(self, name: str) -> tuple[str | None, ...]:
        """The values of every ``a=<name>`` at this level, in order (case-sensitive name)."""
        return tuple(item.value for item in self.attributes if item.name == name)

    def has_attribute(self, name: str) -> bool:
        return any(item.name == name for item in self.attributes)

    @property
    def direction(self) -> Direction | None:
        """The direction attribute given at this level, ``None`` when there is none."""
        found = {Direction(item.name) for item in self.attributes if item.name in _DIRECTION_NAMES}
        if len(found) > 1:
            names = ", ".join(sorted(found))
            raise remote_error(f"conflicting direction attributes: {names}")
        return found.pop() if found else None


_DIRECTION_NAMES = frozenset(item.value for item in Direction)


@dataclass(frozen=True)
class MediaDescription(_Attributes):
    """An ``m=`` line and the lines after it (RFC 8866 §5.14).

    ::

        media-field = %s"m" "=" media SP port ["/" integer] SP proto 1*(SP fmt) CRLF

    ``formats`` are the ``fmt`` tokens as strings; on an RTP profile they are payload
    types (0–127, checked), read as ints by ``payload_types``.  RFC 8866 allows
    several ``c=`` lines per media description (layered multicast); ``connection``
    is the first.
    """

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    port_count: int | None = None
    information: str | None = None
    connections: tuple[Connection, ...] = ()
    bandwidths: tuple[Bandwidth, ...] = ()
    key: str | None = None
    attributes: tuple[Attribute, ...] = ()

    def __post_init__(self) -> None:
        check_token(self.media, "m= media")
        check_number(self.port, "m= port", 65535)
        check(PROTO_RE.fullmatch(self.proto) is not None, f"m= proto: {self.proto!r}")
        check(bool(self.formats), "an m= line needs at least one format")
        for fmt in self.formats:
            check_token(fmt, "m= format")
        if self.is_rtp:
            for fmt in self.formats:
                check(_is_payload_type(fmt), f"RTP format is not a payload type: {fmt!r}")
        if self.port_count is not None:
            check(self.port_count >= 1, "m= port count must be at least 1")
            check_number(self.port_count, "m= port count")
        for text, what in ((self.information, "i="), (self.key, "k=")):
            if text is not None:
                check_text(text, what)

    @classmethod
    def parse_media_line(cls, value: str) -> MediaDescription:
        """The ``m=`` line alone; the parser adds the lines after it."""
        media, port_spec, proto, *formats = split_fields(value, "m= line", 4)
        if TOKEN_RE.fullmatch(media) is None or PROTO_RE.fullmatch(proto) is None:
            raise remote_error(f"malformed m= line: {show(value)}")
        port_text, slash, count_text = port_spec.partition("/")
        port = integer(port_text, "m= port", 65535)
        port_count = integer(count_text, "m= port count") if slash else None
        if port_count == 0:
            raise remote_error(f"m= port count must be at least 1: {show(value)}")
        for fmt in formats:
            if TOKEN_RE.fullmatch(fmt) is None:
                raise remote_error(f"malformed m= format: {show(fmt)}")
        if _is_rtp(proto):
            for fmt in formats:
                if not _is_payload_type(fmt):
                    raise remote_error(f"RTP format is not a payload type (0-127): {show(fmt)}")
        return cls(media, port, proto, tuple(formats), port_count)

    @property
    def is_rtp(self) -> bool:
        """An RTP profile: RTP/AVP, RTP/SAVP, RTP/AVPF, UDP/TLS/RTP/SAVPF, …"""
        return _is_rtp(self.proto)

    @property
    def payload_types(self) -> tuple[int, ...]:
        if not self.is_rtp:
            raise LocalProtocolError(f"formats of {self.proto} are not payload types")
        return tuple(int(fmt) for fmt in self.formats)

    @property
    def connection(self) -> Connection | None:
        return self.connections[0] if self.connections else None

    def rtpmap(self, payload_type: int) -> RtpMap | None:
        """The ``a=rtpmap`` for ``payload_type``, ``None`` if there is none (static types)."""
        found = {RtpMap.parse(value) for value in self._values_for("rtpmap", payload_type)}
        if len(found) > 1:
            raise remote_error(f"conflicting a=rtpmap lines for payload type {payload_type}")
        return found.pop() if found else None

    def fmtp(self, payload_type: int) -> str | None:
        """The format parameters of ``a=fmtp:<payload_type> <parameters>``, raw (RFC 8866 §6.15)."""
        values = self._values_for("fmtp", payload_type)
        if len(values) > 1:
            raise remote_error(f"more than one a=fmtp for payload type {payload_type}")
        if not values:
            return None
        return values[0].strip(" ").partition(" ")[2].lstrip(" ")

    @property
    def ptime(self) -> float | None:
        """``a=ptime`` in milliseconds (RFC 8866 §6.4: an integer or a decimal)."""
        return self._milliseconds("ptime")

    @property
    def maxptime(self) -> float | None:
        """``a=maxptime`` in milliseconds (RFC 8866 §6.5)."""
        return self._milliseconds("maxptime")

    @property
    def rtcp(self) -> Rtcp | None:
        """RFC 3605's ``a=rtcp``: where the peer wants RTCP when it is not port + 1."""
        values = self.attribute_values("rtcp")
        if len(values) > 1:
            raise remote_error("more than one a=rtcp")
        if not values:
            return None
        if values[0] is None:
            raise remote_error("a=rtcp without a port")
        return Rtcp.parse(values[0])

    @property
    def rtcp_mux(self) -> bool:
        """RFC 5761 ``a=rtcp-mux``: RTP and RTCP share one port if both ends say so."""
        return self.has_attribute("rtcp-mux")

    @property
    def crypto(self) -> tuple[str, ...]:
        """The raw values of the ``a=crypto`` lines (RFC 4568), for the SRTP layer."""
        return tuple(value for value in self.attribute_values("crypto") if value is not None)

    def _values_for(self, name: str, payload_type: int) -> list[str]:
        """Values of ``a=<name>:<pt> …`` for one payload type.

        Only the values for ``payload_type`` are parsed further, so a malformed
        line for another format (RFC 4475's ``a=rtpmap:31 LPC``) does not spoil
        the lookup of this one.
        """
        wanted = str(payload_type)
        found = []
        for value in self.attribute_values(name):
            if value is None:
                raise remote_error(f"a={name} without a value")
            head = value.lstrip(" ").partition(" ")[0]
            if head == wanted or (_is_payload_type(head) and int(head) == payload_type):
                found.append(value)
        return found

    def _milliseconds(self, name: str) -> float | None:
        values = self.attribute_values(name)
        if len(values) > 1:
            raise remote_error(f"more than one a={name}")
        if not values:
            return None
        text = (values[0] or "").strip(" ")
        if DECIMAL_RE.fullmatch(text) is None or float(text) == 0:
            raise remote_error(f"malformed a={name}: {show(text)}")
        return float(text)

    def lines(self) -> Iterator[str]:
        """The description's lines, without line ends, in RFC 8866 order."""
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        yield f"m={self.media} {port} {self.proto} {' '.join(self.formats)}"
        if self.information is not None:
            yield f"i={self.information}"
        yield from (f"c={connection}" for connection in self.connections)
        yield from (f"b={bandwidth}" for bandwidth in self.bandwidths)
        if self.key is not None:
            yield f"k={self.key}"
        yield from (f"a={attribute}" for attribute in self.attributes)


def _is_rtp(proto: str) -> bool:
    return "RTP" in proto.upper().split("/")


def _is_payload_type(fmt: str) -> bool:
    return fmt.isascii() and fmt.isdigit() and len(fmt) <= 3 and int(fmt) <= MAX_PAYLOAD_TYPE


@dataclass(frozen=True)
class SessionDescription(_Attributes):
    """A whole SDP body (RFC 8866 §5)::

        session-description = version-field origin-field session-name-field
                              [information-field] [uri-field] *email-field *phone-field
                              [connection-field] *bandwidth-field 1*time-description
                              [zone-field] [key-field] *attribute-field *media-description

    ``v=`` is always 0 and not stored.  ``connection``, ``attributes`` and the
    direction are the session-level ones; ``media_connection()`` and
    ``media_direction()`` apply RFC 8866's inheritance rules to one m= section.
    """

    origin: Origin
    session_name: str = "-"
    information: str | None = None
    uri: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    connection: Connection | None = None
    bandwidths: tuple[Bandwidth, ...] = ()
    times: tuple[TimeDescription, ...] = (TimeDescription(),)
    zone_adjustments: str | None = None
    key: str | None = None
    attributes: tuple[Attribute, ...] = ()
    media: tuple[MediaDescription, ...] = ()

    def __post_init__(self) -> None:
        check(bool(self.times), "a session description needs at least one t= line")
        check_text(self.session_name, "s=")
        for text, what in (
            (self.information, "i="),
            (self.uri, "u="),
            (self.zone_adjustments, "z="),
            (self.key, "k="),
        ):
            if text is not None:
                check_text(text, what)
        for email in self.emails:
            check_text(email, "e=")
        for phone in self.phones:
            check_text(phone, "p=")

    @classmethod
    def parse(cls, data: bytes) -> SessionDescription:
        """Parse a body; ``RemoteProtocolError`` (status hint 400) if it is not valid SDP."""
        lines = bytes(data).decode(ENCODING, ENCODING_ERRORS).split("\n")
        while lines and lines[-1] in ("", "\r"):  # blank lines at the end, tolerated
            lines.pop()
        if not lines:
            raise remote_error("empty session description")
        builder = _Builder()
        for number, raw_line in enumerate(lines, 1):
            line = raw_line[:-1] if raw_line.endswith("\r") else raw_line
            try:
                builder.feed(line)
            except RemoteProtocolError as error:
                raise RemoteProtocolError(
                    f"SDP line {number}: {error.reason}", error.status_hint
                ) from None
        return builder.finish()

    def media_connection(self, media: MediaDescription) -> Connection | None:
        """The media's own ``c=`` if it has one, else the session's (RFC 8866 §5.7)."""
        return media.connection or self.connection

    def media_direction(self, media: MediaDescription) -> Direction:
        """The media's direction attribute, else the session's, else ``sendrecv`` (§6.7)."""
        return media.direction or self.direction or Direction.SENDRECV

    def lines(self) -> Iterator[str]:
        """Every line, without line ends, in RFC 8866 order."""
        yield "v=0"
        yield f"o={self.origin}"
        yield f"s={self.session_name}"
        if self.information is not None:
            yield f"i={self.information}"
        if self.uri is not None:
            yield f"u={self.uri}"
        yield from (f"e={email}" for email in self.emails)
        yield from (f"p={phone}" for phone in self.phones)
        if self.connection is not None:
            yield f"c={self.connection}"
        yield from (f"b={bandwidth}" for bandwidth in self.bandwidths)
        for time in self.times:
            yield f"t={time.start} {time.stop}"
            yield from (f"r={repeat}" for repeat in time.repeats)
        if self.zone_adjustments is not None:
            yield f"z={self.zone_adjustments}"
        if self.key is not None:
            yield f"k={self.key}"
        yield from (f"a={attribute}" for attribute in self.attributes)
        for media in self.media:
            yield from media.lines()

    def __bytes__(self) -> bytes:
        text = "".join(line + "\r\n" for line in self.lines())
        try:
            return text.encode(ENCODING, ENCODING_ERRORS)
        except UnicodeEncodeError as error:
            raise LocalProtocolError(f"SDP text cannot be encoded: {error}") from None


# -- the parser -----------------------------------------------------------------------------


_Target = TypeVar("_Target")


class _MediaBuilder:
    def __init__(self, media_line: MediaDescription) -> None:
        self.media_line = media_line
        self.information: str | None = None
        self.connections: list[Connection] = []
        self.bandwidths: list[Bandwidth] = []
        self.key: str | None = None
        self.attributes: list[Attribute] = []

    def build(self) -> MediaDescription:
        line = self.media_line
        return MediaDescription(
            line.media,
            line.port,
            line.proto,
            line.formats,
            line.port_count,
            self.information,
            tuple(self.connections),
            tuple(self.bandwidths),
            self.key,
            tuple(self.attributes),
        )


class _Builder:
    """Collects the lines of one body; one handler per type letter and level."""

    def __init__(self) -> None:
        self.started = False
        self.origin: Origin | None = None
        self.session_name: str | None = None
        self.information: str | None = None
        self.uri: str | None = None
        self.emails: list[str] = []
        self.phones: list[str] = []
        self.connection: Connection | None = None
        self.bandwidths: list[Bandwidth] = []
        self.times: list[TimeDescription] = []
        self.zone_adjustments: str | None = None
        self.key: str | None = None
        self.attributes: list[Attribute] = []
        self.media: list[_MediaBuilder] = []

    def feed(self, line: str) -> None:
        # RFC 8866 §5: <type>=<value>; "whitespace MUST NOT be used on either side of '='".
        if len(line) < 2 or line[1] != "=" or not ("a" <= line[0] <= "z"):
            raise remote_error(f"not a <type>=<value> line: {show(line)}")
        kind, value = line[0], line[2:]
        if NOT_TEXT_RE.search(value) is not None:
            raise remote_error(f"NUL or stray CR in line: {show(line)}")
        if not self.started:
            # version-field = %s"v" "=" 1*DIGIT CRLF, and only version 0 exists.
            if kind != "v":
                raise remote_error(f"a session description starts with v=, not {show(line)}")
            if value != "0":
                raise remote_error(f"unsupported SDP version: {show(value)}")
            self.started = True
        elif kind == "m":
            self.media.append(_MediaBuilder(MediaDescription.parse_media_line(value)))
        elif self.media:
            media_handler = _MEDIA_HANDLERS.get(kind)
            if media_handler is None:
                where = "inside a media description" if kind in _SESSION_HANDLERS else "unknown"
                raise remote_error(f"{kind}= line {where}: {show(line)}")
            media_handler(self.media[-1], value)
        else:
            session_handler = _SESSION_HANDLERS.get(kind)
            if session_handler is None:
                raise remote_error(f"unknown line type {kind}=: {show(line)}")
            session_handler(self, value)

    def finish(self) -> SessionDescription:
        if self.origin is None:
            raise remote_error("no o= line")
        if self.session_name is None:
            raise remote_error("no s= line")
        if not self.times:
            raise remote_error("no t= line")
        return SessionDescription(
            self.origin,
            self.session_name,
            self.information,
            self.uri,
            tuple(self.emails),
            tuple(self.phones),
            self.connection,
            tuple(self.bandwidths),
            tuple(self.times),
            self.zone_adjustments,
            self.key,
            tuple(self.attributes),
            tuple(media.build() for media in self.media),
        )


def _once(
    attribute: str, letter: str, convert: Callable[[str], object] = str
) -> Callable[[_Target, str], None]:
    """A handler for a field that may appear once per level."""

    def handle(target: _Target, value: str) -> None:
        if getattr(target, attribute) is not None:
            raise remote_error(f"more than one {letter}= line")
        setattr(target, attribute, convert(value))

    return handle


def _repeated(attribute: str, convert: Callable[[str], object]) -> Callable[[_Target, str], None]:
    """A handler for a field that may appear any number of times per level."""

    def handle(target: _Target, value: str) -> None:
        getattr(target, attribute).append(convert(value))

    return handle


def _add_repeat(builder: _Builder, value: str) -> None:
    """``r=`` belongs to the ``t=`` before it (RFC 8866 §5.10)."""
    if not builder.times:
        raise remote_error("r= line before any t= line")
    last = builder.times[-1]
    builder.times[-1] = TimeDescription(last.start, last.stop, (*last.repeats, value))


_SESSION_HANDLERS: dict[str, Callable[[_Builder, str], None]] = {
    "o": _once("origin", "o", Origin.parse),
    "s": _once("session_name", "s"),
    "i": _once("information", "i"),
    "u": _once("uri", "u"),
    "e": _repeated("emails", str),
    "p": _repeated("phones", str),
    "c": _once("connection", "c", Connection.parse),
    "b": _repeated("bandwidths", Bandwidth.parse),
    "t": _repeated("times", TimeDescription.parse),
    "r": _add_repeat,
    "z": _once("zone_adjustments", "z"),
    "k": _once("key", "k"),
    "a": _repeated("attributes", Attribute.parse),
}
_MEDIA_HANDLERS: dict[str, Callable[[_MediaBuilder, str], None]] = {
    "i": _once("information", "i"),
    "c": _repeated("connections", Connection.parse),
    "b": _repeated("bandwidths", Bandwidth.parse),
    "k": _once("key", "k"),
    "a": _repeated("attributes", Attribute.parse),
}
