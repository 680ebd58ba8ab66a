"""UDP sockets for one call's media: RTP on an even port, RTCP on the next (RFC 3550 §11).

Thin, like every adapter here: it binds, receives datagrams with the time of
arrival and hands them to callbacks, and sends what it is given.  The port pair
comes from the configured range (``[media] rtp_ports``), or from the OS when no
range is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any, cast

log = logging.getLogger(__name__)

Address = tuple[str, int]
Receiver = Callable[[bytes, Address, float], None]


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, receiver: Receiver, loop: asyncio.AbstractEventLoop) -> None:
        self.receiver = receiver
        self.loop = loop
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.receiver(data, (str(addr[0]), int(addr[1])), self.loop.time())

    def error_received(self, exc: Exception) -> None:
        log.debug("media socket error: %s", exc)  # ICMP unreachable and the like: keep going


class RtpPorts:
    """A bound RTP/RTCP socket pair."""

    def __init__(self, host: str, rtp: _Endpoint, rtcp: _Endpoint, rtp_port: int) -> None:
        self.host = host
        self._rtp = rtp
        self._rtcp = rtcp
        self.rtp_port = rtp_port

    @property
    def rtcp_port(self) -> int:
        return self.rtp_port + 1

    @classmethod
    async def open(
        cls,
        host: str,
        port_range: tuple[int, int] | None,
        on_rtp: Receiver,
        on_rtcp: Receiver,
    ) -> RtpPorts:
        """Bind the first free even/odd pair of ``port_range`` (or any pair the OS offers)."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        candidates: list[int]
        if port_range is None:
            candidates = [0] * 20
        else:
            first, last = port_range
            candidates = list(range(first + (first % 2), last, 2))
        for port in candidates:
            rtp_socket = socket.socket(family, socket.SOCK_DGRAM)
            rtcp_socket = socket.socket(family, socket.SOCK_DGRAM)
            try:
                rtp_socket.bind((host, port))
                rtp_port = rtp_socket.getsockname()[1]
                if rtp_port % 2:
                    raise OSError("odd port from the OS")
                rtcp_socket.bind((host, rtp_port + 1))
            except OSError:
                rtp_socket.close()
                rtcp_socket.close()
                continue
            rtp_socket.setblocking(False)
            rtcp_socket.setblocking(False)
            _, rtp = await loop.create_datagram_endpoint(
                lambda: _Endpoint(on_rtp, loop), sock=rtp_socket
            )
            _, rtcp = await loop.create_datagram_endpoint(
                lambda: _Endpoint(on_rtcp, loop), sock=rtcp_socket
            )
            return cls(host, rtp, rtcp, rtp_port)
        raise OSError(f"no free RTP port pair in {port_range or 'the OS range'}")

    def send_rtp(self, data: bytes, destination: Address) -> None:
        if self._rtp.transport is not None:
            self._rtp.transport.sendto(data, destination)

    def send_rtcp(self, data: bytes, destination: Address) -> None:
        if self._rtcp.transport is not None:
            self._rtcp.transport.sendto(data, destination)

    def close(self) -> None:
        for endpoint in (self._rtp, self._rtcp):
            if endpoint.transport is not None:
                with contextlib.suppress(Exception):
                    endpoint.transport.close()
                endpoint.transport = None
