"""What outgoing and incoming calls share: events, requests within the dialog (RFC 3261 §12–§15).

Theory of operation
-------------------
A ``Call`` is one INVITE session of the phone, built on the transaction layer
and one confirmed ``Dialog``.  ``OutgoingCall`` and ``IncomingCall``
(``invite.py``) add how the session starts; this module holds the rest, the
same for both sides:

* Requests from the far end within the dialog (§12.2.2, then by method):
  BYE → 200 and the call ends (§15.1.2: a request still waiting for our answer
  gets 487); re-INVITE (§14.2) and UPDATE with an offer (RFC 3311 §5.2) →
  ``ReofferReceived``, answered by ``accept_reoffer`` (200 with our SDP) or
  ``reject_reoffer`` (488 by default); an UPDATE without a body only refreshes
  the target.  Glare (§14.2, RFC 3311 §5.2): while our own offer is
  outstanding, 491; while theirs still waits for our answer, 500 with a
  Retry-After of 0–10 s.  INFO with ``application/dtmf-relay`` or
  ``application/dtmf`` → ``InfoReceived`` and 200 (other bodies 415); OPTIONS →
  200 with Allow; any other method → 501 with Allow.
* Our 2xx to any INVITE (the first or a re-INVITE) is retransmitted by us, the
  UAS core, at T1, 2·T1 … capped at T2 until its ACK arrives (§13.3.1.4).  With
  no ACK after 64·T1 the session ends with a BYE (``CallEnded`` "failed", 408).
  The ACK (the transaction layer's ``AckReceived``) becomes
  ``CallAcknowledged`` — carrying the answer when our 2xx carried the offer.
* Our requests within the dialog: ``reoffer`` (a re-INVITE, §14.1: refused
  while any offer is outstanding in either direction), ``send_info``, BYE.
  The ACK for a 2xx is ours to send (§13.2.2.4): built from the dialog with the
  INVITE's CSeq number and credentials, sent with ``send_stateless`` and sent
  again for every retransmission of that 2xx.  A 481 or 408 (or a timeout) to
  a request within the dialog ends the call (§12.2.1.2); a 491 to our
  re-INVITE reports the §14.1 back-off in ``ReofferRejected.retry_after``.
* A Via goes on every request we send, from the ``make_via`` the manager was
  given, so that branch and sent-by stay with the transport.  Requests within
  the dialog go to ``route_request(request, call.peer)`` — by default the
  peer the first INVITE was sent to or came from.

``CallEnded`` is reported once per call, when the call is over for the person
using the phone: on a final failure, a BYE or CANCEL received, or as we send
BYE (a BYE still in flight only keeps the call object until it is answered).

Each call is a state machine (tables in ``invite.py``): ``_set_state`` is the
only place the state changes and logs ``call <Call-ID>: old -> new``.  Network
input a state does not expect is logged and dropped; a command the state does
not allow raises ``LocalProtocolError`` — except on a call that has already
ended, where the command lost a race with the far end and is ignored
(it returns False).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from phoneagent.sip.dialog import Dialog, DialogId, DialogRegistry, DialogState
from phoneagent.sip.errors import LocalProtocolError
from phoneagent.sip.headers import Headers, header_key
from phoneagent.sip.invite_events import (
    CallAcknowledged,
    CallEnded,
    CallEvent,
    EndReason,
    InfoReceived,
    ReofferAnswered,
    ReofferReceived,
    ReofferRejected,
)
from phoneagent.sip.message import Message, Request, Response
from phoneagent.sip.responses import make_response
from phoneagent.sip.transaction import (
    ServerState,
    TimerSettings,
    TransactionKey,
    TransactionLayer,
)
from phoneagent.sip.transport import Peer
from phoneagent.sip.via import Via

logger = logging.getLogger(__name__)

SDP = "application/sdp"
#: INFO bodies we take as DTMF (the de-facto ``dtmf-relay`` and ``application/dtmf``).
DTMF_INFO_TYPES = ("application/dtmf-relay", "application/dtmf")
ALLOWED_METHODS = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "UPDATE")
#: §14.2, RFC 3311 §5.2: Retry-After of a 500 for a second offer, 0–10 s.
MAX_RETRY_AFTER = 10
#: ACKs kept per call to answer 2xx retransmissions (the first INVITE, forks, re-INVITEs).
MAX_KEPT_ACKS = 8


# -- settings and shared state -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallSettings:
    user_agent: str = "phoneagent"
    allow: tuple[str, ...] = ALLOWED_METHODS
    supported: tuple[str, ...] = ()
    max_calls: int = 4  # further INVITEs are answered 486 (bounded state)

    def __post_init__(self) -> None:
        if self.max_calls < 1:
            raise LocalProtocolError("max_calls must be at least 1")


def _next_hop_default(request: Request, peer: Peer) -> Peer:
    return peer


class CallContext:
    """What the calls of one ``CallManager`` share; the manager owns it."""

    def __init__(
        self,
        transactions: TransactionLayer,
        settings: CallSettings,
        *,
        make_token: Callable[[], str],
        make_via: Callable[[Peer], Via],
        route_request: Callable[[Request, Peer], Peer] | None,
        random: Callable[[], float],
    ) -> None:
        self.transactions = transactions
        self.settings = settings
        self.make_token = make_token
        self.make_via = make_via
        self.route_request = route_request or _next_hop_default
        self.random = random
        self.events: deque[CallEvent] = deque()
        self.dialogs: DialogRegistry[Call] = DialogRegistry()
        self.by_transaction: dict[TransactionKey, Call] = {}

    @property
    def timers(self) -> TimerSettings:
        return self.transactions.settings

    def bind(self, key: TransactionKey, call: Call) -> None:
        self.by_transaction[key] = call
        call.live_transactions.add(key)

    def unbind(self, key: TransactionKey) -> Call | None:
        call = self.by_transaction.pop(key, None)
        if call is not None:
            call.transaction_ended(key)
        return call

    def send_request(
        self, call: Call, request: Request, destination: Peer, now: float
    ) -> TransactionKey:
        """Add a fresh Via and start a client transaction bound to ``call``."""
        put_via(request, self.make_via(destination))
        key = self.transactions.send_request(request, destination, now)
        self.bind(key, call)
        return key

    def respond(self, key: TransactionKey, response: Response, now: float) -> bool:
        """Respond if the server transaction still exists (it may have failed meanwhile)."""
        if self.transactions.transaction_state(key) is None:
            logger.info("%d not sent: transaction %s has ended", response.status_code, key.branch)
            return False
        self.transactions.respond(key, response, now)
        return True


def put_via(request: Request, via: Via) -> None:
    """Make ``via`` the only Via of a request we originate, first among its headers."""
    rest = [(name, value) for name, value in request.headers if header_key(name) != "via"]
    request.headers = Headers([("Via", str(via)), *rest])


def sdp_of(message: Message) -> bytes | None:
    """The SDP body of a message, None without one (a body of another type is logged)."""
    if not message.body:
        return None
    content_type = message.content_type
    if content_type is None or content_type.mime_type != SDP:
        logger.info("ignored a body of type %s: not SDP", content_type)
        return None
    return message.body


def credentials_of(request: Request) -> list[tuple[str, str]]:
    """Authorization and Proxy-Authorization of ``request`` (§13.2.2.4: the ACK repeats them)."""
    return [
        (name, value)
        for name, value in request.headers
        if header_key(name) in ("authorization", "proxy-authorization")
    ]


# -- the call state machine --------------------------------------------------------------------


class CallState(Enum):
    CALLING = "calling"  # outgoing: INVITE sent, no provisional response past 100
    CHALLENGED = "challenged"  # outgoing: 401/407, waiting for credentials
    INCOMING = "incoming"  # incoming: INVITE received, not yet answered
    EARLY = "early"  # outgoing: 101-199 received; incoming: ringing
    CANCELLING = "cancelling"  # outgoing: CANCEL sent, waiting for the INVITE's final response
    ACCEPTED = "accepted"  # incoming: 2xx sent, waiting for its ACK
    CONFIRMED = "confirmed"
    TERMINATING = "terminating"  # our BYE is in flight
    TERMINATED = "terminated"


class CallInput(Enum):
    # from the far end
    TRYING = "100"
    PROVISIONAL = "101-199"
    SUCCESS = "2xx"
    FAILURE = "300-699 or no response"
    CHALLENGE = "401/407"
    CANCELLED = "CANCEL"
    ACK = "ACK"
    BYE = "BYE"
    DIALOG_LOST = "481/408 within the dialog, or a transport failure"
    # from the phone
    RETRY = "retry_with(request)"
    GIVE_UP = "retry_with(None)"
    HANGUP = "hangup"
    RING = "ring"
    ANSWER = "answer"
    REJECT = "reject"
    # from timers and transactions
    ACK_TIMEOUT = "no ACK for 64*T1"
    BYE_DONE = "our BYE answered or timed out"


ENDED_STATES = frozenset({CallState.TERMINATING, CallState.TERMINATED})


class Purpose(Enum):
    """What a client transaction of a call is for."""

    INVITE = "INVITE"
    CANCEL = "CANCEL"
    REINVITE = "re-INVITE"
    BYE = "BYE"
    FORK_BYE = "BYE to an extra fork"
    INFO = "INFO"


@dataclass(slots=True)
class _PendingOffer:
    """A re-INVITE or UPDATE from the far end that waits for our answer."""

    key: TransactionKey
    request: Request


@dataclass(slots=True)
class _UnackedSuccess:
    """Our 2xx to an INVITE, retransmitted until its ACK (§13.3.1.4)."""

    key: TransactionKey
    response: Response
    interval: float
    next_at: float
    give_up_at: float


@dataclass(slots=True)
class _SentAck:
    request: Request
    destination: Peer


RequestHandler = Callable[["Call", TransactionKey, Request, Dialog, float], None]


class Call:
    """One INVITE session; see the module docstring.  Made by ``CallManager``."""

    transitions: ClassVar[Mapping[tuple[CallState, CallInput], CallState]]
    is_outgoing: ClassVar[bool]

    def __init__(self, context: CallContext, state: CallState, call_id: str, peer: Peer) -> None:
        self._context = context
        self.state = state
        self.call_id = call_id
        self.peer = peer  # where the first INVITE went or came from
        self.dialog: Dialog | None = None  # the confirmed dialog (incoming: from the start)
        self.end_reason: EndReason | None = None
        self.end_code: int | None = None
        self.live_transactions: set[TransactionKey] = set()
        self._purposes: dict[TransactionKey, Purpose] = {}
        self._our_offer: TransactionKey | None = None  # our re-INVITE in progress
        self._their_offer: _PendingOffer | None = None
        self._their_offer_cancelled = False
        self._unacked: dict[int, _UnackedSuccess] = {}  # by CSeq number of the INVITE
        self._acks: dict[tuple[DialogId, int], _SentAck] = {}  # our ACKs for 2xx, by INVITE
        self._bye_after_ack = False
        logger.debug("call %s: created %s", call_id, state.value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.call_id} {self.state.value}>"

    def transaction_ended(self, key: TransactionKey) -> None:
        self.live_transactions.discard(key)
        self._purposes.pop(key, None)

    @property
    def is_finished(self) -> bool:
        """Terminated, with no transaction or timer left: the manager may forget it.

        A key whose transaction does not exist counts as gone: a CANCEL the
        transaction layer never had to send (a final response came first)
        has a key but never a transaction.
        """
        if self.state is not CallState.TERMINATED or self._unacked:
            return False
        transactions = self._context.transactions
        return all(transactions.transaction_state(key) is None for key in self.live_transactions)

    # -- state -----------------------------------------------------------------------------

    def _set_state(self, new: CallState) -> None:
        old = self.state
        if new is old:
            return
        self.state = new
        logger.debug("call %s: %s -> %s", self.call_id, old.value, new.value)

    def _network(self, event: CallInput) -> bool:
        """Network or timer input: False (logged, dropped) where the state does not expect it."""
        new = self.transitions.get((self.state, event))
        if new is None:
            logger.debug("call %s: %s dropped in %s", self.call_id, event.value, self.state.value)
            return False
        self._set_state(new)
        return True

    def _command(self, event: CallInput) -> bool:
        """A command of the phone: False when the call ended first, an error if illegal."""
        new = self.transitions.get((self.state, event))
        if new is None:
            if self.state in ENDED_STATES:
                logger.info("call %s: %s ignored, the call has ended", self.call_id, event.value)
                return False
            raise LocalProtocolError(
                f"call {self.call_id}: {event.value} is not allowed in state {self.state.value}"
            )
        self._set_state(new)
        return True

    def _emit(self, event: CallEvent) -> None:
        self._context.events.append(event)

    def _end(self, reason: EndReason, code: int | None) -> None:
        """Report ``CallEnded`` (once)."""
        if self.end_reason is not None:
            return
        self.end_reason, self.end_code = reason, code
        logger.info("call %s ended: %s (%s)", self.call_id, reason.value, code)
        self._emit(CallEnded(self, reason, code))

    def _finish(self) -> None:
        """The call reached TERMINATED: its dialogs end and stop matching requests."""
        for dialog in self._dialogs():
            dialog.terminate()
            if self._context.dialogs.get(dialog.id) is self:
                self._context.dialogs.remove(dialog.id)
        self._unacked.clear()
        self._their_offer = None

    def _dialogs(self) -> list[Dialog]:
        return [] if self.dialog is None else [self.dialog]

    def _dialog_for(self, dialog_id: DialogId | None) -> Dialog | None:
        dialog = self.dialog
        return dialog if dialog is not None and dialog.id == dialog_id else None

    # -- helpers to send ---------------------------------------------------------------------

    def _capability_headers(self) -> list[tuple[str, str]]:
        """Allow and Supported, for INVITEs and their 2xx (§13.2.1, §13.3.1.4)."""
        settings = self._context.settings
        headers = [("Allow", ", ".join(settings.allow))]
        if settings.supported:
            headers.append(("Supported", ", ".join(settings.supported)))
        return headers

    def _request_headers(self, *, offer: bool = False) -> list[tuple[str, str]]:
        headers = [("User-Agent", self._context.settings.user_agent)]
        return headers + self._capability_headers() if offer else headers

    def _send_in_dialog(self, request: Request, purpose: Purpose, now: float) -> TransactionKey:
        destination = self._context.route_request(request, self.peer)
        key = self._context.send_request(self, request, destination, now)
        self._purposes[key] = purpose
        return key

    def _send_ack(
        self, dialog: Dialog, invite: Request, body: bytes = b"", content_type: str | None = None
    ) -> None:
        """The ACK for a 2xx to ``invite`` (§13.2.2.4), kept to answer retransmissions."""
        ack = dialog.build_request(
            "ACK", body, content_type, credentials_of(invite), cseq=invite.cseq.number
        )
        destination = self._context.route_request(ack, self.peer)
        put_via(ack, self._context.make_via(destination))
        self._context.transactions.send_stateless(ack, destination)
        self._acks[(dialog.id, invite.cseq.number)] = _SentAck(ack, destination)
        if len(self._acks) > MAX_KEPT_ACKS:  # 2xx retransmissions stop after 64*T1
            del self._acks[next(iter(self._acks))]

    def _ack_again(self, response: Response) -> bool:
        """A 2xx we already acknowledged came again: send the same ACK again."""
        dialog_id = DialogId.of_received_response(response)
        sent = None if dialog_id is None else self._acks.get((dialog_id, response.cseq.number))
        if sent is None:
            return False
        logger.debug("call %s: 2xx retransmission, ACK again", self.call_id)
        self._context.transactions.send_stateless(sent.request, sent.destination)
        return True

    def _send_bye(self, now: float) -> None:
        dialog = self.dialog
        if dialog is None or dialog.state is DialogState.TERMINATED:
            raise LocalProtocolError(f"call {self.call_id}: no dialog to send BYE in")
        bye = dialog.build_request("BYE", extra_headers=self._request_headers())
        self._send_in_dialog(bye, Purpose.BYE, now)

    def _respond(
        self,
        key: TransactionKey,
        request: Request,
        status_code: int,
        now: float,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> bool:
        tag = None if self.dialog is None else self.dialog.id.local_tag
        response = make_response(request, status_code, to_tag=tag, headers=headers, body=body)
        return self._context.respond(key, response, now)

    def _retransmit_until_ack(self, key: TransactionKey, response: Response, now: float) -> None:
        t1 = self._context.timers.t1
        self._unacked[response.cseq.number] = _UnackedSuccess(
            key, response, t1, now + t1, now + 64 * t1
        )

    # -- commands of the phone ---------------------------------------------------------------

    def hangup(self, now: float) -> None:
        raise NotImplementedError

    def reoffer(self, sdp: bytes, now: float) -> bool:
        """Send a re-INVITE with a new offer (hold, resume, codec change; §14.1).

        Returns False — nothing sent — unless the call is confirmed and no offer
        is outstanding in either direction; try again after ``ReofferAnswered``,
        ``ReofferRejected`` or the answer to their offer.
        """
        dialog = self.dialog
        if self.state is not CallState.CONFIRMED or dialog is None:
            return False
        if self._offer_conflict() is not None:
            return False
        request = dialog.build_request("INVITE", sdp, SDP, self._request_headers(offer=True))
        self._our_offer = self._send_in_dialog(request, Purpose.REINVITE, now)
        return True

    def accept_reoffer(self, sdp: bytes, now: float) -> bool:
        """Answer the pending ``ReofferReceived`` with 200 and ``sdp`` (the answer, or
        our offer when their re-INVITE had none).  False when it is no longer pending."""
        pending = self._take_their_offer()
        dialog = self.dialog
        if pending is None or dialog is None:
            return False
        headers = [
            ("Contact", str(dialog.local_contact)),
            *self._capability_headers(),
            ("Content-Type", SDP),
        ]
        response = make_response(pending.request, 200, headers=headers, body=sdp)
        if not self._context.respond(pending.key, response, now):
            return False
        dialog.refresh_target(pending.request)  # RFC 6141 §3.3: on accepting the refresh
        if pending.request.method == "INVITE":
            self._retransmit_until_ack(pending.key, response, now)
        return True

    def reject_reoffer(self, now: float, code: int = 488) -> bool:
        """Refuse the pending ``ReofferReceived`` (488 Not Acceptable Here by default)."""
        if not 300 <= code <= 699:
            raise LocalProtocolError(f"a rejection needs a 300-699 code, not {code}")
        pending = self._take_their_offer()
        if pending is None:
            return False
        return self._respond(pending.key, pending.request, code, now)

    def _take_their_offer(self) -> _PendingOffer | None:
        pending, self._their_offer = self._their_offer, None
        if pending is None and not (self._their_offer_cancelled or self.state in ENDED_STATES):
            raise LocalProtocolError(f"call {self.call_id}: no offer is waiting for an answer")
        return pending

    def send_info(self, body: bytes, content_type: str, now: float) -> bool:
        """Send an INFO (e.g. ``application/dtmf-relay``); False unless confirmed."""
        dialog = self.dialog
        if self.state is not CallState.CONFIRMED or dialog is None:
            return False
        info = dialog.build_request("INFO", body, content_type, self._request_headers())
        self._send_in_dialog(info, Purpose.INFO, now)
        return True

    # -- input from the manager ------------------------------------------------------------

    def response_received(
        self, key: TransactionKey, request: Request, response: Response, now: float
    ) -> None:
        purpose = self._purposes.get(key)
        if purpose is Purpose.INVITE:
            self._initial_response(request, response, now)
        elif purpose is Purpose.REINVITE:
            self._reinvite_response(key, request, response, now)
        elif purpose is Purpose.BYE:
            if response.is_final and self._network(CallInput.BYE_DONE):
                self._finish()
        elif purpose is Purpose.INFO and response.status_code in (408, 481):
            self._dialog_lost(response.status_code)
        # CANCEL and the BYEs to extra forks: nothing depends on their answer.

    def transaction_failed(
        self, key: TransactionKey, request: Request, status_code: int, now: float
    ) -> None:
        """A timeout (408) or transport failure (503) of one of the call's transactions."""
        if key.is_client:
            # §8.1.3.1: the same as a response with that code.
            reason = "Request Timeout (no response)" if status_code == 408 else "Transport Failed"
            self.response_received(key, request, make_response(request, status_code, reason), now)
            return
        pending = self._their_offer
        if pending is not None and pending.key == key:
            self._their_offer = None
        self._server_failed(key, status_code)

    def _server_failed(self, key: TransactionKey, status_code: int) -> None:
        """A server transaction of ours could not deliver its response."""

    def _initial_response(self, request: Request, response: Response, now: float) -> None:
        raise LocalProtocolError(f"{type(self).__name__} sent no INVITE of its own")

    def stray_response(self, response: Response, now: float) -> None:
        """A 2xx to an INVITE whose transaction has ended: our ACK again (§13.2.2.4)."""
        self._ack_again(response)

    def request_received(self, key: TransactionKey, request: Request, now: float) -> None:
        """A request within one of our dialogs (§12.2.2); the manager matched the tags."""
        self._context.bind(key, self)
        dialog = self._dialog_for(DialogId.of_received_request(request))
        if dialog is None:
            self._context.respond(key, make_response(request, 481), now)
            return
        refusal = dialog.receive_request(request)
        if refusal is not None:
            self._respond(key, request, refusal, now)
            return
        handler = REQUEST_HANDLERS.get(request.method, Call._unknown_method)
        handler(self, key, request, dialog, now)

    def cancel_received(
        self, key: TransactionKey, cancel: Request, invite_key: TransactionKey, now: float
    ) -> None:
        """A CANCEL for one of our INVITE server transactions (§9.2): 200, then 487 if pending."""
        self._context.bind(key, self)
        self._respond(key, cancel, 200, now)
        pending = self._their_offer
        if pending is not None and pending.key == invite_key:
            self._their_offer = None
            self._their_offer_cancelled = True
            self._respond(pending.key, pending.request, 487, now)

    def ack_received(self, ack: Request, now: float) -> None:
        """The ACK for one of our 2xx to an INVITE (§13.3.1.4)."""
        pending = self._unacked.pop(ack.cseq.number, None)
        if pending is None:
            logger.debug("call %s: ACK for nothing pending (a retransmission)", self.call_id)
            return
        was_ended = self.state in ENDED_STATES
        if not self._network(CallInput.ACK):
            return
        if not was_ended and self.end_reason is None:
            self._emit(CallAcknowledged(self, sdp_of(ack)))
        if self._bye_after_ack and self.state is CallState.CONFIRMED:
            self._bye_after_ack = False
            if self._network(CallInput.HANGUP):
                self._send_bye(now)

    # -- timers ----------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        deadlines = [min(p.next_at, p.give_up_at) for p in self._unacked.values()]
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> None:
        for number, pending in list(self._unacked.items()):
            if now >= pending.give_up_at:
                del self._unacked[number]
                self._ack_timeout(now)
            elif now >= pending.next_at:
                state = self._context.transactions.transaction_state(pending.key)
                if state is ServerState.ACCEPTED:
                    self._context.transactions.respond(pending.key, pending.response, now)
                pending.interval = min(2 * pending.interval, self._context.timers.t2)
                pending.next_at = now + pending.interval

    def _ack_timeout(self, now: float) -> None:
        """§13.3.1.4: no ACK after 64*T1 — the dialog is confirmed, but the session ends."""
        logger.info("call %s: no ACK for our 2xx, sending BYE", self.call_id)
        if not self._network(CallInput.ACK_TIMEOUT):
            return
        self._bye_after_ack = False
        self._end(EndReason.FAILED, 408)
        self._send_bye(now)

    # -- our re-INVITE -----------------------------------------------------------------------

    def _reinvite_response(
        self, key: TransactionKey, request: Request, response: Response, now: float
    ) -> None:
        if response.is_provisional:
            return
        if self._our_offer == key:
            self._our_offer = None
        if response.is_success:
            if self._ack_again(response):
                return
            dialog = self.dialog
            if dialog is None or dialog.state is DialogState.TERMINATED:
                logger.info("call %s: 2xx to a re-INVITE after the call ended", self.call_id)
                return
            dialog.refresh_target(response)  # §12.2.1.2, so the ACK goes to the new target
            self._send_ack(dialog, request)
            if self.state is CallState.CONFIRMED:
                self._emit(ReofferAnswered(self, sdp_of(response)))
            return
        code = response.status_code
        if code in (408, 481):
            self._dialog_lost(code)
            return
        if self.state is CallState.CONFIRMED:
            self._emit(ReofferRejected(self, code, self._glare_delay() if code == 491 else None))

    def _glare_delay(self) -> float:
        """§14.1: 2.1–4 s for the owner of the Call-ID (who sent the first INVITE),
        else 0–2 s, in units of 10 ms."""
        draw = self._context.random()
        seconds = 2.1 + 1.9 * draw if self.is_outgoing else 2.0 * draw
        return round(seconds, 2)

    def _dialog_lost(self, code: int) -> None:
        """§12.2.1.2: a 481 or 408 to a request within the dialog ends it."""
        was_ending = self.state is CallState.TERMINATING
        if not self._network(CallInput.DIALOG_LOST):
            return
        if not was_ending:
            self._end(EndReason.FAILED, code)
            self._finish()

    # -- requests from the far end -----------------------------------------------------------

    def _offer_conflict(self) -> int | None:
        """491 while our offer is outstanding, 500 while theirs waits (§14.2, RFC 3311 §5.2)."""
        if self._our_offer is not None or self._unacked:
            return 491
        if self._their_offer is not None:
            return 500
        return self._session_setup_conflict()

    def _session_setup_conflict(self) -> int | None:
        """The same for the INVITE that set the call up (subclasses)."""
        return None

    def _refuse_offer(self, key: TransactionKey, request: Request, code: int, now: float) -> None:
        headers: list[tuple[str, str]] = []
        if code == 500:
            retry_after = min(int(self._context.random() * (MAX_RETRY_AFTER + 1)), MAX_RETRY_AFTER)
            headers.append(("Retry-After", str(retry_after)))
        self._respond(key, request, code, now, headers=headers)

    def _receive_offer(
        self, key: TransactionKey, request: Request, dialog: Dialog, now: float
    ) -> None:
        """A re-INVITE, or an UPDATE with a body (§14.2, RFC 3311 §5.2)."""
        if self.state in ENDED_STATES:
            self._respond(key, request, 481, now)
            return
        conflict = self._offer_conflict()
        if conflict is not None:
            self._refuse_offer(key, request, conflict, now)
            return
        if request.body and (request.content_type is None or request.content_type.mime_type != SDP):
            self._respond(key, request, 415, now, headers=[("Accept", SDP)])
            return
        self._their_offer = _PendingOffer(key, request)
        self._their_offer_cancelled = False
        self._emit(ReofferReceived(self, request.method, sdp_of(request)))

    def _update(self, key: TransactionKey, request: Request, dialog: Dialog, now: float) -> None:
        if request.body:
            self._receive_offer(key, request, dialog, now)
            return
        if self.state in ENDED_STATES:
            self._respond(key, request, 481, now)
            return
        # RFC 3311 §5.2: an UPDATE without an offer only refreshes the target.
        if self._respond(key, request, 200, now, headers=[("Contact", str(dialog.local_contact))]):
            dialog.refresh_target(request)

    def _bye(self, key: TransactionKey, request: Request, dialog: Dialog, now: float) -> None:
        self._respond(key, request, 200, now)
        if dialog is not self.dialog:
            self._early_dialog_ended(dialog)
            return
        was_ending = self.state is CallState.TERMINATING
        self._answer_pending_requests(now)
        if not self._network(CallInput.BYE) or was_ending:
            return
        self._end(EndReason.REMOTE_HANGUP, None)
        self._finish()

    def _early_dialog_ended(self, dialog: Dialog) -> None:
        """A BYE in an early dialog that is not the call's (outgoing calls)."""

    def _answer_pending_requests(self, now: float) -> None:
        """§15.1.2: requests still waiting for our answer get 487 when a BYE comes."""
        pending, self._their_offer = self._their_offer, None
        if pending is not None:
            self._respond(pending.key, pending.request, 487, now)

    def _info(self, key: TransactionKey, request: Request, dialog: Dialog, now: float) -> None:
        if not request.body:
            self._respond(key, request, 200, now)
            return
        content_type = request.content_type
        mime_type = None if content_type is None else content_type.mime_type
        if mime_type not in DTMF_INFO_TYPES or mime_type is None:
            self._respond(key, request, 415, now, headers=[("Accept", ", ".join(DTMF_INFO_TYPES))])
            return
        self._respond(key, request, 200, now)
        self._emit(InfoReceived(self, mime_type, request.body))

    def _options(self, key: TransactionKey, request: Request, dialog: Dialog, now: float) -> None:
        settings = self._context.settings
        headers = [("Allow", ", ".join(settings.allow)), ("Accept", SDP)]
        if settings.supported:
            headers.append(("Supported", ", ".join(settings.supported)))
        self._respond(key, request, 200, now, headers=headers)

    def _unknown_method(
        self, key: TransactionKey, request: Request, dialog: Dialog, now: float
    ) -> None:
        allow = ", ".join(self._context.settings.allow)
        self._respond(key, request, 501, now, headers=[("Allow", allow)])


#: Requests within a dialog, by method; anything else is answered 501.
REQUEST_HANDLERS: Mapping[str, RequestHandler] = {
    "BYE": Call._bye,
    "INVITE": Call._receive_offer,
    "UPDATE": Call._update,
    "INFO": Call._info,
    "OPTIONS": Call._options,
}
