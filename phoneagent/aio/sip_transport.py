"""The asyncio adapter that moves SIP bytes over UDP, TCP and TLS (RFC 3261 §18).

Theory of operation
-------------------
This module owns the sockets and nothing else (DESIGN.md principle 9).  It does
not parse SIP: the user agent core gets raw datagrams and framed stream
messages through a :class:`SipTransportListener` and hands bytes back with
:meth:`SipTransports.send`.

* **UDP** (§18.1.1, §18.2.1): one socket per :meth:`SipTransports.listen`.
  Requests and responses are sent *from* that socket, so the far end sees the
  port we listen on (what Via ``sent-by`` and RFC 3581 ``rport`` rely on).  A
  datagram that :func:`~phoneagent.sip.stun.is_stun` goes to
  ``stun_received`` — RFC 5626 §8 multiplexes STUN keep-alives onto the SIP
  port — everything else to ``datagram_received``.
* **TCP and TLS** (§18.2.2, §18.3, RFC 5626 §3.5.1): a connection per peer,
  outbound or inbound, kept in one table keyed by :class:`Peer`.  A message to
  a peer goes over the live connection to it, whichever side opened it — the
  §18.2.2 rule that a response travels back over the connection the request
  came in on falls out of this.  Otherwise a connection is opened (TLS: SNI and
  certificate check for ``server_name``) and the data waits in a bounded queue
  until it is up.  Each connection cuts its byte stream with a
  :class:`~phoneagent.sip.framing.StreamDecoder`; a keep-alive ping (CRLF
  CRLF) is answered right here with a pong (CRLF), which is pure framing, and a
  pong is reported.  A framing error kills the connection.

Time: a connect (TCP connect plus TLS handshake) is bounded by
``connect_timeout``, an inbound TLS handshake too; ``idle_timeout`` closes a
connection that carried nothing either way for that long (one ``call_at``
deadline per connection, not a task).  No call here ever blocks the loop, and
no thread is used.  Hosts must be IP literals: name resolution (RFC 3263) is a
resolver's job, and ``socket.sendto`` with a host name would block.

Errors: :meth:`SipTransports.send` never raises for network trouble.  A failed
connect or TLS handshake, a refused or unreachable send, or a full queue is
reported later through ``transport_error(peer, error)`` — never from inside
``send`` itself, because the core calling ``send`` is usually mid-update and
must not be re-entered.  A connection that dies (peer closed it, framing
error, idle timeout) is reported through ``connection_lost``; one we close on
request (:meth:`~SipTransports.close_connection`, :meth:`~SipTransports.close`)
is not.  Misuse — a host name instead of an address, TLS without a context,
sending after close — raises ``LocalProtocolError`` at once.

Exceptions raised by the listener are not caught: asyncio logs them, and on a
stream the connection is closed and reported lost.

Limitations: one listening socket per transport (use ``::`` or ``0.0.0.0`` to
listen on every address); ICMP errors on an unconnected UDP socket are not
delivered by Linux, so an unreachable UDP peer shows as a transaction timeout
(§17.1.1.2 Timer B) rather than a ``transport_error``; a TLS connection is
reused for any ``server_name`` once it is up.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import os
import ssl
from collections.abc import Coroutine
from typing import Any, Protocol, cast

from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from phoneagent.sip.framing import (
    KEEPALIVE_PING,
    KEEPALIVE_PONG,
    KeepAlivePing,
    KeepAlivePong,
    MessageFramed,
    StreamDecoder,
)
from phoneagent.sip.stun import is_stun
from phoneagent.sip.transport import Peer, Transport

__all__ = [
    "SipTransportListener",
    "SipTransports",
    "make_client_tls_context",
    "make_server_tls_context",
]

logger = logging.getLogger(__name__)

# How long close() lets connections flush their write buffers before aborting them.
_CLOSE_GRACE = 2.0
# Per-connection bound on queued plus unsent bytes, in messages of the maximum size.
_QUEUE_MESSAGES = 4


class SipTransportListener(Protocol):
    """What the user agent core's adapter implements to hear from the transports."""

    def datagram_received(self, data: bytes, source: Peer) -> None:
        """One UDP datagram that is not STUN, or one framed message from a stream."""

    def stun_received(self, data: bytes, source: Peer) -> None:
        """One UDP datagram that looks like STUN (RFC 5389 §6); parse it with ``parse_stun``."""

    def keepalive_pong(self, source: Peer) -> None:
        """A CRLF pong arrived on a stream connection (RFC 5626 §4.4.1)."""

    def connection_lost(self, peer: Peer, error: Exception | None) -> None:
        """A stream connection died; ``error`` is ``None`` for an orderly close by the peer."""

    def transport_error(self, peer: Peer, error: Exception) -> None:
        """Sending to ``peer`` failed (connect refused or timed out, TLS verify failed …)."""


def make_client_tls_context(ca_file: str | None = None, verify: bool = True) -> ssl.SSLContext:
    """A TLS client context for SIP over TLS (RFC 3261 §26.3.1, RFC 5922).

    Trusts the system's CAs, or only those in ``ca_file`` when given (a private
    PBX CA should not be mixed with the public ones).  TLS 1.2 or newer; the
    server's certificate and host name are verified unless ``verify`` is false,
    which is for lab setups only and logged as such.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        logger.warning("TLS certificate verification is disabled: any server is trusted")
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def make_server_tls_context(
    certificate: str | os.PathLike[str], private_key: str | os.PathLike[str]
) -> ssl.SSLContext:
    """A TLS server context presenting ``certificate`` (PEM chain) with ``private_key``.

    TLS 1.2 or newer; client certificates are not requested.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, private_key)
    return context


def _ip_literal(host: str) -> str | None:
    """``host`` written as :mod:`ipaddress` writes it, or None when it is not an address."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _buffer_full(peer: Peer, limit: int) -> OSError:
    return OSError(errno.ENOBUFS, f"more than {limit} bytes waiting to be sent to {peer}")


class SipTransports:
    """The SIP sockets of one user agent: UDP, TCP and TLS listeners and connections."""

    def __init__(
        self,
        listener: SipTransportListener,
        *,
        tls_client_context: ssl.SSLContext | None,
        tls_server_context: ssl.SSLContext | None,
        connect_timeout: float = 10.0,
        max_message_size: int = 65536,
        idle_timeout: float | None = None,
    ) -> None:
        if not connect_timeout > 0:
            raise LocalProtocolError(f"connect_timeout must be positive: {connect_timeout!r}")
        if idle_timeout is not None and not idle_timeout > 0:
            raise LocalProtocolError(f"idle_timeout must be positive: {idle_timeout!r}")
        if isinstance(max_message_size, bool) or max_message_size < 1:
            raise LocalProtocolError(f"max_message_size must be positive: {max_message_size!r}")
        self.listener = listener
        self._tls_client_context = tls_client_context
        self._tls_server_context = tls_server_context
        self.connect_timeout = connect_timeout
        self.max_message_size = max_message_size
        self.idle_timeout = idle_timeout
        self.queue_limit = _QUEUE_MESSAGES * max_message_size
        self._udp: _DatagramEndpoint | None = None
        self._servers: dict[Transport, asyncio.Server] = {}
        self._local: dict[Transport, Peer] = {}
        # Live connections by peer, for reuse; and every connection not yet fully closed.
        self._connections: dict[Peer, _StreamConnection] = {}
        self._unclosed: set[_StreamConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # --- public API -------------------------------------------------------------

    async def listen(self, transport: Transport, host: str, port: int) -> Peer:
        """Listen on ``host`` (an IP literal) and ``port`` (0: the OS picks); return the address.

        Raises ``OSError`` when the address cannot be bound.
        """
        self._check_open()
        if transport in self._local:
            raise LocalProtocolError(f"already listening on {self._local[transport]}")
        if _ip_literal(host) is None:
            raise LocalProtocolError(f"listen needs an IP address, not {host!r}")
        loop = asyncio.get_running_loop()
        if transport is Transport.UDP:
            udp_transport, endpoint = await loop.create_datagram_endpoint(
                lambda: _DatagramEndpoint(self), local_addr=(host, port)
            )
            self._udp = endpoint
            sockname = udp_transport.get_extra_info("sockname")
        else:
            tls_context = None
            if transport is Transport.TLS:
                if self._tls_server_context is None:
                    raise LocalProtocolError("listening on TLS needs tls_server_context")
                tls_context = self._tls_server_context
            server = await loop.create_server(
                lambda: _StreamConnection(self, transport, None),
                host,
                port,
                ssl=tls_context,
                ssl_handshake_timeout=self.connect_timeout if tls_context else None,
            )
            self._servers[transport] = server
            sockname = server.sockets[0].getsockname()
        local = Peer(transport, _ip_literal(sockname[0]) or sockname[0], sockname[1])
        self._local[transport] = local
        logger.info("listening on %s", local)
        return local

    def local_peer(self, transport: Transport) -> Peer | None:
        """The address we listen on for ``transport``, or None."""
        return self._local.get(transport)

    def send(self, data: bytes, destination: Peer, server_name: str | None = None) -> None:
        """Send ``data`` (one whole message) to ``destination``; never blocks.

        UDP: one datagram from the listening socket.  TCP/TLS: over the live
        connection to ``destination``, else over a new one; for TLS,
        ``server_name`` (default: the address) is sent as SNI and must match the
        server's certificate.  Failures are reported via ``transport_error``.
        """
        destination = self._canonical(destination)
        if destination.transport is Transport.UDP:
            if self._udp is None:
                raise LocalProtocolError("sending over UDP needs a UDP listener")
            self._udp.send(data, destination)
            return
        connection = self._connections.get(destination)
        if connection is None:
            connection = self._connect(destination, server_name)
        connection.write(data)

    def send_keepalive(self, destination: Peer) -> None:
        """Send a CRLF CRLF ping on the live stream connection to ``destination`` (RFC 5626 §3.5.1).

        Over UDP the keep-alive is a STUN Binding request, which the core builds
        and sends with :meth:`send`; asking for a CRLF ping on UDP is a bug.  No
        connection is opened for a ping: when there is none, the flow is gone and
        ``transport_error`` says so.
        """
        destination = self._canonical(destination)
        if destination.transport is Transport.UDP:
            raise LocalProtocolError("UDP keep-alives are STUN requests: build one and send() it")
        connection = self._connections.get(destination)
        if connection is None:
            self._report_error(destination, ConnectionError(f"no connection to {destination}"))
            return
        connection.write(KEEPALIVE_PING)

    def close_connection(self, peer: Peer) -> None:
        """Close the stream connection to ``peer`` (flushing what is queued); not reported."""
        connection = self._connections.get(self._canonical(peer))
        if connection is not None:
            connection.close(report=False)

    async def close(self) -> None:
        """Stop listening, close every connection and wait until the sockets are closed."""
        if self._closed:
            return
        self._closed = True
        for server in self._servers.values():
            server.close()
        if self._udp is not None:
            self._udp.close()
        for connection in list(self._unclosed):
            connection.close(report=False)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._wait_closed()

    # --- called by the protocol objects below ------------------------------------------

    def _report_error(self, peer: Peer, error: Exception) -> None:
        """Tell the listener about ``error`` from the next loop iteration (never re-entrantly)."""
        logger.warning("sending to %s failed: %r", peer, error)
        asyncio.get_running_loop().call_soon(self._deliver_error, peer, error)

    def _datagram_arrived(self, data: bytes, address: tuple[Any, ...]) -> None:
        host, port = address[0], address[1]
        if not port:
            logger.info("dropped a datagram from port 0 of %s", host)
            return
        source = Peer(Transport.UDP, host, port)
        if len(data) > self.max_message_size:
            logger.info("dropped a datagram of %d bytes from %s", len(data), source)
        elif is_stun(data):
            self.listener.stun_received(data, source)
        else:
            self.listener.datagram_received(data, source)

    def _register_inbound(self, connection: _StreamConnection) -> bool:
        """Record a connection a peer opened to us; False when we are closing."""
        if self._closed:
            return False
        self._unclosed.add(connection)
        existing = self._connections.get(connection.peer)
        if existing is None or existing.finished:
            self._connections[connection.peer] = connection
        logger.info("accepted a connection from %s", connection.peer)
        return True

    def _forget(self, connection: _StreamConnection) -> None:
        """A connection can no longer carry data: stop routing messages to it."""
        if self._connections.get(connection.peer) is connection:
            del self._connections[connection.peer]

    def _connection_closed(self, connection: _StreamConnection) -> None:
        """A connection's socket is closed (or was never opened)."""
        self._forget(connection)
        self._unclosed.discard(connection)

    # --- internals ---------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise LocalProtocolError("the SIP transports are closed")

    def _canonical(self, peer: Peer) -> Peer:
        """``peer`` with its address written the one way connections are keyed by."""
        self._check_open()
        host = _ip_literal(peer.host)
        if host is None:
            raise LocalProtocolError(f"resolve {peer.host!r} first: the transports take addresses")
        return peer if host == peer.host else Peer(peer.transport, host, peer.port)

    def _connect(self, destination: Peer, server_name: str | None) -> _StreamConnection:
        tls_context = None
        if destination.transport is Transport.TLS:
            if self._tls_client_context is None:
                raise LocalProtocolError("sending over TLS needs tls_client_context")
            tls_context = self._tls_client_context
        connection = _StreamConnection(self, destination.transport, destination)
        self._connections[destination] = connection
        self._unclosed.add(connection)
        connection.connect_task = self._spawn(
            self._open(connection, tls_context, server_name or destination.host)
        )
        return connection

    async def _open(
        self, connection: _StreamConnection, tls_context: ssl.SSLContext | None, server_name: str
    ) -> None:
        """Open an outbound connection within connect_timeout (TLS handshake included)."""
        peer = connection.peer
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                await loop.create_connection(
                    lambda: connection,
                    peer.host,
                    peer.port,
                    ssl=tls_context,
                    server_hostname=server_name if tls_context else None,
                )
        except Exception as error:  # every cause is reported to the listener, not swallowed
            if isinstance(error, TimeoutError) and not str(error):
                error = TimeoutError(f"no connection to {peer} within {self.connect_timeout} s")
            connection.connect_failed(error)
        finally:
            connection.connect_task = None
            if not connection.connected:
                # No socket reached the protocol (failed, timed out or cancelled): asyncio
                # has closed it already, or will in its next callback.
                connection.never_connected()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _deliver_error(self, peer: Peer, error: Exception) -> None:
        if not self._closed:
            self.listener.transport_error(peer, error)

    async def _wait_closed(self) -> None:
        """Wait for every socket to close; abort what does not flush within the grace time."""
        waiters: list[asyncio.Future[None]] = [c.lost for c in self._unclosed]
        if self._udp is not None:
            waiters.append(self._udp.lost)
        if waiters:
            _done, pending = await asyncio.wait(waiters, timeout=_CLOSE_GRACE)
            if pending:
                for connection in list(self._unclosed):
                    connection.abort()
                await asyncio.wait(pending, timeout=_CLOSE_GRACE)
        for server in self._servers.values():
            # Python 3.13: drop inbound TLS handshakes still in progress.
            abort_clients = getattr(server, "abort_clients", None)
            if abort_clients is not None:
                abort_clients()
            try:
                async with asyncio.timeout(_CLOSE_GRACE):
                    await server.wait_closed()
            except TimeoutError:
                logger.warning("a listening socket did not close within %s s", _CLOSE_GRACE)
        # A transport closed by a cancelled connect closes its socket in a callback
        # asyncio has scheduled but not run yet: let those run before returning.
        for _ in range(3):
            await asyncio.sleep(0)


class _DatagramEndpoint(asyncio.DatagramProtocol):
    """The UDP socket: received datagrams go to the owner, sends come from it."""

    def __init__(self, owner: SipTransports) -> None:
        self._owner = owner
        self._transport: asyncio.DatagramTransport | None = None
        # The destination of the sendto() in progress: asyncio reports a failure
        # of the immediate send through error_received(), without the address.
        self._sending_to: Peer | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self._owner._datagram_arrived(data, addr)

    def error_received(self, exc: Exception) -> None:
        if self._sending_to is not None:
            self._owner._report_error(self._sending_to, exc)
        else:
            logger.warning("UDP socket error: %r", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)

    def send(self, data: bytes, destination: Peer) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            self._owner._report_error(destination, ConnectionError("the UDP socket is closed"))
            return
        limit = self._owner.queue_limit
        # The selector loop's datagram transport buffers what the socket refuses and
        # reports the size, although DatagramTransport does not declare the method.
        buffered: int = getattr(transport, "get_write_buffer_size", lambda: 0)()
        if buffered + len(data) > limit:
            self._owner._report_error(destination, _buffer_full(destination, limit))
            return
        self._sending_to = destination
        try:
            transport.sendto(data, (destination.host, destination.port))
        finally:
            self._sending_to = None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        elif not self.lost.done():
            self.lost.set_result(None)


class _StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection: a framing decoder, a send queue and an idle deadline."""

    def __init__(self, owner: SipTransports, transport: Transport, peer: Peer | None) -> None:
        self._owner = owner
        self._kind = transport
        self.outbound = peer is not None
        # Inbound connections learn their peer in connection_made().
        self.peer: Peer = peer if peer is not None else Peer(transport, "0.0.0.0", 1)
        self._decoder = StreamDecoder(owner.max_message_size)
        self._transport: asyncio.Transport | None = None
        self._queue: list[bytes] = []
        self._queued = 0
        self.connect_task: asyncio.Task[None] | None = None
        # True once the connection can carry no more data; reported at most once.
        self.finished = False
        self._report = True
        self._error: Exception | None = None
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.lost: asyncio.Future[None] = loop.create_future()
        self._last_activity = loop.time()
        self._idle_timer: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        if not self.outbound:
            peername = transport.get_extra_info("peername")
            host = _ip_literal(peername[0]) if peername else None
            if host is None or not peername[1]:
                logger.warning("dropped a connection from %r", peername)
                self._close_early()
                return
            self.peer = Peer(self._kind, host, peername[1])
            if not self._owner._register_inbound(self):
                self._close_early()
                return
        elif self.finished:  # closed on request while connecting
            transport.close()
            return
        else:
            logger.info("connected to %s", self.peer)
        self._touch()
        self._arm_idle_timer()
        queue, self._queue, self._queued = self._queue, [], 0
        for data in queue:
            self.write(data)

    def data_received(self, data: bytes) -> None:
        if self.finished:
            return
        self._touch()
        self._decoder.receive_data(data)
        self._drain()

    def eof_received(self) -> bool | None:
        if not self.finished:
            self._decoder.receive_data(b"")
            self._drain()
        return False  # let asyncio close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(self._error or exc)
        self._owner._connection_closed(self)
        if not self.lost.done():
            self.lost.set_result(None)

    # --- used by the owner --------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send now if connected, else queue; drop (and report) past the queue limit."""
        limit = self._owner.queue_limit
        transport = self._transport
        if self.finished:
            self._owner._report_error(
                self.peer, ConnectionError(f"connection to {self.peer} closed")
            )
        elif transport is None:
            if self._queued + len(data) > limit:
                self._owner._report_error(self.peer, _buffer_full(self.peer, limit))
                return
            self._queue.append(data)
            self._queued += len(data)
        elif transport.get_write_buffer_size() + len(data) > limit:
            self._owner._report_error(self.peer, _buffer_full(self.peer, limit))
        else:
            transport.write(data)
            self._touch()

    @property
    def connected(self) -> bool:
        """True once asyncio handed us the transport (for TLS: after the handshake)."""
        return self._transport is not None

    def connect_failed(self, error: Exception) -> None:
        """The outbound connect or TLS handshake failed: report it, drop the queue."""
        self._queue.clear()
        self._queued = 0
        if not self.finished:
            self.finished = True
            self._owner._forget(self)
            logger.warning("cannot connect to %s: %r", self.peer, error)
            if self._report:
                self._owner.listener.transport_error(self.peer, error)

    def never_connected(self) -> None:
        """The connect attempt ended without a transport: the connection is over."""
        self.finished = True
        self._owner._connection_closed(self)
        if not self.lost.done():
            self.lost.set_result(None)

    def close(self, *, report: bool) -> None:
        """Close gracefully (queued writes are flushed by asyncio); cancel a pending connect."""
        if not report:
            self._report = False
        self._finish(self._error)
        if self._transport is not None:
            self._transport.close()
        elif self.connect_task is not None:
            self.connect_task.cancel()  # _open() then calls never_connected()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # --- internals ------------------------------------------------------------------------

    def _drain(self) -> None:
        """Hand every complete event to the listener; stop when the connection is gone."""
        listener = self._owner.listener
        while not self.finished:
            try:
                event = self._decoder.next_event()
            except RemoteProtocolError as error:
                logger.warning("closing the connection with %s: %s", self.peer, error)
                self._error = error
                self.close(report=True)
                return
            if event is None:
                return
            if isinstance(event, MessageFramed):
                listener.datagram_received(event.data, self.peer)
            elif isinstance(event, KeepAlivePing):
                if self._transport is not None:
                    self._transport.write(KEEPALIVE_PONG)
            elif isinstance(event, KeepAlivePong):
                listener.keepalive_pong(self.peer)

    def _finish(self, error: Exception | None) -> None:
        """Stop carrying data and tell the listener, once."""
        if self.finished:
            return
        self.finished = True
        self._owner._forget(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._report and self._transport is not None:
            logger.info("connection with %s lost: %r", self.peer, error)
            self._owner.listener.connection_lost(self.peer, error)

    def _close_early(self) -> None:
        self.finished = True
        if self._transport is not None:
            self._transport.abort()

    def _touch(self) -> None:
        self._last_activity = self._loop.time()

    def _arm_idle_timer(self) -> None:
        idle_timeout = self._owner.idle_timeout
        if idle_timeout is not None:
            self._idle_timer = self._loop.call_at(
                self._last_activity + idle_timeout, self._check_idle
            )

    def _check_idle(self) -> None:
        self._idle_timer = None
        idle_timeout = self._owner.idle_timeout
        if self.finished or idle_timeout is None:
            return
        if self._loop.time() - self._last_activity >= idle_timeout:
            self._error = TimeoutError(f"no traffic with {self.peer} for {idle_timeout} s")
            self.close(report=True)
        else:
            self._arm_idle_timer()
