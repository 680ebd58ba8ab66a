"""Names for where SIP messages travel, shared by the sans-IO cores and the asyncio transports.

RFC 3261 §18: a message is sent over UDP, TCP or TLS (SCTP and WebSocket are not
used by a desk phone) to a host and port.  A ``Peer`` names the far end of one
hop; for connection-oriented transports the asyncio adapter maps it to a live
connection (re-using the one a request came in on, §18.2.2).  The cores never
open sockets: they hand ``Outgoing`` items to the adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from phoneagent.sip.errors import LocalProtocolError
from phoneagent.sip.message import Request, Response


class Transport(StrEnum):
    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"

    @property
    def is_reliable(self) -> bool:
        """Reliable transports carry no retransmissions (§17.1.1.2, §17.1.2.2)."""
        return self is not Transport.UDP

    @property
    def is_secure(self) -> bool:
        return self is Transport.TLS

    @property
    def default_port(self) -> int:
        """§19.1.2: 5060 for sip over UDP/TCP, 5061 for TLS."""
        return 5061 if self is Transport.TLS else 5060

    @property
    def via_name(self) -> str:
        """The transport as written in a Via header (``SIP/2.0/UDP``)."""
        return self.value.upper()

    @classmethod
    def parse(cls, text: str) -> Transport:
        """From a config value or a ``transport=`` URI parameter, case-insensitively."""
        try:
            return cls(text.lower())
        except ValueError:
            raise LocalProtocolError(f"unsupported transport {text!r}") from None


@dataclass(frozen=True, slots=True)
class Peer:
    """The other end of one hop: a transport, an IP address (or host name) and a port.

    IPv6 addresses are written without brackets.
    """

    transport: Transport
    host: str
    port: int

    def __post_init__(self) -> None:
        if not 0 < self.port <= 65535:
            raise LocalProtocolError(f"port out of range: {self.port}")

    @property
    def host_port(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.transport.value}:{self.host_port}"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message a sans-IO core wants sent to ``destination``."""

    message: Request | Response
    destination: Peer
