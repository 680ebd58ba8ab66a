"""Framing of SIP messages on a byte stream (TCP, TLS), sans-IO.

Theory of operation
-------------------
On a stream transport the only thing that separates one SIP message from the
next is the Content-Length header field: on a stream it gives the size of
the body and is mandatory (RFC 3261 §18.3, §20.14).  A message is therefore
(RFC 3261 §7, §7.5)::

    start-line *( message-header ) CRLF [ message-body ]

that is: everything up to and including the first CRLF CRLF, then exactly
Content-Length octets of body.  The decoder finds that boundary and nothing
more; :func:`phoneagent.sip.message.parse_message` parses the framed bytes.

Between messages a peer may send keep-alives (RFC 5626 §3.5.1, §4.4.1): the
"ping" is a double CRLF, the "pong" a single CRLF.  RFC 3261 §7.5 also says
to ignore CRLFs before a start line; RFC 5626 gives them this meaning on
streams.  At a message boundary the decoder reads a run of CRLFs greedily:

* ``CRLF CRLF``                       → :class:`KeepAlivePing` (answer with
  :data:`KEEPALIVE_PONG`);
* ``CRLF`` followed by a byte that does not continue a ``CRLF CRLF``
                                      → :class:`KeepAlivePong`;
* a buffer that holds exactly ``CRLF`` → :class:`KeepAlivePong` as well.

So three CRLFs are a ping and a pong, four are two pings.  The last rule is a
trade-off: waiting for a byte that may never come would leave a pong
unreported until the next message, but it means a ping split across two reads
(``CRLF`` | ``CRLF``) comes out as two pongs.  RFC 5626 clients send the ping
in one write, so in practice the split does not happen; a misread costs one
unanswered ping (the peer retries or reconnects), never a broken message.  A
lone CR, or ``CRLF CR``, at a boundary waits for its next byte; a CR not
followed by LF starts a message, which the message parser will reject.

The decoder is shaped like h11's: the owner feeds bytes with
:meth:`StreamDecoder.receive_data` (``b""`` once for end of file) and pulls
:class:`StreamEvent` objects with :meth:`StreamDecoder.next_event` until it
returns ``None`` ("need more data").  Work per call is proportional to the
new bytes only: the blank-line search resumes where the last one stopped.

Bounds and errors (DESIGN.md principle 5):

* The buffer is capped at ``max_message_size`` for the message being framed.
  ``receive_data`` appends without looking, so the buffer can hold at most
  one chunk more than the cap; the next ``next_event`` call then raises.  The
  owner is expected to drain ``next_event`` before each read, as the usual
  loop does.  Headers longer than the cap with no blank line yet, or a
  Content-Length that makes the message longer than the cap, raise
  ``RemoteProtocolError`` with status hint 513 (Message Too Large, RFC 3261
  §21.5.7).
* A missing, non-numeric or negative Content-Length, or several that differ
  (in full or compact form ``l``, any case, folded, LWS around the colon),
  raise ``RemoteProtocolError`` with hint 400; so does end of file in the
  middle of a message.
* After any ``RemoteProtocolError`` the stream has lost its framing for good,
  so the decoder is dead: every further call raises ``LocalProtocolError``
  and the owner must close the connection.
"""

from __future__ import annotations

from dataclasses import dataclass

from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "KEEPALIVE_PING",
    "KEEPALIVE_PONG",
    "KeepAlivePing",
    "KeepAlivePong",
    "MessageFramed",
    "StreamDecoder",
    "StreamEvent",
]

KEEPALIVE_PING = b"\r\n\r\n"
"""The RFC 5626 §3.5.1 keep-alive request: a double CRLF."""

KEEPALIVE_PONG = b"\r\n"
"""The RFC 5626 §3.5.1 keep-alive answer: a single CRLF."""

DEFAULT_MAX_MESSAGE_SIZE = 65536

_CRLF = b"\r\n"
_BLANK_LINE = b"\r\n\r\n"  # end of the header section (RFC 3261 §7)
_WSP = b" \t"  # WSP = SP / HTAB (RFC 3261 §25.1)
_CONTENT_LENGTH_NAMES = (b"content-length", b"l")  # §7.3.3 compact form
# More significant digits than any sane cap has; stops int() on huge input.
_MAX_LENGTH_DIGITS = 18
_MESSAGE_TOO_LARGE = 513
_BAD_REQUEST = 400


@dataclass(frozen=True)
class StreamEvent:
    """Base of the events a :class:`StreamDecoder` produces."""


@dataclass(frozen=True)
class MessageFramed(StreamEvent):
    """One complete message: start line, headers, blank line, exact body."""

    data: bytes


@dataclass(frozen=True)
class KeepAlivePing(StreamEvent):
    """The peer sent a double CRLF: answer with :data:`KEEPALIVE_PONG`."""


@dataclass(frozen=True)
class KeepAlivePong(StreamEvent):
    """The peer sent a single CRLF: the answer to our ping."""


class StreamDecoder:
    """Cut a SIP byte stream into messages and keep-alives (RFC 3261 §18.3)."""

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        if isinstance(max_message_size, bool) or max_message_size < 1:
            raise LocalProtocolError(f"max_message_size must be positive: {max_message_size!r}")
        self._max_message_size = max_message_size
        self._buffer = bytearray()
        # False at a message boundary, where CRLFs are keep-alives.
        self._in_message = False
        # Where the next blank-line search starts, relative to the buffer;
        # everything before it is known to hold no CRLF CRLF.
        self._search_from = 0
        # Total length of the message at the front of the buffer, once its
        # header section and Content-Length are known.
        self._message_length: int | None = None
        self._eof = False
        self._dead = False

    @property
    def max_message_size(self) -> int:
        """The largest message, headers and body, this decoder accepts."""
        return self._max_message_size

    @property
    def buffered(self) -> int:
        """Number of received bytes not yet returned as events."""
        return len(self._buffer)

    def receive_data(self, data: bytes) -> None:
        """Append bytes read from the connection; ``b""`` means end of file.

        Nothing is checked here: errors in the data surface from
        :meth:`next_event`.  Feeding data after end of file, or after the
        decoder died, is our own bug and raises ``LocalProtocolError``.
        """
        if self._dead:
            raise LocalProtocolError("decoder is dead after a protocol error; close the connection")
        if not data:
            self._eof = True
            return
        if self._eof:
            raise LocalProtocolError("data received after end of file")
        self._buffer += data

    def next_event(self) -> StreamEvent | None:
        """Return the next event, or ``None`` until more data arrives.

        Raises ``RemoteProtocolError`` (then the decoder is dead) when the
        stream cannot be framed; see the module docstring for the cases.
        """
        if self._dead:
            raise LocalProtocolError("decoder is dead after a protocol error; close the connection")
        try:
            event = self._next_event()
        except RemoteProtocolError:
            self._dead = True
            raise
        if event is None and self._eof and self._buffer:
            self._dead = True
            raise RemoteProtocolError("connection closed mid-message", _BAD_REQUEST)
        return event

    # --- internals ----------------------------------------------------------

    def _next_event(self) -> StreamEvent | None:
        if self._message_length is None:
            if not self._in_message:
                if self._may_be_keepalive():
                    return self._next_keepalive()
                self._in_message = True
            message_length = self._find_header_end()
            if message_length is None:
                return None
            self._message_length = message_length
        if len(self._buffer) < self._message_length:
            return None
        data = bytes(self._buffer[: self._message_length])
        self._consume(self._message_length)
        return MessageFramed(data)

    def _may_be_keepalive(self) -> bool:
        """True at a boundary where the buffer is empty or starts a CRLF run.

        A CR that is not followed by LF starts no keep-alive; it is taken as
        the first byte of a message, which the message parser will reject.
        """
        head = bytes(self._buffer[:2])
        return head in (b"", b"\r", _CRLF)

    def _next_keepalive(self) -> StreamEvent | None:
        """The keep-alive at the front of the buffer, or None while incomplete."""
        buffer = self._buffer
        if buffer[:4] == KEEPALIVE_PING:
            self._consume(len(KEEPALIVE_PING))
            return KeepAlivePing()
        if buffer[:2] != _CRLF or buffer == b"\r\n\r":
            # Empty, a lone CR, or CRLF CR that the next byte may make a ping.
            return None
        # A single CRLF followed by a byte other than CR LF, or by nothing at
        # all (the trade-off described in the module docstring).
        self._consume(len(KEEPALIVE_PONG))
        return KeepAlivePong()

    def _find_header_end(self) -> int | None:
        """Find the blank line and return the whole message's length.

        Returns None while the blank line has not arrived.  Only bytes not
        searched before are scanned, so feeding a message one byte at a time
        costs linear time overall.
        """
        buffer = self._buffer
        index = buffer.find(_BLANK_LINE, self._search_from)
        if index < 0:
            if len(buffer) >= self._max_message_size:
                # The header section, still open, cannot end within the cap.
                raise RemoteProtocolError(
                    f"no end of headers within {self._max_message_size} bytes",
                    _MESSAGE_TOO_LARGE,
                )
            # A CRLF CRLF completed by later bytes begins in the last three.
            self._search_from = max(0, len(buffer) - (len(_BLANK_LINE) - 1))
            return None
        header_end = index + len(_BLANK_LINE)
        if header_end > self._max_message_size:
            raise RemoteProtocolError(
                f"header section of {header_end} bytes exceeds {self._max_message_size}",
                _MESSAGE_TOO_LARGE,
            )
        message_length = header_end + _content_length(bytes(buffer[:index]))
        if message_length > self._max_message_size:
            raise RemoteProtocolError(
                f"message of {message_length} bytes exceeds {self._max_message_size}",
                _MESSAGE_TOO_LARGE,
            )
        return message_length

    def _consume(self, count: int) -> None:
        # Deleting from the front of a bytearray only moves its start pointer.
        del self._buffer[:count]
        self._in_message = False
        self._search_from = 0
        self._message_length = None


def _content_length(header_section: bytes) -> int:
    """The Content-Length of a header section (start line and headers, no blank line).

    Grammar (RFC 3261 §20.14, §25.1)::

        Content-Length  =  ( "Content-Length" / "l" ) HCOLON 1*DIGIT
        HCOLON          =  *( SP / HTAB ) ":" SWS
        SWS             =  [LWS]
        LWS             =  [*WSP CRLF] 1*WSP   ; a line folded onto the next

    Header names are case-insensitive (§7.3.1).  Several Content-Length
    fields are accepted only when they all carry the same value.
    """
    values: list[bytes] = []
    for name, value in _unfolded_fields(header_section):
        if name.lower() in _CONTENT_LENGTH_NAMES:
            values.append(value)
    if not values:
        raise RemoteProtocolError("Content-Length is missing (mandatory on streams)", _BAD_REQUEST)
    lengths = {_parse_length(value) for value in values}
    if len(lengths) > 1:
        raise RemoteProtocolError(
            f"conflicting Content-Length values {sorted(lengths)}", _BAD_REQUEST
        )
    return lengths.pop()


def _unfolded_fields(header_section: bytes) -> list[tuple[bytes, bytes]]:
    """Split the header lines after the start line into (name, value) pairs.

    A line that starts with whitespace continues the previous one (§7.3.1).
    Lines without a colon are left for the message parser to reject.
    """
    unfolded: list[list[bytes]] = []  # each field as its physical lines
    for line in header_section.split(_CRLF)[1:]:
        if line[:1] in (b" ", b"\t"):
            if unfolded:
                unfolded[-1].append(line.strip(_WSP))
            continue
        unfolded.append([line])
    fields: list[tuple[bytes, bytes]] = []
    for parts in unfolded:
        name, colon, value = b" ".join(parts).partition(b":")
        if colon:
            fields.append((name.rstrip(_WSP), value.strip(_WSP)))
    return fields


def _parse_length(value: bytes) -> int:
    """Parse ``1*DIGIT`` (ASCII digits only; no sign, no inner space)."""
    if not value.isdigit():  # bytes.isdigit() accepts ASCII 0-9 only
        raise RemoteProtocolError(f"bad Content-Length {value[:40]!r}", _BAD_REQUEST)
    significant = value.lstrip(b"0")
    if len(significant) > _MAX_LENGTH_DIGITS:
        raise RemoteProtocolError(
            f"Content-Length of {len(significant)} digits", _MESSAGE_TOO_LARGE
        )
    return int(significant or b"0")
