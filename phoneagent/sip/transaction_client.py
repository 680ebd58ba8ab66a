"""Client transactions: the INVITE and non-INVITE state machines (RFC 3261 §17.1, RFC 6026 §7.2).

Theory of operation
-------------------
A ``ClientTransaction`` owns one request we sent and everything the RFC makes
the transaction layer do for it.  ``TransactionLayer`` (``transaction.py``)
creates it, routes responses and timer expiries to it and turns what it reports
into events for the TU; nothing else touches it.

INVITE (§17.1.1, figure 5 as corrected by RFC 6026 §7.2)::

    Calling ──1xx──► Proceeding ──2xx──► Accepted ──timer M──► Terminated
       │                 │ 300-699
       │   300-699       ▼
       └──────────────► Completed ──timer D──► Terminated

* Calling: the request is retransmitted on timer A over UDP (T1, 2·T1, 4·T1 …,
  doubling without the T2 cap, §17.1.1.2); timer B (64·T1) gives up.
* 300-699: the transaction itself sends the ACK (§17.1.1.3) and, in Completed,
  sends that ACK again for every retransmission of the final response until
  timer D (≥ 32 s over UDP, 0 over a reliable transport).
* 2xx: Accepted (RFC 6026).  The ACK for a 2xx is the TU's job (§13.2.2.4), so
  every 2xx that arrives until timer M — retransmissions and the 2xx of other
  forks — is passed up so that the TU can acknowledge it again.

Non-INVITE (§17.1.2, figure 6)::

    Trying ──1xx──► Proceeding ──200-699──► Completed ──timer K──► Terminated
       └───────────200-699──────────────────────┘

* Timer E retransmits over UDP: T1 doubling up to T2 in Trying, every T2 in
  Proceeding (§17.1.2.2); timer F (64·T1) gives up; timer K (T4 over UDP, 0
  over a reliable transport) absorbs retransmitted responses.

Each machine is a transition table ``(state, input) → state``: a network input
that the table does not list is discarded (logged), a timer or TU input it does
not list is a bug and raises ``LocalProtocolError``.  ``_set_state`` is the only
place the state changes and logs ``old -> new``.  A wait timer of zero length
(D, K over TCP) fires at once, so such a transaction passes through Completed
straight into Terminated.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from enum import Enum
from typing import TYPE_CHECKING

from phoneagent.sip.deadlines import TransactionMachine
from phoneagent.sip.errors import LocalProtocolError
from phoneagent.sip.grammar import split_list
from phoneagent.sip.headers import Headers, header_key
from phoneagent.sip.message import Message, Request, Response
from phoneagent.sip.transport import Outgoing, Peer, Transport
from phoneagent.sip.via import Via

if TYPE_CHECKING:
    from phoneagent.sip.transaction import TimerSettings

logger = logging.getLogger(__name__)

#: Max-Forwards of the requests the transaction layer builds itself (ACK, CANCEL; §8.1.1.6).
MAX_FORWARDS = "70"


class ClientState(Enum):
    CALLING = "calling"  # INVITE only
    TRYING = "trying"  # non-INVITE only
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    ACCEPTED = "accepted"  # INVITE only (RFC 6026)
    TERMINATED = "terminated"


class ClientInput(Enum):
    PROVISIONAL = "1xx"
    SUCCESS = "2xx"
    FAILURE = "300-699"
    TIMER_A = "timer A"
    TIMER_B = "timer B"
    TIMER_D = "timer D"
    TIMER_E = "timer E"
    TIMER_F = "timer F"
    TIMER_K = "timer K"
    TIMER_M = "timer M"
    TRANSPORT_ERROR = "transport error"


_S = ClientState
_I = ClientInput

#: Figure 5 with RFC 6026's Accepted state.  Self-loops are inputs that are handled
#: without a change of state (a retransmission absorbed, a timer re-armed).
INVITE_CLIENT_TRANSITIONS: dict[tuple[ClientState, ClientInput], ClientState] = {
    (_S.CALLING, _I.PROVISIONAL): _S.PROCEEDING,
    (_S.CALLING, _I.SUCCESS): _S.ACCEPTED,
    (_S.CALLING, _I.FAILURE): _S.COMPLETED,
    (_S.CALLING, _I.TIMER_A): _S.CALLING,
    (_S.CALLING, _I.TIMER_B): _S.TERMINATED,
    (_S.CALLING, _I.TRANSPORT_ERROR): _S.TERMINATED,
    (_S.PROCEEDING, _I.PROVISIONAL): _S.PROCEEDING,
    (_S.PROCEEDING, _I.SUCCESS): _S.ACCEPTED,
    (_S.PROCEEDING, _I.FAILURE): _S.COMPLETED,
    (_S.PROCEEDING, _I.TRANSPORT_ERROR): _S.TERMINATED,
    (_S.COMPLETED, _I.FAILURE): _S.COMPLETED,  # retransmitted final: send the ACK again
    (_S.COMPLETED, _I.TIMER_D): _S.TERMINATED,
    (_S.COMPLETED, _I.TRANSPORT_ERROR): _S.TERMINATED,
    (_S.ACCEPTED, _I.SUCCESS): _S.ACCEPTED,  # 2xx retransmission or another fork: to the TU
    (_S.ACCEPTED, _I.TIMER_M): _S.TERMINATED,
    (_S.ACCEPTED, _I.TRANSPORT_ERROR): _S.TERMINATED,
}

#: Figure 6.
NON_INVITE_CLIENT_TRANSITIONS: dict[tuple[ClientState, ClientInput], ClientState] = {
    (_S.TRYING, _I.PROVISIONAL): _S.PROCEEDING,
    (_S.TRYING, _I.SUCCESS): _S.COMPLETED,
    (_S.TRYING, _I.FAILURE): _S.COMPLETED,
    (_S.TRYING, _I.TIMER_E): _S.TRYING,
    (_S.TRYING, _I.TIMER_F): _S.TERMINATED,
    (_S.TRYING, _I.TRANSPORT_ERROR): _S.TERMINATED,
    (_S.PROCEEDING, _I.PROVISIONAL): _S.PROCEEDING,
    (_S.PROCEEDING, _I.SUCCESS): _S.COMPLETED,
    (_S.PROCEEDING, _I.FAILURE): _S.COMPLETED,
    (_S.PROCEEDING, _I.TIMER_E): _S.PROCEEDING,
    (_S.PROCEEDING, _I.TIMER_F): _S.TERMINATED,
    (_S.PROCEEDING, _I.TRANSPORT_ERROR): _S.TERMINATED,
    (_S.COMPLETED, _I.TIMER_K): _S.TERMINATED,
    (_S.COMPLETED, _I.TRANSPORT_ERROR): _S.TERMINATED,
}

# Once the TU holds a final response, a transport failure only ends the transaction.
_QUIET_FAILURE_STATES = frozenset({ClientState.COMPLETED, ClientState.ACCEPTED})


def classify_response(status_code: int) -> ClientInput:
    if status_code < 200:
        return ClientInput.PROVISIONAL
    if status_code < 300:
        return ClientInput.SUCCESS
    return ClientInput.FAILURE


class ClientTransaction(TransactionMachine[ClientState, ClientInput]):
    """One client transaction; see the module docstring.  Driven by ``TransactionLayer``.

    ``request`` is the request as sent (its top Via rewritten when §18.1.1 changed
    the transport) and ``destination`` where it currently goes.  ``udp_fallback``
    is the UDP peer to retry once when a request moved to TCP for its size fails
    to get through (§18.1.1).  Messages to send are appended to ``outbox``.
    """

    def __init__(
        self,
        request: Request,
        destination: Peer,
        settings: TimerSettings,
        outbox: list[Outgoing],
        *,
        now: float,
        udp_fallback: Peer | None = None,
    ) -> None:
        self.request = request
        self.destination = destination
        self.udp_fallback = udp_fallback
        self.settings = settings
        self.is_invite = request.method == "INVITE"
        self.ack: Request | None = None  # the ACK for a 300-699, once sent
        self._outbox = outbox
        self._logger = logger
        self._transitions = (
            INVITE_CLIENT_TRANSITIONS if self.is_invite else NON_INVITE_CLIENT_TRANSITIONS
        )
        self._deadlines: dict[ClientInput, float] = {}
        self._interval = settings.t1  # current timer A / E interval
        self.state = ClientState.CALLING if self.is_invite else ClientState.TRYING
        self._label = f"transaction {request.top_via.branch} {request.method} client"
        logger.debug("%s: created in %s, to %s", self._label, self.state.value, destination)
        self._start(now)

    # -- inputs --------------------------------------------------------------

    def receive_response(self, response: Response, now: float) -> bool:
        """Handle a matching response; True when it must be passed up to the TU."""
        event = classify_response(response.status_code)
        if (self.state, event) not in self._transitions:
            logger.debug(
                "%s: %d discarded in %s", self._label, response.status_code, self.state.value
            )
            return False
        old = self.state
        self._transition(event)
        self.udp_fallback = None  # a response came back: §18.1.1's UDP retry is moot
        if event is ClientInput.PROVISIONAL:
            if old is ClientState.CALLING:
                self._deadlines.pop(ClientInput.TIMER_A, None)  # §17.1.1.2: no retransmission
                self._deadlines.pop(ClientInput.TIMER_B, None)  # and no timer B in Proceeding
            return True
        if self.is_invite and event is ClientInput.FAILURE:
            if old is ClientState.COMPLETED:
                if self.ack is not None:  # always, since it was sent on entering Completed
                    self._send(self.ack)  # §17.1.1.2: ACK every retransmission of the final
                return False
            self.ack = build_ack(self.request, response)
            self._send(self.ack)
            self._wait(ClientInput.TIMER_D, self.settings.timer_d(self.destination.transport), now)
            return True
        if self.is_invite:  # 2xx
            if old is not ClientState.ACCEPTED:
                self._wait(ClientInput.TIMER_M, self.settings.timer_m, now)
            return True
        self._wait(ClientInput.TIMER_K, self.settings.timer_k(self.destination.transport), now)
        return True

    def transport_failed(self, now: float) -> bool:
        """The transport could not reach ``destination``; True when the TU must hear of it.

        §18.1.1: a request that was moved to TCP for its size is tried once more
        over UDP instead of failing, as long as no response has come back.
        """
        if self.udp_fallback is not None and self.state in (
            ClientState.CALLING,
            ClientState.TRYING,
        ):
            self._retry_over_udp(self.udp_fallback, now)
            return False
        tell_tu = self.state not in _QUIET_FAILURE_STATES
        self._transition(ClientInput.TRANSPORT_ERROR)
        return tell_tu

    def handle_timer(self, now: float) -> bool:
        """Fire every timer due at ``now``; True when timer B or F gave up on the request."""
        return self._fire_due(now)

    # -- actions -------------------------------------------------------------

    def _start(self, now: float) -> None:
        self._send(self.request)
        timeout, retransmit = (
            (ClientInput.TIMER_B, ClientInput.TIMER_A)
            if self.is_invite
            else (ClientInput.TIMER_F, ClientInput.TIMER_E)
        )
        self._deadlines[timeout] = now + self.settings.timer_b  # B and F are both 64*T1
        self._arm_retransmission(retransmit, now)

    def _arm_retransmission(self, timer: ClientInput, now: float) -> None:
        if not self.destination.transport.is_reliable:  # §17.1.1.2, §17.1.2.2: UDP only
            self._interval = self.settings.t1
            self._deadlines[timer] = now + self._interval

    def _retry_over_udp(self, peer: Peer, now: float) -> None:
        logger.debug("%s: TCP to %s failed, retrying over UDP (§18.1.1)", self._label, peer)
        self.udp_fallback = None
        self.destination = peer
        set_top_via(self.request, replace(self.request.top_via, transport=Transport.UDP.via_name))
        self._send(self.request)
        self._arm_retransmission(
            ClientInput.TIMER_A if self.is_invite else ClientInput.TIMER_E, now
        )

    def _fire(self, timer: ClientInput, now: float) -> bool:
        self._transition(timer)
        if timer is ClientInput.TIMER_A:
            self._send(self.request)
            self._interval *= 2  # RFC 3261 §17.1.1.2: no T2 cap for INVITE
            self._deadlines[timer] = now + self._interval
        elif timer is ClientInput.TIMER_E:
            self._send(self.request)
            if self.state is ClientState.TRYING:
                self._interval = min(2 * self._interval, self.settings.t2)
            else:
                self._interval = self.settings.t2  # §17.1.2.2: Proceeding retransmits every T2
            self._deadlines[timer] = now + self._interval
        return timer in (ClientInput.TIMER_B, ClientInput.TIMER_F)

    def _send(self, message: Request) -> None:
        self._outbox.append(Outgoing(message, self.destination))

    def _clears_timers(self, new: ClientState) -> bool:
        return new in (ClientState.COMPLETED, ClientState.ACCEPTED, ClientState.TERMINATED)

    def _alive(self) -> bool:
        return self.state is not ClientState.TERMINATED


# -- requests the transaction layer builds itself -------------------------------------------


def top_via_text(message: Message) -> str:
    """The topmost via-parm exactly as written (the first element of the first Via header)."""
    values = message.headers.get_all("via")
    if not values:
        raise LocalProtocolError("message without a Via header")
    return split_list(values[0], "Via")[0]


def set_top_via(message: Message, via: Via) -> None:
    """Replace the topmost via-parm by ``str(via)``, keeping the header's place and the rest."""
    entries = list(message.headers)
    for index, (name, value) in enumerate(entries):
        if header_key(name) == "via":
            rest = split_list(value, "Via")[1:]
            entries[index] = (name, ", ".join([str(via), *rest]))
            break
    else:
        raise LocalProtocolError("message without a Via header")
    message.headers = Headers(entries)


def _copied(message: Message, name: str) -> str:
    value = message.headers.get(name)
    if value is None:
        raise LocalProtocolError(f"{message!r} has no {name} header")
    return value


def _request_like(invite: Request, method: str, to: str) -> Request:
    """§17.1.1.3 and §9.1 share a shape: the INVITE's Request-URI, a single Via equal
    to its top Via, its Route set, From, Call-ID and CSeq number; ``method`` in CSeq."""
    headers = Headers()
    headers.add("Via", top_via_text(invite))
    for route in invite.headers.get_all("route"):
        headers.add("Route", route)
    headers.add("Max-Forwards", MAX_FORWARDS)
    headers.add("From", _copied(invite, "from"))
    headers.add("To", to)
    headers.add("Call-ID", _copied(invite, "call-id"))
    headers.add("CSeq", f"{invite.cseq.number} {method}")
    return Request(method, invite.uri, headers)


def build_ack(invite: Request, response: Response) -> Request:
    """The ACK for a 300-699 response (§17.1.1.3): To is the response's, with its tag."""
    return _request_like(invite, "ACK", _copied(response, "to"))


def build_cancel(invite: Request) -> Request:
    """The CANCEL for ``invite`` (§9.1): To as in the INVITE, Route copied."""
    return _request_like(invite, "CANCEL", _copied(invite, "to"))
