"""Tests for phoneagent.sip.ua: the user agent core end to end against a fake registrar.

The registrar lives in this file: it parses what ``ua.actions()`` sends with
``parse_message``, answers with ``make_response`` (stamping the Via with
``received``/``rport`` as RFC 3581 §4 says a server does) and feeds the bytes
back through ``ua.receive_datagram``.  Time is a float the ``Phone`` harness
steps from one ``ua.get_timer()`` deadline to the next; nothing sleeps.
T1 is 50 ms, so Timer E starts at 0.05 s and Timer F fires after 3.2 s.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

import pytest

from phoneagent.sip import (
    KEEPALIVE_PING,
    AuthParameters,
    Request,
    Response,
    SipUri,
    make_response,
    parse_message,
)
from phoneagent.sip.auth import Credentials
from phoneagent.sip.registration import RegistrationState
from phoneagent.sip.stun import is_stun, make_binding_request, make_binding_response, parse_stun
from phoneagent.sip.transaction import TimerSettings
from phoneagent.sip.transport import Peer, Transport
from phoneagent.sip.ua import (
    ALLOWED_METHODS,
    KEEPALIVE_TIMEOUT,
    MessagesWaiting,
    RegistrationChanged,
    SendAction,
    TargetsNeeded,
    UserAgent,
    UserAgentEvent,
    UserAgentSettings,
)

T1 = 0.05
TIMER_F = 64 * T1
KEEPALIVE = 25.0
AOR = SipUri.parse("sip:alice@example.org")
REGISTRAR_URI = SipUri.parse("sip:example.org")
INSTANCE = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
USERNAME, PASSWORD, REALM = "alice", "secret", "example.org"

LOCAL_UDP = Peer(Transport.UDP, "192.0.2.10", 5060)
LOCAL_TCP = Peer(Transport.TCP, "192.0.2.10", 5060)
REGISTRAR_A = Peer(Transport.UDP, "192.0.2.1", 5060)
REGISTRAR_B = Peer(Transport.UDP, "192.0.2.2", 5060)
REGISTRAR_TCP = Peer(Transport.TCP, "192.0.2.1", 5060)
CALLER = Peer(Transport.UDP, "198.51.100.20", 5062)
PUBLIC = ("203.0.113.9", 40000)  # where a NAT maps the phone


@dataclass
class Sent:
    """One SIP request the phone sent, parsed, with where it went."""

    request: Request
    destination: Peer


class Phone:
    """A UserAgent on a fake clock, with everything it sends kept in ``outbox``."""

    def __init__(
        self,
        *,
        transport: Transport = Transport.UDP,
        local: Peer = LOCAL_UDP,
        targets: tuple[Peer, ...] = (REGISTRAR_A,),
        keepalive_interval: float = KEEPALIVE,
        expires: int = 600,
        t1: float = T1,
    ) -> None:
        counter = itertools.count()
        self.settings = UserAgentSettings(
            aor=AOR,
            registrar=REGISTRAR_URI,
            transport=transport,
            credentials=(Credentials(USERNAME, PASSWORD, REALM),),
            instance_id=INSTANCE,
            expires=expires,
            keepalive_interval=keepalive_interval,
            timers=TimerSettings(t1=t1),
        )
        self.ua = UserAgent(self.settings, local, make_token=lambda: f"t{next(counter)}")
        self.now = 0.0
        self.outbox: list[SendAction] = []
        self.events: list[UserAgentEvent] = []
        self.ua.set_targets(list(targets), self.now)
        self._collect()

    # -- plumbing ---------------------------------------------------------------------------

    def _collect(self) -> None:
        self.outbox += self.ua.actions()
        while (event := self.ua.next_event()) is not None:
            self.events.append(event)

    def start(self) -> None:
        self.ua.start(self.now)
        self._collect()

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass, firing every timer that falls due on the way."""
        end = self.now + seconds
        while (deadline := self.ua.get_timer()) is not None and deadline <= end:
            self.now = max(self.now, deadline)
            self.ua.handle_timer(self.now)
            self._collect()
        self.now = end

    def receive(self, data: bytes, source: Peer) -> None:
        self.ua.receive_datagram(data, source, self.now)
        self._collect()

    def take(self) -> list[SendAction]:
        taken, self.outbox = self.outbox, []
        return taken

    def take_events(self) -> list[UserAgentEvent]:
        taken, self.events = self.events, []
        return taken

    def take_requests(self, method: str = "REGISTER") -> list[Sent]:
        """The distinct ``method`` requests sent since the last take (retransmissions folded)."""
        found: dict[str, Sent] = {}
        for action in self.take():
            if is_stun(action.data) or action.data == KEEPALIVE_PING:
                continue
            message = parse_message(action.data)
            if isinstance(message, Request) and message.method == method:
                found.setdefault(message.top_via.branch or "", Sent(message, action.destination))
        return list(found.values())

    def take_request(self, method: str = "REGISTER") -> Sent:
        sent = self.take_requests(method)
        assert len(sent) == 1, sent
        return sent[0]

    # -- the fake registrar -----------------------------------------------------------------

    def reply(
        self,
        sent: Sent,
        status_code: int,
        headers: list[tuple[str, str]] | None = None,
        *,
        seen_from: tuple[str, int] | None = None,
        echo_contact: int | None = None,
    ) -> None:
        """Answer ``sent`` as its destination would; ``seen_from`` is the source it saw."""
        request = sent.request
        host, port = seen_from or (self.ua.local.host, self.ua.local.port)
        via = request.top_via
        if via.rport_requested:  # RFC 3581 §4: a server fills in rport and received
            via = via.with_parameter("received", host).with_parameter("rport", str(port))
        stamped = parse_message(bytes(request))
        assert isinstance(stamped, Request)
        stamped.headers.set("Via", str(via))
        extra = list(headers or [])
        if echo_contact is not None:
            extra.append(("Contact", f"{request.headers.get('contact')};expires={echo_contact}"))
        response = make_response(stamped, status_code, to_tag="reg", headers=extra)
        self.receive(bytes(response), sent.destination)

    def register(self, expires: int = 600) -> Sent:
        """Answer the pending REGISTER with a 200 granting ``expires``."""
        sent = self.take_request()
        self.reply(sent, 200, echo_contact=expires)
        return sent


def registered_phone(**options: object) -> Phone:
    """A phone the registrar accepted at time 0 for 600 s (keep-alives as ``options`` say)."""
    phone = Phone(**options)  # type: ignore[arg-type]
    phone.start()
    phone.register()
    assert phone.take_events() == [RegistrationChanged("registered", expires=600)]
    assert phone.ua.registration.state is RegistrationState.REGISTERED
    return phone


def challenge(nonce: str = "dcd98b7102dd2f0e", stale: bool = False) -> tuple[str, str]:
    stale_text = ", stale=true" if stale else ""
    return (
        "WWW-Authenticate",
        f'Digest realm="{REALM}", nonce="{nonce}", qop="auth", opaque="5ccc069c"{stale_text}',
    )


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def check_authorization(request: Request, nonce: str, nc: str) -> None:
    """Recompute the RFC 2617 qop=auth digest the registrar would expect."""
    (value,) = request.headers.get_all("authorization")
    credentials = AuthParameters.parse(value)
    assert credentials.is_digest
    assert credentials.get("username") == USERNAME
    assert credentials.realm == REALM
    assert credentials.nonce == nonce
    assert credentials.opaque == "5ccc069c"
    assert credentials.get("uri") == str(request.uri) == "sip:example.org"
    assert credentials.get("qop") == "auth"
    assert credentials.get("nc") == nc
    cnonce = credentials.get("cnonce")
    assert cnonce
    ha1 = md5(f"{USERNAME}:{REALM}:{PASSWORD}")
    ha2 = md5(f"REGISTER:{request.uri}")
    expected = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    assert credentials.get("response") == expected


def stun_requests(actions: list[SendAction]) -> list[SendAction]:
    return [action for action in actions if is_stun(action.data)]


def answer_stun(phone: Phone, action: SendAction, mapped: tuple[str, int]) -> None:
    request = parse_stun(action.data)
    assert request is not None and request.is_binding_request
    phone.receive(make_binding_response(request, mapped), action.destination)


# -- registration over UDP ----------------------------------------------------------------------


def test_udp_registration_answers_a_digest_challenge() -> None:
    phone = Phone()
    phone.start()
    first = phone.take_request()
    assert first.destination == REGISTRAR_A
    assert first.request.uri == REGISTRAR_URI
    via = first.request.top_via
    assert via.transport == "UDP" and via.rport_requested
    assert via.branch and via.branch.startswith("z9hG4bK")
    assert first.request.headers.get("authorization") is None
    (contact,) = first.request.contact
    assert contact.uri == SipUri.parse("sip:alice@192.0.2.10:5060")
    assert contact.parameter("+sip.instance") == f"<{INSTANCE}>"
    assert contact.parameter("reg-id") == "1"

    phone.reply(first, 401, [challenge()])
    assert phone.take_events() == []  # a challenge is no failure
    second = phone.take_request()
    assert second.destination == REGISTRAR_A
    check_authorization(second.request, "dcd98b7102dd2f0e", "00000001")
    assert second.request.cseq.number == first.request.cseq.number + 1  # §22.2
    assert second.request.top_via.branch != first.request.top_via.branch  # a new transaction
    assert second.request.call_id == first.request.call_id
    assert second.request.from_.tag == first.request.from_.tag
    assert len(second.request.via) == 1

    phone.reply(second, 200, echo_contact=3600)
    assert phone.take_events() == [RegistrationChanged("registered", expires=3600)]
    assert phone.ua.registration.state is RegistrationState.REGISTERED
    assert phone.ua.registration.get_timer() == pytest.approx(phone.now + 2880.0)


def test_rejected_credentials_fail_without_retry() -> None:
    phone = Phone()
    phone.start()
    phone.reply(phone.take_request(), 401, [challenge()])
    phone.reply(phone.take_request(), 401, [challenge(nonce="another")])  # not stale
    (event,) = phone.take_events()
    assert isinstance(event, RegistrationChanged)
    assert event.state == "failed" and event.code == 401 and event.retry_in is None
    assert phone.ua.registration.state is RegistrationState.FAILED
    phone.advance(3600.0)
    assert phone.take_requests() == []


def test_a_stale_nonce_is_answered_again() -> None:
    phone = Phone()
    phone.start()
    phone.reply(phone.take_request(), 401, [challenge()])
    phone.reply(phone.take_request(), 401, [challenge(nonce="fresh", stale=True)])
    third = phone.take_request()
    check_authorization(third.request, "fresh", "00000001")
    phone.reply(third, 200, echo_contact=600)
    assert phone.take_events() == [RegistrationChanged("registered", expires=600)]


def test_the_refresh_goes_out_before_expiry_with_the_same_call_id() -> None:
    phone = registered_phone(keepalive_interval=0.0)
    first_call_id = phone.ua.registration.call_id
    phone.advance(479.0)
    assert phone.take_requests() == []
    phone.advance(1.0)
    refresh = phone.take_request()
    assert refresh.request.call_id == first_call_id
    assert refresh.request.cseq.number == 2
    phone.reply(refresh, 200, echo_contact=600)
    assert phone.take_events() == [RegistrationChanged("registered", expires=600)]


def test_a_refresh_carries_the_credentials_of_the_realm_met_before() -> None:
    phone = Phone(keepalive_interval=0.0)
    phone.start()
    phone.reply(phone.take_request(), 401, [challenge()])
    phone.reply(phone.take_request(), 200, echo_contact=600)
    phone.advance(480.0)
    refresh = phone.take_request()
    check_authorization(refresh.request, "dcd98b7102dd2f0e", "00000002")


# -- the public address (RFC 3581) --------------------------------------------------------------


def test_same_received_and_rport_as_our_address_change_nothing() -> None:
    phone = registered_phone(keepalive_interval=0.0)
    phone.advance(480.0)
    phone.reply(phone.take_request(), 200, echo_contact=600)
    assert phone.ua.registration.contact == SipUri.parse("sip:alice@192.0.2.10:5060")
    assert phone.take_requests() == []


def test_the_address_seen_by_the_registrar_becomes_the_contact() -> None:
    phone = Phone(keepalive_interval=0.0)
    phone.start()
    phone.reply(phone.take_request(), 200, seen_from=PUBLIC, echo_contact=600)
    assert phone.ua.registration.contact == SipUri.parse("sip:alice@203.0.113.9:40000")
    public = phone.take_request()  # registered at once (see the next test) …
    phone.reply(public, 200, seen_from=PUBLIC, echo_contact=600)
    phone.advance(480.0)  # … and every refresh carries the public Contact
    refresh = phone.take_request()
    assert refresh.request.contact[0].uri == SipUri.parse("sip:alice@203.0.113.9:40000")


def test_a_learnt_public_address_is_registered_at_once() -> None:
    phone = Phone()
    phone.start()
    phone.reply(phone.take_request(), 200, seen_from=PUBLIC, echo_contact=300)
    follow_up = phone.take_request()
    assert follow_up.request.contact[0].uri == SipUri.parse("sip:alice@203.0.113.9:40000")


def test_received_and_rport_are_ignored_over_tcp() -> None:
    phone = Phone(transport=Transport.TCP, local=LOCAL_TCP, targets=(REGISTRAR_TCP,))
    phone.start()
    phone.reply(phone.take_request(), 200, seen_from=PUBLIC, echo_contact=600)
    assert phone.ua.registration.contact.host == "192.0.2.10"


# -- requests to the phone ----------------------------------------------------------------------


def incoming(method: str, *, cseq: str | None = None, rport: bool = True) -> bytes:
    lines = [
        f"{method} sip:alice@192.0.2.10:5060 SIP/2.0",
        "Via: SIP/2.0/UDP 198.51.100.20:5062;branch=z9hG4bKcaller1" + (";rport" if rport else ""),
        "Max-Forwards: 70",
        "To: <sip:alice@example.org>",
        "From: <sip:bob@example.net>;tag=bob1",
        "Call-ID: probe-1@198.51.100.20",
        f"CSeq: {cseq or f'1 {method}'}",
        "Accept: application/sdp",
        "Content-Length: 0",
        "",
        "",
    ]
    return "\r\n".join(lines).encode()


def single_response(phone: Phone) -> tuple[Response, Peer]:
    (action,) = phone.take()
    response = parse_message(action.data)
    assert isinstance(response, Response)
    return response, action.destination


def test_options_to_the_phone_is_answered_200_with_its_capabilities() -> None:
    phone = Phone()
    phone.receive(incoming("OPTIONS"), CALLER)
    response, destination = single_response(phone)
    assert response.status_code == 200
    assert destination == CALLER
    assert response.allow == (*ALLOWED_METHODS, "NOTIFY")
    assert response.headers.get("allow-events") == "message-summary"
    assert response.headers.get("accept") == "application/sdp"
    assert set(response.supported) == {"path", "outbound"}
    assert response.to.tag  # §8.2.6.2
    assert response.call_id == "probe-1@198.51.100.20"
    assert response.cseq.method == "OPTIONS"
    assert response.top_via.branch == "z9hG4bKcaller1"
    assert phone.take_events() == []


def test_a_retransmitted_options_gets_the_same_response_again() -> None:
    phone = Phone()
    phone.receive(incoming("OPTIONS"), CALLER)
    (first,) = phone.take()
    phone.receive(incoming("OPTIONS"), CALLER)
    (again,) = phone.take()
    assert again.data == first.data


@pytest.mark.parametrize("method", ["MESSAGE", "INFO", "SUBSCRIBE"])
def test_an_unknown_method_gets_501_with_allow(method: str) -> None:
    phone = Phone()
    phone.receive(incoming(method), CALLER)
    response, destination = single_response(phone)
    assert response.status_code == 501
    assert destination == CALLER
    assert response.allow == (*ALLOWED_METHODS, "NOTIFY")
    assert response.cseq.method == method


def test_a_malformed_request_gets_400_sent_back_to_its_source() -> None:
    phone = Phone()
    phone.receive(incoming("OPTIONS", cseq="one OPTIONS", rport=False), CALLER)
    (action,) = phone.take()
    assert action.destination == CALLER
    # the 400 echoes the broken CSeq as it came, so it is itself unparseable: read the text
    head = action.data.decode()
    assert head.startswith("SIP/2.0 400 ")
    assert "\r\nCSeq: one OPTIONS\r\n" in head
    assert "branch=z9hG4bKcaller1" in head
    assert "\r\nCall-ID: probe-1@198.51.100.20\r\n" in head
    assert phone.take_events() == []


def test_a_malformed_response_is_dropped_silently() -> None:
    phone = Phone()
    phone.start()
    sent = phone.take_request()
    good = make_response(sent.request, 200, to_tag="reg", headers=[("Expires", "600")])
    broken = bytes(good).replace(b"CSeq: 1 REGISTER", b"CSeq: x REGISTER")
    assert broken != bytes(good)
    phone.receive(broken, REGISTRAR_A)
    assert phone.take() == []
    assert phone.take_events() == []
    assert phone.ua.registration.state is RegistrationState.REGISTERING
    phone.receive(bytes(good), REGISTRAR_A)  # the transaction is still alive
    assert phone.take_events() == [RegistrationChanged("registered", expires=600)]


def test_garbage_and_a_stray_response_change_nothing() -> None:
    phone = registered_phone()
    phone.receive(b"\x00\x01 not sip at all", REGISTRAR_A)
    phone.receive(b"\r\n\r\n", REGISTRAR_A)  # a keep-alive over UDP
    stray = Sent(parse_message(incoming("OPTIONS")), REGISTRAR_A)  # type: ignore[arg-type]
    phone.reply(stray, 200)
    assert phone.take() == []
    assert phone.take_events() == []
    assert phone.ua.registration.state is RegistrationState.REGISTERED


def test_a_malformed_stun_datagram_is_dropped() -> None:
    phone = registered_phone()
    malformed = bytearray(make_binding_request(b"x" * 12))
    malformed[3] = 9  # a length that is no multiple of 4
    phone.receive(bytes(malformed), REGISTRAR_A)
    assert phone.take() == []


# -- keep-alives over UDP: STUN, then OPTIONS (RFC 5626 §4.4) -----------------------------------


def test_stun_keepalive_every_interval_while_registered() -> None:
    phone = registered_phone()
    registered_at = phone.now
    phone.advance(KEEPALIVE - 0.5)
    assert phone.take() == []
    phone.advance(0.5)
    (action,) = phone.take()
    assert is_stun(action.data) and action.destination == REGISTRAR_A
    assert phone.now == registered_at + KEEPALIVE
    answer_stun(phone, action, (LOCAL_UDP.host, LOCAL_UDP.port))
    assert phone.take() == []  # same address: nothing to do
    phone.advance(KEEPALIVE)
    (second,) = phone.take()
    assert is_stun(second.data)
    assert parse_stun(second.data).transaction_id != parse_stun(action.data).transaction_id  # type: ignore[union-attr]
    answer_stun(phone, second, (LOCAL_UDP.host, LOCAL_UDP.port))
    phone.advance(KEEPALIVE)
    assert len(stun_requests(phone.take())) == 1  # still STUN
    assert phone.take_events() == []


def test_no_keepalives_when_the_interval_is_zero() -> None:
    phone = registered_phone(keepalive_interval=0.0)
    phone.advance(470.0)
    assert phone.take() == []


def test_a_stun_answer_with_a_new_mapped_address_re_registers_with_it() -> None:
    phone = registered_phone()
    phone.advance(KEEPALIVE)
    (action,) = phone.take()
    answer_stun(phone, action, PUBLIC)
    assert phone.ua.registration.contact == SipUri.parse("sip:alice@203.0.113.9:40000")
    sent = phone.take_request()
    assert sent.request.contact[0].uri == SipUri.parse("sip:alice@203.0.113.9:40000")
    assert sent.destination == REGISTRAR_A
    phone.reply(sent, 200, seen_from=PUBLIC, echo_contact=600)
    assert phone.take_events() == [RegistrationChanged("registered", expires=600)]
    assert phone.take_requests() == []


def test_a_stun_answer_with_a_wrong_transaction_id_is_ignored() -> None:
    phone = registered_phone()
    phone.advance(KEEPALIVE)
    assert len(stun_requests(phone.take())) == 1
    request = parse_stun(make_binding_request(b"y" * 12))
    assert request is not None
    phone.receive(make_binding_response(request, PUBLIC), REGISTRAR_A)
    assert phone.ua.registration.contact.host == "192.0.2.10"
    assert phone.take() == []


def test_two_unanswered_stun_requests_switch_to_options_pings() -> None:
    phone = registered_phone()
    phone.advance(KEEPALIVE)
    assert len(stun_requests(phone.take())) == 1
    phone.advance(KEEPALIVE_TIMEOUT + KEEPALIVE)  # unanswered; the second one goes out
    assert len(stun_requests(phone.take())) == 1
    phone.advance(KEEPALIVE_TIMEOUT)  # unanswered too: no re-REGISTER for that
    assert phone.take() == []
    assert phone.ua.registration.state is RegistrationState.REGISTERED
    phone.advance(KEEPALIVE)
    ping = phone.take_request("OPTIONS")
    assert ping.destination == REGISTRAR_A
    assert ping.request.uri == REGISTRAR_URI
    assert ping.request.top_via.rport_requested
    phone.reply(ping, 200)
    phone.advance(KEEPALIVE)
    assert len(phone.take_requests("OPTIONS")) == 1  # OPTIONS from now on
    assert phone.take_events() == []


def options_mode_phone() -> Phone:
    phone = registered_phone()
    phone.advance(2 * (KEEPALIVE + KEEPALIVE_TIMEOUT))
    phone.take()
    return phone


def test_an_options_ping_that_times_out_registers_again() -> None:
    phone = options_mode_phone()
    phone.advance(KEEPALIVE)
    phone.take_request("OPTIONS")  # never answered; retransmitted until Timer F
    phone.advance(TIMER_F)
    sent = phone.take_requests()
    assert len(sent) == 1
    assert sent[0].destination == REGISTRAR_A
    assert phone.ua.registration.state is RegistrationState.REGISTERING
    phone.reply(sent[0], 200, echo_contact=600)
    assert phone.take_events() == [RegistrationChanged("registered", expires=600)]


def test_any_final_answer_to_an_options_ping_keeps_the_flow() -> None:
    phone = options_mode_phone()
    phone.advance(KEEPALIVE)
    phone.reply(phone.take_request("OPTIONS"), 405)
    phone.advance(KEEPALIVE_TIMEOUT)
    assert phone.take_requests() == []
    assert phone.ua.registration.state is RegistrationState.REGISTERED


def test_one_lost_options_ping_re_registers_once() -> None:
    phone = registered_phone(t1=0.5)
    phone.advance(2 * (KEEPALIVE + KEEPALIVE_TIMEOUT))
    phone.take()
    phone.advance(KEEPALIVE)
    phone.take_request("OPTIONS")  # lost
    phone.advance(KEEPALIVE_TIMEOUT)
    phone.reply(phone.take_request(), 200, echo_contact=600)  # the flow is fine again
    assert phone.take_events() == [RegistrationChanged("registered", expires=600)]
    phone.advance(32.0)  # the lost ping's Timer F
    assert phone.take_requests() == []


def test_stun_that_worked_and_stops_being_answered_registers_again() -> None:
    phone = registered_phone()
    phone.advance(KEEPALIVE)
    (action,) = phone.take()
    answer_stun(phone, action, (LOCAL_UDP.host, LOCAL_UDP.port))
    phone.advance(2 * (KEEPALIVE + KEEPALIVE_TIMEOUT))
    assert phone.take_requests() != []


# -- keep-alives over TCP: CRLF ping and pong (RFC 5626 §4.4.1) ---------------------------------


def tcp_phone() -> Phone:
    phone = Phone(transport=Transport.TCP, local=LOCAL_TCP, targets=(REGISTRAR_TCP,))
    phone.start()
    first = phone.take_request()
    assert first.destination == REGISTRAR_TCP
    assert first.request.top_via.transport == "TCP"
    contact = first.request.contact[0].uri
    assert isinstance(contact, SipUri) and contact.parameter("transport") == "tcp"
    phone.reply(first, 200, echo_contact=600)
    assert phone.take_events() == [RegistrationChanged("registered", expires=600)]
    return phone


def test_tcp_register_is_not_retransmitted() -> None:
    phone = Phone(transport=Transport.TCP, local=LOCAL_TCP, targets=(REGISTRAR_TCP,))
    phone.start()
    phone.advance(TIMER_F - 0.01)
    assert len(phone.take()) == 1


def test_tcp_crlf_ping_every_interval_while_pongs_come() -> None:
    phone = tcp_phone()
    phone.advance(KEEPALIVE)
    for _ in range(3):
        (action,) = phone.take()
        assert action.data == KEEPALIVE_PING and action.destination == REGISTRAR_TCP
        phone.advance(1.0)
        phone.ua.keepalive_pong(REGISTRAR_TCP, phone.now)
        phone.advance(KEEPALIVE - 0.5)  # the next ping is due an interval after the pong
        assert phone.take() == []
        phone.advance(0.5)
    assert phone.take_events() == []
    assert phone.ua.registration.state is RegistrationState.REGISTERED


def test_tcp_pong_from_another_peer_does_not_count() -> None:
    phone = tcp_phone()
    phone.advance(KEEPALIVE)
    phone.take()
    phone.ua.keepalive_pong(Peer(Transport.TCP, "192.0.2.99", 5060), phone.now)
    phone.advance(KEEPALIVE_TIMEOUT)
    assert len(phone.take_requests()) == 1


def test_tcp_no_pong_within_10_s_registers_again() -> None:
    phone = tcp_phone()
    phone.advance(KEEPALIVE)
    assert phone.take()[0].data == KEEPALIVE_PING
    phone.advance(KEEPALIVE_TIMEOUT - 0.5)
    assert phone.take() == []
    phone.advance(0.5)
    sent = phone.take_request()
    assert sent.destination == REGISTRAR_TCP
    assert phone.ua.registration.state is RegistrationState.REGISTERING


def test_connection_lost_registers_again_at_once() -> None:
    phone = tcp_phone()
    phone.advance(3.0)
    phone.ua.connection_lost(REGISTRAR_TCP, phone.now)
    phone._collect()
    sent = phone.take_request()
    assert sent.destination == REGISTRAR_TCP
    assert sent.request.cseq.number == 2


def test_losing_a_connection_to_someone_else_changes_nothing() -> None:
    phone = tcp_phone()
    phone.ua.connection_lost(Peer(Transport.TCP, "198.51.100.20", 5060), phone.now)
    phone._collect()
    assert phone.take() == []


# -- failover over the RFC 3263 target list -----------------------------------------------------


def test_a_silent_target_is_left_after_timer_f_for_the_next() -> None:
    phone = Phone(targets=(REGISTRAR_A, REGISTRAR_B))
    phone.start()
    phone.advance(TIMER_F - 0.001)
    to_a = phone.take()
    assert len(to_a) > 3  # Timer E retransmissions
    assert {action.destination for action in to_a} == {REGISTRAR_A}
    assert phone.take_events() == []
    phone.advance(0.001)
    (event,) = phone.take_events()
    assert isinstance(event, RegistrationChanged)
    assert event.state == "failed" and event.code == 408
    assert event.retry_in is not None and 1.0 <= event.retry_in <= 2.0
    assert phone.ua.target == REGISTRAR_B
    phone.advance(event.retry_in)
    sent = phone.take_request()
    assert sent.destination == REGISTRAR_B
    phone.reply(sent, 200, echo_contact=600)
    assert phone.take_events() == [RegistrationChanged("registered", expires=600)]


def test_a_503_from_the_last_target_asks_for_new_targets() -> None:
    phone = Phone(targets=(REGISTRAR_A, REGISTRAR_B))
    phone.start()
    phone.advance(TIMER_F)
    phone.take()
    phone.take_events()
    phone.advance(2.0)
    sent = phone.take_request()
    assert sent.destination == REGISTRAR_B
    phone.reply(sent, 503, [("Retry-After", "30")])
    events = phone.take_events()
    assert TargetsNeeded() in events
    (failed,) = [event for event in events if isinstance(event, RegistrationChanged)]
    assert failed.state == "failed" and failed.code == 503 and failed.retry_in == 30.0
    assert phone.ua.target == REGISTRAR_A  # round again from the top


def test_a_503_moves_to_the_next_target() -> None:
    phone = Phone(targets=(REGISTRAR_A, REGISTRAR_B))
    phone.start()
    phone.reply(phone.take_request(), 503)
    events = phone.take_events()
    assert TargetsNeeded() not in events
    assert phone.ua.target == REGISTRAR_B


def test_other_failures_stay_with_the_target() -> None:
    phone = Phone(targets=(REGISTRAR_A, REGISTRAR_B))
    phone.start()
    phone.reply(phone.take_request(), 500)
    assert phone.ua.target == REGISTRAR_A


def test_no_targets_at_all_asks_for_them() -> None:
    phone = Phone(targets=())
    phone.start()
    assert phone.take() == []
    events = phone.take_events()
    assert TargetsNeeded() in events
    assert any(isinstance(e, RegistrationChanged) and e.code == 503 for e in events)
    phone.ua.set_targets([REGISTRAR_B], phone.now)
    phone.advance(2.0)  # the retry goes to the new target
    assert phone.take_request().destination == REGISTRAR_B


def test_transport_error_fails_the_register_and_retries() -> None:
    phone = Phone(targets=(REGISTRAR_A, REGISTRAR_B))
    phone.start()
    phone.take()
    phone.ua.transport_error(REGISTRAR_A, phone.now)
    phone._collect()
    (event,) = phone.take_events()
    assert isinstance(event, RegistrationChanged)
    assert event.state == "failed" and event.code == 503 and event.retry_in is not None
    assert phone.ua.registration.state is RegistrationState.WAITING_RETRY
    phone.advance(event.retry_in)
    assert phone.take_request().destination == REGISTRAR_B


# -- stop ---------------------------------------------------------------------------------------


def test_stop_unregisters_and_is_stopped_after_the_200() -> None:
    phone = registered_phone()
    phone.advance(10.0)
    phone.ua.stop(phone.now)
    phone._collect()
    assert not phone.ua.is_stopped
    sent = phone.take_request()
    assert sent.request.expires == 0
    assert sent.request.contact[0].uri == SipUri.parse("sip:alice@192.0.2.10:5060")
    assert sent.destination == REGISTRAR_A
    phone.reply(sent, 200)
    assert phone.ua.is_stopped
    assert phone.take_events() == [RegistrationChanged("unregistered")]
    phone.advance(3600.0)  # no keep-alives, no refresh
    assert [a for a in phone.take() if is_stun(a.data) or b"REGISTER" in a.data] == []


def test_stop_is_done_even_when_the_registrar_never_answers() -> None:
    phone = registered_phone()
    phone.ua.stop(phone.now)
    phone._collect()
    phone.advance(TIMER_F)
    assert phone.ua.is_stopped
    assert RegistrationChanged("unregistered") in phone.take_events()


def test_stop_before_registering_is_done_at_once() -> None:
    phone = Phone()
    phone.ua.stop(phone.now)
    phone._collect()
    assert phone.ua.is_stopped
    assert phone.take() == []


def test_connection_lost_while_stopping_does_not_register_again() -> None:
    phone = tcp_phone()
    phone.ua.stop(phone.now)
    phone._collect()
    phone.take()
    phone.ua.connection_lost(REGISTRAR_TCP, phone.now)
    phone._collect()
    assert phone.take() == []


@pytest.mark.parametrize(
    ("tag", "code"),
    [("unkscm", 416), ("novelsc", 416), ("bext01", 420)],
)
def test_rfc4475_requests_an_endpoint_refuses(tag: str, code: int) -> None:
    from tests.helpers import corpus_file

    phone = Phone()
    phone.receive(corpus_file("rfc4475", f"{tag}.dat").read_bytes(), CALLER)
    response, destination = single_response(phone)
    assert response.status_code == code
    # §18.2.2 without rport: the source address at the Via's port, never the Via's host name
    assert destination.host == CALLER.host
    if code == 420:
        assert response.unsupported == ("nothingSupportsThis", "nothingSupportsThisEither")


def notify(event: str | None, body: bytes, content_type: str | None) -> bytes:
    lines = incoming("NOTIFY").decode().split("\r\n")[:-3]
    if event is not None:
        lines.append(f"Event: {event}")
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode() + body


def test_an_unsolicited_message_summary_lights_the_message_waiting_event() -> None:
    """RFC 3842 as PBXs send it to a registered phone: 200, and the summary reported."""
    phone = Phone()
    body = b"Messages-Waiting: yes\r\nVoice-Message: 2/8 (0/2)\r\n"
    phone.receive(notify("message-summary", body, "application/simple-message-summary"), CALLER)
    response, _ = single_response(phone)
    assert response.status_code == 200
    (event,) = phone.take_events()
    assert isinstance(event, MessagesWaiting)
    assert event.summary.waiting and event.summary.new_voice == 2


@pytest.mark.parametrize(
    ("event", "body", "content_type", "status"),
    [
        ("presence", b"", None, 489),  # RFC 6665 §8.3.2: an event package we do not take
        (None, b"", None, 489),
        ("message-summary", b"Messages-Waiting: yes", "text/plain", 415),
        ("message-summary", b"Voice-Message: 1/0", "application/simple-message-summary", 400),
    ],
)
def test_other_notifies_are_refused(
    event: str | None, body: bytes, content_type: str | None, status: int
) -> None:
    phone = Phone()
    phone.receive(notify(event, body, content_type), CALLER)
    response, _ = single_response(phone)
    assert response.status_code == status
    assert phone.take_events() == []
