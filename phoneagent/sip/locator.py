"""Locating a SIP server through DNS (RFC 3263 §4), over records someone else fetched.

Theory of operation
-------------------
``Locator(uri, supported, preferred_transport, rng)`` turns the URI of the next hop
(the outbound proxy when one is configured, else the registrar or Request-URI) into
the ordered list of ``Peer``s to try.  It asks for DNS records and is fed the answers;
it never touches the network itself.  The adapter drives it::

    locator = Locator(uri, {Transport.UDP, Transport.TCP}, None, rng)
    while not locator.done:
        batch = list(iter(locator.next_query, None))  # these may run concurrently
        for query in batch:
            locator.feed(query, answer_for(query))     # records, NXDOMAIN or TIMEOUT
    targets = locator.result(now)                      # a TargetList

The target is the URI's ``maddr`` if present, else its host (§4).  Then:

    target is an IP address or localhost ─────────────────────────────────────► DONE
    a port in the URI (§4.2) ─────────────────────────────────────► ADDRESS ──► DONE
    a transport= parameter, no port (§4.2) ────────────────► SRV ──► ADDRESS ──► DONE
    neither (§4.1) ─────────────────────────────► NAPTR ──► SRV ──► ADDRESS ──► DONE

* Transport (§4.1): the ``transport=`` parameter; without one, UDP for ``sip:`` and
  TLS for ``sips:`` (a ``sips:`` URI's ``transport=tcp`` means TLS over TCP, RFC 3261
  §26.2.2).  Whatever is not in ``supported`` (narrowed to ``preferred_transport``
  when the configuration forces one, and to TLS for ``sips:``) is never tried.
* NAPTR (§4.1, RFC 3403 §4.1): records whose service is ``SIP+D2U``, ``SIP+D2T`` or
  ``SIPS+D2T`` (only ``SIPS+D2T`` for ``sips:``), of a transport we may use, with
  flag "S" and a replacement, count.  Of those only the lowest *order* is used —
  RFC 3403: "once a match is found the client MUST NOT consider records with a
  different Order" — sorted by preference; each record's replacement is looked up
  as SRV and the targets follow one another in that order, so failover crosses to
  the next record once a replacement's servers are used up.  No usable NAPTR
  record (NXDOMAIN, none at all, none we can use, a timeout): SRV queries are made
  for ``_sip._udp``, ``_sip._tcp`` and ``_sips._tcp`` in that order (only
  ``_sips._tcp`` for ``sips:``), for each transport we may use.
* SRV (§4.2, RFC 2782): priority ascending, a weighted random order within one
  priority (``order_srv_records``); the ``random.Random`` is injected so tests are
  repeatable.  A target of "." means "decidedly not available": that service gives
  no target.  Only when no SRV record at all was found (a "." counts as found) does
  §4.2 fall back to the A/AAAA records of the target itself, with the default port
  of the transport (the first usable NAPTR record's, else the URI's default).
* Addresses (§4.2): A and AAAA of every SRV target.  RFC 3263 does not rank IPv4
  against IPv6; we list each target's addresses family by family in ``families``
  order — IPv4 first unless the caller says the host prefers IPv6 — and leave a
  family out entirely when the caller says the host has none.  Duplicate peers
  keep their first place.
* The records' smallest TTL bounds how long the list may be used
  (``expires_at(now)``); a list that needs no DNS never expires.

Failover (§4.3) is iteration over the result: on a timeout, a transport error or a
503 the user moves to the next ``Peer`` with ``TargetList.advance()``; once the list
is used up or has expired, a fresh lookup replaces it (``TargetList.reset``).

Misuse (a query fed twice, records of the wrong type, a forced transport we do not
support) raises ``LocalProtocolError``.  A URI that cannot be served with what we
support (``transport=sctp``, ``sips:`` over UDP) is not an error: the result is
empty and ``problems`` says why, as it says which queries failed.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import random
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum

from phoneagent.sip.errors import LocalProtocolError
from phoneagent.sip.transport import Peer, Transport
from phoneagent.sip.uri import SipUri

log = logging.getLogger(__name__)


# -- what the locator asks and is told ---------------------------------------------------


class RecordType(Enum):
    """The DNS record types RFC 3263 uses (the value is the type's mnemonic)."""

    NAPTR = "NAPTR"
    SRV = "SRV"
    A = "A"
    AAAA = "AAAA"


class AddressFamily(Enum):
    IPV4 = RecordType.A
    IPV6 = RecordType.AAAA

    @property
    def record_type(self) -> RecordType:
        return self.value

    @property
    def loopback(self) -> str:
        """The loopback address, which ``localhost`` names (RFC 6761 §6.3)."""
        return "127.0.0.1" if self is AddressFamily.IPV4 else "::1"


#: IPv4 before IPv6: the default when the caller does not say IPv6 is preferred.
DEFAULT_FAMILIES = (AddressFamily.IPV4, AddressFamily.IPV6)


@dataclass(frozen=True, slots=True)
class DnsQuery:
    """One question: ``name`` is lower-case and written without the final dot."""

    name: str
    record_type: RecordType

    def __str__(self) -> str:
        return f"{self.record_type.value} {self.name}"


class DnsFailure(Enum):
    """A query that brought no records (an empty list is NOERROR without records)."""

    NXDOMAIN = "NXDOMAIN"  # the name does not exist
    TIMEOUT = "timeout"  # no answer in time
    SERVER_FAILURE = "server failure"  # SERVFAIL/REFUSED everywhere, or no usable server


@dataclass(frozen=True, slots=True)
class NaptrRecord:
    """RFC 3403 §4.1; the character strings as text, ``replacement`` a domain name."""

    order: int
    preference: int
    flags: str
    service: str
    regexp: str
    replacement: str
    ttl: int


@dataclass(frozen=True, slots=True)
class SrvRecord:
    """RFC 2782; ``target`` "." means the service is not available at this domain."""

    priority: int
    weight: int
    port: int
    target: str
    ttl: int


@dataclass(frozen=True, slots=True)
class AddressRecord:
    """An A record (IPv4 address) or AAAA record (IPv6 address, without brackets)."""

    address: str
    ttl: int

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.address)
        except ValueError:
            raise LocalProtocolError(f"not an IP address: {self.address!r}") from None

    @property
    def record_type(self) -> RecordType:
        return RecordType.AAAA if ":" in self.address else RecordType.A


DnsRecord = NaptrRecord | SrvRecord | AddressRecord
DnsAnswer = Sequence[DnsRecord] | DnsFailure

# RFC 3263 §4.1 and its IANA registry: the NAPTR services a SIP client can use.
NAPTR_SERVICES = {
    "SIP+D2U": Transport.UDP,
    "SIP+D2T": Transport.TCP,
    "SIPS+D2T": Transport.TLS,
}
# §4.1 without NAPTR: "_sips" for TLS, "_sip" otherwise, in our order of preference.
SRV_PREFIXES = {
    Transport.UDP: "_sip._udp",
    Transport.TCP: "_sip._tcp",
    Transport.TLS: "_sips._tcp",
}
_TRANSPORT_PREFERENCE = (Transport.UDP, Transport.TCP, Transport.TLS)
_ADDRESS_TYPES = frozenset({RecordType.A, RecordType.AAAA})


def _domain(name: str) -> str:
    """A domain name as the locator keeps it: lower-case, no final dot ("" is the root)."""
    name = name.lower()
    return name[:-1] if name.endswith(".") else name


def order_srv_records(records: Sequence[SrvRecord], rng: random.Random) -> list[SrvRecord]:
    """RFC 2782's order: priority ascending; within one priority a weighted random pick.

    Per RFC 2782: the records of one priority are listed with the zero weights first;
    a number is drawn uniformly from 0 to the sum of the weights (inclusive) and the
    first record whose running sum reaches it is taken; repeat with the rest.  A
    zero-weight record thus has a small chance to come first (when 0 is drawn).
    """
    by_priority: dict[int, list[SrvRecord]] = {}
    for record in records:
        by_priority.setdefault(record.priority, []).append(record)
    ordered: list[SrvRecord] = []
    for priority in sorted(by_priority):
        group = sorted(by_priority[priority], key=lambda record: record.weight != 0)
        while group:
            ordered.append(group.pop(_weighted_pick(group, rng)))
    return ordered


def _weighted_pick(group: Sequence[SrvRecord], rng: random.Random) -> int:
    pick = rng.randint(0, sum(record.weight for record in group))
    running = 0
    for index, record in enumerate(group):
        running += record.weight
        if running >= pick:
            return index
    return len(group) - 1  # not reached: the running sum ends at the total >= pick


# -- the target list -----------------------------------------------------------------------


class TargetList:
    """The peers to try, in order, and how long the list is good for (RFC 3263 §4.3).

    ``current`` is the peer to use; on a timeout, a transport error or a 503 the user
    calls ``advance()`` for the next one (None when the list is used up).  When
    ``needs_lookup(now)`` says so — used up or past ``expires_at`` — the user does a
    fresh lookup and ``reset()``s the list with it, so everyone holding this object
    (registration, outgoing requests) follows.  ``expires_at`` is on the clock the
    ``now`` given to the Locator came from.

    ``server_name`` is the host the URI named: TLS checks the certificate against it,
    not against the SRV target (RFC 3263 §4.1, RFC 5922 §4).  ``problems`` says which
    lookups failed, for logs and for telling the user why the list is empty.
    """

    def __init__(
        self,
        peers: Sequence[Peer],
        expires_at: float = math.inf,
        server_name: str | None = None,
        problems: Sequence[str] = (),
    ) -> None:
        self.peers: tuple[Peer, ...] = tuple(peers)
        self.expires_at = expires_at
        self.server_name = server_name
        self.problems: tuple[str, ...] = tuple(problems)
        self._index = 0

    @property
    def current(self) -> Peer | None:
        """The peer to use now; None when the list is empty or used up."""
        return self.peers[self._index] if self._index < len(self.peers) else None

    def advance(self) -> Peer | None:
        """Give up on ``current`` (timeout, transport error, 503) and return the next."""
        if self._index < len(self.peers):
            self._index += 1
        return self.current

    def needs_lookup(self, now: float) -> bool:
        """True when the list is used up or its DNS records have expired."""
        return self.current is None or now >= self.expires_at

    def reset(self, fresh: TargetList) -> None:
        """Take over the peers of a fresh lookup, starting again from its first one."""
        self.peers = fresh.peers
        self.expires_at = fresh.expires_at
        self.server_name = fresh.server_name
        self.problems = fresh.problems
        self._index = 0

    def __len__(self) -> int:
        return len(self.peers)

    def __iter__(self) -> Iterator[Peer]:
        return iter(self.peers)

    def __repr__(self) -> str:
        peers = ", ".join(map(str, self.peers))
        return f"TargetList([{peers}], current={self._index}, expires_at={self.expires_at})"


# -- the locator ---------------------------------------------------------------------------


class LocatorState(Enum):
    NAPTR = "naptr"  # waiting for the target's NAPTR records (§4.1)
    SRV = "srv"  # waiting for SRV records (§4.1 without NAPTR, §4.2)
    ADDRESS = "address"  # waiting for A/AAAA records (§4.2)
    DONE = "done"


_TRANSITIONS: dict[LocatorState, frozenset[LocatorState]] = {
    LocatorState.NAPTR: frozenset({LocatorState.SRV}),
    LocatorState.SRV: frozenset({LocatorState.ADDRESS, LocatorState.DONE}),
    LocatorState.ADDRESS: frozenset({LocatorState.DONE}),
    LocatorState.DONE: frozenset(),
}

# (transport, host name or address, port): one server before its addresses are known.
_Endpoint = tuple[Transport, str, int]


class Locator:
    """RFC 3263 §4 server location as a state machine.  See the module docstring.

    ``supported``: the transports we can open.  ``preferred_transport``: one the
    configuration forces (it must be supported), or None.  ``rng``: for the SRV
    weights (a fresh ``random.Random`` when None).  ``families``: the address
    families to use, in order of preference.
    """

    def __init__(
        self,
        uri: SipUri,
        supported: Collection[Transport],
        preferred_transport: Transport | None = None,
        rng: random.Random | None = None,
        *,
        families: Sequence[AddressFamily] = DEFAULT_FAMILIES,
    ) -> None:
        if not supported:
            raise LocalProtocolError("no supported transport")
        if preferred_transport is not None and preferred_transport not in supported:
            raise LocalProtocolError(f"forced transport {preferred_transport} is not supported")
        if not families or len(set(families)) != len(families):
            raise LocalProtocolError(f"bad address families {families!r}")
        self.uri = uri
        maddr = uri.parameter("maddr")
        #: What DNS is asked about (§4): the maddr if there is one, else the host.
        self.target = _domain(maddr.strip("[]") if maddr else uri.host)
        self.families = tuple(families)
        self._rng = rng or random.Random()
        allowed = {preferred_transport} if preferred_transport else set(supported)
        if uri.is_secure:
            allowed &= {Transport.TLS}  # RFC 3261 §26.2.1: sips is TLS on every hop
        self._allowed = [t for t in _TRANSPORT_PREFERENCE if t in allowed]
        self.problems: list[str] = []
        self._pending: list[DnsQuery] = []  # of this phase, not yet handed out
        self._asked: set[DnsQuery] = set()  # handed out, not yet answered
        self._answers: dict[DnsQuery, DnsAnswer] = {}
        self._services: list[tuple[str, Transport]] = []  # SRV names in order of use
        self._fallback_transport = Transport.UDP
        self._endpoints: list[_Endpoint] = []
        self._targets: list[Peer] = []
        self._smallest_ttl: int | None = None
        self.state = self._start()

    # -- the state machine's inputs and outputs --------------------------------------------

    @property
    def done(self) -> bool:
        return self.state is LocatorState.DONE

    def next_query(self) -> DnsQuery | None:
        """The next query to send, or None while the ones handed out are unanswered
        (and once done).  Several may be outstanding at once: ask them concurrently."""
        if not self._pending:
            return None
        query = self._pending.pop(0)
        self._asked.add(query)
        return query

    def feed(self, query: DnsQuery, answer: DnsAnswer) -> None:
        """The outcome of a query handed out by ``next_query``: its answer records (an
        empty sequence for a name without such records) or a ``DnsFailure``."""
        if query not in self._asked:
            raise LocalProtocolError(f"{query} was not asked or is already answered")
        if not isinstance(answer, DnsFailure):
            answer = tuple(answer)
            for record in answer:
                _check_record(query, record)
                ttl = record.ttl
                self._smallest_ttl = (
                    ttl if self._smallest_ttl is None else min(ttl, self._smallest_ttl)
                )
        elif answer is not DnsFailure.NXDOMAIN or query.record_type in _ADDRESS_TYPES:
            # NXDOMAIN for a NAPTR or SRV name is ordinary (most domains publish few):
            # only a host without addresses is worth telling.
            self.problems.append(f"{query}: {answer.value}")
        log.debug("locator %s: %s -> %s", self.uri, query, answer)
        self._asked.remove(query)
        self._answers[query] = answer
        if not self._asked and not self._pending:
            self._phase_complete()

    def targets(self) -> list[Peer]:
        """The peers to try, in order (empty when nothing can be reached)."""
        if not self.done:
            raise LocalProtocolError(f"targets() while the locator is in {self.state.value}")
        return list(self._targets)

    def expires_at(self, now: float) -> float:
        """When the list stops being valid: ``now`` plus the smallest TTL of the records
        used (infinity when no DNS was needed).  ``now`` is when the lookup ended."""
        return math.inf if self._smallest_ttl is None else now + self._smallest_ttl

    def result(self, now: float) -> TargetList:
        """The outcome as a ``TargetList``; ``now`` is when the lookup ended."""
        return TargetList(self.targets(), self.expires_at(now), self.uri.host, self.problems)

    # -- phases ------------------------------------------------------------------------------

    def _start(self) -> LocatorState:
        """Where to begin (§4): the first state, its queries queued."""
        uri, target, param = self.uri, self.target, self.uri.transport
        usable = ", ".join(t.value for t in self._allowed) or "none"
        transport: Transport | None
        if param is None:
            transport = self._allowed[0] if self._allowed else None
            if transport is None:
                return self._unusable(f"a {uri.scheme}: URI, transports we may use: {usable}")
        else:
            transport = _transport_of_parameter(param, uri.is_secure)
            if transport is None or transport not in self._allowed:
                return self._unusable(
                    f"transport={param} in a {uri.scheme}: URI, transports we may use: {usable}"
                )
        if uri.port == 0:
            return self._unusable("port 0")
        literal = _ip_literal(target)
        if literal is not None or target == "localhost" or target.endswith(".localhost"):
            port = uri.port or transport.default_port
            if literal is not None:
                self._targets = [Peer(transport, literal, port)]
            else:
                self._targets = [Peer(transport, f.loopback, port) for f in self.families]
            return LocatorState.DONE
        if uri.port is not None:
            return self._queue_addresses([(transport, target, uri.port)])
        if param is not None:
            return self._queue_services([(f"{SRV_PREFIXES[transport]}.{target}", transport)])
        self._pending = [DnsQuery(target, RecordType.NAPTR)]
        return LocatorState.NAPTR

    def _unusable(self, problem: str) -> LocatorState:
        self.problems.append(problem)
        log.info("locator %s: %s", self.uri, problem)
        return LocatorState.DONE

    def _phase_complete(self) -> None:
        if self.state is LocatorState.NAPTR:
            self._set_state(self._queue_services(self._services_from_naptr()))
        elif self.state is LocatorState.SRV:
            self._set_state(self._queue_addresses(self._endpoints_from_srv()))
        elif self.state is LocatorState.ADDRESS:
            self._targets = self._peers_from_addresses()
            self._set_state(LocatorState.DONE)
        else:
            raise LocalProtocolError(f"no queries are asked in {self.state.value}")

    def _set_state(self, new: LocatorState) -> None:
        if new not in _TRANSITIONS[self.state]:
            raise LocalProtocolError(f"locator: {self.state.value} -> {new.value} is illegal")
        log.debug("locator %s: %s -> %s", self.uri, self.state.value, new.value)
        self.state = new

    def _queue_services(self, services: list[tuple[str, Transport]]) -> LocatorState:
        self._services = services
        self._fallback_transport = services[0][1]
        names = dict.fromkeys(name for name, _ in services)  # unique, in order
        self._pending = [DnsQuery(name, RecordType.SRV) for name in names]
        return LocatorState.SRV

    def _queue_addresses(self, endpoints: list[_Endpoint]) -> LocatorState:
        self._endpoints = endpoints
        hosts = dict.fromkeys(host for _, host, _ in endpoints)
        self._pending = [
            DnsQuery(host, family.record_type) for host in hosts for family in self.families
        ]
        return LocatorState.ADDRESS if self._pending else LocatorState.DONE

    def _services_from_naptr(self) -> list[tuple[str, Transport]]:
        """§4.1: the SRV names to look up, from the NAPTR answer or constructed."""
        target = self.target
        answer = self._answers[DnsQuery(target, RecordType.NAPTR)]
        usable: list[tuple[int, int, str, Transport]] = []
        if not isinstance(answer, DnsFailure):
            for record in answer:
                if not isinstance(record, NaptrRecord):
                    continue  # _check_record let only NAPTR records through
                transport = NAPTR_SERVICES.get(record.service.upper())
                replacement = _domain(record.replacement)
                if (
                    transport is not None
                    and transport in self._allowed
                    and record.flags.upper() == "S"
                    and replacement
                ):
                    usable.append((record.order, record.preference, replacement, transport))
        if usable:
            lowest = min(order for order, _, _, _ in usable)
            chosen = sorted((u for u in usable if u[0] == lowest), key=lambda u: u[1])
            return [(replacement, transport) for _, _, replacement, transport in chosen]
        if not isinstance(answer, DnsFailure) and answer:
            self.problems.append(f"NAPTR {target}: no record we can use")
        return [(f"{SRV_PREFIXES[t]}.{target}", t) for t in self._allowed]

    def _endpoints_from_srv(self) -> list[_Endpoint]:
        """§4.2: the servers in order; without any SRV record, the target itself."""
        found_any = False
        endpoints: list[_Endpoint] = []
        for name, transport in self._services:
            answer = self._answers[DnsQuery(name, RecordType.SRV)]
            if isinstance(answer, DnsFailure):
                continue
            records = [record for record in answer if isinstance(record, SrvRecord)]
            found_any = found_any or bool(records)
            available = [record for record in records if _domain(record.target)]
            if records and not available:
                self.problems.append(f"SRV {name}: service not available here (target '.')")
            for record in order_srv_records(available, self._rng):
                if record.port == 0:
                    self.problems.append(f"SRV {name}: port 0 for {record.target}")
                    continue
                endpoints.append((transport, _domain(record.target), record.port))
        if found_any:
            return endpoints
        transport = self._fallback_transport
        return [(transport, self.target, transport.default_port)]

    def _peers_from_addresses(self) -> list[Peer]:
        peers: dict[Peer, None] = {}  # ordered and unique
        for transport, host, port in self._endpoints:
            for family in self.families:
                answer = self._answers[DnsQuery(host, family.record_type)]
                if isinstance(answer, DnsFailure):
                    continue
                for record in answer:
                    if isinstance(record, AddressRecord):
                        peers.setdefault(Peer(transport, record.address, port))
        if not peers:
            self.problems.append("no address found")
        return list(peers)


def _check_record(query: DnsQuery, record: DnsRecord) -> None:
    """Our adapter must feed records of the type asked for."""
    if isinstance(record, NaptrRecord):
        record_type = RecordType.NAPTR
    elif isinstance(record, SrvRecord):
        record_type = RecordType.SRV
    else:
        record_type = record.record_type
    if record_type is not query.record_type:
        raise LocalProtocolError(f"{record_type.value} record fed for {query}")
    if record.ttl < 0:
        raise LocalProtocolError(f"negative TTL in {record!r}")


def _transport_of_parameter(value: str, secure: bool) -> Transport | None:
    """The ``transport=`` parameter (lower-case) as a Transport; None if not ours."""
    if value == "tls" or (secure and value == "tcp"):
        return Transport.TLS  # RFC 3261 §26.2.2: sips with transport=tcp is TLS
    if value == "udp" and secure:
        return None  # no TLS over UDP here (RFC 3263 §4.1: "SIPS+D2U" SHOULD NOT exist)
    return {"udp": Transport.UDP, "tcp": Transport.TCP}.get(value)


def _ip_literal(host: str) -> str | None:
    """The address if ``host`` is an IPv4 or IPv6 address (IPv6 without brackets)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None
