"""Tests for phoneagent.aio.sip_transport over real sockets on 127.0.0.1 and ::1.

Every test is a plain function running one scenario with ``asyncio.run`` under
``asyncio.timeout``; ports come from the OS, and every socket is closed before
the scenario ends: a socket left open, or a task left running, fails the test
that leaked it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from phoneagent.aio import (
    SipTransports,
    make_client_tls_context,
    make_server_tls_context,
)
from phoneagent.certificates import CertificateAuthority, TlsFiles, make_tls_files
from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from phoneagent.sip.framing import KEEPALIVE_PING, KEEPALIVE_PONG
from phoneagent.sip.stun import make_binding_request, make_binding_response, parse_stun
from phoneagent.sip.transport import Peer, Transport

SCENARIO_TIMEOUT = 10.0

# An unclosed socket warns from a destructor, where the warning cannot be raised:
# pytest reports it as an unraisable exception, which fails the test here.
pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


HOSTS = [
    "127.0.0.1",
    pytest.param("::1", marks=pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")),
]


def run(scenario: Callable[[], Awaitable[None]], timeout: float = SCENARIO_TIMEOUT) -> None:
    """Run ``scenario`` within ``timeout``; fail if it leaves a task behind or a socket open."""

    async def bounded() -> None:
        async with asyncio.timeout(timeout):
            await scenario()
        assert asyncio.all_tasks() == {asyncio.current_task()}, "a task outlived the scenario"

    asyncio.run(bounded(), debug=True)
    gc.collect()  # unclosed sockets warn when collected: make that happen in this test


def sip_message(number: int, body: bytes = b"") -> bytes:
    return (
        f"OPTIONS sip:bob@example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK{number}\r\n"
        f"Call-ID: call-{number}\r\n"
        f"CSeq: {number} OPTIONS\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class Recorder:
    """A SipTransportListener that records events and lets a scenario wait for them."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self._changed = asyncio.Event()

    def _add(self, *event: Any) -> None:
        self.events.append(event)
        self._changed.set()

    def datagram_received(self, data: bytes, source: Peer) -> None:
        self._add("datagram", data, source)

    def stun_received(self, data: bytes, source: Peer) -> None:
        self._add("stun", data, source)

    def keepalive_pong(self, source: Peer) -> None:
        self._add("pong", source)

    def connection_lost(self, peer: Peer, error: Exception | None) -> None:
        self._add("lost", peer, error)

    def transport_error(self, peer: Peer, error: Exception) -> None:
        self._add("error", peer, error)

    async def next(self, kind: str) -> tuple[Any, ...]:
        """Remove and return the first event of ``kind``, waiting for it."""
        while True:
            for index, event in enumerate(self.events):
                if event[0] == kind:
                    return self.events.pop(index)
            self._changed.clear()
            await self._changed.wait()

    def kinds(self) -> list[str]:
        return [event[0] for event in self.events]


@contextlib.asynccontextmanager
async def sip_transports(
    listener: Recorder,
    *,
    tls_client_context: ssl.SSLContext | None = None,
    tls_server_context: ssl.SSLContext | None = None,
    **options: Any,
) -> AsyncIterator[SipTransports]:
    transports = SipTransports(
        listener,
        tls_client_context=tls_client_context,
        tls_server_context=tls_server_context,
        **options,
    )
    try:
        yield transports
    finally:
        await transports.close()


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@contextlib.asynccontextmanager
async def raw_client(peer: Peer) -> AsyncIterator[Streams]:
    """A plain TCP client that the test drives byte by byte."""
    reader, writer = await asyncio.open_connection(peer.host, peer.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


class _SilentProtocol(asyncio.Protocol):
    def __init__(self, accepted: list[asyncio.BaseTransport]) -> None:
        self._accepted = accepted

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._accepted.append(transport)


@contextlib.asynccontextmanager
async def silent_server(host: str) -> AsyncIterator[tuple[int, list[asyncio.BaseTransport]]]:
    """A TCP server that accepts connections and never says a word (a stalled TLS peer)."""
    accepted: list[asyncio.BaseTransport] = []
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _SilentProtocol(accepted), host, 0)
    try:
        yield server.sockets[0].getsockname()[1], accepted
    finally:
        server.close()
        for transport in accepted:
            transport.close()
        await server.wait_closed()
        await asyncio.sleep(0)


def free_port(host: str) -> int:
    """A port nobody listens on (bound by the OS, then released)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return CertificateAuthority(tmp_path_factory.mktemp("other-ca"), "unknown CA").certificate_path


# --- UDP ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", HOSTS)
def test_udp_both_ways_from_the_listening_socket(host: str) -> None:
    async def scenario() -> None:
        alice, bob = Recorder(), Recorder()
        async with sip_transports(alice) as a, sip_transports(bob) as b:
            a_local = await a.listen(Transport.UDP, host, 0)
            b_local = await b.listen(Transport.UDP, host, 0)
            assert a.local_peer(Transport.UDP) == a_local
            assert a.local_peer(Transport.TCP) is None
            assert a_local.host == host and a_local.port > 0

            a.send(sip_message(1), b_local)
            assert await bob.next("datagram") == ("datagram", sip_message(1), a_local)
            b.send(b"SIP/2.0 200 OK\r\n\r\n", a_local)
            assert await alice.next("datagram") == ("datagram", b"SIP/2.0 200 OK\r\n\r\n", b_local)
        assert alice.events == [] and bob.events == []

    run(scenario)


@pytest.mark.parametrize("host", HOSTS)
def test_udp_stun_is_demultiplexed(host: str) -> None:
    async def scenario() -> None:
        alice, bob = Recorder(), Recorder()
        async with sip_transports(alice) as a, sip_transports(bob) as b:
            a_local = await a.listen(Transport.UDP, host, 0)
            b_local = await b.listen(Transport.UDP, host, 0)
            a.send(make_binding_request(b"keepalive-01"), b_local)
            _, data, source = await bob.next("stun")
            assert source == a_local
            request = parse_stun(data)
            assert request is not None and request.is_binding_request
            b.send(make_binding_response(request, (source.host, source.port)), source)
            _, data, source = await alice.next("stun")
            assert source == b_local
            response = parse_stun(data)
            assert response is not None
            assert response.transaction_id == b"keepalive-01"
            assert response.mapped_address == (a_local.host, a_local.port)
        assert "datagram" not in alice.kinds() + bob.kinds()

    run(scenario)


def test_udp_oversized_datagram_is_dropped() -> None:
    async def scenario() -> None:
        alice, bob = Recorder(), Recorder()
        async with sip_transports(alice) as a, sip_transports(bob, max_message_size=300) as b:
            await a.listen(Transport.UDP, "127.0.0.1", 0)
            b_local = await b.listen(Transport.UDP, "127.0.0.1", 0)
            a.send(sip_message(1, b"x" * 300), b_local)
            a.send(sip_message(2), b_local)
            _, data, _ = await bob.next("datagram")
            assert data == sip_message(2)
            assert bob.events == []

    run(scenario)


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
def test_udp_send_failure_is_reported_later_not_raised() -> None:
    async def scenario() -> None:
        alice = Recorder()
        async with sip_transports(alice) as a:
            await a.listen(Transport.UDP, "127.0.0.1", 0)
            destination = Peer(Transport.UDP, "::1", 5060)  # IPv6 from an IPv4 socket
            a.send(sip_message(1), destination)
            assert alice.events == []  # never re-entrant
            _, peer, error = await alice.next("error")
            assert peer == destination
            assert isinstance(error, OSError)

    run(scenario)


# --- TCP ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", HOSTS)
def test_tcp_messages_split_across_writes_and_pipelined(host: str) -> None:
    async def scenario() -> None:
        bob = Recorder()
        async with sip_transports(bob) as b:
            b_local = await b.listen(Transport.TCP, host, 0)
            assert b_local.transport is Transport.TCP
            first = sip_message(1, b"v=0\r\n")
            second, third = sip_message(2), sip_message(3, b"body")
            async with raw_client(b_local) as (_reader, writer):
                client_host, client_port = writer.get_extra_info("sockname")[:2]
                client = Peer(Transport.TCP, client_host, client_port)
                for piece in (first[:7], first[7:60], first[60:]):
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.01)
                writer.write(second + third)
                await writer.drain()
                for expected in (first, second, third):
                    assert await bob.next("datagram") == ("datagram", expected, client)
                writer.close()
                assert await bob.next("lost") == ("lost", client, None)

    run(scenario)


@pytest.mark.parametrize("host", HOSTS)
def test_tcp_connection_is_reused_in_both_directions(host: str) -> None:
    async def scenario() -> None:
        alice, bob = Recorder(), Recorder()
        async with sip_transports(alice) as a, sip_transports(bob) as b:
            b_local = await b.listen(Transport.TCP, host, 0)  # alice does not listen at all
            a.send(sip_message(1), b_local)
            _, _, source = await bob.next("datagram")
            assert source.transport is Transport.TCP and source.host == host
            # The reply can only travel over the inbound connection: nothing listens there.
            b.send(sip_message(2), source)
            assert await alice.next("datagram") == ("datagram", sip_message(2), b_local)
            a.send(sip_message(3), b_local)
            b.send(sip_message(4), source)
            assert await bob.next("datagram") == ("datagram", sip_message(3), source)
            assert await alice.next("datagram") == ("datagram", sip_message(4), b_local)
        assert "error" not in alice.kinds() + bob.kinds()

    run(scenario)


@pytest.mark.parametrize("host", HOSTS)
def test_tcp_reconnects_after_the_peer_closes(host: str) -> None:
    async def scenario() -> None:
        alice, bob = Recorder(), Recorder()
        async with sip_transports(alice) as a, sip_transports(bob) as b:
            b_local = await b.listen(Transport.TCP, host, 0)
            a.send(sip_message(1), b_local)
            _, _, first_source = await bob.next("datagram")
            b.close_connection(first_source)
            assert await alice.next("lost") == ("lost", b_local, None)
            a.send(sip_message(2), b_local)
            _, data, second_source = await bob.next("datagram")
            assert data == sip_message(2)
            assert second_source != first_source
            assert "lost" not in bob.kinds()  # closed on request: not reported

    run(scenario)


@pytest.mark.parametrize("host", HOSTS)
def test_ping_is_answered_by_the_adapter_and_pong_reported(host: str) -> None:
    async def scenario() -> None:
        bob = Recorder()
        async with sip_transports(bob) as b:
            b_local = await b.listen(Transport.TCP, host, 0)
            async with raw_client(b_local) as (reader, writer):
                writer.write(KEEPALIVE_PING)
                await writer.drain()
                assert await reader.readexactly(2) == KEEPALIVE_PONG
                writer.write(KEEPALIVE_PONG)
                await writer.drain()
                _, source = await bob.next("pong")
                assert source.port == writer.get_extra_info("sockname")[1]
            assert "datagram" not in bob.kinds()

    run(scenario)


def test_send_keepalive_pings_the_connection_and_reports_the_pong() -> None:
    async def scenario() -> None:
        alice, bob = Recorder(), Recorder()
        async with sip_transports(alice) as a, sip_transports(bob) as b:
            b_local = await b.listen(Transport.TCP, "127.0.0.1", 0)
            a.send(sip_message(1), b_local)
            await bob.next("datagram")
            a.send_keepalive(b_local)
            assert await alice.next("pong") == ("pong", b_local)
            assert bob.events == []  # the ping was answered below the listener

            # No connection, no ping: the flow is gone and the core hears about it.
            elsewhere = Peer(Transport.TCP, "127.0.0.1", free_port("127.0.0.1"))
            a.send_keepalive(elsewhere)
            _, peer, error = await alice.next("error")
            assert peer == elsewhere and isinstance(error, ConnectionError)
            with pytest.raises(LocalProtocolError, match="STUN"):
                a.send_keepalive(Peer(Transport.UDP, "127.0.0.1", 5060))

    run(scenario)


def test_oversized_message_closes_the_connection() -> None:
    async def scenario() -> None:
        bob = Recorder()
        async with sip_transports(bob, max_message_size=512) as b:
            b_local = await b.listen(Transport.TCP, "127.0.0.1", 0)
            async with raw_client(b_local) as (reader, writer):
                writer.write(sip_message(1, b"ok"))
                writer.write(b"MESSAGE sip:bob@example.com SIP/2.0\r\nContent-Length: 4096\r\n\r\n")
                await writer.drain()
                await bob.next("datagram")
                _, _, error = await bob.next("lost")
                assert isinstance(error, RemoteProtocolError)
                assert error.status_hint == 513
                assert await reader.read() == b""  # closed by the adapter

    run(scenario)


def test_headers_that_never_end_close_the_connection() -> None:
    async def scenario() -> None:
        bob = Recorder()
        async with sip_transports(bob, max_message_size=512) as b:
            b_local = await b.listen(Transport.TCP, "127.0.0.1", 0)
            async with raw_client(b_local) as (reader, writer):
                writer.write(b"INVITE sip:x SIP/2.0\r\n" + b"X-Filler: yes\r\n" * 60)
                await writer.drain()
                _, _, error = await bob.next("lost")
                assert isinstance(error, RemoteProtocolError)
                assert await reader.read() == b""

    run(scenario)


@pytest.mark.parametrize("host", HOSTS)
def test_connect_refused_is_reported(host: str) -> None:
    async def scenario() -> None:
        alice = Recorder()
        async with sip_transports(alice) as a:
            nobody = Peer(Transport.TCP, host, free_port(host))
            a.send(sip_message(1), nobody)
            a.send(sip_message(2), nobody)  # queued behind the same attempt
            _, peer, error = await alice.next("error")
            assert peer == nobody
            assert isinstance(error, ConnectionRefusedError)
            a.send(sip_message(3), nobody)  # a fresh attempt
            _, _, error = await alice.next("error")
            assert isinstance(error, ConnectionRefusedError)
            assert alice.events == []

    run(scenario)


def test_idle_connections_are_closed_and_reported() -> None:
    async def scenario() -> None:
        alice, bob = Recorder(), Recorder()
        async with sip_transports(alice) as a, sip_transports(bob, idle_timeout=0.2) as b:
            b_local = await b.listen(Transport.TCP, "127.0.0.1", 0)
            started = time.monotonic()
            a.send(sip_message(1), b_local)
            _, _, source = await bob.next("datagram")
            _, peer, error = await bob.next("lost")
            assert peer == source and isinstance(error, TimeoutError)
            assert time.monotonic() - started >= 0.2
            assert await alice.next("lost") == ("lost", b_local, None)

    run(scenario)


def test_queue_while_connecting_is_bounded() -> None:
    async def scenario() -> None:
        alice = Recorder()
        client_context = make_client_tls_context(verify=False)
        async with (
            silent_server("127.0.0.1") as (port, _accepted),
            sip_transports(alice, tls_client_context=client_context, max_message_size=100) as a,
        ):
            stalled = Peer(Transport.TLS, "127.0.0.1", port)
            for _ in range(5):  # the limit is four messages of the maximum size
                a.send(b"x" * 100, stalled)
            _, peer, error = await alice.next("error")
            assert peer == stalled
            assert isinstance(error, OSError) and error.errno == errno.ENOBUFS

    run(scenario)


# --- TLS ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("server_name", ["localhost", None])
def test_tls_with_a_verified_certificate(
    host: str, server_name: str | None, tls_files: TlsFiles
) -> None:
    async def scenario() -> None:
        alice, bob = Recorder(), Recorder()
        client_context = make_client_tls_context(str(tls_files.ca_certificate))
        server_context = make_server_tls_context(tls_files.server_certificate, tls_files.server_key)
        async with (
            sip_transports(alice, tls_client_context=client_context) as a,
            sip_transports(bob, tls_server_context=server_context) as b,
        ):
            b_local = await b.listen(Transport.TLS, host, 0)
            assert b_local.transport is Transport.TLS
            a.send(sip_message(1), b_local, server_name=server_name)
            _, data, source = await bob.next("datagram")
            assert data == sip_message(1) and source.transport is Transport.TLS
            b.send(sip_message(2), source)  # back over the inbound TLS connection
            assert await alice.next("datagram") == ("datagram", sip_message(2), b_local)
        assert "error" not in alice.kinds() + bob.kinds()

    run(scenario)


@pytest.mark.parametrize(
    ("ca", "server_name"),
    [("right", "sip.example.com"), ("other", "localhost")],
    ids=["wrong-host-name", "unknown-ca"],
)
def test_tls_verification_failure_is_reported(
    ca: str, server_name: str, tls_files: TlsFiles, other_ca: Path
) -> None:
    async def scenario() -> None:
        alice, bob = Recorder(), Recorder()
        ca_file = tls_files.ca_certificate if ca == "right" else other_ca
        client_context = make_client_tls_context(str(ca_file))
        server_context = make_server_tls_context(tls_files.server_certificate, tls_files.server_key)
        async with (
            sip_transports(alice, tls_client_context=client_context) as a,
            sip_transports(bob, tls_server_context=server_context) as b,
        ):
            b_local = await b.listen(Transport.TLS, "127.0.0.1", 0)
            a.send(sip_message(1), b_local, server_name=server_name)
            _, peer, error = await alice.next("error")
            assert peer == b_local
            assert isinstance(error, ssl.SSLCertVerificationError)
            await asyncio.sleep(0.05)
            assert "datagram" not in bob.kinds()

    run(scenario)


@pytest.mark.parametrize("host", HOSTS)
def test_tls_handshake_that_never_completes_times_out(host: str) -> None:
    async def scenario() -> None:
        alice = Recorder()
        client_context = make_client_tls_context(verify=False)
        async with (
            silent_server(host) as (port, accepted),
            sip_transports(alice, tls_client_context=client_context, connect_timeout=0.3) as a,
        ):
            stalled = Peer(Transport.TLS, host, port)
            started = time.monotonic()
            a.send(sip_message(1), stalled)
            _, peer, error = await alice.next("error")
            elapsed = time.monotonic() - started
            assert peer == stalled and isinstance(error, TimeoutError)
            assert 0.25 <= elapsed < 3.0
            assert len(accepted) == 1

    run(scenario)


def test_close_while_connecting_returns_promptly_and_reports_nothing() -> None:
    async def scenario() -> None:
        alice = Recorder()
        client_context = make_client_tls_context(verify=False)
        async with silent_server("127.0.0.1") as (port, accepted):
            a = SipTransports(alice, tls_client_context=client_context, tls_server_context=None)
            a.send(sip_message(1), Peer(Transport.TLS, "127.0.0.1", port))
            while not accepted:
                await asyncio.sleep(0.01)
            started = time.monotonic()
            await a.close()
            assert time.monotonic() - started < 1.0
            await asyncio.sleep(0.05)
        assert alice.events == []

    run(scenario)


def test_inbound_tls_handshake_is_bounded(tls_files: TlsFiles) -> None:
    async def scenario() -> None:
        bob = Recorder()
        server_context = make_server_tls_context(tls_files.server_certificate, tls_files.server_key)
        async with sip_transports(bob, tls_server_context=server_context, connect_timeout=0.3) as b:
            b_local = await b.listen(Transport.TLS, "127.0.0.1", 0)
            async with raw_client(b_local) as (reader, _writer):
                # Say nothing: the server gives up on the handshake and hangs up.
                assert await reader.read() == b""
        assert bob.events == []

    run(scenario)


# --- misuse raises at once -----------------------------------------------------------------


def test_misuse_raises_local_protocol_error() -> None:
    async def scenario() -> None:
        alice = Recorder()
        a = SipTransports(alice, tls_client_context=None, tls_server_context=None)
        with pytest.raises(LocalProtocolError, match="UDP listener"):
            a.send(b"x", Peer(Transport.UDP, "127.0.0.1", 5060))
        with pytest.raises(LocalProtocolError, match="resolve"):
            a.send(b"x", Peer(Transport.TCP, "sip.example.com", 5060))
        with pytest.raises(LocalProtocolError, match="tls_client_context"):
            a.send(b"x", Peer(Transport.TLS, "127.0.0.1", 5061))
        with pytest.raises(LocalProtocolError, match="tls_server_context"):
            await a.listen(Transport.TLS, "127.0.0.1", 0)
        with pytest.raises(LocalProtocolError, match="IP address"):
            await a.listen(Transport.UDP, "localhost", 0)
        await a.listen(Transport.UDP, "127.0.0.1", 0)
        with pytest.raises(LocalProtocolError, match="already listening"):
            await a.listen(Transport.UDP, "127.0.0.1", 0)
        await a.close()
        await a.close()  # idempotent
        with pytest.raises(LocalProtocolError, match="closed"):
            a.send(b"x", Peer(Transport.UDP, "127.0.0.1", 5060))
        assert alice.events == []

    run(scenario)


@pytest.mark.parametrize(
    "options",
    [{"connect_timeout": 0}, {"idle_timeout": -1.0}, {"max_message_size": 0}],
)
def test_bad_options_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(LocalProtocolError):
        SipTransports(Recorder(), tls_client_context=None, tls_server_context=None, **options)


def test_client_tls_context_defaults() -> None:
    context = make_client_tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    lab = make_client_tls_context(verify=False)
    assert lab.verify_mode == ssl.CERT_NONE and not lab.check_hostname
