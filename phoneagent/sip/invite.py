"""The phone's INVITE sessions (RFC 3261 §9, §13, §15; RFC 3311; RFC 6026), sans-IO.

Theory of operation
-------------------
``CallManager`` sits beside the user agent core on one ``TransactionLayer``.
The UA hands it every transaction event (``handle_event`` says whether it was
a call's) and drains ``next_event()`` for ``CallEvent``s; the manager finds
the call by transaction key, or by dialog for requests and ACKs (§12.2.2: a
request with a To tag that matches no dialog gets 481), and makes an
``IncomingCall`` for each new INVITE.  What calls share — requests within the
dialog, 2xx retransmission, ACKs, glare — is in ``invite_session``.

Outgoing (UAC, §13.2)::

    CALLING ──101-199──► EARLY ──2xx──► CONFIRMED ──hangup──► TERMINATING ──BYE done──► TERMINATED
      │  │ 401/407          │                └──────BYE received / 481, 408──────────────┘
      │  ▼                  │ hangup: CANCEL
      │ CHALLENGED          ▼
      │  └─retry_with─►  CANCELLING ──2xx (the §9.1 race): ACK, BYE──► TERMINATING
      └── 300-699 / timeout / after CANCEL ──────────────────────────────────► TERMINATED

* Each 101-199 with a new To tag makes an early dialog (§12.1.2; a forking
  proxy gives several).  The first 2xx confirms its dialog (route set and
  target recomputed, §13.2.2.4) and the others are dropped.  Every 2xx is
  ACKed by us (§13.2.2.4) and every retransmission ACKed again; a 2xx from
  another fork is ACKed and its dialog closed with BYE at once.
* ``hangup`` (or ``cancel``) before the answer sends CANCEL through the
  transaction layer (§9.1: held until a provisional response).  The INVITE's
  487 then ends the call "cancelled"; a 2xx that crossed the CANCEL is ACKed
  and answered with BYE.
* 401/407 → ``ChallengeReceived``: the UA answers the challenge and calls
  ``retry_with(request)``: same Call-ID and From tag, CSeq + 1, a new branch
  (§8.1.3.5, §22.2); ``retry_with(None)`` gives up.
* An INVITE sent without an offer gets the offer in the 2xx: ``CallAnswered``
  carries it and ``acknowledge(answer)`` sends the ACK with the answer (§13.2.2.4).

Incoming (UAS, §13.3)::

    INCOMING ──ring──► EARLY ──answer──► ACCEPTED ──ACK──► CONFIRMED ──hangup──► TERMINATING
        └─── reject / hangup (603) / CANCEL (487) / BYE (487) ───────► TERMINATED ◄──┘

* The To tag is chosen when the INVITE arrives and is on every response.
  Responses that make the dialog (180, 200) carry our Contact and the
  request's Record-Route (§12.1.1).
* ``answer`` sends 200 with our SDP, retransmitted until the ACK (§13.3.1.4,
  ``invite_session``).  A hangup before the ACK waits for it: the callee must
  not send BYE earlier (§15).
* CANCEL (§9.2): 200 to the CANCEL and, while unanswered, 487 to the INVITE.

Outcomes map to ``EndReason``: 486/600 busy, 603 declined, 408/480 (and no
response) no-answer, anything after our CANCEL cancelled, the rest failed.

Modules: this one is the manager and the public API; ``invite_calls`` holds
the two call classes and their transition tables, ``invite_session`` what they
share, ``invite_events`` the events.

Wiring (the UA)::

    manager = CallManager(transactions, contact=..., make_via=..., make_token=...)
    # for each event of transactions.next_event():
    if not manager.handle_event(event, now): ...   # REGISTER, OPTIONS: the UA's own
    # then: manager.next_event() until None; transactions.messages_to_send();
    # the timer: min(transactions.get_timer(), manager.get_timer()) -> manager.handle_timer(now)
    # after any command on a call (answer, hangup …): flush messages_to_send() too
"""

from __future__ import annotations

import logging
import random as random_module
import secrets
from collections.abc import Callable, Iterable

from phoneagent.sip.address import NameAddress
from phoneagent.sip.dialog import MAX_FORWARDS
from phoneagent.sip.errors import RemoteProtocolError
from phoneagent.sip.fields import CSeq
from phoneagent.sip.headers import Headers
from phoneagent.sip.invite_calls import IncomingCall, OutgoingCall
from phoneagent.sip.invite_events import (
    CallAcknowledged,
    CallAnswered,
    CallEnded,
    CallEvent,
    CallProgress,
    CallRinging,
    ChallengeReceived,
    EndReason,
    IncomingCallReceived,
    InfoReceived,
    ReofferAnswered,
    ReofferReceived,
    ReofferRejected,
    end_reason_for,
)
from phoneagent.sip.invite_session import (
    ALLOWED_METHODS,
    SDP,
    Call,
    CallContext,
    CallSettings,
    CallState,
    sdp_of,
)
from phoneagent.sip.message import Message, Request, Response
from phoneagent.sip.responses import make_response
from phoneagent.sip.transaction import (
    AckReceived,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TransactionEvent,
    TransactionKey,
    TransactionLayer,
    TransactionTerminated,
    TransactionTimedOut,
    TransportFailed,
)
from phoneagent.sip.transport import Peer
from phoneagent.sip.uri import Uri
from phoneagent.sip.via import Via

__all__ = [
    "ALLOWED_METHODS",
    "Call",
    "CallAcknowledged",
    "CallAnswered",
    "CallEnded",
    "CallEvent",
    "CallManager",
    "CallProgress",
    "CallRinging",
    "CallSettings",
    "CallState",
    "ChallengeReceived",
    "EndReason",
    "IncomingCall",
    "IncomingCallReceived",
    "InfoReceived",
    "OutgoingCall",
    "ReofferAnswered",
    "ReofferReceived",
    "ReofferRejected",
    "end_reason_for",
]

logger = logging.getLogger(__name__)


def _unsupported_requirements(request: Request, supported: Iterable[str]) -> list[str]:
    known = {tag.lower() for tag in supported}
    return [tag for tag in request.require if tag.lower() not in known]


def _touch_headers(message: Message) -> None:
    """Parse the headers calls read, so a malformed one fails here (RemoteProtocolError)."""
    _ = message.contact, message.record_route, message.content_type
    if isinstance(message, Request):
        _ = message.require


class CallManager:
    """Every call of the phone; see the module docstring.

    ``make_via(destination)`` returns the Via (with a new branch) for a request
    we send to ``destination``; ``route_request(request, call_peer)`` picks the
    peer for a request within a dialog (default: ``call_peer``, where the first
    INVITE went or came from).  ``contact`` is our Contact in new dialogs; the
    UA updates it when its public address changes.
    """

    def __init__(
        self,
        transactions: TransactionLayer,
        *,
        contact: NameAddress,
        make_via: Callable[[Peer], Via],
        make_token: Callable[[], str] = lambda: secrets.token_hex(8),
        settings: CallSettings | None = None,
        route_request: Callable[[Request, Peer], Peer] | None = None,
        random: Callable[[], float] = random_module.random,
    ) -> None:
        self.contact = contact
        self.settings = settings if settings is not None else CallSettings()
        self._context = CallContext(
            transactions,
            self.settings,
            make_token=make_token,
            make_via=make_via,
            route_request=route_request,
            random=random,
        )
        self._calls: list[Call] = []

    @property
    def calls(self) -> tuple[Call, ...]:
        return tuple(self._calls)

    def next_event(self) -> CallEvent | None:
        events = self._context.events
        return events.popleft() if events else None

    def get_timer(self) -> float | None:
        deadlines = [call.next_deadline() for call in self._calls]
        return min((d for d in deadlines if d is not None), default=None)

    def handle_timer(self, now: float) -> None:
        for call in list(self._calls):
            deadline = call.next_deadline()
            if deadline is not None and deadline <= now:
                call.handle_timer(now)
        self._forget_finished()

    # -- placing a call ------------------------------------------------------------------------

    def place_call(
        self,
        target: Uri,
        local: NameAddress,
        destination: Peer,
        now: float,
        *,
        sdp_offer: bytes | None = None,
        to: NameAddress | None = None,
        extra_headers: Iterable[tuple[str, str]] = (),
    ) -> OutgoingCall:
        """Send an INVITE to ``target`` from ``local`` (our AOR) through ``destination``.

        ``extra_headers`` go in as given (a preloaded Route, P-Preferred-Identity …).
        """
        token = self._context.make_token
        headers = Headers()
        headers.add("Max-Forwards", MAX_FORWARDS)
        headers.add("From", str(local.with_tag(token())))
        headers.add("To", str(to if to is not None else NameAddress(target)))
        headers.add("Call-ID", token())
        headers.add("CSeq", str(CSeq(1, "INVITE")))
        headers.add("Contact", str(self.contact))
        headers.add("Allow", ", ".join(self.settings.allow))
        if self.settings.supported:
            headers.add("Supported", ", ".join(self.settings.supported))
        headers.add("User-Agent", self.settings.user_agent)
        for name, value in extra_headers:
            headers.add(name, value)
        if sdp_offer is not None:
            headers.add("Content-Type", SDP)
        invite = Request("INVITE", target, headers, sdp_offer or b"")
        call = OutgoingCall(self._context, invite, destination, now)
        self._calls.append(call)
        return call

    # -- transaction events --------------------------------------------------------------------

    def handle_event(self, event: TransactionEvent, now: float) -> bool:
        """Give a transaction event to its call; False when it is not a call's (the UA's)."""
        handled = self._dispatch(event, now)
        self._forget_finished()
        return handled

    def _dispatch(self, event: TransactionEvent, now: float) -> bool:
        context = self._context
        if isinstance(event, ResponseReceived):
            call = context.by_transaction.get(event.key)
            if call is None:
                return False
            try:
                _touch_headers(event.response)
            except RemoteProtocolError as error:
                logger.warning("call %s: dropped %r: %s", call.call_id, event.response, error)
                return True
            call.response_received(event.key, event.request, event.response, now)
            return True
        if isinstance(event, TransactionTimedOut | TransportFailed):
            call = context.by_transaction.get(event.key)
            if call is None:
                return False
            code = 408 if isinstance(event, TransactionTimedOut) else 503
            call.transaction_failed(event.key, event.request, code, now)
            return True
        if isinstance(event, TransactionTerminated):
            return context.unbind(event.key) is not None
        if isinstance(event, RequestReceived):
            return self._request(event.key, event.request, event.source, now)
        if isinstance(event, AckReceived):
            call = context.dialogs.for_request(event.request)
            if call is None:
                return False
            call.ack_received(event.request, now)
            return True
        if isinstance(event, StrayResponse):
            return self._stray(event.response, now)
        return False

    def _request(self, key: TransactionKey, request: Request, source: Peer, now: float) -> bool:
        if request.method == "CANCEL":
            self._cancel(key, request, now)
            return True
        in_dialog = request.to.tag is not None
        if not in_dialog and request.method != "INVITE":
            return False  # OPTIONS, MESSAGE … outside any dialog: the UA's
        refusal = self._check_request(request)
        if refusal is not None:
            status_code, headers = refusal
            to_tag = None if in_dialog else self._context.make_token()
            response = make_response(request, status_code, to_tag=to_tag, headers=headers)
            self._context.respond(key, response, now)
            return True
        if in_dialog:
            call = self._context.dialogs.for_request(request)
            if call is None:
                logger.info("%r matches no dialog: 481", request)
                self._context.respond(key, make_response(request, 481), now)
            else:
                call.request_received(key, request, now)
            return True
        self._new_call(key, request, source, now)
        return True

    def _check_request(self, request: Request) -> tuple[int, list[tuple[str, str]]] | None:
        """Checks of §8.2 a call cannot do itself: a status and headers to refuse with."""
        try:
            _touch_headers(request)
        except RemoteProtocolError as error:
            return error.status_hint or 400, []
        unsupported = _unsupported_requirements(request, self.settings.supported)
        if unsupported:
            return 420, [("Unsupported", ", ".join(unsupported))]  # §8.2.2.3
        if request.method != "INVITE" or request.to.tag is not None:
            return None
        contacts = request.contact
        if request.contact_is_wildcard or not contacts:
            return 400, []  # §8.1.1.8: an INVITE must carry one Contact
        if request.body and sdp_of(request) is None:
            return 415, [("Accept", SDP)]  # §8.2.3
        live = [call for call in self._calls if call.state is not CallState.TERMINATED]
        if len(live) >= self.settings.max_calls:
            return 486, []
        return None

    def _new_call(self, key: TransactionKey, request: Request, source: Peer, now: float) -> None:
        call = IncomingCall(self._context, key, request, source, self.contact)
        self._calls.append(call)

    def _cancel(self, key: TransactionKey, cancel: Request, now: float) -> None:
        invite_key = self._context.transactions.invite_cancelled_by(cancel)
        if invite_key is None:
            self._context.respond(key, make_response(cancel, 481), now)  # §9.2
            return
        call = self._context.by_transaction.get(invite_key)
        if call is None:  # an INVITE refused here: it has its final response already
            self._context.respond(key, make_response(cancel, 200), now)
            return
        call.cancel_received(key, cancel, invite_key, now)

    def _stray(self, response: Response, now: float) -> bool:
        """A 2xx to an INVITE after its transaction ended: ACK it again (§13.2.2.4)."""
        if not response.is_success or response.cseq.method != "INVITE":
            return False
        try:
            _touch_headers(response)
        except RemoteProtocolError:
            return False
        call = self._context.dialogs.for_response(response)
        if call is None:  # a fork we have not seen, or a call that has ended
            tag = response.from_.tag
            call = next(
                (
                    call
                    for call in self._calls
                    if isinstance(call, OutgoingCall)
                    and call.call_id == response.call_id
                    and call.invite.from_.tag == tag
                ),
                None,
            )
        if call is None:
            return False
        call.stray_response(response, now)
        return True

    def _forget_finished(self) -> None:
        finished = [call for call in self._calls if call.is_finished]
        for call in finished:
            for key in list(call.live_transactions):
                self._context.unbind(key)
            self._calls.remove(call)
