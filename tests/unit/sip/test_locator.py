"""RFC 3263 §4 server location over hand-made DNS answers (no network)."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from phoneagent.sip.errors import LocalProtocolError
from phoneagent.sip.locator import (
    AddressFamily,
    AddressRecord,
    DnsAnswer,
    DnsFailure,
    DnsQuery,
    Locator,
    LocatorState,
    NaptrRecord,
    RecordType,
    SrvRecord,
    TargetList,
    order_srv_records,
)
from phoneagent.sip.transport import Peer, Transport
from phoneagent.sip.uri import SipUri, parse_uri

UDP, TCP, TLS = Transport.UDP, Transport.TCP, Transport.TLS
ALL = frozenset({UDP, TCP, TLS})
NAPTR, SRV, A, AAAA = RecordType.NAPTR, RecordType.SRV, RecordType.A, RecordType.AAAA
IPV6_FIRST = (AddressFamily.IPV6, AddressFamily.IPV4)
Zone = dict[tuple[str, RecordType], DnsAnswer]


def sip(text: str) -> SipUri:
    uri = parse_uri(text)
    assert isinstance(uri, SipUri)
    return uri


def naptr(
    order: int, preference: int, service: str, replacement: str, *, flags: str = "S", ttl: int = 300
) -> NaptrRecord:
    return NaptrRecord(order, preference, flags, service, "", replacement, ttl)


def srv(priority: int, weight: int, port: int, target: str, ttl: int = 300) -> SrvRecord:
    return SrvRecord(priority, weight, port, target, ttl)


def addr(*addresses: str, ttl: int = 300) -> list[AddressRecord]:
    return [AddressRecord(address, ttl) for address in addresses]


def answer(zone: Zone, query: DnsQuery) -> DnsAnswer:
    """As DNS would: the records, NODATA for a name with other types only, else NXDOMAIN."""
    if (query.name, query.record_type) in zone:
        return zone[query.name, query.record_type]
    return [] if any(name == query.name for name, _ in zone) else DnsFailure.NXDOMAIN


def run(locator: Locator, zone: Zone) -> list[DnsQuery]:
    """Answer every query from ``zone``; return the queries in the order asked."""
    asked: list[DnsQuery] = []
    while not locator.done:
        batch = list(iter(locator.next_query, None))
        assert batch, "the locator waits for nothing yet is not done"
        for query in batch:
            asked.append(query)
            locator.feed(query, answer(zone, query))
    return asked


def locate(
    uri: str,
    zone: Zone | None = None,
    supported: frozenset[Transport] = ALL,
    forced: Transport | None = None,
    families: tuple[AddressFamily, ...] = (AddressFamily.IPV4, AddressFamily.IPV6),
) -> tuple[list[Peer], list[DnsQuery], Locator]:
    locator = Locator(sip(uri), supported, forced, random.Random(7), families=families)
    asked = run(locator, zone or {})
    return locator.targets(), asked, locator


def peers(*texts: str) -> list[Peer]:
    result = []
    for text in texts:
        transport, _, host_port = text.partition(":")
        host, _, port = host_port.rpartition(":")
        result.append(Peer(Transport(transport), host.strip("[]"), int(port)))
    return result


def q(name: str, record_type: RecordType) -> DnsQuery:
    return DnsQuery(name, record_type)


# -- no DNS: IP addresses and localhost ----------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sip:192.0.2.1", "udp:192.0.2.1:5060"),
        ("sip:alice@192.0.2.1:5070", "udp:192.0.2.1:5070"),
        ("sip:192.0.2.1;transport=tcp", "tcp:192.0.2.1:5060"),
        ("sip:192.0.2.1;transport=TLS", "tls:192.0.2.1:5061"),
        ("sips:192.0.2.1", "tls:192.0.2.1:5061"),
        ("sips:192.0.2.1;transport=tcp", "tls:192.0.2.1:5061"),
        ("sip:[2001:db8::1]", "udp:[2001:db8::1]:5060"),
        ("sips:[2001:DB8::1]:5081", "tls:[2001:db8::1]:5081"),
        ("sip:example.test;maddr=192.0.2.9", "udp:192.0.2.9:5060"),
        ("sip:example.test:5080;maddr=[2001:db8::9]", "udp:[2001:db8::9]:5080"),
    ],
)
def test_ip_address_needs_no_dns(uri: str, expected: str) -> None:
    targets, asked, locator = locate(uri)
    assert targets == peers(expected)
    assert asked == []
    assert locator.state is LocatorState.DONE
    assert locator.expires_at(100.0) == math.inf


def test_ip_address_with_forced_transport() -> None:
    targets, _, _ = locate("sip:192.0.2.1", forced=TCP)
    assert targets == peers("tcp:192.0.2.1:5060")


def test_ip_address_when_udp_is_not_supported_takes_tcp() -> None:
    targets, _, _ = locate("sip:192.0.2.1", supported=frozenset({TCP, TLS}))
    assert targets == peers("tcp:192.0.2.1:5060")


def test_localhost_is_loopback_without_dns() -> None:
    targets, asked, _ = locate("sip:localhost:5070")
    assert asked == []
    assert targets == peers("udp:127.0.0.1:5070", "udp:[::1]:5070")
    targets, _, _ = locate("sip:pbx.localhost", families=IPV6_FIRST)
    assert targets == peers("udp:[::1]:5060", "udp:127.0.0.1:5060")
    targets, _, _ = locate("sips:localhost", families=(AddressFamily.IPV4,))
    assert targets == peers("tls:127.0.0.1:5061")


# -- a port in the URI: A/AAAA only (§4.2) -------------------------------------------------


def test_explicit_port_asks_only_for_addresses() -> None:
    zone: Zone = {
        ("pbx.example.test", A): addr("192.0.2.1", "192.0.2.2", ttl=60),
        ("pbx.example.test", AAAA): addr("2001:db8::1", ttl=30),
    }
    targets, asked, locator = locate("sip:PBX.Example.Test.:5070", zone)
    assert asked == [q("pbx.example.test", A), q("pbx.example.test", AAAA)]
    assert targets == peers("udp:192.0.2.1:5070", "udp:192.0.2.2:5070", "udp:[2001:db8::1]:5070")
    assert locator.expires_at(1000.0) == 1030.0


def test_ipv6_first_when_the_caller_prefers_it() -> None:
    zone: Zone = {
        ("pbx.example.test", A): addr("192.0.2.1"),
        ("pbx.example.test", AAAA): addr("2001:db8::1"),
    }
    targets, _, _ = locate("sip:pbx.example.test:5060;transport=tcp", zone, families=IPV6_FIRST)
    assert targets == peers("tcp:[2001:db8::1]:5060", "tcp:192.0.2.1:5060")


def test_ipv4_only_host_never_asks_for_aaaa() -> None:
    zone: Zone = {("pbx.example.test", A): addr("192.0.2.1")}
    targets, asked, _ = locate("sips:pbx.example.test:5061", zone, families=(AddressFamily.IPV4,))
    assert asked == [q("pbx.example.test", A)]
    assert targets == peers("tls:192.0.2.1:5061")


def test_explicit_port_with_forced_transport() -> None:
    zone: Zone = {("pbx.example.test", A): addr("192.0.2.1")}
    targets, _, _ = locate("sip:pbx.example.test:5080", zone, forced=TCP)
    assert targets == peers("tcp:192.0.2.1:5080")


def test_address_nxdomain_gives_nothing() -> None:
    targets, _, locator = locate("sip:nowhere.example.test:5060")
    assert targets == []
    assert locator.problems == [
        "A nowhere.example.test: NXDOMAIN",
        "AAAA nowhere.example.test: NXDOMAIN",
        "no address found",
    ]
    assert locator.result(0.0).current is None


def test_address_timeout_is_reported() -> None:
    zone: Zone = {
        ("pbx.example.test", A): DnsFailure.TIMEOUT,
        ("pbx.example.test", AAAA): addr("2001:db8::1"),
    }
    targets, _, locator = locate("sip:pbx.example.test:5060", zone)
    assert targets == peers("udp:[2001:db8::1]:5060")
    assert locator.problems == ["A pbx.example.test: timeout"]


# -- a transport parameter without a port: SRV of that transport (§4.2) ---------------------


def test_transport_parameter_skips_naptr() -> None:
    zone: Zone = {
        ("_sip._tcp.example.test", SRV): [srv(10, 0, 5070, "pbx.example.test.")],
        ("pbx.example.test", A): addr("192.0.2.1"),
    }
    targets, asked, _ = locate("sip:example.test;transport=tcp", zone)
    assert asked[0] == q("_sip._tcp.example.test", SRV)
    assert NAPTR not in {query.record_type for query in asked}
    assert targets == peers("tcp:192.0.2.1:5070")


@pytest.mark.parametrize(
    "uri", ["sip:example.test;transport=tls", "sips:example.test;transport=tcp"]
)
def test_tls_transport_parameter_asks_sips_tcp(uri: str) -> None:
    zone: Zone = {
        ("_sips._tcp.example.test", SRV): [srv(10, 0, 5061, "pbx.example.test")],
        ("pbx.example.test", A): addr("192.0.2.1"),
    }
    targets, asked, _ = locate(uri, zone)
    assert asked[0] == q("_sips._tcp.example.test", SRV)
    assert targets == peers("tls:192.0.2.1:5061")


def test_transport_parameter_without_srv_uses_the_default_port() -> None:
    zone: Zone = {("example.test", A): addr("192.0.2.1")}
    targets, asked, _ = locate("sip:example.test;transport=tcp", zone)
    assert asked == [
        q("_sip._tcp.example.test", SRV),
        q("example.test", A),
        q("example.test", AAAA),
    ]
    assert targets == peers("tcp:192.0.2.1:5060")


# -- NAPTR (§4.1) --------------------------------------------------------------------------

SERVERS: Zone = {
    ("udp1.example.test", A): addr("192.0.2.1"),
    ("udp2.example.test", A): addr("192.0.2.2"),
    ("tcp1.example.test", A): addr("192.0.2.11"),
    ("tls1.example.test", A): addr("192.0.2.21"),
    ("tls1.example.test", AAAA): addr("2001:db8::21"),
}


def naptr_zone(*records: NaptrRecord) -> Zone:
    return SERVERS | {
        ("example.test", NAPTR): list(records),
        ("_sip._udp.example.test", SRV): [srv(1, 0, 5060, "udp1.example.test")],
        ("_sip._tcp.example.test", SRV): [srv(1, 0, 5060, "tcp1.example.test")],
        ("_sips._tcp.example.test", SRV): [srv(1, 0, 5061, "tls1.example.test")],
        ("sip-udp.example.test", SRV): [srv(1, 0, 5090, "udp2.example.test")],
    }


def test_naptr_lowest_order_wins_and_its_srv_is_followed() -> None:
    zone = naptr_zone(
        naptr(20, 10, "SIP+D2U", "_sip._udp.example.test."),
        naptr(10, 50, "SIPS+D2T", "_sips._tcp.example.test."),
        naptr(30, 10, "SIP+D2T", "_sip._tcp.example.test."),
    )
    targets, asked, locator = locate("sip:example.test", zone)
    assert asked[:2] == [q("example.test", NAPTR), q("_sips._tcp.example.test", SRV)]
    # RFC 3403: once order 10 matched, orders 20 and 30 are not considered.
    assert targets == peers("tls:192.0.2.21:5061", "tls:[2001:db8::21]:5061")
    assert locator.problems == []


def test_naptr_unsupported_transport_is_skipped() -> None:
    zone = naptr_zone(
        naptr(10, 50, "SIPS+D2T", "_sips._tcp.example.test."),
        naptr(20, 10, "SIP+D2U", "sip-udp.example.test."),
        naptr(20, 20, "SIP+D2T", "_sip._tcp.example.test."),
    )
    targets, asked, _ = locate("sip:example.test", zone, supported=frozenset({UDP, TCP}))
    # Order 20 is the lowest we can use; both its records, by preference, one after the other.
    assert [query for query in asked if query.record_type is SRV] == [
        q("sip-udp.example.test", SRV),
        q("_sip._tcp.example.test", SRV),
    ]
    assert targets == peers("udp:192.0.2.2:5090", "tcp:192.0.2.11:5060")


def test_naptr_forced_transport_filters() -> None:
    zone = naptr_zone(
        naptr(10, 10, "SIP+D2U", "_sip._udp.example.test."),
        naptr(20, 10, "SIP+D2T", "_sip._tcp.example.test."),
    )
    targets, _, _ = locate("sip:example.test", zone, forced=TCP)
    assert targets == peers("tcp:192.0.2.11:5060")


def test_naptr_for_sips_uses_only_sips_d2t() -> None:
    zone = naptr_zone(
        naptr(10, 10, "SIP+D2U", "_sip._udp.example.test."),
        naptr(20, 10, "sips+d2t", "_sips._tcp.example.test."),
    )
    targets, _, _ = locate("sips:example.test", zone, families=(AddressFamily.IPV4,))
    assert targets == peers("tls:192.0.2.21:5061")


def test_naptr_records_of_other_flags_services_or_without_replacement_are_ignored() -> None:
    zone = naptr_zone(
        naptr(1, 10, "SIP+D2U", "_sip._udp.example.test.", flags="A"),
        naptr(1, 10, "SIP+D2U", "_sip._udp.example.test.", flags=""),
        naptr(1, 10, "SIP+D2U", "."),
        naptr(1, 10, "SIP+D2S", "_sip._sctp.example.test."),
        naptr(1, 10, "E2U+sip", "_sip._udp.example.test."),
        naptr(5, 10, "SIP+D2T", "_sip._tcp.example.test.", flags="s"),
    )
    targets, _, _ = locate("sip:example.test", zone)
    assert targets == peers("tcp:192.0.2.11:5060")


def test_naptr_with_nothing_usable_falls_back_to_srv() -> None:
    zone = naptr_zone(naptr(10, 10, "SIP+D2S", "_sip._sctp.example.test."))
    targets, asked, locator = locate("sip:example.test", zone, families=(AddressFamily.IPV4,))
    assert [query for query in asked if query.record_type is SRV] == [
        q("_sip._udp.example.test", SRV),
        q("_sip._tcp.example.test", SRV),
        q("_sips._tcp.example.test", SRV),
    ]
    assert targets == peers("udp:192.0.2.1:5060", "tcp:192.0.2.11:5060", "tls:192.0.2.21:5061")
    assert locator.problems == ["NAPTR example.test: no record we can use"]


def test_naptr_srv_empty_falls_back_to_the_host_with_the_naptr_transport() -> None:
    zone: Zone = {
        ("example.test", NAPTR): [naptr(10, 10, "SIP+D2T", "_sip._tcp.example.test.")],
        ("_sip._tcp.example.test", SRV): [],
        ("example.test", A): addr("192.0.2.50"),
    }
    targets, _, _ = locate("sip:example.test", zone)
    assert targets == peers("tcp:192.0.2.50:5060")


# -- no NAPTR: constructed SRV queries (§4.1) --------------------------------------------


def test_no_naptr_tries_srv_in_our_order() -> None:
    zone = naptr_zone()  # an empty NAPTR answer: NOERROR without records
    targets, asked, _ = locate("sip:example.test", zone, families=(AddressFamily.IPV4,))
    assert asked[:4] == [
        q("example.test", NAPTR),
        q("_sip._udp.example.test", SRV),
        q("_sip._tcp.example.test", SRV),
        q("_sips._tcp.example.test", SRV),
    ]
    assert targets == peers("udp:192.0.2.1:5060", "tcp:192.0.2.11:5060", "tls:192.0.2.21:5061")


def test_no_naptr_nxdomain_is_not_a_problem() -> None:
    zone = naptr_zone()
    del zone["example.test", NAPTR]
    del zone["_sip._tcp.example.test", SRV]
    del zone["_sips._tcp.example.test", SRV]
    targets, asked, locator = locate("sip:example.test", zone)
    assert len([query for query in asked if query.record_type is SRV]) == 3
    assert targets == peers("udp:192.0.2.1:5060")
    assert locator.problems == []  # NXDOMAIN for NAPTR and the SRV of tcp and tls


def test_no_naptr_sips_asks_only_sips_tcp() -> None:
    zone = naptr_zone()
    _, asked, _ = locate("sips:example.test", zone)
    assert [query for query in asked if query.record_type is SRV] == [
        q("_sips._tcp.example.test", SRV)
    ]


def test_no_naptr_forced_transport_asks_only_its_srv() -> None:
    zone = naptr_zone()
    targets, asked, _ = locate("sip:example.test", zone, forced=TCP)
    assert [query for query in asked if query.record_type is SRV] == [
        q("_sip._tcp.example.test", SRV)
    ]
    assert targets == peers("tcp:192.0.2.11:5060")


def test_no_naptr_no_srv_uses_the_host_and_default_port() -> None:
    zone: Zone = {("example.test", A): addr("192.0.2.99")}
    targets, asked, _ = locate("sip:example.test", zone)
    assert asked[-2:] == [q("example.test", A), q("example.test", AAAA)]
    assert targets == peers("udp:192.0.2.99:5060")
    targets, _, _ = locate("sips:example.test", zone)
    assert targets == peers("tls:192.0.2.99:5061")


def test_timeouts_fall_through_to_the_host() -> None:
    zone: Zone = {
        ("example.test", NAPTR): DnsFailure.TIMEOUT,
        ("_sip._udp.example.test", SRV): DnsFailure.TIMEOUT,
        ("_sip._tcp.example.test", SRV): DnsFailure.SERVER_FAILURE,
        ("example.test", A): addr("192.0.2.99"),
    }
    targets, _, locator = locate("sip:example.test", zone, supported=frozenset({UDP, TCP}))
    assert targets == peers("udp:192.0.2.99:5060")
    assert locator.problems == [
        "NAPTR example.test: timeout",
        "SRV _sip._udp.example.test: timeout",
        "SRV _sip._tcp.example.test: server failure",
    ]


def test_everything_timing_out_gives_an_empty_list() -> None:
    locator = Locator(sip("sip:example.test"), ALL, None, random.Random(1))
    while not locator.done:
        for query in list(iter(locator.next_query, None)):
            locator.feed(query, DnsFailure.TIMEOUT)
    result = locator.result(10.0)
    assert list(result) == []
    assert result.expires_at == math.inf
    assert result.needs_lookup(10.0)
    assert "no address found" in result.problems


# -- SRV (RFC 2782) ----------------------------------------------------------------------


def test_srv_dot_target_means_not_available_and_no_fallback() -> None:
    zone: Zone = {
        ("_sip._udp.example.test", SRV): [srv(0, 0, 0, ".")],
        ("example.test", A): addr("192.0.2.99"),
    }
    targets, asked, locator = locate("sip:example.test", zone, supported=frozenset({UDP}))
    assert targets == []
    assert q("example.test", A) not in asked
    assert locator.problems == [
        "SRV _sip._udp.example.test: service not available here (target '.')"
    ]


def test_srv_dot_for_one_transport_leaves_the_others() -> None:
    zone = naptr_zone() | {("_sip._udp.example.test", SRV): [srv(0, 0, 0, ".")]}
    targets, _, _ = locate("sip:example.test", zone, families=(AddressFamily.IPV4,))
    assert targets == peers("tcp:192.0.2.11:5060", "tls:192.0.2.21:5061")


def test_srv_priority_then_addresses_of_each_target() -> None:
    zone: Zone = {
        ("_sip._udp.example.test", SRV): [
            srv(30, 0, 5062, "c.example.test"),
            srv(10, 0, 5060, "a.example.test"),
            srv(20, 0, 5061, "b.example.test"),
            srv(40, 0, 0, "zero-port.example.test"),
        ],
        ("a.example.test", A): addr("192.0.2.1"),
        ("a.example.test", AAAA): addr("2001:db8::1"),
        ("b.example.test", A): addr("192.0.2.2"),
        ("c.example.test", AAAA): addr("2001:db8::3"),
    }
    targets, _, locator = locate("sip:example.test", zone, supported=frozenset({UDP}))
    assert targets == peers(
        "udp:192.0.2.1:5060",
        "udp:[2001:db8::1]:5060",
        "udp:192.0.2.2:5061",
        "udp:[2001:db8::3]:5062",
    )
    assert "SRV _sip._udp.example.test: port 0 for zero-port.example.test" in locator.problems


def test_srv_targets_sharing_an_address_appear_once() -> None:
    zone: Zone = {
        ("_sip._udp.example.test", SRV): [
            srv(10, 0, 5060, "a.example.test"),
            srv(20, 0, 5060, "alias.example.test"),
        ],
        ("a.example.test", A): addr("192.0.2.1"),
        ("alias.example.test", A): addr("192.0.2.1", "192.0.2.2"),
    }
    targets, _, _ = locate("sip:example.test", zone, supported=frozenset({UDP}))
    assert targets == peers("udp:192.0.2.1:5060", "udp:192.0.2.2:5060")


def test_srv_weights_follow_rfc_2782_distribution() -> None:
    records = [srv(10, 60, 5060, "a"), srv(10, 30, 5060, "b"), srv(10, 10, 5060, "c")]
    low = srv(20, 100, 5060, "backup")
    rng = random.Random(2024)
    firsts: Counter[str] = Counter()
    runs = 10_000
    for _ in range(runs):
        ordered = order_srv_records([low, *records], rng)
        assert ordered[-1] is low  # a lower priority never comes before a higher one
        assert sorted(r.target for r in ordered[:3]) == ["a", "b", "c"]
        firsts[ordered[0].target] += 1
    # A draw from 0..100 inclusive: a takes 0-60, b 61-90, c 91-100.
    for target, expected in (("a", 61 / 101), ("b", 30 / 101), ("c", 10 / 101)):
        assert abs(firsts[target] / runs - expected) < 0.03, (target, firsts)


def test_srv_zero_weight_is_rarely_first_but_always_listed() -> None:
    records = [srv(10, 100, 5060, "heavy"), srv(10, 0, 5060, "zero")]
    rng = random.Random(5)
    firsts = Counter(order_srv_records(records, rng)[0].target for _ in range(5_000))
    assert 0 < firsts["zero"] < 5_000 * 0.05  # chosen only when 0 is drawn (1 in 101)
    all_zero = [srv(1, 0, 5060, "x"), srv(1, 0, 5060, "y")]
    assert [r.target for r in order_srv_records(all_zero, rng)] == ["x", "y"]


def test_srv_order_is_repeatable_with_a_seeded_rng() -> None:
    zone: Zone = {
        ("_sip._udp.example.test", SRV): [srv(10, w, 5060, f"s{w}.example.test") for w in (1, 2, 3)]
    }
    zone |= {(f"s{w}.example.test", A): addr(f"192.0.2.{w}") for w in (1, 2, 3)}
    first, _, _ = locate("sip:example.test", zone, supported=frozenset({UDP}))
    second, _, _ = locate("sip:example.test", zone, supported=frozenset({UDP}))
    assert first == second
    assert sorted(p.host for p in first) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]


# -- concurrency, TTL, maddr ------------------------------------------------------------


def test_queries_may_be_answered_out_of_order() -> None:
    zone = naptr_zone()
    locator = Locator(sip("sip:example.test"), ALL, None, random.Random(3))
    while not locator.done:
        batch = list(iter(locator.next_query, None))
        assert locator.next_query() is None  # nothing more until these are answered
        for query in reversed(batch):
            locator.feed(query, answer(zone, query))
    expected, _, _ = locate("sip:example.test", zone)
    assert locator.targets() == expected


def test_smallest_ttl_bounds_the_list() -> None:
    zone: Zone = {
        ("example.test", NAPTR): [naptr(10, 10, "SIP+D2U", "_sip._udp.example.test", ttl=3600)],
        ("_sip._udp.example.test", SRV): [srv(10, 0, 5060, "a.example.test", ttl=120)],
        ("a.example.test", A): addr("192.0.2.1", ttl=900),
    }
    _, _, locator = locate("sip:example.test", zone)
    assert locator.expires_at(50.0) == 170.0
    result = locator.result(50.0)
    assert result.expires_at == 170.0
    assert not result.needs_lookup(169.9)
    assert result.needs_lookup(170.0)
    assert result.server_name == "example.test"


def test_maddr_name_is_the_target() -> None:
    zone: Zone = {("proxy.example.test", A): addr("192.0.2.7")}
    targets, asked, _ = locate("sip:bob@example.test:5070;maddr=proxy.example.test", zone)
    assert asked[0] == q("proxy.example.test", A)
    assert targets == peers("udp:192.0.2.7:5070")


# -- URIs we cannot serve, and misuse -----------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "supported", "forced"),
    [
        ("sip:example.test;transport=sctp", ALL, None),
        ("sip:example.test;transport=ws", ALL, None),
        ("sips:example.test;transport=udp", ALL, None),
        ("sip:example.test;transport=tcp", frozenset({UDP}), None),
        ("sip:192.0.2.1;transport=udp", ALL, TCP),
        ("sips:example.test", frozenset({UDP, TCP}), None),
        ("sips:192.0.2.1", ALL, UDP),
        ("sip:192.0.2.1:0", ALL, None),
    ],
)
def test_unusable_uri_gives_an_empty_list_and_a_reason(
    uri: str, supported: frozenset[Transport], forced: Transport | None
) -> None:
    targets, asked, locator = locate(uri, supported=supported, forced=forced)
    assert targets == []
    assert asked == []
    assert len(locator.problems) == 1


def test_misuse_raises_local_protocol_error() -> None:
    uri = sip("sip:example.test")
    with pytest.raises(LocalProtocolError):
        Locator(uri, frozenset(), None)
    with pytest.raises(LocalProtocolError):
        Locator(uri, {UDP}, TCP)
    with pytest.raises(LocalProtocolError):
        Locator(uri, ALL, None, families=())
    locator = Locator(uri, ALL, None, random.Random(0))
    with pytest.raises(LocalProtocolError):
        locator.targets()  # not done yet
    with pytest.raises(LocalProtocolError):
        locator.feed(q("example.test", NAPTR), [])  # not asked yet
    query = locator.next_query()
    assert query == q("example.test", NAPTR)
    with pytest.raises(LocalProtocolError):
        locator.feed(query, addr("192.0.2.1"))  # an A record for a NAPTR query
    locator.feed(query, [])
    with pytest.raises(LocalProtocolError):
        locator.feed(query, [])  # answered twice
    with pytest.raises(LocalProtocolError):
        AddressRecord("not-an-address", 10)


def test_aaaa_query_rejects_an_ipv4_address() -> None:
    locator = Locator(sip("sip:pbx.example.test:5060"), ALL, None)
    assert locator.next_query() == q("pbx.example.test", A)
    aaaa = locator.next_query()
    assert aaaa == q("pbx.example.test", AAAA)
    with pytest.raises(LocalProtocolError):
        locator.feed(aaaa, addr("192.0.2.1"))


# -- TargetList (failover, RFC 3263 §4.3) ---------------------------------------------------


def test_target_list_failover_and_reset() -> None:
    first = peers("udp:192.0.2.1:5060", "udp:192.0.2.2:5060")
    targets = TargetList(first, expires_at=100.0, server_name="example.test")
    assert len(targets) == 2
    assert targets.current == first[0]
    assert not targets.needs_lookup(0.0)
    assert targets.advance() == first[1]  # e.g. a 503 from the first
    assert targets.advance() is None
    assert targets.advance() is None
    assert targets.current is None
    assert targets.needs_lookup(0.0)  # used up: look up again
    fresh = TargetList(peers("tcp:192.0.2.3:5060"), expires_at=400.0, problems=["x"])
    targets.reset(fresh)
    assert targets.current == Peer(TCP, "192.0.2.3", 5060)
    assert targets.expires_at == 400.0
    assert targets.problems == ("x",)
    assert not targets.needs_lookup(399.0)
    assert targets.needs_lookup(400.0)  # expired
    assert "tcp:192.0.2.3:5060" in repr(targets)


def test_empty_target_list() -> None:
    targets = TargetList([])
    assert targets.current is None
    assert targets.advance() is None
    assert targets.needs_lookup(0.0)
