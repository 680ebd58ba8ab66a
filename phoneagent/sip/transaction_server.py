"""Server transactions: the INVITE and non-INVITE state machines (RFC 3261 §17.2, RFC 6026 §7.1).

Theory of operation
-------------------
A ``ServerTransaction`` owns one request we received and the responses the TU
gives for it.  ``TransactionLayer`` (``transaction.py``) creates it for a new
request, routes retransmissions, ACKs, the TU's responses and timer expiries
to it, and turns what it reports into events; nothing else touches it.

INVITE (§17.2.1, figure 7 as corrected by RFC 6026 §7.1)::

    Proceeding ──2xx from TU──► Accepted ──timer L──► Terminated
        │ 300-699 from TU
        ▼
    Completed ──ACK──► Confirmed ──timer I──► Terminated
        └──timer H (no ACK)──► Terminated

* Proceeding: if the TU has not answered within 200 ms the transaction sends
  ``100 Trying`` itself (§17.2.1; ``TimerSettings.trying_delay``).  A
  retransmitted INVITE gets the latest provisional response again.
* 300-699: the final response is retransmitted on timer G over UDP (T1 doubling
  up to T2) until the ACK arrives; timer H (64·T1) gives up on the ACK and is
  reported like a timeout.  In Confirmed, timer I (T4 over UDP, 0 reliable)
  absorbs further ACKs.
* 2xx: Accepted (RFC 6026).  Retransmitting the 2xx is the TU's job
  (§13.3.1.4): it passes each retransmission to ``respond()`` again.  INVITE
  retransmissions are absorbed; an ACK that matches the transaction is the ACK
  for the 2xx and goes up to the TU (figure 7's "ACK / to TU") until timer L.

Non-INVITE (§17.2.2, figure 8)::

    Trying ──1xx from TU──► Proceeding ──200-699 from TU──► Completed ──timer J──► Terminated
       └─────────────200-699 from TU──────────────────────────┘

* A retransmitted request gets the last response again (nothing in Trying);
  timer J (64·T1 over UDP, 0 reliable) keeps the final response for them.

As in ``transaction_client``, each machine is a transition table: a network
input the table does not list is discarded, a TU or timer input it does not list
raises ``LocalProtocolError`` (e.g. a second final response).
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import TYPE_CHECKING

from phoneagent.sip.deadlines import TransactionMachine
from phoneagent.sip.message import Request, Response
from phoneagent.sip.responses import make_response
from phoneagent.sip.transport import Outgoing, Peer

if TYPE_CHECKING:
    from phoneagent.sip.transaction import TimerSettings

logger = logging.getLogger(__name__)


class ServerState(Enum):
    TRYING = "trying"  # non-INVITE only
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"  # INVITE only
    ACCEPTED = "accepted"  # INVITE only (RFC 6026)
    TERMINATED = "terminated"


class ServerInput(Enum):
    RETRANSMISSION = "request retransmission"
    ACK = "ACK"
    PROVISIONAL = "1xx from TU"
    SUCCESS = "2xx from TU"
    FAILURE = "300-699 from TU"
    TIMER_TRYING = "timer 100 Trying"
    TIMER_G = "timer G"
    TIMER_H = "timer H"
    TIMER_I = "timer I"
    TIMER_J = "timer J"
    TIMER_L = "timer L"
    TRANSPORT_ERROR = "transport error"


_S = ServerState
_I = ServerInput

#: Figure 7 with RFC 6026's Accepted state.
INVITE_SERVER_TRANSITIONS: dict[tuple[ServerState, ServerInput], ServerState] = {
    (_S.PROCEEDING, _I.RETRANSMISSION): _S.PROCEEDING,  # send the latest provisional again
    (_S.PROCEEDING, _I.PROVISIONAL): _S.PROCEEDING,
    (_S.PROCEEDING, _I.SUCCESS): _S.ACCEPTED,
    (_S.PROCEEDING, _I.FAILURE): _S.COMPLETED,
    (_S.PROCEEDING, _I.TIMER_TRYING): _S.PROCEEDING,
    (_S.PROCEEDING, _I.TRANSPORT_ERROR): _S.TERMINATED,
    (_S.COMPLETED, _I.RETRANSMISSION): _S.COMPLETED,  # send the final response again
    (_S.COMPLETED, _I.ACK): _S.CONFIRMED,
    (_S.COMPLETED, _I.TIMER_G): _S.COMPLETED,
    (_S.COMPLETED, _I.TIMER_H): _S.TERMINATED,
    (_S.COMPLETED, _I.TRANSPORT_ERROR): _S.TERMINATED,
    (_S.CONFIRMED, _I.RETRANSMISSION): _S.CONFIRMED,  # absorbed
    (_S.CONFIRMED, _I.ACK): _S.CONFIRMED,  # absorbed
    (_S.CONFIRMED, _I.TIMER_I): _S.TERMINATED,
    (_S.CONFIRMED, _I.TRANSPORT_ERROR): _S.TERMINATED,
    (_S.ACCEPTED, _I.RETRANSMISSION): _S.ACCEPTED,  # absorbed
    (_S.ACCEPTED, _I.ACK): _S.ACCEPTED,  # passed to the TU
    (_S.ACCEPTED, _I.SUCCESS): _S.ACCEPTED,  # the TU retransmits its 2xx
    (_S.ACCEPTED, _I.TIMER_L): _S.TERMINATED,
    (_S.ACCEPTED, _I.TRANSPORT_ERROR): _S.TERMINATED,
}

#: Figure 8.
NON_INVITE_SERVER_TRANSITIONS: dict[tuple[ServerState, ServerInput], ServerState] = {
    (_S.TRYING, _I.RETRANSMISSION): _S.TRYING,  # absorbed: nothing to send yet
    (_S.TRYING, _I.PROVISIONAL): _S.PROCEEDING,
    (_S.TRYING, _I.SUCCESS): _S.COMPLETED,
    (_S.TRYING, _I.FAILURE): _S.COMPLETED,
    (_S.TRYING, _I.TRANSPORT_ERROR): _S.TERMINATED,
    (_S.PROCEEDING, _I.RETRANSMISSION): _S.PROCEEDING,
    (_S.PROCEEDING, _I.PROVISIONAL): _S.PROCEEDING,
    (_S.PROCEEDING, _I.SUCCESS): _S.COMPLETED,
    (_S.PROCEEDING, _I.FAILURE): _S.COMPLETED,
    (_S.PROCEEDING, _I.TRANSPORT_ERROR): _S.TERMINATED,
    (_S.COMPLETED, _I.RETRANSMISSION): _S.COMPLETED,
    (_S.COMPLETED, _I.TIMER_J): _S.TERMINATED,
    (_S.COMPLETED, _I.TRANSPORT_ERROR): _S.TERMINATED,
}

#: Confirmed: the final response was acknowledged, nothing is left to tell the TU.
_QUIET_FAILURE_STATES = frozenset({ServerState.CONFIRMED})


def classify_response(status_code: int) -> ServerInput:
    if status_code < 200:
        return ServerInput.PROVISIONAL
    if status_code < 300:
        return ServerInput.SUCCESS
    return ServerInput.FAILURE


class ServerTransaction(TransactionMachine[ServerState, ServerInput]):
    """One server transaction; see the module docstring.  Driven by ``TransactionLayer``.

    ``destination`` is where responses go (§18.2.2, chosen by the layer); messages
    to send are appended to ``outbox``.
    """

    def __init__(
        self,
        request: Request,
        destination: Peer,
        settings: TimerSettings,
        outbox: list[Outgoing],
        *,
        now: float,
        label: str,
    ) -> None:
        self.request = request
        self.destination = destination
        self.settings = settings
        self.is_invite = request.method == "INVITE"
        self.last_response: Response | None = None
        self.final_to_tag: str | None = None  # the To tag of our final response (for ACKs)
        self._outbox = outbox
        self._logger = logger
        self._transitions = (
            INVITE_SERVER_TRANSITIONS if self.is_invite else NON_INVITE_SERVER_TRANSITIONS
        )
        self._deadlines: dict[ServerInput, float] = {}
        self._interval = settings.t1  # current timer G interval
        self._label = label
        self.state = ServerState.PROCEEDING if self.is_invite else ServerState.TRYING
        logger.debug("%s: created in %s, answering to %s", label, self.state.value, destination)
        if self.is_invite:
            self._deadlines[ServerInput.TIMER_TRYING] = now + settings.trying_delay

    # -- inputs --------------------------------------------------------------

    def receive_retransmission(self) -> None:
        """The request arrived again: send the last response again where the RFC says so."""
        if not self._accepts(ServerInput.RETRANSMISSION):
            return
        self._transition(ServerInput.RETRANSMISSION)
        resend = self.state in (ServerState.PROCEEDING, ServerState.COMPLETED)
        if resend and self.last_response is not None:
            self._send(self.last_response)

    def receive_ack(self, now: float) -> bool:
        """An ACK matched this INVITE transaction; True when it is for the TU (the 2xx's ACK)."""
        if not self._accepts(ServerInput.ACK):
            return False
        old = self.state
        self._transition(ServerInput.ACK)
        if old is ServerState.COMPLETED:
            self._wait(ServerInput.TIMER_I, self.settings.timer_i(self.destination.transport), now)
        return old is ServerState.ACCEPTED

    def respond(self, response: Response, now: float) -> None:
        """Send a response from the TU.  Raises LocalProtocolError where the state forbids it."""
        self._transition(classify_response(response.status_code))
        self._deadlines.pop(ServerInput.TIMER_TRYING, None)  # the TU has answered
        self.last_response = response
        self._send(response)
        if response.is_final and self.final_to_tag is None:
            self.final_to_tag = response.to.tag
        if self.state is ServerState.COMPLETED and self.is_invite:
            if not self.destination.transport.is_reliable:
                self._interval = self.settings.t1
                self._deadlines[ServerInput.TIMER_G] = now + self._interval
            self._deadlines[ServerInput.TIMER_H] = now + self.settings.timer_h
        elif self.state is ServerState.COMPLETED:
            self._wait(ServerInput.TIMER_J, self.settings.timer_j(self.destination.transport), now)
        elif self.state is ServerState.ACCEPTED and ServerInput.TIMER_L not in self._deadlines:
            self._deadlines[ServerInput.TIMER_L] = now + self.settings.timer_l

    def transport_failed(self) -> bool:
        """Responses cannot reach ``destination``; True when the TU must hear of it."""
        tell_tu = self.state not in _QUIET_FAILURE_STATES
        self._transition(ServerInput.TRANSPORT_ERROR)
        return tell_tu

    def handle_timer(self, now: float) -> bool:
        """Fire every timer due at ``now``; True when timer H gave up waiting for the ACK."""
        return self._fire_due(now)

    # -- actions -------------------------------------------------------------

    def _fire(self, timer: ServerInput, now: float) -> bool:
        self._transition(timer)
        if timer is ServerInput.TIMER_TRYING:
            self.last_response = make_response(self.request, 100)
            self._send(self.last_response)
        elif timer is ServerInput.TIMER_G and self.last_response is not None:
            self._send(self.last_response)  # Completed always has its final response
            self._interval = min(2 * self._interval, self.settings.t2)
            self._deadlines[timer] = now + self._interval
        return timer is ServerInput.TIMER_H

    def _send(self, response: Response) -> None:
        self._outbox.append(Outgoing(response, self.destination))

    def _accepts(self, event: ServerInput) -> bool:
        """For network input: is it handled in this state, or discarded?"""
        if (self.state, event) in self._transitions:
            return True
        logger.debug("%s: %s discarded in %s", self._label, event.value, self.state.value)
        return False

    def _clears_timers(self, new: ServerState) -> bool:
        return new is not ServerState.PROCEEDING

    def _alive(self) -> bool:
        return self.state is not ServerState.TERMINATED
