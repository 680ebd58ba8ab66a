"""The SIP transaction layer (RFC 3261 §17 with RFC 6026; §8.2.2.2, §9.1, §18.1.1, §18.2).

Theory of operation
-------------------
``TransactionLayer`` is the one object the user agent (the TU, "transaction
user") talks to.  It is sans-IO: the adapter feeds it what arrived and the
time (``now``, seconds), and takes back what to send and when to call again.
The state machines live in ``transaction_client`` (§17.1) and
``transaction_server`` (§17.2); this module matches messages to them and turns
what they report into events.

API (all of it)::

    TransactionLayer(settings: TimerSettings | None = None)
      # the TU's side
      .send_request(request, destination: Peer, now) -> TransactionKey
      .cancel(invite_key, now) -> TransactionKey | None        # the CANCEL's key
      .respond(key, response, now) -> None
      .send_stateless(message, destination: Peer) -> None
      .invite_cancelled_by(cancel: Request) -> TransactionKey | None
      .transaction_state(key) -> ClientState | ServerState | None
      # the adapter's side
      .receive(message: Request | Response, source: Peer, now) -> None
      .transport_error(destination: Peer, now) -> None
      .get_timer() -> float | None          # earliest deadline
      .handle_timer(now) -> None
      .messages_to_send() -> list[Outgoing] # drains
      .next_event() -> TransactionEvent | None
    new_branch() -> str                     # for the top Via of each new request

Sending.  ``send_request`` starts a client transaction for any method but ACK.
The request's top Via must carry an RFC 3261 branch (``new_branch()``); branch
and CSeq method make the ``TransactionKey`` every event about it carries.  A
non-2xx final response to an INVITE is ACKed by the layer itself (§17.1.1.3).
§18.1.1: a request over 1300 bytes for a UDP peer goes over TCP to the same
host and port instead, with its top Via rewritten (the events then carry that
copy); if TCP fails before any response, it is tried once over UDP.
``cancel`` returns the CANCEL's key at once but sends the CANCEL (§9.1) only
when the INVITE has a provisional response; a final response first means no
CANCEL at all.  ``send_stateless`` sends outside any transaction: the ACK for
a 2xx (§13.2.2.4), or a 2xx retransmission after its transaction ended.

Receiving.  A response goes to the client transaction of its top Via branch
and CSeq method (§17.1.3; a CANCEL's responses to the CANCEL), or up as
``StrayResponse``.  A request goes to the server transaction of its branch,
sent-by and method, an ACK to the INVITE's (§17.2.3); without the magic cookie
the RFC 2543 rule applies (Request-URI, To and From tags, Call-ID, CSeq, top
Via; for an ACK, the To tag of our final response).  Retransmissions and the
ACK of a non-2xx never reach the TU.  A request that matches nothing becomes
``RequestReceived`` — unless it is merged (§8.2.2.2: no To tag, the From tag,
Call-ID and CSeq of a live server transaction, another branch): the layer
answers it 482 itself, through a server transaction the TU never sees.  The
top Via of every request gets ``received``/``rport`` (§18.2.1, RFC 3581), so
``make_response`` copies them; responses go where §18.2.2 says (the source for
TCP/TLS or ``rport``, else the source address at the sent-by port).

Answering.  ``respond`` sends the TU's responses through the server
transaction; an INVITE gets ``100 Trying`` by itself after 200 ms (§17.2.1).
A 2xx to an INVITE moves it to Accepted (RFC 6026) and is sent once:
retransmitting it (§13.3.1.4) is the TU's job, by ``respond`` again until
``TransactionTerminated``.  An ACK that matches an Accepted transaction is the
2xx's ACK and goes up as ``AckReceived`` (RFC 6026 figure 7), as does any ACK
that matches no transaction.  ``respond`` raises ``LocalProtocolError`` for
an unknown key or a response the state forbids (a second final response).

Events.  ``ResponseReceived`` for each 1xx and final response, and for each
2xx an INVITE in Accepted sees (retransmissions, other forks: ACK each one).
``TransactionTimedOut``: timer B or F (treat as 408), or for a server INVITE
timer H (our final response was never ACKed).  ``TransportFailed``: the
peer could not be reached and the transaction is over — reported unless the
TU already has its outcome (a client transaction past its final response, a
server INVITE whose final was ACKed).  ``TransactionTerminated``: once per
transaction, always its last event; the key means nothing afterwards.

Every state change is logged at DEBUG as ``transaction <branch> <method>
client|server: old -> new``.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from dataclasses import dataclass, replace

from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from phoneagent.sip.message import Request, Response
from phoneagent.sip.responses import make_response
from phoneagent.sip.transaction_client import (
    ClientState,
    ClientTransaction,
    build_cancel,
    set_top_via,
)
from phoneagent.sip.transaction_server import ServerState, ServerTransaction
from phoneagent.sip.transport import Outgoing, Peer, Transport
from phoneagent.sip.via import BRANCH_MAGIC_COOKIE, Via

__all__ = [
    "UDP_SIZE_LIMIT",
    "AckReceived",
    "ClientState",
    "RequestReceived",
    "ResponseReceived",
    "ServerState",
    "StrayResponse",
    "TimerSettings",
    "TransactionEvent",
    "TransactionKey",
    "TransactionLayer",
    "TransactionTerminated",
    "TransactionTimedOut",
    "TransportFailed",
    "new_branch",
]

logger = logging.getLogger(__name__)

#: §18.1.1: a request larger than this (path MTU unknown) must not go over UDP.
UDP_SIZE_LIMIT = 1300


@dataclass(frozen=True, slots=True)
class TimerSettings:
    """T1, T2, T4 and the timers derived from them (RFC 3261 table 4, RFC 6026 §8).

    ``trying_delay`` is how long an INVITE server transaction waits for the TU
    before sending ``100 Trying`` itself (§17.2.1: 200 ms).  Timers A, E and G
    are the first retransmission intervals and run over UDP only.
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    trying_delay: float = 0.2

    def __post_init__(self) -> None:
        if not (0 < self.t1 <= self.t2 and self.t4 >= 0 and self.trying_delay >= 0):
            raise LocalProtocolError(f"inconsistent timer settings: {self}")

    @property
    def timer_a(self) -> float:
        """INVITE retransmission, initially T1, doubling (§17.1.1.2)."""
        return self.t1

    @property
    def timer_b(self) -> float:
        """INVITE client gives up: 64*T1."""
        return 64 * self.t1

    @property
    def timer_e(self) -> float:
        """Non-INVITE retransmission, initially T1, doubling up to T2 (§17.1.2.2)."""
        return self.t1

    @property
    def timer_f(self) -> float:
        """Non-INVITE client gives up: 64*T1."""
        return 64 * self.t1

    @property
    def timer_g(self) -> float:
        """INVITE final response retransmission, initially T1, up to T2 (§17.2.1)."""
        return self.t1

    @property
    def timer_h(self) -> float:
        """Wait for the ACK to a non-2xx final: 64*T1."""
        return 64 * self.t1

    @property
    def timer_l(self) -> float:
        """RFC 6026: an INVITE server transaction stays Accepted for 64*T1."""
        return 64 * self.t1

    @property
    def timer_m(self) -> float:
        """RFC 6026: an INVITE client transaction stays Accepted for 64*T1."""
        return 64 * self.t1

    def timer_d(self, transport: Transport) -> float:
        """Wait for response retransmissions: at least 32 s over UDP, 0 over TCP/TLS."""
        return 0.0 if transport.is_reliable else max(32.0, 64 * self.t1)

    def timer_i(self, transport: Transport) -> float:
        """Wait for ACK retransmissions: T4 over UDP, 0 over TCP/TLS."""
        return 0.0 if transport.is_reliable else self.t4

    def timer_j(self, transport: Transport) -> float:
        """Wait for non-INVITE request retransmissions: 64*T1 over UDP, 0 over TCP/TLS."""
        return 0.0 if transport.is_reliable else 64 * self.t1

    def timer_k(self, transport: Transport) -> float:
        """Wait for non-INVITE response retransmissions: T4 over UDP, 0 over TCP/TLS."""
        return 0.0 if transport.is_reliable else self.t4


@dataclass(frozen=True, slots=True)
class TransactionKey:
    """Names one transaction.  ``method`` is the CSeq method (INVITE for the ACK of a non-2xx).

    Server transactions also carry the top Via's ``sent_by`` (§17.2.3) and, when
    the branch lacks the magic cookie, ``rfc2543``: (Request-URI, To tag, From
    tag, Call-ID, CSeq number, top Via) of the request that created them.
    """

    branch: str
    method: str
    is_client: bool
    sent_by: str | None = None
    rfc2543: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class TransactionEvent:
    """Base of everything ``TransactionLayer.next_event()`` returns."""


@dataclass(frozen=True, slots=True)
class ResponseReceived(TransactionEvent):
    """A 1xx or final response to our ``request`` (and every 2xx seen in Accepted)."""

    key: TransactionKey
    request: Request
    response: Response


@dataclass(frozen=True, slots=True)
class TransactionTimedOut(TransactionEvent):
    """Timer B/F: no final response (treat as 408).  Timer H: no ACK for our final."""

    key: TransactionKey
    request: Request


@dataclass(frozen=True, slots=True)
class TransportFailed(TransactionEvent):
    """The transport could not reach the peer of a transaction still waiting on it."""

    key: TransactionKey
    request: Request


@dataclass(frozen=True, slots=True)
class RequestReceived(TransactionEvent):
    """A new request; answer it with ``respond(key, ...)``."""

    key: TransactionKey
    request: Request
    source: Peer


@dataclass(frozen=True, slots=True)
class AckReceived(TransactionEvent):
    """An ACK that is not part of any transaction: the ACK for a 2xx (§17.1.1.3)."""

    request: Request
    source: Peer


@dataclass(frozen=True, slots=True)
class StrayResponse(TransactionEvent):
    """A response that matches no client transaction (§17.1.3)."""

    response: Response
    source: Peer


@dataclass(frozen=True, slots=True)
class TransactionTerminated(TransactionEvent):
    """The transaction is gone; no further event carries ``key``."""

    key: TransactionKey


def new_branch() -> str:
    """A fresh RFC 3261 branch (§8.1.1.7): the magic cookie and 64 random bits."""
    return BRANCH_MAGIC_COOKIE + secrets.token_hex(8)


def _new_tag() -> str:
    return secrets.token_hex(6)


class TransactionLayer:
    """Client and server transactions of one user agent; see the module docstring."""

    def __init__(self, settings: TimerSettings | None = None) -> None:
        self.settings = settings if settings is not None else TimerSettings()
        self._clients: dict[TransactionKey, ClientTransaction] = {}
        self._servers: dict[TransactionKey, ServerTransaction] = {}
        self._internal: set[TransactionKey] = set()  # servers the TU never saw (482s)
        self._cancels: dict[TransactionKey, bool] = {}  # INVITE key -> CANCEL already sent
        self._outbox: list[Outgoing] = []
        self._events: deque[TransactionEvent] = deque()

    # -- output --------------------------------------------------------------

    def next_event(self) -> TransactionEvent | None:
        return self._events.popleft() if self._events else None

    def messages_to_send(self) -> list[Outgoing]:
        """Everything queued for sending, oldest first; the queue is emptied."""
        outgoing = list(self._outbox)
        self._outbox.clear()  # in place: every transaction appends to this list
        return outgoing

    def get_timer(self) -> float | None:
        """The earliest deadline of any transaction, or None when nothing is pending."""
        deadlines = [client.next_deadline() for client in self._clients.values()]
        deadlines += [server.next_deadline() for server in self._servers.values()]
        return min((deadline for deadline in deadlines if deadline is not None), default=None)

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``."""
        for key, client in list(self._clients.items()):
            deadline = client.next_deadline()
            if deadline is not None and deadline <= now:
                timed_out = client.handle_timer(now)
                self._settle_client(key, client, TransactionTimedOut if timed_out else None)
        for key, server in list(self._servers.items()):
            deadline = server.next_deadline()
            if deadline is not None and deadline <= now:
                timed_out = server.handle_timer(now)
                self._settle_server(key, server, TransactionTimedOut if timed_out else None)

    def transaction_state(self, key: TransactionKey) -> ClientState | ServerState | None:
        """The state of a live transaction, None once it has terminated (for logs and tests)."""
        transaction = (self._clients if key.is_client else self._servers).get(key)
        return None if transaction is None else transaction.state

    # -- the TU's requests ---------------------------------------------------

    def send_request(self, request: Request, destination: Peer, now: float) -> TransactionKey:
        """Start a client transaction for ``request`` and return its key."""
        if request.method == "ACK":
            raise LocalProtocolError("an ACK is not a transaction: use send_stateless()")
        try:
            via, cseq = request.top_via, request.cseq
        except RemoteProtocolError as error:
            raise LocalProtocolError(f"cannot send {request!r}: {error.reason}") from None
        if not via.has_rfc3261_branch or via.branch is None:
            raise LocalProtocolError(f"top Via needs a {BRANCH_MAGIC_COOKIE} branch: {via}")
        if cseq.method != request.method:
            raise LocalProtocolError(f"CSeq method {cseq.method} differs from {request.method}")
        key = TransactionKey(via.branch, request.method, True)
        if key in self._clients:
            raise LocalProtocolError(f"a client transaction {key.branch} {key.method} exists")
        udp_fallback = None
        if destination.transport is Transport.UDP and len(bytes(request)) > UDP_SIZE_LIMIT:
            # §18.1.1: too large for UDP; the top Via must name the transport used.
            udp_fallback = destination
            destination = replace(destination, transport=Transport.TCP)
            request = Request(request.method, request.uri, request.headers.copy(), request.body)
            set_top_via(request, replace(via, transport=Transport.TCP.via_name))
            logger.debug(
                "%s %s: over %d bytes, sent over TCP", key.method, key.branch, UDP_SIZE_LIMIT
            )
        self._clients[key] = ClientTransaction(
            request, destination, self.settings, self._outbox, now=now, udp_fallback=udp_fallback
        )
        return key

    def cancel(self, key: TransactionKey, now: float) -> TransactionKey | None:
        """Cancel the INVITE client transaction ``key`` (§9.1); return the CANCEL's key.

        Before the first provisional response the CANCEL waits and goes out with
        it; if a final response comes first it is never sent.  Returns None when
        the INVITE already has a final response or has ended.  Calling it again
        returns the same key and sends nothing more.
        """
        if not key.is_client or key.method != "INVITE":
            raise LocalProtocolError(f"only an INVITE client transaction can be cancelled: {key}")
        invite = self._clients.get(key)
        if invite is None or invite.state not in (ClientState.CALLING, ClientState.PROCEEDING):
            return None
        cancel_key = TransactionKey(key.branch, "CANCEL", True)
        if key not in self._cancels:
            self._cancels[key] = False
            if invite.state is ClientState.PROCEEDING:
                self._send_cancel(key, invite, now)
        return cancel_key

    def respond(self, key: TransactionKey, response: Response, now: float) -> None:
        """Send ``response`` through server transaction ``key``.

        Raises LocalProtocolError for an unknown key or a response the state does
        not allow (a second final response; anything but a 2xx in Accepted).
        """
        server = None if key.is_client else self._servers.get(key)
        if server is None or key in self._internal:
            raise LocalProtocolError(f"no server transaction {key}")
        server.respond(response, now)
        self._settle_server(key, server, None)

    def send_stateless(self, message: Request | Response, destination: Peer) -> None:
        """Queue ``message`` for sending outside any transaction (2xx ACK, 2xx retransmission)."""
        self._outbox.append(Outgoing(message, destination))

    def transport_error(self, destination: Peer, now: float) -> None:
        """Sending to (or connecting to) ``destination`` failed (§17.1.4, §17.2.4)."""
        for key, client in list(self._clients.items()):
            if client.destination == destination:
                failed = client.transport_failed(now)
                self._settle_client(key, client, TransportFailed if failed else None)
        for key, server in list(self._servers.items()):
            if server.destination == destination:
                failed = server.transport_failed()
                self._settle_server(key, server, TransportFailed if failed else None)

    def invite_cancelled_by(self, cancel: Request) -> TransactionKey | None:
        """The INVITE server transaction a received CANCEL targets (§9.2), if still there."""
        key = _server_key(cancel, "INVITE")
        return key if key in self._servers and key not in self._internal else None

    # -- input ---------------------------------------------------------------

    def receive(self, message: Request | Response, source: Peer, now: float) -> None:
        """Handle a message from the network (already parsed by ``parse_message``)."""
        try:
            if isinstance(message, Response):
                self._receive_response(message, source, now)
            else:
                self._receive_request(message, source, now)
        except RemoteProtocolError as error:
            # The parser checked the headers matching needs; this is defensive only.
            logger.warning("dropped %r from %s: %s", message, source, error.reason)

    def _receive_response(self, response: Response, source: Peer, now: float) -> None:
        branch = response.top_via.branch
        key = TransactionKey(branch or "", response.cseq.method, True)
        client = self._clients.get(key)
        if client is None:
            logger.debug("stray %r from %s", response, source)
            self._events.append(StrayResponse(response, source))
            return
        if client.receive_response(response, now):
            self._events.append(ResponseReceived(key, client.request, response))
            if self._cancels.get(key) is False and client.state is ClientState.PROCEEDING:
                self._send_cancel(key, client, now)  # §9.1: the CANCEL that was waiting
        self._settle_client(key, client, None)

    def _receive_request(self, request: Request, source: Peer, now: float) -> None:
        _stamp_via(request, source)
        key = _server_key(request)
        if request.method == "ACK":
            if key.rfc2543 is not None:  # the ACK's To tag is our final's, not the INVITE's
                matched = self._match_ack(request)
                key = key if matched is None else matched
                server = None if matched is None else self._servers[matched]
            else:
                server = self._servers.get(key)
            if server is None:
                self._events.append(AckReceived(request, source))
                return
            if server.receive_ack(now):
                self._events.append(AckReceived(request, source))
            self._settle_server(key, server, None)
            return
        server = self._servers.get(key)
        if server is not None:
            server.receive_retransmission()
            return
        server = ServerTransaction(
            request,
            _response_destination(request.top_via, source),
            self.settings,
            self._outbox,
            now=now,
            label=f"transaction {key.branch or '(rfc2543)'} {request.method} server",
        )
        self._servers[key] = server
        if request.to.tag is None and self._is_merged(key, request):
            logger.info("merged request %r from %s: 482 (§8.2.2.2)", request, source)
            self._internal.add(key)
            server.respond(make_response(request, 482, to_tag=_new_tag()), now)
            self._settle_server(key, server, None)
            return
        self._events.append(RequestReceived(key, request, source))

    def _match_ack(self, ack: Request) -> TransactionKey | None:
        """§17.2.3's RFC 2543 rule for an ACK: the INVITE's identity, our final's To tag."""
        identity = _rfc2543_identity(ack)
        for key, server in self._servers.items():
            if key.method == "INVITE" and key.rfc2543 is not None:
                invite = key.rfc2543
                same = invite[0] == identity[0] and invite[2:] == identity[2:]
                if same and (server.final_to_tag or "") == identity[1]:
                    return key
        return None

    def _is_merged(self, key: TransactionKey, request: Request) -> bool:
        """§8.2.2.2: same From tag, Call-ID and CSeq as another live server transaction."""
        from_tag, call_id, cseq = request.from_.tag, request.call_id, request.cseq
        return any(
            other_key != key
            and other.request.call_id == call_id
            and other.request.cseq == cseq
            and other.request.from_.tag == from_tag
            for other_key, other in self._servers.items()
        )

    def _send_cancel(self, key: TransactionKey, invite: ClientTransaction, now: float) -> None:
        self._cancels[key] = True
        cancel_key = TransactionKey(key.branch, "CANCEL", True)
        if cancel_key in self._clients:
            return  # the TU sent a CANCEL of its own with send_request()
        cancel = build_cancel(invite.request)
        # §9.1: to the same address, port and transport as the INVITE.
        self._clients[cancel_key] = ClientTransaction(
            cancel, invite.destination, self.settings, self._outbox, now=now
        )

    # -- bookkeeping ---------------------------------------------------------

    def _settle_client(
        self,
        key: TransactionKey,
        client: ClientTransaction,
        failure: type[TransactionTimedOut | TransportFailed] | None,
    ) -> None:
        if failure is not None:
            self._events.append(failure(key, client.request))
        if client.state is ClientState.TERMINATED:
            del self._clients[key]
            self._cancels.pop(key, None)
            self._events.append(TransactionTerminated(key))

    def _settle_server(
        self,
        key: TransactionKey,
        server: ServerTransaction,
        failure: type[TransactionTimedOut | TransportFailed] | None,
    ) -> None:
        internal = key in self._internal
        if failure is not None and not internal:
            self._events.append(failure(key, server.request))
        if server.state is ServerState.TERMINATED:
            del self._servers[key]
            self._internal.discard(key)
            if not internal:
                self._events.append(TransactionTerminated(key))


# -- matching and routing helpers -----------------------------------------------------------


def _sent_by(via: Via) -> str:
    host = via.host.lower()
    return host if via.port is None else f"{host}:{via.port}"


def _rfc2543_identity(request: Request) -> tuple[str, ...]:
    """(Request-URI, To tag, From tag, Call-ID, CSeq number, top Via) of §17.2.3."""
    return (
        str(request.uri),
        request.to.tag or "",
        request.from_.tag or "",
        request.call_id,
        str(request.cseq.number),
        str(request.top_via),
    )


def _server_key(request: Request, method: str | None = None) -> TransactionKey:
    """The key of the server transaction ``request`` belongs to (§17.2.3, §9.2).

    ``method`` overrides the request's (INVITE to find what a CANCEL cancels);
    an ACK belongs to the INVITE.
    """
    via = request.top_via
    if method is None:
        method = "INVITE" if request.method == "ACK" else request.method
    if via.has_rfc3261_branch and via.branch is not None:
        return TransactionKey(via.branch, method, False, _sent_by(via))
    return TransactionKey(
        via.branch or "", method, False, _sent_by(via), _rfc2543_identity(request)
    )


def _stamp_via(request: Request, source: Peer) -> None:
    """§18.2.1: add ``received`` when sent-by is not the source; RFC 3581 §4: fill ``rport``."""
    via = request.top_via
    stamped = via
    if via.rport_requested and via.rport is None:
        stamped = stamped.with_parameter("received", source.host)
        stamped = stamped.with_parameter("rport", str(source.port))
    elif via.host.lower() != source.host.lower():
        stamped = stamped.with_parameter("received", source.host)
    if stamped != via:
        set_top_via(request, stamped)


def _response_destination(via: Via, source: Peer) -> Peer:
    """Where responses to a request go (§18.2.2, RFC 3581 §4)."""
    if source.transport.is_reliable or via.rport is not None:
        return source  # the connection it came on / its source address and port
    if via.maddr is not None:
        return Peer(source.transport, via.maddr, via.port or source.transport.default_port)
    return Peer(source.transport, via.received or source.host, via.port or 5060)
