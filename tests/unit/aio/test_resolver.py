"""``locate()`` against a tiny authoritative DNS server on 127.0.0.1 (zone ``example.test``,
RFC 6761 reserved), plus the cases that must not touch DNS at all.  Every await is
bounded, every socket closed."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import dns.asyncresolver
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from phoneagent.aio.resolver import locate
from phoneagent.sip.transport import Peer, Transport
from phoneagent.sip.uri import SipUri, parse_uri

UDP, TCP, TLS = Transport.UDP, Transport.TCP, Transport.TLS
TEST_TIMEOUT = 10.0

# (owner, type) -> (TTL, records in zone-file syntax); every address is 127.0.0.x.
ZONE: dict[tuple[str, str], tuple[int, list[str]]] = {
    ("example.test.", "NAPTR"): (
        300,
        [
            '10 10 "s" "SIPS+D2T" "" _sips._tcp.example.test.',
            '20 10 "s" "SIP+D2U" "" _sip._udp.example.test.',
            '20 20 "s" "SIP+D2T" "" _sip._tcp.example.test.',
        ],
    ),
    ("_sip._udp.example.test.", "SRV"): (
        60,
        ["10 60 5060 a.example.test.", "10 40 5062 b.example.test.", "20 0 5064 c.example.test."],
    ),
    ("_sip._tcp.example.test.", "SRV"): (300, ["10 0 5070 a.example.test."]),
    ("_sips._tcp.example.test.", "SRV"): (300, ["10 0 5061 a.example.test."]),
    ("a.example.test.", "A"): (300, ["127.0.0.2"]),
    ("b.example.test.", "A"): (300, ["127.0.0.3"]),
    ("c.example.test.", "A"): (300, ["127.0.0.4", "127.0.0.5"]),
}


class ZoneServer(asyncio.DatagramProtocol):
    """Answers from ZONE: the records, NODATA for a known name, else NXDOMAIN."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.queries: list[tuple[str, str]] = []
        self.names = {name for name, _ in ZONE}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        request = dns.message.from_wire(data)
        response = dns.message.make_response(request)
        response.flags |= dns.flags.AA
        question = request.question[0]
        name = question.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        if (name, rdtype) in ZONE:
            ttl, texts = ZONE[name, rdtype]
            response.answer.append(
                dns.rrset.from_text_list(question.name, ttl, "IN", rdtype, texts)
            )
        elif name not in self.names:
            response.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(response.to_wire(), addr)


class SilentServer(asyncio.DatagramProtocol):
    """Takes every query and answers none."""

    def __init__(self) -> None:
        self.received = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received += 1


@asynccontextmanager
async def udp_server(protocol: asyncio.DatagramProtocol) -> AsyncIterator[tuple[str, int]]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: protocol, local_addr=("127.0.0.1", 0)
    )
    try:
        host, port = transport.get_extra_info("sockname")[:2]
        yield host, port
    finally:
        transport.close()


def sip(text: str) -> SipUri:
    uri = parse_uri(text)
    assert isinstance(uri, SipUri)
    return uri


def test_locate_against_a_local_authoritative_server() -> None:
    async def scenario() -> None:
        server = ZoneServer()
        async with asyncio.timeout(TEST_TIMEOUT), udp_server(server) as nameserver:
            loop = asyncio.get_running_loop()
            targets = await locate(
                sip("sip:alice@example.test"),
                {UDP, TCP},
                None,
                [nameserver],
                timeout=5.0,
                rng=random.Random(1),
            )
            now = loop.time()
        # Order 10 (SIPS+D2T) needs TLS, which we lack: order 20, SIP+D2U before SIP+D2T.
        peers = list(targets)
        assert set(peers[:2]) == {Peer(UDP, "127.0.0.2", 5060), Peer(UDP, "127.0.0.3", 5062)}
        # An RRset has no order: c's two addresses come in either.
        assert set(peers[2:4]) == {Peer(UDP, "127.0.0.4", 5064), Peer(UDP, "127.0.0.5", 5064)}
        assert peers[4:] == [Peer(TCP, "127.0.0.2", 5070)]
        assert targets.current == peers[0]
        assert targets.problems == ()
        assert targets.server_name == "example.test"
        assert now + 55 < targets.expires_at <= now + 60  # the SRV's TTL is the smallest
        assert server.queries[0] == ("example.test.", "NAPTR")
        assert ("_sips._tcp.example.test.", "SRV") not in server.queries
        assert ("a.example.test.", "AAAA") in server.queries  # asked, answered NODATA

    asyncio.run(scenario())


def test_ip_address_and_localhost_need_no_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_resolver(*args: object, **kwargs: object) -> None:
        raise AssertionError("a resolver was created")

    monkeypatch.setattr(dns.asyncresolver, "Resolver", no_resolver)

    async def scenario() -> None:
        async with asyncio.timeout(TEST_TIMEOUT):
            literal = await locate(sip("sips:[::1]:5081"), {UDP, TLS}, None, None)
            assert list(literal) == [Peer(TLS, "::1", 5081)]
            local = await locate(sip("sip:localhost;transport=tcp"), {UDP, TCP}, None, None)
            assert list(local) == [Peer(TCP, "127.0.0.1", 5060), Peer(TCP, "::1", 5060)]
            with pytest.raises(ValueError, match="nameservers"):
                await locate(sip("sip:example.test"), {UDP}, None, [])

    asyncio.run(scenario())


def test_a_silent_nameserver_cannot_outlast_the_timeout() -> None:
    async def scenario() -> None:
        server = SilentServer()
        async with asyncio.timeout(TEST_TIMEOUT), udp_server(server) as nameserver:
            started = time.monotonic()
            targets = await locate(
                sip("sip:example.test"),
                {UDP, TCP},
                None,
                [nameserver],
                timeout=0.6,
                query_timeout=0.3,
            )
            elapsed = time.monotonic() - started
        assert list(targets) == []
        assert "NAPTR example.test: timeout" in targets.problems
        assert any("SRV _sip._udp.example.test: timeout" in p for p in targets.problems)
        assert server.received >= 1
        assert elapsed < 2.0

    asyncio.run(scenario())
