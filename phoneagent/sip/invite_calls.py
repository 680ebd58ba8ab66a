"""Outgoing and incoming INVITE sessions: how a call starts and ends (RFC 3261 §9, §13, §15).

Theory of operation
-------------------
The two ``Call`` subclasses of the phone; ``invite`` explains the life of a
call and ``invite_session`` what both share.  Each has its transition table
here: ``OUTGOING_CALL_TRANSITIONS`` (UAC, §13.2 and the §9.1 CANCEL race) and
``INCOMING_CALL_TRANSITIONS`` (UAS, §13.3, §9.2 and the §15 rule that the
callee sends BYE only after the ACK).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import ClassVar

from phoneagent.sip.address import NameAddress
from phoneagent.sip.dialog import Dialog, DialogId
from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from phoneagent.sip.fields import CSeq
from phoneagent.sip.invite_events import (
    CallAnswered,
    CallProgress,
    CallRinging,
    ChallengeReceived,
    EndReason,
    IncomingCallReceived,
    end_reason_for,
)
from phoneagent.sip.invite_session import (
    SDP,
    Call,
    CallContext,
    CallInput,
    CallState,
    Purpose,
    sdp_of,
)
from phoneagent.sip.message import Request, Response
from phoneagent.sip.responses import make_response
from phoneagent.sip.transaction import TransactionKey
from phoneagent.sip.transport import Peer

__all__ = [
    "INCOMING_CALL_TRANSITIONS",
    "OUTGOING_CALL_TRANSITIONS",
    "IncomingCall",
    "OutgoingCall",
]

logger = logging.getLogger(__name__)

_S = CallState
_I = CallInput

#: Outgoing calls (§13.2, §9.1, §15).  Self-loops: handled without a change of state.
OUTGOING_CALL_TRANSITIONS: Mapping[tuple[CallState, CallInput], CallState] = {
    (_S.CALLING, _I.TRYING): _S.CALLING,
    (_S.CALLING, _I.PROVISIONAL): _S.EARLY,
    (_S.CALLING, _I.SUCCESS): _S.CONFIRMED,
    (_S.CALLING, _I.FAILURE): _S.TERMINATED,
    (_S.CALLING, _I.CHALLENGE): _S.CHALLENGED,
    (_S.CALLING, _I.HANGUP): _S.CANCELLING,
    (_S.EARLY, _I.TRYING): _S.EARLY,
    (_S.EARLY, _I.PROVISIONAL): _S.EARLY,
    (_S.EARLY, _I.SUCCESS): _S.CONFIRMED,
    (_S.EARLY, _I.FAILURE): _S.TERMINATED,
    (_S.EARLY, _I.CHALLENGE): _S.CHALLENGED,
    (_S.EARLY, _I.HANGUP): _S.CANCELLING,
    (_S.CHALLENGED, _I.RETRY): _S.CALLING,
    (_S.CHALLENGED, _I.GIVE_UP): _S.TERMINATED,
    (_S.CHALLENGED, _I.HANGUP): _S.TERMINATED,
    (_S.CANCELLING, _I.TRYING): _S.CANCELLING,
    (_S.CANCELLING, _I.PROVISIONAL): _S.CANCELLING,
    (_S.CANCELLING, _I.SUCCESS): _S.TERMINATING,  # §9.1: the 2xx won the race: ACK, BYE
    (_S.CANCELLING, _I.FAILURE): _S.TERMINATED,
    (_S.CANCELLING, _I.HANGUP): _S.CANCELLING,
    (_S.CONFIRMED, _I.SUCCESS): _S.CONFIRMED,  # a retransmission or another fork
    (_S.CONFIRMED, _I.ACK): _S.CONFIRMED,  # the ACK of our 2xx to their re-INVITE
    (_S.CONFIRMED, _I.ACK_TIMEOUT): _S.TERMINATING,
    (_S.CONFIRMED, _I.HANGUP): _S.TERMINATING,
    (_S.CONFIRMED, _I.BYE): _S.TERMINATED,
    (_S.CONFIRMED, _I.DIALOG_LOST): _S.TERMINATED,
    (_S.TERMINATING, _I.SUCCESS): _S.TERMINATING,
    (_S.TERMINATING, _I.ACK): _S.TERMINATING,
    (_S.TERMINATING, _I.HANGUP): _S.TERMINATING,
    (_S.TERMINATING, _I.BYE): _S.TERMINATING,  # BYEs crossed: 200, still wait for ours
    (_S.TERMINATING, _I.DIALOG_LOST): _S.TERMINATING,
    (_S.TERMINATING, _I.BYE_DONE): _S.TERMINATED,
    (_S.TERMINATED, _I.SUCCESS): _S.TERMINATED,  # a late fork: ACK and BYE
    (_S.TERMINATED, _I.HANGUP): _S.TERMINATED,
}

#: Incoming calls (§13.3, §9.2, §15).
INCOMING_CALL_TRANSITIONS: Mapping[tuple[CallState, CallInput], CallState] = {
    **{
        (state, event): new
        for state in (_S.INCOMING, _S.EARLY)
        for event, new in (
            (_I.RING, _S.EARLY),
            (_I.ANSWER, _S.ACCEPTED),
            (_I.REJECT, _S.TERMINATED),
            (_I.HANGUP, _S.TERMINATED),  # declined: 603
            (_I.CANCELLED, _S.TERMINATED),
            (_I.BYE, _S.TERMINATED),
            (_I.DIALOG_LOST, _S.TERMINATED),
        )
    },
    (_S.ACCEPTED, _I.ACK): _S.CONFIRMED,
    (_S.ACCEPTED, _I.ACK_TIMEOUT): _S.TERMINATING,
    (_S.ACCEPTED, _I.HANGUP): _S.ACCEPTED,  # §15: BYE only once the ACK is in
    (_S.ACCEPTED, _I.CANCELLED): _S.ACCEPTED,  # too late: 200 to the CANCEL only
    (_S.ACCEPTED, _I.BYE): _S.TERMINATED,
    (_S.ACCEPTED, _I.DIALOG_LOST): _S.TERMINATED,
    (_S.CONFIRMED, _I.ACK): _S.CONFIRMED,  # the ACK of a re-INVITE's 2xx
    (_S.CONFIRMED, _I.ACK_TIMEOUT): _S.TERMINATING,
    (_S.CONFIRMED, _I.HANGUP): _S.TERMINATING,
    (_S.CONFIRMED, _I.CANCELLED): _S.CONFIRMED,
    (_S.CONFIRMED, _I.BYE): _S.TERMINATED,
    (_S.CONFIRMED, _I.DIALOG_LOST): _S.TERMINATED,
    (_S.TERMINATING, _I.ACK): _S.TERMINATING,
    (_S.TERMINATING, _I.HANGUP): _S.TERMINATING,
    (_S.TERMINATING, _I.CANCELLED): _S.TERMINATING,
    (_S.TERMINATING, _I.BYE): _S.TERMINATING,
    (_S.TERMINATING, _I.DIALOG_LOST): _S.TERMINATING,
    (_S.TERMINATING, _I.BYE_DONE): _S.TERMINATED,
    (_S.TERMINATED, _I.HANGUP): _S.TERMINATED,
}


class OutgoingCall(Call):
    """A call we place (UAC).  Made by ``CallManager.place_call``; see the module docstring."""

    transitions: ClassVar[Mapping[tuple[CallState, CallInput], CallState]] = (
        OUTGOING_CALL_TRANSITIONS
    )
    is_outgoing: ClassVar[bool] = True

    def __init__(self, context: CallContext, invite: Request, destination: Peer, now: float):
        super().__init__(context, CallState.CALLING, invite.call_id, destination)
        self.invite = invite
        self._early: dict[DialogId, Dialog] = {}
        self._cancel_requested = False
        self._challenge_code: int | None = None
        self._awaiting_answer: tuple[Dialog, Request] | None = None  # offer in the 2xx
        self._invite_key = self._send_invite(invite, now)

    @property
    def remote_identity(self) -> NameAddress:
        return self.invite.to if self.dialog is None else self.dialog.remote_address

    def _send_invite(self, invite: Request, now: float) -> TransactionKey:
        key = self._context.send_request(self, invite, self.peer, now)
        self._purposes[key] = Purpose.INVITE
        return key

    def _dialogs(self) -> list[Dialog]:
        return [*super()._dialogs(), *self._early.values()]

    def _dialog_for(self, dialog_id: DialogId | None) -> Dialog | None:
        found = super()._dialog_for(dialog_id)
        return found if found is not None or dialog_id is None else self._early.get(dialog_id)

    def _session_setup_conflict(self) -> int | None:
        # §14.1: our INVITE is in progress; its offer waits for the 2xx (or our ACK).
        if self.state in (CallState.CALLING, CallState.EARLY, CallState.CANCELLING):
            return 491
        return 491 if self._awaiting_answer is not None else None

    def _early_dialog_ended(self, dialog: Dialog) -> None:
        # §15 forbids a callee's BYE in an early dialog; if one comes, that fork is gone.
        if self._early.pop(dialog.id, None) is not None:
            dialog.terminate()
            self._context.dialogs.remove(dialog.id)

    # -- commands ------------------------------------------------------------------------------

    def hangup(self, now: float) -> None:
        """Before the answer: CANCEL (§9.1).  Answered: BYE (§15.1.1).  Later: nothing."""
        old = self.state
        if not self._command(CallInput.HANGUP):
            return
        if old in (CallState.CALLING, CallState.EARLY):
            self._cancel_requested = True
            cancel_key = self._context.transactions.cancel(self._invite_key, now)
            if cancel_key is not None:
                self._context.bind(cancel_key, self)
                self._purposes[cancel_key] = Purpose.CANCEL
        elif old is CallState.CHALLENGED:
            self._end(EndReason.CANCELLED, None)
            self._finish()
        elif old is CallState.CONFIRMED:
            self._ack_without_answer()
            self._end(EndReason.LOCAL_HANGUP, None)
            self._send_bye(now)

    def cancel(self, now: float) -> None:
        """Give up calling: the same as ``hangup``."""
        self.hangup(now)

    def retry_with(self, request: Request | None, now: float) -> None:
        """Send the INVITE again after ``ChallengeReceived``, with credentials added.

        ``request`` is the challenged INVITE with Authorization or
        Proxy-Authorization (``DigestClient.answer``); it gets CSeq + 1 and a
        new Via here.  None: the challenge cannot be answered, the call fails.
        """
        code = self._challenge_code
        if not self._command(CallInput.RETRY if request is not None else CallInput.GIVE_UP):
            return
        if request is None:
            self._end(EndReason.FAILED, code)
            self._finish()
            return
        if request.method != "INVITE" or request.call_id != self.call_id:
            raise LocalProtocolError("retry_with() needs the INVITE of this call")
        if request.from_.tag != self.invite.from_.tag:
            raise LocalProtocolError("retry_with(): the From tag must stay the same")
        request.headers.set("CSeq", str(CSeq(self.invite.cseq.number + 1, "INVITE")))
        self.invite = request
        self._challenge_code = None
        self._invite_key = self._send_invite(request, now)

    def acknowledge(self, sdp: bytes, now: float) -> bool:
        """Send the ACK with our answer to the offer a 2xx carried (INVITE sent without SDP)."""
        pending, self._awaiting_answer = self._awaiting_answer, None
        if pending is None:
            if self.state in (CallState.TERMINATING, CallState.TERMINATED):
                return False
            raise LocalProtocolError(f"call {self.call_id}: no 2xx waits for an answer")
        dialog, invite = pending
        self._send_ack(dialog, invite, sdp, SDP)
        return True

    def _ack_without_answer(self) -> None:
        """Hanging up before ``acknowledge``: the 2xx still needs its ACK (then BYE)."""
        pending, self._awaiting_answer = self._awaiting_answer, None
        if pending is not None:
            logger.info("call %s: ACK without the answer, BYE follows", self.call_id)
            self._send_ack(*pending)

    # -- responses to our INVITE ---------------------------------------------------------------

    def stray_response(self, response: Response, now: float) -> None:
        """A 2xx after the INVITE transaction ended (timer M): ACK it again, or close its fork."""
        if self._ack_again(response):
            return
        if response.is_success and response.cseq.number == self.invite.cseq.number:
            self._success(self.invite, response, now)

    def _initial_response(self, request: Request, response: Response, now: float) -> None:
        code = response.status_code
        if code < 200:
            self._provisional(request, response)
        elif code < 300:
            self._success(request, response, now)
        elif code in (401, 407) and not self._cancel_requested:
            if self._network(CallInput.CHALLENGE):
                self._challenge_code = code
                self._drop_early_dialogs()
                self._emit(ChallengeReceived(self, response, request))
        elif self._network(CallInput.FAILURE):
            reason = EndReason.CANCELLED if self._cancel_requested else end_reason_for(code)
            self._end(reason, code)
            self._finish()

    def _provisional(self, request: Request, response: Response) -> None:
        code = response.status_code
        if not self._network(CallInput.TRYING if code == 100 else CallInput.PROVISIONAL):
            return
        if code > 100 and response.to.tag is not None:
            self._early_dialog(request, response)
        if self.state is CallState.CANCELLING:
            return
        sdp = sdp_of(response)
        if code == 180:
            self._emit(CallRinging(self, sdp))
        else:
            self._emit(CallProgress(self, code, sdp))

    def _early_dialog(self, request: Request, response: Response) -> None:
        dialog_id = DialogId.of_received_response(response)
        dialog = self._dialog_for(dialog_id)
        if dialog is not None:
            dialog.refresh_target(response)
            return
        try:
            dialog = Dialog.from_uac_response(request, response)
        except RemoteProtocolError as error:
            logger.info("call %s: no early dialog: %s", self.call_id, error.reason)
            return
        self._early[dialog.id] = dialog
        self._context.dialogs.add(dialog.id, self)

    def _success(self, request: Request, response: Response, now: float) -> None:
        if self._ack_again(response):
            return
        dialog_id = DialogId.of_received_response(response)
        awaiting = self._awaiting_answer
        if awaiting is not None and awaiting[0].id == dialog_id:
            return  # the phone has yet to give the answer for the ACK
        try:
            dialog = self._confirmed_dialog(dialog_id, request, response)
        except RemoteProtocolError as error:
            # Without a To tag or a Contact the 2xx cannot be ACKed (§13.2.2.4).
            logger.warning("call %s: unusable 2xx: %s", self.call_id, error.reason)
            if self.state in (CallState.CALLING, CallState.EARLY, CallState.CANCELLING):
                self._network(CallInput.FAILURE)
                self._end(EndReason.FAILED, response.status_code)
                self._finish()
            return
        old = self.state
        if not self._network(CallInput.SUCCESS):
            return
        if old in (CallState.CALLING, CallState.EARLY):
            self._adopt(dialog)
            if sdp_of(request) is None:
                self._awaiting_answer = (dialog, request)
            else:
                self._send_ack(dialog, request)
            self._emit(CallAnswered(self, sdp_of(response)))
        elif old is CallState.CANCELLING:
            logger.info("call %s: answered after our CANCEL: ACK and BYE (§9.1)", self.call_id)
            self._adopt(dialog)
            self._send_ack(dialog, request)
            self._end(EndReason.CANCELLED, None)
            self._send_bye(now)
        else:
            logger.info("call %s: 2xx from another fork %s: ACK and BYE", self.call_id, dialog.id)
            self._send_ack(dialog, request)
            bye = dialog.build_request("BYE", extra_headers=self._request_headers())
            self._send_in_dialog(bye, Purpose.FORK_BYE, now)
            dialog.terminate()

    def _confirmed_dialog(
        self, dialog_id: DialogId | None, request: Request, response: Response
    ) -> Dialog:
        early = None if dialog_id is None else self._early.get(dialog_id)
        if early is None:
            return Dialog.from_uac_response(request, response)
        early.confirm(response)
        return early

    def _adopt(self, dialog: Dialog) -> None:
        """``dialog`` is the call's; early dialogs of other forks are dropped."""
        self._early.pop(dialog.id, None)
        self._drop_early_dialogs()
        self.dialog = dialog
        if dialog.id not in self._context.dialogs:
            self._context.dialogs.add(dialog.id, self)

    def _drop_early_dialogs(self) -> None:
        for dialog in self._early.values():
            dialog.terminate()
            self._context.dialogs.remove(dialog.id)
        self._early.clear()


class IncomingCall(Call):
    """A call we receive (UAS).  Made by ``CallManager``; see the module docstring."""

    transitions: ClassVar[Mapping[tuple[CallState, CallInput], CallState]] = (
        INCOMING_CALL_TRANSITIONS
    )
    is_outgoing: ClassVar[bool] = False

    def __init__(
        self,
        context: CallContext,
        key: TransactionKey,
        invite: Request,
        source: Peer,
        contact: NameAddress,
    ) -> None:
        super().__init__(context, CallState.INCOMING, invite.call_id, source)
        self.invite = invite
        self._invite_key = key
        dialog = Dialog.from_uas_request(invite, context.make_token(), contact)
        self.dialog = dialog
        context.dialogs.add(dialog.id, self)
        context.bind(key, self)
        self._emit(IncomingCallReceived(self, sdp_of(invite)))

    @property
    def remote_identity(self) -> NameAddress:
        return self.invite.from_

    def _session_setup_conflict(self) -> int | None:
        # §14.2: a second INVITE before our final response to the first: 500.
        return 500 if self.state in (CallState.INCOMING, CallState.EARLY) else None

    def _dialog_headers(self) -> list[tuple[str, str]]:
        """Contact and the Record-Route copy of a response that makes the dialog (§12.1.1)."""
        assert self.dialog is not None  # set in __init__, never cleared
        headers = [("Contact", str(self.dialog.local_contact))]
        headers += [
            ("Record-Route", value) for value in self.invite.headers.get_all("record-route")
        ]
        return headers

    # -- commands ------------------------------------------------------------------------------

    def ring(self, now: float) -> None:
        """Send 180 Ringing (it makes the early dialog, §12.1.1)."""
        if self._command(CallInput.RING):
            self._respond(self._invite_key, self.invite, 180, now, headers=self._dialog_headers())

    def answer(self, sdp: bytes, now: float) -> None:
        """Send 200 with our SDP (the answer, or our offer if the INVITE had none)."""
        if not self._command(CallInput.ANSWER):
            return
        assert self.dialog is not None
        headers = [
            *self._dialog_headers(),
            *self._capability_headers(),
            ("Server", self._context.settings.user_agent),
            ("Content-Type", SDP),
        ]
        response = make_response(
            self.invite, 200, to_tag=self.dialog.id.local_tag, headers=headers, body=sdp
        )
        if not self._context.respond(self._invite_key, response, now):
            self._network(CallInput.DIALOG_LOST)  # the INVITE's transaction failed meanwhile
            self._end(EndReason.FAILED, None)
            self._finish()
            return
        self.dialog.confirm()
        self._retransmit_until_ack(self._invite_key, response, now)

    def reject(self, code: int, now: float) -> None:
        """Refuse the call with a 300-699 (486 Busy Here, 603 Decline …)."""
        if not 300 <= code <= 699:
            raise LocalProtocolError(f"a call is rejected with 300-699, not {code}")
        if self._command(CallInput.REJECT):
            self._respond(self._invite_key, self.invite, code, now)
            self._end(EndReason.LOCAL_HANGUP, code)
            self._finish()

    def hangup(self, now: float) -> None:
        """Unanswered: 603 Decline.  Answered: BYE (after the ACK, §15).  Later: nothing."""
        old = self.state
        if not self._command(CallInput.HANGUP):
            return
        if old in (CallState.INCOMING, CallState.EARLY):
            self._respond(self._invite_key, self.invite, 603, now)
            self._end(EndReason.LOCAL_HANGUP, 603)
            self._finish()
        elif old is CallState.ACCEPTED:
            self._bye_after_ack = True
            self._end(EndReason.LOCAL_HANGUP, None)
        elif old is CallState.CONFIRMED:
            self._end(EndReason.LOCAL_HANGUP, None)
            self._send_bye(now)

    # -- from the far end ----------------------------------------------------------------------

    def cancel_received(
        self, key: TransactionKey, cancel: Request, invite_key: TransactionKey, now: float
    ) -> None:
        if invite_key != self._invite_key:
            super().cancel_received(key, cancel, invite_key, now)
            return
        self._context.bind(key, self)
        self._respond(key, cancel, 200, now)
        old = self.state
        if self._network(CallInput.CANCELLED) and old in (CallState.INCOMING, CallState.EARLY):
            self._respond(self._invite_key, self.invite, 487, now)
            self._end(EndReason.CANCELLED, 487)
            self._finish()

    def _answer_pending_requests(self, now: float) -> None:
        super()._answer_pending_requests(now)
        if self.state in (CallState.INCOMING, CallState.EARLY):
            self._respond(self._invite_key, self.invite, 487, now)  # §15.1.2

    def _server_failed(self, key: TransactionKey, status_code: int) -> None:
        if key != self._invite_key:
            return
        old = self.state
        if old in (CallState.INCOMING, CallState.EARLY, CallState.ACCEPTED) and self._network(
            CallInput.DIALOG_LOST
        ):
            self._end(EndReason.FAILED, status_code)
            self._finish()
