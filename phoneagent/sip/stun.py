"""Minimal STUN (RFC 5389) for SIP keep-alives over UDP (RFC 5626 §4.4.2, §8), sans-IO.

Theory of operation
-------------------
An RFC 5626 user agent keeps the NAT binding of a UDP flow open by sending
STUN Binding Requests to the next SIP hop over the very socket it sends SIP
from; the hop answers with a Binding success response whose
XOR-MAPPED-ADDRESS tells the client the address the hop saw.  A change of
that address means the flow broke (RFC 5626 §4.4.2).  Nothing else of STUN is
needed: no authentication, no TURN, no ICE.

Every STUN message starts with a 20-byte header (RFC 5389 §6)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |0 0|     STUN Message Type     |         Message Length        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                         Magic Cookie                          |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                     Transaction ID (96 bits)                  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

followed by ``Message Length`` octets of attributes, each a 16-bit type, a
16-bit length and a value padded to a multiple of four octets (§15).

Demultiplexing (RFC 5389 §8, RFC 5626 §8): SIP and STUN share the UDP socket.
:func:`is_stun` looks at the two leading zero bits and the magic cookie
0x2112A442 at offset 4; a SIP message starts with a letter of a method name or
``SIP/2.0`` and cannot match.  Anything that passes :func:`is_stun` is handed
to :func:`parse_stun`, which then checks the rest of §7.3's basic checks: a
length that is a multiple of four and equals the datagram's, attributes that
fit, and a FINGERPRINT (when present) that is the last attribute and matches.

Errors (DESIGN.md principle 5): :func:`parse_stun` returns ``None`` for bytes
that are not STUN at all and raises :class:`StunError` — a
``RemoteProtocolError`` with no status hint, because RFC 5389 §7.3 says such
a message is silently discarded — for STUN that is malformed.  It raises
nothing else, whatever the input; a fuzz test holds that.  Building messages
with bad arguments is our own bug and raises ``LocalProtocolError``.

Deliberately left out: MESSAGE-INTEGRITY is not verified (this usage has no
credentials); attributes after it other than FINGERPRINT are ignored as
§15.4 requires.  Unknown attributes are skipped; a comprehension-required one
(type below 0x8000) would deserve a 420 answer from a full server (§7.3.1),
which the keep-alive usage never needs.
"""

from __future__ import annotations

import ipaddress
import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum

from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "BINDING_METHOD",
    "BINDING_REQUEST",
    "BINDING_SUCCESS_RESPONSE",
    "HEADER_SIZE",
    "MAGIC_COOKIE",
    "TRANSACTION_ID_SIZE",
    "StunClass",
    "StunError",
    "StunMessage",
    "is_stun",
    "make_binding_request",
    "make_binding_response",
    "parse_stun",
]

MAGIC_COOKIE = 0x2112A442
"""RFC 5389 §6: the fixed value at offset 4 of every STUN message."""

HEADER_SIZE = 20
TRANSACTION_ID_SIZE = 12

BINDING_METHOD = 0x001
BINDING_REQUEST = 0x0001
"""Message type of a Binding request (method 0x001, class request)."""
BINDING_SUCCESS_RESPONSE = 0x0101
"""Message type of a Binding success response (method 0x001, class success)."""

# Attribute types (RFC 5389 §18.2).
_MAPPED_ADDRESS = 0x0001
_MESSAGE_INTEGRITY = 0x0008
_XOR_MAPPED_ADDRESS = 0x0020
_FINGERPRINT = 0x8028

_FINGERPRINT_XOR = 0x5354554E  # §15.5: "STUN" in ASCII
_FINGERPRINT_SIZE = 8  # attribute header and 32-bit CRC
_FAMILY_IPV4 = 0x01
_FAMILY_IPV6 = 0x02
_COOKIE_BYTES = MAGIC_COOKIE.to_bytes(4, "big")

_HEADER = struct.Struct("!HHI12s")  # type, length, cookie, transaction id
_ATTRIBUTE_HEADER = struct.Struct("!HH")  # type, length
_ADDRESS_HEADER = struct.Struct("!BBH")  # reserved, family, port


class StunClass(IntEnum):
    """The two class bits of a message type (RFC 5389 §6)."""

    REQUEST = 0b00
    INDICATION = 0b01
    SUCCESS_RESPONSE = 0b10
    ERROR_RESPONSE = 0b11


class StunError(RemoteProtocolError):
    """A datagram that is STUN but malformed; RFC 5389 §7.3 says to discard it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, status_hint=None)


@dataclass(frozen=True, slots=True)
class StunMessage:
    """The parts of a STUN message the keep-alive usage needs.

    ``mapped_address`` is the (host, port) of XOR-MAPPED-ADDRESS, or of
    MAPPED-ADDRESS when only that (pre-RFC 5389 style) attribute is present,
    or ``None``.  Hosts are written as :mod:`ipaddress` writes them (IPv6
    compressed, without brackets).
    """

    message_type: int
    transaction_id: bytes
    mapped_address: tuple[str, int] | None = None

    @property
    def method(self) -> int:
        """The 12-bit method, taken from between the class bits (§6, Figure 3)."""
        t = self.message_type
        return (t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2)

    @property
    def message_class(self) -> StunClass:
        t = self.message_type
        return StunClass(((t & 0x0010) >> 4) | ((t & 0x0100) >> 7))

    @property
    def is_binding_request(self) -> bool:
        return self.message_type == BINDING_REQUEST

    @property
    def is_binding_success(self) -> bool:
        return self.message_type == BINDING_SUCCESS_RESPONSE


def is_stun(data: bytes) -> bool:
    """True when ``data`` has the shape of a STUN message (RFC 5389 §6, §8).

    Checks a full header's worth of bytes, the two leading zero bits and the
    magic cookie.  Cheap enough to run on every received datagram.
    """
    return len(data) >= HEADER_SIZE and data[0] & 0xC0 == 0 and data[4:8] == _COOKIE_BYTES


def parse_stun(data: bytes) -> StunMessage | None:
    """Parse one STUN message: ``None`` if ``data`` is not STUN, :class:`StunError` if malformed.

    ``data`` must be exactly one message, as a UDP datagram is.
    """
    if not is_stun(data):
        return None
    message_type, length, _cookie, transaction_id = _HEADER.unpack_from(data)
    if length % 4:
        raise StunError(f"message length {length} is not a multiple of 4")
    if HEADER_SIZE + length != len(data):
        raise StunError(
            f"message length {length} does not match the {len(data) - HEADER_SIZE} "
            "octets after the header"
        )
    xor_mapped: tuple[str, int] | None = None
    mapped: tuple[str, int] | None = None
    after_integrity = False
    offset = HEADER_SIZE
    while offset < len(data):
        if len(data) - offset < _ATTRIBUTE_HEADER.size:
            raise StunError(f"truncated attribute header at offset {offset}")
        attribute_type, value_length = _ATTRIBUTE_HEADER.unpack_from(data, offset)
        value_start = offset + _ATTRIBUTE_HEADER.size
        value_end = value_start + value_length
        next_offset = value_start + _padded(value_length)
        if next_offset > len(data):
            raise StunError(
                f"attribute 0x{attribute_type:04x} of {value_length} octets overruns the message"
            )
        value = data[value_start:value_end]
        if attribute_type == _FINGERPRINT:
            if next_offset != len(data):
                raise StunError("FINGERPRINT is not the last attribute")  # §15.5
            _check_fingerprint(data, offset, value)
        elif after_integrity:
            pass  # §15.4: only FINGERPRINT may follow MESSAGE-INTEGRITY; ignore the rest
        elif attribute_type == _MESSAGE_INTEGRITY:
            after_integrity = True  # not verified: the keep-alive usage has no credentials
        elif attribute_type == _XOR_MAPPED_ADDRESS:
            if xor_mapped is None:  # §15: only the first occurrence counts
                xor_mapped = _decode_address(value, transaction_id, xor=True)
        elif attribute_type == _MAPPED_ADDRESS and mapped is None:
            mapped = _decode_address(value, transaction_id, xor=False)
        offset = next_offset
    return StunMessage(
        message_type, transaction_id, xor_mapped if xor_mapped is not None else mapped
    )


def make_binding_request(transaction_id: bytes) -> bytes:
    """A Binding request with FINGERPRINT and nothing else (RFC 5389 §7.1, §15.5).

    ``transaction_id`` is 12 octets the caller draws from a cryptographically
    random source (§6), so that this function stays deterministic.
    """
    _check_transaction_id(transaction_id)
    return _with_fingerprint(BINDING_REQUEST, transaction_id, b"")


def make_binding_response(request: StunMessage, address: tuple[str, int]) -> bytes:
    """The success response to a Binding ``request`` reporting ``address`` (RFC 5389 §7.3.1).

    ``address`` is the source (IP literal, port) the request came from; it is
    sent as XOR-MAPPED-ADDRESS, followed by FINGERPRINT.
    """
    if not request.is_binding_request:
        raise LocalProtocolError(
            f"not a Binding request: message type 0x{request.message_type:04x}"
        )
    _check_transaction_id(request.transaction_id)
    attribute = _encode_xor_address(address, request.transaction_id)
    return _with_fingerprint(BINDING_SUCCESS_RESPONSE, request.transaction_id, attribute)


# --- internals ----------------------------------------------------------------


def _padded(length: int) -> int:
    """Attribute values are padded to a 32-bit boundary (§15)."""
    return (length + 3) & ~3


def _check_transaction_id(transaction_id: bytes) -> None:
    if not isinstance(transaction_id, bytes) or len(transaction_id) != TRANSACTION_ID_SIZE:
        raise LocalProtocolError(
            f"a STUN transaction id is {TRANSACTION_ID_SIZE} bytes: {transaction_id!r}"
        )


def _fingerprint(message_prefix: bytes) -> int:
    """§15.5: CRC-32 of the message up to the FINGERPRINT attribute, XOR 0x5354554E.

    The CRC is the one of ISO/IEC 13239 (zlib's); the header length field in
    ``message_prefix`` already counts the FINGERPRINT attribute.
    """
    return (zlib.crc32(message_prefix) ^ _FINGERPRINT_XOR) & 0xFFFFFFFF


def _check_fingerprint(data: bytes, attribute_offset: int, value: bytes) -> None:
    if len(value) != 4:
        raise StunError(f"FINGERPRINT of {len(value)} octets")
    received = int.from_bytes(value, "big")
    expected = _fingerprint(data[:attribute_offset])
    if received != expected:
        raise StunError(f"FINGERPRINT 0x{received:08x} does not match 0x{expected:08x}")


def _with_fingerprint(message_type: int, transaction_id: bytes, attributes: bytes) -> bytes:
    """Header, ``attributes`` and a FINGERPRINT attribute computed over them."""
    length = len(attributes) + _FINGERPRINT_SIZE
    prefix = _HEADER.pack(message_type, length, MAGIC_COOKIE, transaction_id) + attributes
    crc = _fingerprint(prefix)
    return prefix + _ATTRIBUTE_HEADER.pack(_FINGERPRINT, 4) + crc.to_bytes(4, "big")


def _xor_key(transaction_id: bytes, size: int) -> bytes:
    """§15.2: IPv4 is XORed with the cookie, IPv6 with the cookie and transaction id."""
    return (_COOKIE_BYTES + transaction_id)[:size]


def _decode_address(value: bytes, transaction_id: bytes, *, xor: bool) -> tuple[str, int]:
    """Decode (XOR-)MAPPED-ADDRESS (§15.1, §15.2)::

         0                   1                   2                   3
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |0 0 0 0 0 0 0 0|    Family     |         (X-)Port              |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |             (X-)Address (32 bits or 128 bits)                 |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

    The reserved first octet is ignored, as receivers should.
    """
    if len(value) < _ADDRESS_HEADER.size:
        raise StunError(f"address attribute of {len(value)} octets")
    _reserved, family, port = _ADDRESS_HEADER.unpack_from(value)
    raw = value[_ADDRESS_HEADER.size :]
    if family == _FAMILY_IPV4:
        size = 4
    elif family == _FAMILY_IPV6:
        size = 16
    else:
        raise StunError(f"unknown address family 0x{family:02x}")
    if len(raw) != size:
        raise StunError(f"address of {len(raw)} octets for family 0x{family:02x}")
    if xor:
        port ^= MAGIC_COOKIE >> 16
        key = _xor_key(transaction_id, size)
        raw = bytes(a ^ b for a, b in zip(raw, key, strict=True))
    host = str(ipaddress.IPv4Address(raw) if size == 4 else ipaddress.IPv6Address(raw))
    return host, port


def _encode_xor_address(address: tuple[str, int], transaction_id: bytes) -> bytes:
    """The XOR-MAPPED-ADDRESS attribute for ``address`` (§15.2)."""
    host, port = address
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise LocalProtocolError(f"not an IP address: {host!r}") from None
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 0xFFFF:
        raise LocalProtocolError(f"port out of range: {port!r}")
    raw = ip.packed
    family = _FAMILY_IPV4 if ip.version == 4 else _FAMILY_IPV6
    key = _xor_key(transaction_id, len(raw))
    x_address = bytes(a ^ b for a, b in zip(raw, key, strict=True))
    value = _ADDRESS_HEADER.pack(0, family, port ^ (MAGIC_COOKIE >> 16)) + x_address
    return _ATTRIBUTE_HEADER.pack(_XOR_MAPPED_ADDRESS, len(value)) + value
