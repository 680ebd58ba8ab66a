"""Finding the SIP server to send to: drives ``sip.locator.Locator`` with dnspython.

``locate()`` asks the Locator's queries (RFC 3263 §4) through
``dns.asyncresolver.Resolver``, so a lookup never blocks the event loop; the
queries one phase can ask at once (the SRV names, the A/AAAA of every target) run
concurrently.  The nameservers are the configured ones, else those of
``/etc/resolv.conf`` (read in a worker thread).  Each query is bounded by
``query_timeout`` and the whole lookup by ``timeout``: once that has passed, the
queries still to be asked are fed back as timeouts without being sent, so the
Locator ends with whatever it found.  NXDOMAIN, timeouts and server failures are
fed back as ``DnsFailure``s, never raised.  An IP address or ``localhost`` needs
no DNS at all: no resolver is even created.

All the protocol logic is in the Locator; this module only converts records and
waits.  Names are asked as absolute names, so no search domain is ever appended.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Collection, Sequence

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdata
import dns.resolver
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA
from dns.rdtypes.IN.NAPTR import NAPTR
from dns.rdtypes.IN.SRV import SRV

from phoneagent.sip.locator import (
    DEFAULT_FAMILIES,
    AddressFamily,
    AddressRecord,
    DnsAnswer,
    DnsFailure,
    DnsQuery,
    DnsRecord,
    Locator,
    NaptrRecord,
    SrvRecord,
    TargetList,
)
from phoneagent.sip.transport import Transport
from phoneagent.sip.uri import SipUri

log = logging.getLogger(__name__)

#: How much longer than its lifetime a query may take before asyncio cuts it off
#: (dnspython enforces the lifetime itself; this only bounds a misbehaving backend).
_GRACE = 0.5


async def locate(
    uri: SipUri,
    supported: Collection[Transport],
    preferred_transport: Transport | None,
    nameservers: Sequence[tuple[str, int]] | None,
    *,
    timeout: float = 5.0,
    rng: random.Random | None = None,
    query_timeout: float = 2.0,
    families: Sequence[AddressFamily] = DEFAULT_FAMILIES,
) -> TargetList:
    """The peers to try for ``uri``, in order (RFC 3263 §4); possibly an empty list.

    ``nameservers``: ``(address, port)`` pairs from the configuration, or None for
    the system's.  ``timeout`` bounds the whole lookup, ``query_timeout`` each query
    (both in seconds).  The TargetList's ``expires_at`` is on ``loop.time()``'s clock.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    locator = Locator(uri, supported, preferred_transport, rng, families=families)
    if locator.done:  # an IP address, localhost, or nothing we could use
        return locator.result(loop.time())
    resolver = await _make_resolver(nameservers)
    while not locator.done:
        batch = list(iter(locator.next_query, None))
        answers = await asyncio.gather(
            *(_ask(resolver, query, deadline, query_timeout) for query in batch)
        )
        for query, answer in zip(batch, answers, strict=True):
            locator.feed(query, answer)
    targets = locator.result(loop.time())
    if targets.peers:
        log.debug("%s: %s", uri, targets)
    else:
        log.warning("%s: no server found (%s)", uri, "; ".join(targets.problems))
    return targets


async def _make_resolver(
    nameservers: Sequence[tuple[str, int]] | None,
) -> dns.asyncresolver.Resolver | None:
    """A resolver for the configured nameservers, else the system's; None if there is
    no nameserver at all (every query then fails as a server failure)."""
    if nameservers is None:
        try:  # reading /etc/resolv.conf is file I/O: keep it off the loop
            return await asyncio.to_thread(dns.asyncresolver.Resolver)
        except dns.resolver.NoResolverConfiguration as error:
            log.warning("no DNS nameserver configured: %s", error)
            return None
    if not nameservers:
        raise ValueError("empty list of nameservers (give None to use the system's)")
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [
        dns.nameserver.Do53Nameserver(address, port) for address, port in nameservers
    ]
    return resolver


async def _ask(
    resolver: dns.asyncresolver.Resolver | None,
    query: DnsQuery,
    deadline: float,
    query_timeout: float,
) -> DnsAnswer:
    """One query's outcome, as the Locator takes it; DNS errors are returned, not raised."""
    if resolver is None:
        return DnsFailure.SERVER_FAILURE
    lifetime = min(query_timeout, deadline - asyncio.get_running_loop().time())
    if lifetime <= 0:
        return DnsFailure.TIMEOUT
    try:
        async with asyncio.timeout(lifetime + _GRACE):
            answer = await resolver.resolve(
                dns.name.from_text(query.name),  # absolute: no search domains
                query.record_type.value,
                lifetime=lifetime,
                search=False,
                raise_on_no_answer=False,
            )
    except dns.resolver.NXDOMAIN:
        return DnsFailure.NXDOMAIN
    except (dns.exception.Timeout, TimeoutError):
        return DnsFailure.TIMEOUT
    except dns.exception.DNSException as error:  # SERVFAIL/REFUSED everywhere, bad name …
        log.info("%s: %s", query, error)
        return DnsFailure.SERVER_FAILURE
    if answer.rrset is None:  # the name exists, without records of this type
        return []
    ttl = answer.rrset.ttl
    records = (_convert(rdata, ttl) for rdata in answer.rrset)
    return [record for record in records if record is not None]


def _convert(rdata: dns.rdata.Rdata, ttl: int) -> DnsRecord | None:
    """dnspython's record as the Locator's; None for a type it did not ask for."""
    if isinstance(rdata, NAPTR):
        return NaptrRecord(
            order=rdata.order,
            preference=rdata.preference,
            flags=rdata.flags.decode("ascii", "replace"),
            service=rdata.service.decode("ascii", "replace"),
            regexp=rdata.regexp.decode("utf-8", "replace"),
            replacement=rdata.replacement.to_text(),
            ttl=ttl,
        )
    if isinstance(rdata, SRV):
        return SrvRecord(rdata.priority, rdata.weight, rdata.port, rdata.target.to_text(), ttl)
    if isinstance(rdata, A | AAAA):
        return AddressRecord(rdata.address, ttl)
    return None
