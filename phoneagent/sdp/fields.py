"""The typed values of single SDP lines (RFC 8866 §5) and of the attributes a phone reads.

Each is a frozen dataclass with ``parse(value)`` for the text after ``<type>=`` (or
after ``a=<name>:``) and ``str()`` for writing it back; construction checks the
values so that a description built by our own code always serialises to valid
SDP (``LocalProtocolError`` otherwise).  ``phoneagent.sdp.model`` assembles them
into media and session descriptions.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum

from phoneagent.sdp.grammar import (
    MAX_PAYLOAD_TYPE,
    NON_WS_RE,
    TOKEN_RE,
    check,
    check_non_ws,
    check_number,
    check_text,
    check_token,
    integer,
    remote_error,
    show,
    split_fields,
)
from phoneagent.sip.errors import LocalProtocolError


@dataclass(frozen=True)
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>``.

    RFC 8866 §5.2.  ``session_version`` is what RFC 3264 §8 increments for a changed
    description; both numbers are plain ints (NTP-sized or larger values are common).
    """

    username: str
    session_id: int
    session_version: int
    network_type: str
    address_type: str
    address: str

    def __post_init__(self) -> None:
        check_non_ws(self.username, "o= username")
        check_number(self.session_id, "o= session id")
        check_number(self.session_version, "o= session version")
        check_token(self.network_type, "o= network type")
        check_token(self.address_type, "o= address type")
        check_non_ws(self.address, "o= address")

    @classmethod
    def parse(cls, value: str) -> Origin:
        username, session_id, version, network, address_type, address = split_fields(
            value, "o= line", 6, 6
        )
        if TOKEN_RE.fullmatch(network) is None or TOKEN_RE.fullmatch(address_type) is None:
            raise remote_error(f"malformed o= line: {show(value)}")
        if NON_WS_RE.fullmatch(username) is None or NON_WS_RE.fullmatch(address) is None:
            raise remote_error(f"malformed o= line: {show(value)}")
        return cls(
            username,
            integer(session_id, "o= session id"),
            integer(version, "o= session version"),
            network,
            address_type,
            address,
        )

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.network_type} {self.address_type} {self.address}"
        )


@dataclass(frozen=True)
class Connection:
    """``c=<nettype> <addrtype> <connection-address>`` (RFC 8866 §5.7).

    ::

        connection-address = multicast-address / unicast-address
        IP4-multicast      = m1 3( "." decimal-uchar ) "/" ttl [ "/" numaddr ]
        IP6-multicast      = IP6-address [ "/" numaddr ]

    For IP4 a first ``/`` suffix is the TTL and a second the number of addresses;
    for IP6 a single suffix is the number of addresses.  IPv6 addresses carry no
    brackets (RFC 5118 §4.6).  The address may also be a host name; it is not
    checked beyond being one non-space string.  For other address types the
    whole address, slashes included, is kept as it came.
    """

    network_type: str
    address_type: str
    address: str
    ttl: int | None = None
    number_of_addresses: int | None = None

    def __post_init__(self) -> None:
        check_token(self.network_type, "c= network type")
        check_token(self.address_type, "c= address type")
        check_non_ws(self.address, "c= address")
        if self.address_type in ("IP4", "IP6"):
            check("/" not in self.address, f"c= address with '/': {self.address!r}")
        else:
            check(
                self.ttl is None and self.number_of_addresses is None,
                "c= TTL and address count exist for IP4 and IP6 only",
            )
        if self.ttl is not None:
            check(self.address_type == "IP4", "c= TTL exists for IP4 only")
            check_number(self.ttl, "c= TTL", 255)
        if self.number_of_addresses is not None:
            check(
                self.address_type == "IP6" or self.ttl is not None,
                "an IP4 c= address count needs a TTL before it",
            )
            check(self.number_of_addresses >= 1, "c= address count must be at least 1")
            check_number(self.number_of_addresses, "c= address count")

    @classmethod
    def of(cls, address: str) -> Connection:
        """``IN IP4 <address>`` or ``IN IP6 <address>`` for an IP literal of our own."""
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            raise LocalProtocolError(f"not an IP address: {address!r}") from None
        return cls("IN", f"IP{parsed.version}", str(parsed))

    @classmethod
    def parse(cls, value: str) -> Connection:
        network, address_type, address = split_fields(value, "connection", 3, 3)
        if TOKEN_RE.fullmatch(network) is None or TOKEN_RE.fullmatch(address_type) is None:
            raise remote_error(f"malformed connection: {show(value)}")
        if NON_WS_RE.fullmatch(address) is None:
            raise remote_error(f"malformed connection address: {show(value)}")
        if address_type not in ("IP4", "IP6"):
            return cls(network, address_type, address)
        host, *suffixes = address.split("/")
        if not host or len(suffixes) > (2 if address_type == "IP4" else 1):
            raise remote_error(f"malformed connection address: {show(address)}")
        numbers = [integer(suffix, "connection address suffix") for suffix in suffixes]
        ttl = count = None
        if address_type == "IP6":
            count = numbers[0] if numbers else None
        elif numbers:
            ttl = numbers[0]
            count = numbers[1] if len(numbers) == 2 else None
        if (ttl is not None and ttl > 255) or count == 0:
            raise remote_error(f"connection address suffix out of range: {show(address)}")
        return cls(network, address_type, host, ttl, count)

    @property
    def is_multicast(self) -> bool:
        if self.ttl is not None or self.number_of_addresses is not None:
            return True
        try:
            return ipaddress.ip_address(self.address).is_multicast
        except ValueError:
            return False  # a host name

    @property
    def is_unspecified(self) -> bool:
        """0.0.0.0 (RFC 3264 §8.4's old hold signal) or its IPv6 twin ``::``."""
        try:
            return ipaddress.ip_address(self.address).is_unspecified
        except ValueError:
            return False

    def __str__(self) -> str:
        suffix = "".join(
            f"/{number}" for number in (self.ttl, self.number_of_addresses) if number is not None
        )
        return f"{self.network_type} {self.address_type} {self.address}{suffix}"


@dataclass(frozen=True)
class Bandwidth:
    """``b=<bwtype>:<bandwidth>`` (RFC 8866 §5.8), e.g. ``AS:64`` (kb/s), ``TIAS:64000`` (b/s)."""

    bandwidth_type: str
    value: int

    def __post_init__(self) -> None:
        check_token(self.bandwidth_type, "b= type")
        check_number(self.value, "b= value")

    @classmethod
    def parse(cls, value: str) -> Bandwidth:
        kind, colon, number = value.partition(":")
        if not colon or TOKEN_RE.fullmatch(kind) is None:
            raise remote_error(f"malformed bandwidth: {show(value)}")
        return cls(kind, integer(number, "bandwidth"))

    def __str__(self) -> str:
        return f"{self.bandwidth_type}:{self.value}"


@dataclass(frozen=True)
class TimeDescription:
    """``t=<start-time> <stop-time>`` and its raw ``r=`` lines (RFC 8866 §5.9, §5.10).

    ``t=0 0`` — an unbounded session — is what every call uses.
    """

    start: int = 0
    stop: int = 0
    repeats: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_number(self.start, "t= start")
        check_number(self.stop, "t= stop")
        for repeat in self.repeats:
            check_text(repeat, "r= value")

    @classmethod
    def parse(cls, value: str) -> TimeDescription:
        start, stop = split_fields(value, "t= line", 2, 2)
        return cls(integer(start, "t= start time"), integer(stop, "t= stop time"))


class Direction(StrEnum):
    """The media direction attributes of RFC 8866 §6.7, from the sender's point of view.

    ``sendrecv`` is the default at both levels; a media-level attribute overrides a
    session-level one (RFC 8866 §6.7).
    """

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @classmethod
    def from_flags(cls, sends: bool, receives: bool) -> Direction:
        return _DIRECTIONS[sends, receives]

    @property
    def sends(self) -> bool:
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    def reversed(self) -> Direction:
        """The same stream seen from the other end (``sendonly`` ↔ ``recvonly``)."""
        return Direction.from_flags(self.receives, self.sends)


_DIRECTIONS = {
    (True, True): Direction.SENDRECV,
    (True, False): Direction.SENDONLY,
    (False, True): Direction.RECVONLY,
    (False, False): Direction.INACTIVE,
}


@dataclass(frozen=True)
class Attribute:
    """``a=<attribute>`` or ``a=<attribute>:<value>`` (RFC 8866 §5.13).

    ``value`` is ``None`` for a property attribute (``a=sendrecv``) and ``""`` for
    ``a=name:`` with nothing after the colon: the two are written back as received.
    """

    name: str
    value: str | None = None

    def __post_init__(self) -> None:
        check_token(self.name, "attribute name")
        if self.value is not None:
            check_text(self.value, f"a={self.name} value")

    @classmethod
    def parse(cls, text: str) -> Attribute:
        # attribute = (attribute-name ":" attribute-value) / attribute-name
        name, colon, value = text.partition(":")
        if TOKEN_RE.fullmatch(name) is None:
            raise remote_error(f"malformed attribute name: {show(text)}")
        return cls(name, value if colon else None)

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True)
class RtpMap:
    """``a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]``.

    RFC 8866 §6.6.  For audio the encoding parameter is the channel count, 1 when
    absent.  Encoding names compare case-insensitively (RFC 4855 §3); the
    spelling received is kept.
    """

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int = 1

    def __post_init__(self) -> None:
        check_number(self.payload_type, "payload type", MAX_PAYLOAD_TYPE)
        check_token(self.encoding, "encoding name")
        check(self.clock_rate > 0, f"clock rate must be positive: {self.clock_rate!r}")
        check_number(self.clock_rate, "clock rate")
        check(self.channels >= 1, f"channel count must be at least 1: {self.channels!r}")
        check_number(self.channels, "channel count")

    @classmethod
    def parse(cls, value: str) -> RtpMap:
        payload_type, encoding_spec = split_fields(value, "a=rtpmap", 2, 2)
        encoding, *numbers = encoding_spec.split("/")
        if TOKEN_RE.fullmatch(encoding) is None or not 1 <= len(numbers) <= 2:
            raise remote_error(f"malformed a=rtpmap: {show(value)}")
        clock_rate = integer(numbers[0], "a=rtpmap clock rate")
        channels = integer(numbers[1], "a=rtpmap channels") if len(numbers) == 2 else 1
        if clock_rate == 0 or channels == 0:
            raise remote_error(f"a=rtpmap clock rate and channels must not be 0: {show(value)}")
        return cls(
            integer(payload_type, "payload type", MAX_PAYLOAD_TYPE),
            encoding,
            clock_rate,
            channels,
        )

    def __str__(self) -> str:
        channels = f"/{self.channels}" if self.channels != 1 else ""
        return f"{self.payload_type} {self.encoding}/{self.clock_rate}{channels}"


@dataclass(frozen=True)
class Rtcp:
    """``a=rtcp:<port> [<nettype> <addrtype> <connection-address>]`` (RFC 3605 §2.1)."""

    port: int
    connection: Connection | None = None

    def __post_init__(self) -> None:
        check_number(self.port, "a=rtcp port", 65535)

    @classmethod
    def parse(cls, value: str) -> Rtcp:
        port, _, rest = value.strip(" ").partition(" ")
        connection = Connection.parse(rest) if rest.strip(" ") else None
        return cls(integer(port, "a=rtcp port", 65535), connection)

    def __str__(self) -> str:
        return str(self.port) if self.connection is None else f"{self.port} {self.connection}"
