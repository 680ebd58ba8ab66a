"""Tests for phoneagent.sip.invite: calls over the real TransactionLayer (RFC 3261 §9, §12–§15).

A ``Phone`` harness wires a ``CallManager`` to a ``TransactionLayer`` as the UA
will: transaction events go to the manager, what the layer queues is parsed
back from bytes, and a fake clock steps through every deadline.  The far end
(Bob, behind the proxy at 192.0.2.1) is played with parsed bytes and
``make_response``.
"""

from __future__ import annotations

import itertools
import logging

import pytest

from phoneagent.sip import NameAddress, Request, Response, make_response, parse_message
from phoneagent.sip.auth import Credentials, DigestClient
from phoneagent.sip.errors import LocalProtocolError
from phoneagent.sip.invite import (
    Call,
    CallAcknowledged,
    CallAnswered,
    CallEnded,
    CallEvent,
    CallManager,
    CallProgress,
    CallRinging,
    CallSettings,
    CallState,
    ChallengeReceived,
    EndReason,
    IncomingCall,
    IncomingCallReceived,
    InfoReceived,
    OutgoingCall,
    ReofferAnswered,
    ReofferReceived,
    ReofferRejected,
    end_reason_for,
)
from phoneagent.sip.transaction import (
    TimerSettings,
    TransactionEvent,
    TransactionLayer,
    new_branch,
)
from phoneagent.sip.transport import Peer, Transport
from phoneagent.sip.uri import SipUri
from phoneagent.sip.via import Via

T1 = 0.5
PROXY = Peer(Transport.UDP, "192.0.2.1", 5060)
ALICE = NameAddress.parse("Alice <sip:alice@example.com>")
ALICE_CONTACT = NameAddress.parse("<sip:alice@192.0.2.10:5060>")
BOB = SipUri.parse("sip:bob@example.com")
BOB_CONTACT = "<sip:bob@192.0.2.20:5062>"
# Record-Route of the responses to our INVITE (the proxy nearest Bob on top).
RECORD_ROUTE = ("<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>")
OFFER = b"v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n"
ANSWER = b"v=0\r\no=bob 7 7 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\n"
SDP = "application/sdp"


class Phone:
    """The CallManager and TransactionLayer of one phone, wired as the UA wires them."""

    def __init__(self, settings: CallSettings | None = None) -> None:
        self.now = 0.0
        self.transactions = TransactionLayer(TimerSettings(t1=T1))
        tokens = itertools.count(1)
        self.manager = CallManager(
            self.transactions,
            contact=ALICE_CONTACT,
            make_via=self.make_via,
            make_token=lambda: f"tok{next(tokens)}",
            settings=settings,
            random=lambda: 0.5,
        )
        self.unhandled: list[TransactionEvent] = []
        self.sent: list[tuple[float, Request | Response, Peer]] = []

    @staticmethod
    def make_via(destination: Peer) -> Via:
        return Via(
            destination.transport.via_name,
            "192.0.2.10",
            5060,
            (("branch", new_branch()), ("rport", None)),
        )

    def pump(self) -> None:
        while (event := self.transactions.next_event()) is not None:
            if not self.manager.handle_event(event, self.now):
                self.unhandled.append(event)
        for outgoing in self.transactions.messages_to_send():
            parsed = parse_message(bytes(outgoing.message))
            self.sent.append((self.now, parsed, outgoing.destination))

    def receive(self, message: bytes | Request | Response, source: Peer = PROXY) -> None:
        parsed = parse_message(message if isinstance(message, bytes) else bytes(message))
        self.transactions.receive(parsed, source, self.now)
        self.pump()

    def advance(self, seconds: float) -> None:
        """Step the clock ``seconds`` ahead, firing every deadline on the way."""
        end = self.now + seconds
        while True:
            deadlines = [self.transactions.get_timer(), self.manager.get_timer()]
            due = min((d for d in deadlines if d is not None), default=None)
            if due is None or due > end:
                break
            self.now = max(self.now, due)
            self.transactions.handle_timer(self.now)
            self.pump()
            self.manager.handle_timer(self.now)
            self.pump()
        self.now = end

    def take(self) -> list[Request | Response]:
        self.pump()
        messages = [message for _, message, _ in self.sent]
        self.sent.clear()
        return messages

    def take_one(self) -> Request | Response:
        messages = self.take()
        assert len(messages) == 1, messages
        return messages[0]

    def events(self) -> list[CallEvent]:
        return list(iter(self.manager.next_event, None))

    # -- calls ---------------------------------------------------------------------------------

    def call_bob(self, sdp: bytes | None = OFFER) -> tuple[OutgoingCall, Request]:
        call = self.manager.place_call(BOB, ALICE, PROXY, self.now, sdp_offer=sdp)
        invite = self.take_one()
        assert isinstance(invite, Request)
        return call, invite


def answer(
    request: Request,
    code: int,
    *,
    to_tag: str | None = "bob1",
    contact: str | None = BOB_CONTACT,
    record_route: tuple[str, ...] = RECORD_ROUTE,
    body: bytes = b"",
    headers: tuple[tuple[str, str], ...] = (),
) -> Response:
    """Bob's response to ``request``, as the proxy forwards it."""
    extra = [("Record-Route", route) for route in record_route] if code > 100 else []
    if contact is not None and 100 < code < 300:
        extra.append(("Contact", contact))
    extra += headers
    if body:
        extra.append(("Content-Type", SDP))
    return make_response(request, code, to_tag=to_tag, headers=extra, body=body)


def bob_request(
    method: str,
    *,
    to_tag: str | None = None,
    cseq: int = 1,
    branch: str | None = None,
    call_id: str = "bobcall@192.0.2.20",
    body: bytes = b"",
    content_type: str = SDP,
    contact: str | None = BOB_CONTACT,
    record_route: tuple[str, ...] = (),
    uri: str = "sip:alice@192.0.2.10:5060",
    extra: tuple[str, ...] = (),
) -> bytes:
    """A request from Bob, relayed by the proxy (its Via on top of Bob's)."""
    to = "<sip:alice@example.com>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch or new_branch()}",
        f"Via: SIP/2.0/UDP 192.0.2.20:5062;branch={new_branch()}",
        *(f"Record-Route: {route}" for route in record_route),
        "Max-Forwards: 69",
        "From: Bob <sip:bob@example.com>;tag=bobtag",
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        *([f"Contact: {contact}"] if contact else []),
        *extra,
        *([f"Content-Type: {content_type}"] if body else []),
        f"Content-Length: {len(body)}",
        "",
        "",
    ]
    return "\r\n".join(lines).encode() + body


def confirmed_outgoing(phone: Phone) -> tuple[OutgoingCall, Request]:
    call, invite = phone.call_bob()
    phone.receive(answer(invite, 200, body=ANSWER))
    phone.take()  # the ACK
    phone.events()
    return call, invite


def incoming(phone: Phone, **kwargs: object) -> tuple[IncomingCall, Request]:
    """Bob calls us; returns the call and the INVITE as we received it."""
    phone.receive(bob_request("INVITE", body=OFFER, **kwargs))  # type: ignore[arg-type]
    [event] = phone.events()
    assert isinstance(event, IncomingCallReceived)
    assert isinstance(event.call, IncomingCall)
    return event.call, event.call.invite


def confirmed_incoming(phone: Phone) -> IncomingCall:
    call, _ = incoming(phone)
    call.answer(ANSWER, phone.now)
    phone.take()
    phone.receive(bob_request("ACK", to_tag=call.dialog.id.local_tag))  # type: ignore[union-attr]
    phone.events()
    return call


def headers_of(message: Request | Response, name: str) -> list[str]:
    return message.headers.get_all(name)


# -- outgoing calls ------------------------------------------------------------------------------


def test_outgoing_call_invite_ringing_answer_ack_and_bye() -> None:
    phone = Phone()
    call, invite = phone.call_bob()
    assert phone.sent == [] and phone.unhandled == []
    assert invite.method == "INVITE" and invite.uri == BOB
    assert str(invite.from_) == "Alice <sip:alice@example.com>;tag=tok1"
    assert str(invite.to) == "<sip:bob@example.com>" and invite.to.tag is None
    assert invite.call_id == "tok2" == call.call_id
    assert str(invite.cseq) == "1 INVITE"
    assert invite.contact == (ALICE_CONTACT,)
    assert invite.top_via.has_rfc3261_branch and invite.top_via.rport_requested
    assert invite.headers.get("max-forwards") == "70"
    assert invite.headers.get("allow") == "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"
    assert invite.content_type is not None and invite.content_type.mime_type == SDP
    assert invite.body == OFFER
    assert call.state is CallState.CALLING

    phone.receive(answer(invite, 100, to_tag=None))
    phone.receive(answer(invite, 180))
    assert phone.events() == [CallProgress(call, 100), CallRinging(call, None)]
    assert call.state is CallState.EARLY

    phone.receive(answer(invite, 200, body=ANSWER))
    assert phone.events() == [CallAnswered(call, ANSWER)]
    assert call.state is CallState.CONFIRMED
    [(_, ack, destination)] = phone.sent
    phone.sent.clear()
    assert destination == PROXY
    assert isinstance(ack, Request) and ack.method == "ACK"
    # §13.2.2.4: built from the dialog: remote target, route set reversed, INVITE's CSeq.
    assert str(ack.uri) == "sip:bob@192.0.2.20:5062"
    assert headers_of(ack, "route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert str(ack.cseq) == "1 ACK"
    assert ack.to.tag == "bob1" and ack.from_.tag == "tok1" and ack.call_id == "tok2"
    assert ack.top_via.branch != invite.top_via.branch
    assert ack.body == b""

    # Every retransmission of the 2xx gets the same ACK again.
    phone.receive(answer(invite, 200, body=ANSWER))
    assert [bytes(message) for message in phone.take()] == [bytes(ack)]
    assert phone.events() == []

    call.hangup(phone.now)
    assert phone.events() == [CallEnded(call, EndReason.LOCAL_HANGUP, None)]
    assert call.state is CallState.TERMINATING
    bye = phone.take_one()
    assert isinstance(bye, Request) and bye.method == "BYE"
    assert str(bye.uri) == "sip:bob@192.0.2.20:5062"
    assert headers_of(bye, "route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert str(bye.cseq) == "2 BYE"
    assert str(bye.to) == "<sip:bob@example.com>;tag=bob1"
    assert bye.from_.tag == "tok1"
    phone.receive(answer(bye, 200))
    assert call.state is CallState.TERMINATED
    assert phone.events() == []
    call.hangup(phone.now)  # a second hang-up changes nothing
    assert phone.take() == []
    phone.advance(64 * T1)  # timer M ends the INVITE transaction: the call is forgotten
    assert phone.manager.calls == ()
    assert phone.unhandled == []


def test_forked_call_two_early_dialogs_then_late_2xx_is_acked_and_closed() -> None:
    phone = Phone()
    call, invite = phone.call_bob()
    phone.receive(answer(invite, 180, to_tag="fork1", contact="<sip:bob@192.0.2.21>"))
    phone.receive(answer(invite, 180, to_tag="fork2", contact="<sip:bob@192.0.2.22>"))
    assert phone.events() == [CallRinging(call, None), CallRinging(call, None)]

    phone.receive(answer(invite, 200, to_tag="fork2", contact="<sip:bob@192.0.2.22>", body=ANSWER))
    assert phone.events() == [CallAnswered(call, ANSWER)]
    assert call.dialog is not None and call.dialog.id.remote_tag == "fork2"
    ack = phone.take_one()
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert ack.to.tag == "fork2" and str(ack.uri) == "sip:bob@192.0.2.22"

    # §13.2.2.4: the other fork answers too: ACK it, then BYE it.
    phone.receive(answer(invite, 200, to_tag="fork1", contact="<sip:bob@192.0.2.21>", body=ANSWER))
    ack1, bye1 = phone.take()
    assert isinstance(ack1, Request) and isinstance(bye1, Request)
    assert (ack1.method, ack1.to.tag, str(ack1.uri)) == ("ACK", "fork1", "sip:bob@192.0.2.21")
    assert str(ack1.cseq) == "1 ACK"
    assert (bye1.method, bye1.to.tag, str(bye1.uri)) == ("BYE", "fork1", "sip:bob@192.0.2.21")
    assert str(bye1.cseq) == "2 BYE"
    assert phone.events() == []
    assert call.state is CallState.CONFIRMED and call.dialog.id.remote_tag == "fork2"
    phone.receive(answer(bye1, 200, to_tag=None))
    # A retransmission of fork1's 2xx gets its ACK again, no second BYE.
    phone.receive(answer(invite, 200, to_tag="fork1", contact="<sip:bob@192.0.2.21>", body=ANSWER))
    assert [m.method for m in phone.take() if isinstance(m, Request)] == ["ACK"]
    assert phone.events() == []
    assert call.state is CallState.CONFIRMED


def test_in_dialog_request_in_early_dialog_of_one_fork() -> None:
    phone = Phone()
    call, invite = phone.call_bob()
    phone.receive(answer(invite, 183, to_tag="fork1", body=ANSWER))
    assert phone.events() == [CallProgress(call, 183, ANSWER)]
    # INFO in the early dialog: matched by tags and answered.
    phone.receive(
        bob_request(
            "INFO",
            to_tag="tok1",
            call_id=invite.call_id,
            cseq=1,
            body=b"Signal=1\r\nDuration=100\r\n",
            content_type="application/dtmf-relay",
        ).replace(b"tag=bobtag", b"tag=fork1")
    )
    ok = phone.take_one()
    assert isinstance(ok, Response) and ok.status_code == 200
    assert phone.events() == [
        InfoReceived(call, "application/dtmf-relay", b"Signal=1\r\nDuration=100\r\n")
    ]


def test_cancel_before_the_answer_ends_with_487_cancelled() -> None:
    phone = Phone()
    call, invite = phone.call_bob()
    call.cancel(phone.now)
    assert phone.take() == []  # §9.1: no CANCEL before a provisional response
    assert call.state is CallState.CANCELLING
    phone.receive(answer(invite, 180))
    cancel = phone.take_one()
    assert isinstance(cancel, Request) and cancel.method == "CANCEL"
    assert str(cancel.cseq) == "1 CANCEL"
    assert cancel.top_via.branch == invite.top_via.branch
    assert phone.events() == []  # nothing more to report while cancelling
    phone.receive(answer(cancel, 200, to_tag="bob1"))
    phone.receive(answer(invite, 487))
    ack = phone.take_one()  # the transaction layer's ACK for the 487 (§17.1.1.3)
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert ack.top_via.branch == invite.top_via.branch
    assert phone.events() == [CallEnded(call, EndReason.CANCELLED, 487)]
    assert call.state is CallState.TERMINATED
    phone.advance(40)
    assert phone.manager.calls == ()
    assert phone.unhandled == []


def test_cancel_and_200_cross_ack_then_bye() -> None:
    phone = Phone()
    call, invite = phone.call_bob()
    phone.receive(answer(invite, 180))
    phone.events()
    call.hangup(phone.now)
    cancel = phone.take_one()
    assert isinstance(cancel, Request) and cancel.method == "CANCEL"
    # Bob answered before the CANCEL reached him (§9.1).
    phone.receive(answer(invite, 200, body=ANSWER))
    ack, bye = phone.take()
    assert isinstance(ack, Request) and isinstance(bye, Request)
    assert ack.method == "ACK" and bye.method == "BYE"
    assert str(bye.cseq) == "2 BYE" and bye.to.tag == "bob1"
    assert phone.events() == [CallEnded(call, EndReason.CANCELLED, None)]
    assert call.state is CallState.TERMINATING
    phone.receive(answer(cancel, 200))
    phone.receive(answer(bye, 200))
    assert call.state is CallState.TERMINATED
    assert phone.events() == []


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (486, EndReason.BUSY),
        (600, EndReason.BUSY),
        (603, EndReason.DECLINED),
        (480, EndReason.NO_ANSWER),
        (404, EndReason.FAILED),
        (302, EndReason.FAILED),
        (503, EndReason.FAILED),
    ],
)
def test_final_failure_ends_the_call(code: int, reason: EndReason) -> None:
    phone = Phone()
    call, invite = phone.call_bob()
    phone.receive(answer(invite, 180))
    phone.receive(answer(invite, code))
    assert phone.events() == [CallRinging(call, None), CallEnded(call, reason, code)]
    assert end_reason_for(code) is reason
    assert call.state is CallState.TERMINATED
    assert call.end_reason is reason and call.end_code == code
    assert [m.method for m in phone.take() if isinstance(m, Request)] == ["ACK"]


def test_no_response_is_no_answer() -> None:
    phone = Phone()
    call, _ = phone.call_bob()
    phone.advance(64 * T1)
    assert phone.events() == [CallEnded(call, EndReason.NO_ANSWER, 408)]


def test_transport_failure_fails_the_call() -> None:
    phone = Phone()
    call, _ = phone.call_bob()
    phone.transactions.transport_error(PROXY, phone.now)
    phone.pump()
    assert phone.events() == [CallEnded(call, EndReason.FAILED, 503)]


def test_401_is_reported_and_retried_with_credentials() -> None:
    phone = Phone()
    call, invite = phone.call_bob()
    challenge = answer(
        invite,
        401,
        headers=(("WWW-Authenticate", 'Digest realm="example.com", nonce="abc", qop="auth"'),),
    )
    phone.receive(challenge)
    [event] = phone.events()
    assert isinstance(event, ChallengeReceived) and event.call is call
    assert event.response.status_code == 401
    assert call.state is CallState.CHALLENGED
    phone.take()  # the transaction layer's ACK for the 401

    signed = DigestClient([Credentials("alice", "secret")]).answer(event.response, event.request)
    assert signed is not None
    call.retry_with(signed, phone.now)
    retry = phone.take_one()
    assert isinstance(retry, Request) and retry.method == "INVITE"
    assert retry.call_id == invite.call_id and retry.from_.tag == invite.from_.tag
    assert str(retry.cseq) == "2 INVITE"
    assert retry.top_via.branch != invite.top_via.branch
    assert len(retry.via) == 1
    assert retry.authorization and retry.authorization[0].get("username") == "alice"
    assert call.state is CallState.CALLING

    phone.receive(answer(retry, 200, body=ANSWER))
    assert phone.events() == [CallAnswered(call, ANSWER)]
    ack = phone.take_one()
    assert isinstance(ack, Request)
    assert str(ack.cseq) == "2 ACK"
    # §13.2.2.4: the ACK carries the INVITE's credentials.
    assert ack.headers.get_all("authorization") == retry.headers.get_all("authorization")


def test_a_challenge_that_cannot_be_answered_fails_the_call() -> None:
    phone = Phone()
    call, invite = phone.call_bob()
    phone.receive(answer(invite, 407, headers=(("Proxy-Authenticate", 'Digest realm="x"'),)))
    [event] = phone.events()
    assert isinstance(event, ChallengeReceived)
    phone.take()  # the ACK for the 407
    call.retry_with(None, phone.now)
    assert phone.events() == [CallEnded(call, EndReason.FAILED, 407)]
    call.retry_with(invite, phone.now)  # the call has ended: ignored
    assert phone.take() == [] and phone.events() == []


def test_retry_with_checks_the_request() -> None:
    phone = Phone()
    call, invite = phone.call_bob()
    with pytest.raises(LocalProtocolError):
        call.retry_with(invite, phone.now)  # no challenge yet
    phone.receive(answer(invite, 401, headers=(("WWW-Authenticate", 'Digest realm="x"'),)))
    other = parse_message(bytes(invite).replace(b"tag=tok1", b"tag=other"))
    assert isinstance(other, Request)
    with pytest.raises(LocalProtocolError):
        call.retry_with(other, phone.now)


def test_invite_without_offer_acks_with_the_answer() -> None:
    phone = Phone()
    call, invite = phone.call_bob(sdp=None)
    assert invite.body == b"" and invite.content_type is None
    phone.receive(answer(invite, 200, body=OFFER))
    assert phone.events() == [CallAnswered(call, OFFER)]
    assert phone.take() == []  # the ACK waits for our answer
    phone.receive(answer(invite, 200, body=OFFER))  # a retransmission meanwhile
    assert phone.take() == []
    assert call.acknowledge(ANSWER, phone.now)
    ack = phone.take_one()
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert ack.body == ANSWER and ack.headers.get("content-type") == SDP
    with pytest.raises(LocalProtocolError):
        call.acknowledge(ANSWER, phone.now)


def test_bye_from_the_far_end_ends_an_outgoing_call() -> None:
    phone = Phone()
    call, invite = confirmed_outgoing(phone)
    bye = bob_request("BYE", to_tag="tok1", call_id=invite.call_id, cseq=1).replace(
        b"tag=bobtag", b"tag=bob1"
    )
    phone.receive(bye)
    ok = phone.take_one()
    assert isinstance(ok, Response) and ok.status_code == 200
    assert ok.to.tag == "tok1"
    assert phone.events() == [CallEnded(call, EndReason.REMOTE_HANGUP, None)]
    assert call.state is CallState.TERMINATED
    call.hangup(phone.now)  # lost the race with Bob's BYE: ignored
    assert phone.take() == [] and phone.events() == []
    assert call.reoffer(OFFER, phone.now) is False


def test_stray_2xx_after_timer_m_is_acked_again() -> None:
    phone = Phone()
    call, invite = confirmed_outgoing(phone)
    phone.advance(64 * T1 + 1)  # the INVITE transaction is gone
    phone.receive(answer(invite, 200, body=ANSWER))
    ack = phone.take_one()
    assert isinstance(ack, Request) and ack.method == "ACK" and ack.to.tag == "bob1"
    assert phone.unhandled == []
    assert call.state is CallState.CONFIRMED


def test_strict_route_set_from_record_route_without_lr() -> None:
    phone = Phone()
    _, invite = phone.call_bob()
    phone.receive(answer(invite, 200, record_route=("<sip:old.example.com>",), body=ANSWER))
    ack = phone.take_one()
    assert isinstance(ack, Request)
    assert str(ack.uri) == "sip:old.example.com"
    assert headers_of(ack, "route") == [BOB_CONTACT]


# -- incoming calls ------------------------------------------------------------------------------


def test_incoming_call_ring_answer_ack_and_bye() -> None:
    phone = Phone()
    call, _ = incoming(phone, record_route=("<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"))
    assert call.state is CallState.INCOMING
    assert str(call.remote_identity) == "Bob <sip:bob@example.com>;tag=bobtag"
    assert call.dialog is not None
    tag = call.dialog.id.local_tag

    call.ring(phone.now)
    ringing = phone.take_one()
    assert isinstance(ringing, Response) and ringing.status_code == 180
    assert ringing.to.tag == tag
    assert ringing.contact == (ALICE_CONTACT,)
    assert headers_of(ringing, "record-route") == [
        "<sip:p2.example.com;lr>",
        "<sip:p1.example.com;lr>",
    ]
    assert call.state is CallState.EARLY

    call.answer(ANSWER, phone.now)
    ok = phone.take_one()
    assert isinstance(ok, Response) and ok.status_code == 200
    assert ok.to.tag == tag and ok.contact == (ALICE_CONTACT,)
    assert headers_of(ok, "record-route") == headers_of(ringing, "record-route")
    assert ok.body == ANSWER and ok.headers.get("content-type") == SDP
    assert ok.headers.get("allow") is not None
    assert call.state is CallState.ACCEPTED

    phone.receive(bob_request("ACK", to_tag=tag))
    assert phone.events() == [CallAcknowledged(call, None)]
    assert call.state is CallState.CONFIRMED
    phone.advance(10)
    assert phone.take() == []  # the ACK stopped the 2xx retransmissions

    phone.receive(bob_request("BYE", to_tag=tag, cseq=2))
    ok = phone.take_one()
    assert isinstance(ok, Response) and ok.status_code == 200 and str(ok.cseq) == "2 BYE"
    assert phone.events() == [CallEnded(call, EndReason.REMOTE_HANGUP, None)]
    assert call.state is CallState.TERMINATED
    phone.advance(64 * T1)
    assert phone.manager.calls == ()
    assert phone.unhandled == []


def test_hangup_of_an_incoming_call_sends_bye_along_the_route_set() -> None:
    phone = Phone()
    call, _ = incoming(phone, record_route=("<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"))
    call.answer(ANSWER, phone.now)
    phone.take()
    tag = call.dialog.id.local_tag  # type: ignore[union-attr]
    # §15: a hang-up before the ACK waits for it.
    call.hangup(phone.now)
    assert phone.events() == [CallEnded(call, EndReason.LOCAL_HANGUP, None)]
    assert phone.take() == []
    phone.receive(bob_request("ACK", to_tag=tag))
    bye = phone.take_one()
    assert isinstance(bye, Request) and bye.method == "BYE"
    assert str(bye.uri) == "sip:bob@192.0.2.20:5062"
    assert headers_of(bye, "route") == ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
    assert str(bye.cseq) == "1 BYE"
    assert str(bye.from_) == f"<sip:alice@example.com>;tag={tag}"
    assert str(bye.to) == "Bob <sip:bob@example.com>;tag=bobtag"
    assert phone.events() == []
    phone.receive(answer(bye, 200, to_tag=None))
    assert call.state is CallState.TERMINATED


def test_2xx_is_retransmitted_until_the_ack() -> None:
    phone = Phone()
    call, _ = incoming(phone)
    call.answer(ANSWER, phone.now)
    phone.take()
    phone.advance(8)
    times = [when for when, message, _ in phone.sent if isinstance(message, Response)]
    assert times == [0.5, 1.5, 3.5, 7.5]  # T1 doubling, capped at T2 = 4 s (§13.3.1.4)
    phone.sent.clear()
    phone.receive(bob_request("ACK", to_tag=call.dialog.id.local_tag))  # type: ignore[union-attr]
    phone.advance(30)
    assert phone.take() == []
    assert phone.events() == [CallAcknowledged(call, None)]


def test_no_ack_after_64_t1_sends_bye() -> None:
    phone = Phone()
    call, _ = incoming(phone)
    call.answer(ANSWER, phone.now)
    phone.take()
    phone.advance(64 * T1)
    retransmissions = [when for when, m, _ in phone.sent if isinstance(m, Response)]
    assert retransmissions == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    [(when, bye, _)] = [item for item in phone.sent if isinstance(item[1], Request)]
    assert when == 64 * T1 and bye.method == "BYE"
    assert phone.events() == [CallEnded(call, EndReason.FAILED, 408)]
    assert call.state is CallState.TERMINATING
    phone.sent.clear()
    phone.receive(answer(bye, 200, to_tag=None))  # type: ignore[arg-type]
    assert call.state is CallState.TERMINATED


def test_invite_without_offer_gets_the_answer_in_the_ack() -> None:
    phone = Phone()
    phone.receive(bob_request("INVITE"))
    [event] = phone.events()
    assert event == IncomingCallReceived(event.call, None)
    call = event.call
    assert isinstance(call, IncomingCall)
    call.answer(OFFER, phone.now)  # our offer, in the 200
    phone.take()
    tag = call.dialog.id.local_tag  # type: ignore[union-attr]
    phone.receive(bob_request("ACK", to_tag=tag, body=ANSWER))
    assert phone.events() == [CallAcknowledged(call, ANSWER)]


def test_cancel_received_before_the_answer() -> None:
    phone = Phone()
    branch = new_branch()
    call, _ = incoming(phone, branch=branch)
    call.ring(phone.now)
    phone.take()
    # CANCEL: the INVITE's branch and To (no tag), CSeq method CANCEL (§9.1).
    cancel = bob_request("CANCEL", branch=branch, contact=None)
    phone.receive(cancel)
    ok, terminated = phone.take()
    assert isinstance(ok, Response) and (ok.status_code, ok.cseq.method) == (200, "CANCEL")
    assert ok.to.tag == call.dialog.id.local_tag  # type: ignore[union-attr]
    assert isinstance(terminated, Response)
    assert (terminated.status_code, terminated.cseq.method) == (487, "INVITE")
    assert phone.events() == [CallEnded(call, EndReason.CANCELLED, 487)]
    assert call.state is CallState.TERMINATED
    call.answer(ANSWER, phone.now)  # the user picked up just too late: ignored
    assert phone.take() == []
    # A CANCEL that matches no INVITE: 481 (§9.2).
    phone.receive(bob_request("CANCEL", call_id="other@192.0.2.20", contact=None))
    [unknown] = phone.take()
    assert isinstance(unknown, Response) and unknown.status_code == 481


def test_cancel_after_the_answer_changes_nothing() -> None:
    phone = Phone()
    branch = new_branch()
    call, _ = incoming(phone, branch=branch)
    call.answer(ANSWER, phone.now)
    phone.take()
    phone.receive(bob_request("CANCEL", branch=branch, contact=None))
    [ok] = phone.take()
    assert isinstance(ok, Response) and (ok.status_code, ok.cseq.method) == (200, "CANCEL")
    assert call.state is CallState.ACCEPTED
    assert phone.events() == []


def test_reject_and_decline() -> None:
    phone = Phone()
    call, _ = incoming(phone)
    with pytest.raises(LocalProtocolError):
        call.reject(200, phone.now)
    call.reject(486, phone.now)
    [busy] = phone.take()
    assert isinstance(busy, Response) and busy.status_code == 486
    assert busy.to.tag == call.dialog.id.local_tag  # type: ignore[union-attr]
    assert phone.events() == [CallEnded(call, EndReason.LOCAL_HANGUP, 486)]
    second, _ = incoming(phone, call_id="second@192.0.2.20")
    second.hangup(phone.now)
    [declined] = phone.take()
    assert isinstance(declined, Response) and declined.status_code == 603


def test_bye_before_the_answer_gets_487_for_the_invite() -> None:
    phone = Phone()
    call, _ = incoming(phone)
    call.ring(phone.now)
    phone.take()
    phone.receive(bob_request("BYE", to_tag=call.dialog.id.local_tag, cseq=2))  # type: ignore[union-attr]
    codes = sorted((m.status_code, m.cseq.method) for m in phone.take() if isinstance(m, Response))
    assert codes == [(200, "BYE"), (487, "INVITE")]
    assert phone.events() == [CallEnded(call, EndReason.REMOTE_HANGUP, None)]


def test_commands_illegal_in_the_state_raise() -> None:
    phone = Phone()
    call = confirmed_incoming(phone)
    with pytest.raises(LocalProtocolError):
        call.answer(ANSWER, phone.now)
    with pytest.raises(LocalProtocolError):
        call.ring(phone.now)
    with pytest.raises(LocalProtocolError):
        call.accept_reoffer(ANSWER, phone.now)  # nothing was offered


def test_state_changes_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="phoneagent.sip.invite_session")
    phone = Phone()
    call, invite = phone.call_bob()
    phone.receive(answer(invite, 180))
    assert f"call {call.call_id}: calling -> early" in caplog.messages


# -- requests within the dialog ------------------------------------------------------------------


def test_reinvite_from_the_far_end_is_answered_and_refreshes_the_target() -> None:
    phone = Phone()
    call = confirmed_incoming(phone)
    tag = call.dialog.id.local_tag  # type: ignore[union-attr]
    phone.receive(
        bob_request("INVITE", to_tag=tag, cseq=2, body=OFFER, contact="<sip:bob@198.51.100.9>")
    )
    assert phone.events() == [ReofferReceived(call, "INVITE", OFFER)]
    assert call.reoffer(OFFER, phone.now) is False  # their offer is outstanding
    assert call.accept_reoffer(ANSWER, phone.now)
    ok = phone.take_one()
    assert isinstance(ok, Response) and (ok.status_code, str(ok.cseq)) == (200, "2 INVITE")
    assert ok.body == ANSWER and ok.contact == (ALICE_CONTACT,)
    assert str(call.dialog.remote_target) == "sip:bob@198.51.100.9"  # type: ignore[union-attr]
    phone.advance(2)
    assert [m.status_code for m in phone.take() if isinstance(m, Response)] == [200, 200]
    phone.receive(bob_request("ACK", to_tag=tag, cseq=2))
    assert phone.events() == [CallAcknowledged(call, None)]
    phone.advance(30)
    assert phone.take() == []


def test_reinvite_rejected_keeps_the_target() -> None:
    phone = Phone()
    call = confirmed_incoming(phone)
    tag = call.dialog.id.local_tag  # type: ignore[union-attr]
    phone.receive(bob_request("INVITE", to_tag=tag, cseq=2, body=OFFER, contact="<sip:x@1.2.3.4>"))
    phone.events()
    assert call.reject_reoffer(phone.now)
    [refused] = phone.take()
    assert isinstance(refused, Response) and refused.status_code == 488
    assert str(call.dialog.remote_target) == "sip:bob@192.0.2.20:5062"  # type: ignore[union-attr]
    assert call.state is CallState.CONFIRMED


def test_glare_491_both_ways() -> None:
    phone = Phone()
    call, invite = confirmed_outgoing(phone)
    assert call.reoffer(OFFER, phone.now)
    reinvite = phone.take_one()
    assert isinstance(reinvite, Request) and reinvite.method == "INVITE"
    assert str(reinvite.cseq) == "2 INVITE" and reinvite.to.tag == "bob1"
    assert reinvite.contact == (ALICE_CONTACT,) and reinvite.body == OFFER
    assert call.reoffer(OFFER, phone.now) is False  # one at a time (§14.1)
    # Bob's re-INVITE crosses ours: §14.2, 491.
    bobs = bob_request("INVITE", to_tag="tok1", call_id=invite.call_id, cseq=5, body=OFFER)
    phone.receive(bobs.replace(b"tag=bobtag", b"tag=bob1"))
    [glare] = phone.take()
    assert isinstance(glare, Response) and glare.status_code == 491
    assert phone.events() == []
    phone.receive(answer(reinvite, 491))
    # §14.1: we own the Call-ID, so 2.1-4 s (random() is 0.5 here).
    assert phone.events() == [ReofferRejected(call, 491, 3.05)]
    assert call.state is CallState.CONFIRMED
    [ack] = phone.take()  # the transaction layer's, for the 491
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert call.reoffer(OFFER, phone.now)  # free again
    second = phone.take_one()
    assert isinstance(second, Request) and str(second.cseq) == "3 INVITE"
    phone.receive(answer(second, 200, body=ANSWER, contact="<sip:bob@198.51.100.2>"))
    assert phone.events() == [ReofferAnswered(call, ANSWER)]
    ack = phone.take_one()
    assert isinstance(ack, Request) and str(ack.cseq) == "3 ACK"
    assert str(ack.uri) == "sip:bob@198.51.100.2"  # the 2xx refreshed the target


def test_second_offer_while_one_waits_gets_500_with_retry_after() -> None:
    phone = Phone()
    call = confirmed_incoming(phone)
    tag = call.dialog.id.local_tag  # type: ignore[union-attr]
    phone.receive(bob_request("INVITE", to_tag=tag, cseq=2, body=OFFER))
    phone.receive(bob_request("UPDATE", to_tag=tag, cseq=3, body=OFFER))
    [refused] = phone.take()
    assert isinstance(refused, Response) and refused.status_code == 500
    assert refused.headers.get("retry-after") == "5"
    assert phone.events() == [ReofferReceived(call, "INVITE", OFFER)]


def test_update_with_and_without_offer() -> None:
    phone = Phone()
    call = confirmed_incoming(phone)
    tag = call.dialog.id.local_tag  # type: ignore[union-attr]
    phone.receive(bob_request("UPDATE", to_tag=tag, cseq=2, body=OFFER))
    assert phone.events() == [ReofferReceived(call, "UPDATE", OFFER)]
    call.accept_reoffer(ANSWER, phone.now)
    ok = phone.take_one()
    assert isinstance(ok, Response) and (ok.status_code, str(ok.cseq)) == (200, "2 UPDATE")
    assert ok.body == ANSWER
    phone.advance(10)
    assert phone.take() == []  # not an INVITE: no retransmission, no ACK
    # Without a body, UPDATE only refreshes the target (RFC 3311 §5.2).
    phone.receive(bob_request("UPDATE", to_tag=tag, cseq=3, contact="<sip:bob@203.0.113.5>"))
    ok = phone.take_one()
    assert isinstance(ok, Response) and ok.status_code == 200 and ok.contact == (ALICE_CONTACT,)
    assert str(call.dialog.remote_target) == "sip:bob@203.0.113.5"  # type: ignore[union-attr]
    assert phone.events() == []


def test_update_during_setup_of_an_outgoing_call_is_glare() -> None:
    phone = Phone()
    call, invite = phone.call_bob()
    phone.receive(answer(invite, 180))
    update = bob_request("UPDATE", to_tag="tok1", call_id=invite.call_id, cseq=2, body=OFFER)
    phone.receive(update.replace(b"tag=bobtag", b"tag=bob1"))
    [refused] = phone.take()
    assert isinstance(refused, Response) and refused.status_code == 491
    assert call.state is CallState.EARLY


def test_info_dtmf_relay() -> None:
    phone = Phone()
    call = confirmed_incoming(phone)
    tag = call.dialog.id.local_tag  # type: ignore[union-attr]
    body = b"Signal=5\r\nDuration=160\r\n"
    phone.receive(
        bob_request("INFO", to_tag=tag, cseq=2, body=body, content_type="application/dtmf-relay")
    )
    ok = phone.take_one()
    assert isinstance(ok, Response) and ok.status_code == 200
    assert phone.events() == [InfoReceived(call, "application/dtmf-relay", body)]
    phone.receive(bob_request("INFO", to_tag=tag, cseq=3, body=b"hi", content_type="text/plain"))
    refused = phone.take_one()
    assert isinstance(refused, Response) and refused.status_code == 415
    assert refused.headers.get("accept") == "application/dtmf-relay, application/dtmf"
    phone.receive(bob_request("INFO", to_tag=tag, cseq=4))
    empty = phone.take_one()
    assert isinstance(empty, Response) and empty.status_code == 200
    assert phone.events() == []


def test_send_info() -> None:
    phone = Phone()
    call, _ = confirmed_outgoing(phone)
    assert call.send_info(b"Signal=#\r\nDuration=100\r\n", "application/dtmf-relay", phone.now)
    info = phone.take_one()
    assert isinstance(info, Request) and info.method == "INFO" and str(info.cseq) == "2 INFO"
    assert info.headers.get("content-type") == "application/dtmf-relay"
    phone.receive(answer(info, 481))
    assert phone.events() == [CallEnded(call, EndReason.FAILED, 481)]  # §12.2.1.2
    assert call.send_info(b"x", "text/plain", phone.now) is False


def test_options_and_unknown_methods_in_dialog() -> None:
    phone = Phone()
    call = confirmed_incoming(phone)
    tag = call.dialog.id.local_tag  # type: ignore[union-attr]
    phone.receive(bob_request("OPTIONS", to_tag=tag, cseq=2))
    ok = phone.take_one()
    assert isinstance(ok, Response) and ok.status_code == 200
    assert ok.headers.get("allow") == "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"
    phone.receive(bob_request("NOTIFY", to_tag=tag, cseq=3))
    refused = phone.take_one()
    assert isinstance(refused, Response) and refused.status_code == 501
    assert refused.headers.get("allow") == "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"
    assert call.state is CallState.CONFIRMED


def test_out_of_order_cseq_gets_500() -> None:
    phone = Phone()
    call = confirmed_incoming(phone)
    tag = call.dialog.id.local_tag  # type: ignore[union-attr]
    phone.receive(bob_request("INFO", to_tag=tag, cseq=7))
    phone.take()
    phone.receive(bob_request("INFO", to_tag=tag, cseq=6))
    refused = phone.take_one()
    assert isinstance(refused, Response) and refused.status_code == 500


# -- the manager ----------------------------------------------------------------------------------


def test_request_for_an_unknown_dialog_gets_481() -> None:
    phone = Phone()
    call = confirmed_incoming(phone)
    phone.receive(bob_request("BYE", to_tag="not-ours", cseq=2))
    refused = phone.take_one()
    assert isinstance(refused, Response) and refused.status_code == 481
    phone.receive(bob_request("INFO", to_tag="x", call_id="nobody@example.com"))
    refused = phone.take_one()
    assert isinstance(refused, Response) and refused.status_code == 481
    assert call.state is CallState.CONFIRMED
    assert phone.unhandled == []


def test_requests_outside_dialogs_are_left_to_the_ua() -> None:
    phone = Phone()
    phone.receive(bob_request("OPTIONS"))
    phone.receive(bob_request("MESSAGE", body=b"hi", content_type="text/plain"))
    assert [type(event).__name__ for event in phone.unhandled] == ["RequestReceived"] * 2
    assert phone.events() == []


@pytest.mark.parametrize(
    ("extra", "body", "content_type", "code", "header"),
    [
        (("Require: 100rel",), b"", SDP, 420, ("unsupported", "100rel")),
        ((), b"<xml/>", "application/xml", 415, ("accept", SDP)),
    ],
)
def test_invite_refused_before_a_call_is_made(
    extra: tuple[str, ...], body: bytes, content_type: str, code: int, header: tuple[str, str]
) -> None:
    phone = Phone()
    phone.receive(bob_request("INVITE", extra=extra, body=body, content_type=content_type))
    refused = phone.take_one()
    assert isinstance(refused, Response) and refused.status_code == code
    assert refused.headers.get(header[0]) == header[1]
    assert refused.to.tag is not None
    assert phone.events() == [] and phone.manager.calls == ()


def test_invite_without_contact_is_400() -> None:
    phone = Phone()
    phone.receive(bob_request("INVITE", contact=None))
    refused = phone.take_one()
    assert isinstance(refused, Response) and refused.status_code == 400


def test_too_many_calls_is_486() -> None:
    phone = Phone(CallSettings(max_calls=1))
    incoming(phone)
    phone.receive(bob_request("INVITE", call_id="second@192.0.2.20", body=OFFER))
    refused = phone.take_one()
    assert isinstance(refused, Response) and refused.status_code == 486
    assert len(phone.manager.calls) == 1


def test_ack_for_no_dialog_is_not_a_calls() -> None:
    phone = Phone()
    phone.receive(bob_request("ACK", to_tag="nobody"))
    assert [type(event).__name__ for event in phone.unhandled] == ["AckReceived"]


def test_events_name_their_call() -> None:
    phone = Phone()
    call, invite = phone.call_bob()
    phone.receive(answer(invite, 180))
    [event] = phone.events()
    assert isinstance(event.call, Call) and event.call is call
    assert phone.manager.calls == (call,)
    assert phone.manager.get_timer() is None  # the UAC keeps no timer of its own


# -- more paths ------------------------------------------------------------------------------------


def test_reinvite_to_an_outgoing_call_and_its_ack() -> None:
    phone = Phone()
    call, invite = confirmed_outgoing(phone)
    reinvite = bob_request("INVITE", to_tag="tok1", call_id=invite.call_id, cseq=1, body=OFFER)
    phone.receive(reinvite.replace(b"tag=bobtag", b"tag=bob1"))
    assert phone.events() == [ReofferReceived(call, "INVITE", OFFER)]
    call.accept_reoffer(ANSWER, phone.now)
    ok = phone.take_one()
    assert isinstance(ok, Response) and ok.status_code == 200 and ok.to.tag == "tok1"
    ack = bob_request("ACK", to_tag="tok1", call_id=invite.call_id, cseq=1)
    phone.receive(ack.replace(b"tag=bobtag", b"tag=bob1"))
    assert phone.events() == [CallAcknowledged(call, None)]
    phone.advance(40)
    assert phone.take() == []
    assert call.state is CallState.CONFIRMED


def test_reinvite_without_ack_ends_the_outgoing_call_too() -> None:
    phone = Phone()
    call, invite = confirmed_outgoing(phone)
    reinvite = bob_request("INVITE", to_tag="tok1", call_id=invite.call_id, cseq=1, body=OFFER)
    phone.receive(reinvite.replace(b"tag=bobtag", b"tag=bob1"))
    phone.events()
    call.accept_reoffer(ANSWER, phone.now)
    phone.advance(64 * T1)
    assert phone.events() == [CallEnded(call, EndReason.FAILED, 408)]
    assert [m.method for m in phone.take() if isinstance(m, Request)] == ["BYE"]


def test_offerless_reinvite_gets_our_offer_and_the_answer_in_the_ack() -> None:
    phone = Phone()
    call = confirmed_incoming(phone)
    tag = call.dialog.id.local_tag  # type: ignore[union-attr]
    phone.receive(bob_request("INVITE", to_tag=tag, cseq=2))
    assert phone.events() == [ReofferReceived(call, "INVITE", None)]
    call.accept_reoffer(OFFER, phone.now)
    phone.take()
    phone.receive(bob_request("ACK", to_tag=tag, cseq=2, body=ANSWER))
    assert phone.events() == [CallAcknowledged(call, ANSWER)]


def test_cancelled_reinvite_gets_487_and_the_late_answer_is_ignored() -> None:
    phone = Phone()
    call = confirmed_incoming(phone)
    tag = call.dialog.id.local_tag  # type: ignore[union-attr]
    branch = new_branch()
    phone.receive(bob_request("INVITE", to_tag=tag, cseq=2, body=OFFER, branch=branch))
    phone.events()
    phone.receive(bob_request("CANCEL", to_tag=tag, cseq=2, branch=branch, contact=None))
    codes = sorted((m.status_code, m.cseq.method) for m in phone.take() if isinstance(m, Response))
    assert codes == [(200, "CANCEL"), (487, "INVITE")]
    assert call.accept_reoffer(ANSWER, phone.now) is False
    assert phone.take() == []
    assert call.state is CallState.CONFIRMED


def test_reinvite_timeout_ends_the_call() -> None:
    phone = Phone()
    call, _ = confirmed_outgoing(phone)
    assert call.reoffer(OFFER, phone.now)
    phone.advance(64 * T1)
    assert phone.events() == [CallEnded(call, EndReason.FAILED, 408)]
    assert call.state is CallState.TERMINATED


def test_other_reinvite_failure_leaves_the_session() -> None:
    phone = Phone()
    call, _ = confirmed_outgoing(phone)
    call.reoffer(OFFER, phone.now)
    reinvite = phone.take_one()
    assert isinstance(reinvite, Request)
    phone.receive(answer(reinvite, 488))
    assert phone.events() == [ReofferRejected(call, 488, None)]
    assert call.state is CallState.CONFIRMED


def test_crossing_byes() -> None:
    phone = Phone()
    call, invite = confirmed_outgoing(phone)
    call.hangup(phone.now)
    bye = phone.take_one()
    assert phone.events() == [CallEnded(call, EndReason.LOCAL_HANGUP, None)]
    bobs = bob_request("BYE", to_tag="tok1", call_id=invite.call_id, cseq=1)
    phone.receive(bobs.replace(b"tag=bobtag", b"tag=bob1"))
    ok = phone.take_one()
    assert isinstance(ok, Response) and ok.status_code == 200
    assert phone.events() == []
    assert call.state is CallState.TERMINATING
    phone.receive(answer(bye, 481))  # type: ignore[arg-type]
    assert call.state is CallState.TERMINATED


def test_cancel_that_was_never_sent_does_not_keep_the_call() -> None:
    phone = Phone()
    call, invite = phone.call_bob()
    call.hangup(phone.now)  # the CANCEL waits for a provisional response
    phone.receive(answer(invite, 486))  # which never comes
    assert phone.events() == [CallEnded(call, EndReason.CANCELLED, 486)]
    phone.advance(40)
    assert phone.manager.calls == ()


def test_hangup_while_challenged() -> None:
    phone = Phone()
    call, invite = phone.call_bob()
    phone.receive(answer(invite, 401, headers=(("WWW-Authenticate", 'Digest realm="x"'),)))
    phone.events()
    call.hangup(phone.now)
    assert phone.events() == [CallEnded(call, EndReason.CANCELLED, None)]


def test_hangup_before_acknowledge_sends_ack_then_bye() -> None:
    phone = Phone()
    call, invite = phone.call_bob(sdp=None)
    phone.receive(answer(invite, 200, body=OFFER))
    phone.events()
    call.hangup(phone.now)
    assert [m.method for m in phone.take() if isinstance(m, Request)] == ["ACK", "BYE"]


def test_transport_failure_of_an_unanswered_incoming_call() -> None:
    phone = Phone()
    call, _ = incoming(phone)
    call.ring(phone.now)
    phone.take()
    phone.transactions.transport_error(PROXY, phone.now)
    phone.pump()
    assert phone.events() == [CallEnded(call, EndReason.FAILED, 503)]
    call.answer(ANSWER, phone.now)  # too late: ignored
    assert phone.take() == []


def test_route_request_picks_the_peer_of_requests_within_the_dialog() -> None:
    phone = Phone()
    elsewhere = Peer(Transport.TCP, "192.0.2.99", 5070)
    seen: list[tuple[str, Peer]] = []

    def route(request: Request, peer: Peer) -> Peer:
        seen.append((request.method, peer))
        return elsewhere

    phone.manager = CallManager(
        phone.transactions, contact=ALICE_CONTACT, make_via=phone.make_via, route_request=route
    )
    call, invite = phone.call_bob()
    phone.receive(answer(invite, 200, body=ANSWER))
    call.hangup(phone.now)
    phone.pump()
    assert [(m.method, d) for _, m, d in phone.sent if isinstance(m, Request)] == [
        ("ACK", elsewhere),
        ("BYE", elsewhere),
    ]
    assert seen == [("ACK", PROXY), ("BYE", PROXY)]
    bye = phone.sent[-1][1]
    assert isinstance(bye, Request) and bye.top_via.transport == "TCP"


def test_malformed_contact_in_a_response_is_dropped() -> None:
    phone = Phone()
    call, invite = phone.call_bob()
    broken = answer(invite, 180, contact=None, headers=(("Contact", "<sip:bob@[bad>"),))
    phone.receive(broken)
    assert phone.events() == []
    assert call.state is CallState.CALLING


def test_malformed_header_in_a_request_is_400() -> None:
    phone = Phone()
    call = confirmed_incoming(phone)
    tag = call.dialog.id.local_tag  # type: ignore[union-attr]
    phone.receive(bob_request("INFO", to_tag=tag, cseq=2, contact="<sip:bob@[bad>"))
    refused = phone.take_one()
    assert isinstance(refused, Response) and refused.status_code == 400
