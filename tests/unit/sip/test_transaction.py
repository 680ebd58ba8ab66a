"""Tests for phoneagent.sip.transaction: RFC 3261 §17 with RFC 6026, §8.2.2.2, §9.1, §18.1.1.

Every test drives a ``TransactionLayer`` with a fake clock: time is a number
passed in, timers are stepped by calling ``handle_timer(get_timer())``.
Messages are built as bytes and parsed, responses with ``make_response``.
"""

from __future__ import annotations

import logging

import pytest

from phoneagent.sip import Request, Response, make_response, parse_message
from phoneagent.sip.errors import LocalProtocolError
from phoneagent.sip.transaction import (
    AckReceived,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TimerSettings,
    TransactionEvent,
    TransactionKey,
    TransactionLayer,
    TransactionTerminated,
    TransactionTimedOut,
    TransportFailed,
    new_branch,
)
from phoneagent.sip.transaction_client import (
    ClientInput,
    ClientState,
    ClientTransaction,
)
from phoneagent.sip.transaction_server import ServerState
from phoneagent.sip.transport import Outgoing, Peer, Transport
from tests.helpers import corpus_file

PROXY_UDP = Peer(Transport.UDP, "192.0.2.1", 5060)
PROXY_TCP = Peer(Transport.TCP, "192.0.2.1", 5060)
OTHER_UDP = Peer(Transport.UDP, "192.0.2.2", 5060)
CALLER_UDP = Peer(Transport.UDP, "192.0.2.10", 5060)
CALLER_TCP = Peer(Transport.TCP, "192.0.2.10", 49152)

INVITE_BRANCH = "z9hG4bK776asdhds"


def request(
    method: str = "INVITE",
    *,
    branch: str = INVITE_BRANCH,
    transport: str = "UDP",
    sent_by: str = "192.0.2.10:5060",
    via_parameters: str = "",
    to_tag: str | None = None,
    from_tag: str = "1928301774",
    call_id: str = "a84b4c76e66710@192.0.2.10",
    cseq: int = 314159,
    cseq_method: str | None = None,
    routes: tuple[str, ...] = (),
    body: bytes = b"",
) -> Request:
    """A request parsed from bytes, shaped like RFC 3261 §24.2's INVITE."""
    to = "Bob <sip:bob@biloxi.example.com>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} sip:bob@biloxi.example.com SIP/2.0",
        f"Via: SIP/2.0/{transport} {sent_by};branch={branch}{via_parameters}",
        *(f"Route: {route}" for route in routes),
        "Max-Forwards: 70",
        f"To: {to}",
        f"From: Alice <sip:alice@atlanta.example.com>;tag={from_tag}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        "Contact: <sip:alice@192.0.2.10>",
        f"Content-Length: {len(body)}",
        "",
        "",
    ]
    message = parse_message("\r\n".join(lines).encode() + body)
    assert isinstance(message, Request)
    return message


def response_to(request: Request, status_code: int, to_tag: str | None = "a6c85cf") -> Response:
    """The response a peer would send, through bytes and the parser."""
    message = parse_message(bytes(make_response(request, status_code, to_tag=to_tag)))
    assert isinstance(message, Response)
    return message


def ack_for(request: Request, response: Response) -> Request:
    """The ACK a peer sends for a non-2xx final (§17.1.1.3): same branch, response's To."""
    lines = [
        f"ACK {request.uri} SIP/2.0",
        f"Via: {request.headers.get_all('via')[0]}",
        "Max-Forwards: 70",
        f"To: {response.headers.get('to')}",
        f"From: {request.headers.get('from')}",
        f"Call-ID: {request.call_id}",
        f"CSeq: {request.cseq.number} ACK",
        "Content-Length: 0",
        "",
        "",
    ]
    message = parse_message("\r\n".join(lines).encode())
    assert isinstance(message, Request)
    return message


def drain_events(layer: TransactionLayer) -> list[TransactionEvent]:
    events = []
    while (event := layer.next_event()) is not None:
        events.append(event)
    return events


def event_types(layer: TransactionLayer) -> list[type[TransactionEvent]]:
    return [type(event) for event in drain_events(layer)]


def labels(outgoing: list[Outgoing]) -> list[str]:
    """``INVITE`` / ``486`` for each message sent."""
    return [
        message.method if isinstance(message, Request) else str(message.status_code)
        for message in (item.message for item in outgoing)
    ]


def run_timers(layer: TransactionLayer, until: float) -> list[tuple[float, Outgoing]]:
    """Step the fake clock from deadline to deadline up to ``until``; what was sent, when."""
    sent: list[tuple[float, Outgoing]] = []
    while (deadline := layer.get_timer()) is not None and deadline <= until:
        layer.handle_timer(deadline)
        sent.extend((deadline, outgoing) for outgoing in layer.messages_to_send())
    return sent


def started(
    message: Request, destination: Peer = PROXY_UDP, settings: TimerSettings | None = None
) -> tuple[TransactionLayer, TransactionKey]:
    """A layer that has just sent ``message`` at time 0 (the send drained)."""
    layer = TransactionLayer(settings)
    key = layer.send_request(message, destination, 0.0)
    assert labels(layer.messages_to_send()) == [message.method]
    return layer, key


def received(
    message: Request, source: Peer = CALLER_UDP
) -> tuple[TransactionLayer, RequestReceived]:
    """A layer that has just received ``message`` at time 0."""
    layer = TransactionLayer()
    layer.receive(message, source, 0.0)
    events = drain_events(layer)
    assert len(events) == 1 and isinstance(events[0], RequestReceived)
    return layer, events[0]


# -- TimerSettings --------------------------------------------------------------------------


def test_timer_defaults_follow_rfc3261_table_4_and_rfc6026() -> None:
    timers = TimerSettings()
    assert (timers.t1, timers.t2, timers.t4, timers.trying_delay) == (0.5, 4.0, 5.0, 0.2)
    assert (timers.timer_a, timers.timer_e, timers.timer_g) == (0.5, 0.5, 0.5)
    assert (timers.timer_b, timers.timer_f, timers.timer_h) == (32.0, 32.0, 32.0)
    assert (timers.timer_l, timers.timer_m) == (32.0, 32.0)
    udp, tcp, tls = Transport.UDP, Transport.TCP, Transport.TLS
    assert [timers.timer_d(t) for t in (udp, tcp, tls)] == [32.0, 0.0, 0.0]
    assert [timers.timer_i(t) for t in (udp, tcp, tls)] == [5.0, 0.0, 0.0]
    assert [timers.timer_j(t) for t in (udp, tcp, tls)] == [32.0, 0.0, 0.0]
    assert [timers.timer_k(t) for t in (udp, tcp, tls)] == [5.0, 0.0, 0.0]


def test_timers_scale_with_t1_and_timer_d_keeps_its_32_second_floor() -> None:
    small = TimerSettings(t1=0.1, t2=0.4, t4=0.5)
    assert small.timer_b == pytest.approx(6.4)
    assert small.timer_j(Transport.UDP) == pytest.approx(6.4)
    assert small.timer_d(Transport.UDP) == 32.0
    assert TimerSettings(t1=1.0).timer_d(Transport.UDP) == 64.0


@pytest.mark.parametrize(
    "settings",
    [{"t1": 0.0}, {"t1": 5.0, "t2": 4.0}, {"t4": -1.0}, {"trying_delay": -0.1}],
)
def test_inconsistent_timer_settings_are_rejected(settings: dict[str, float]) -> None:
    with pytest.raises(LocalProtocolError):
        TimerSettings(**settings)


# -- INVITE client transaction --------------------------------------------------------------


def test_timer_a_doubles_without_cap_until_timer_b() -> None:
    invite = request()
    layer, key = started(invite)
    assert layer.transaction_state(key) is ClientState.CALLING
    assert layer.get_timer() == 0.5
    sent = run_timers(layer, until=31.9)
    times = [at for at, _ in sent]
    assert times == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert [b - a for a, b in zip([0.0, *times], times, strict=False)] == [0.5, 1, 2, 4, 8, 16]
    assert all(outgoing.destination == PROXY_UDP for _, outgoing in sent)
    assert drain_events(layer) == []
    assert layer.get_timer() == 32.0  # timer B = 64*T1 comes before the next A (63.5)
    layer.handle_timer(32.0)
    assert all(outgoing.message is invite for _, outgoing in sent)
    assert drain_events(layer) == [TransactionTimedOut(key, invite), TransactionTerminated(key)]
    assert layer.messages_to_send() == []
    assert layer.get_timer() is None
    assert layer.transaction_state(key) is None


def test_invite_over_tcp_is_not_retransmitted_but_times_out() -> None:
    invite = request(transport="TCP")
    layer, key = started(invite, PROXY_TCP)
    assert layer.get_timer() == 32.0
    assert run_timers(layer, until=40.0) == []
    assert drain_events(layer) == [TransactionTimedOut(key, invite), TransactionTerminated(key)]


def test_shrunk_timers_apply_to_the_whole_transaction() -> None:
    layer, _ = started(request(), settings=TimerSettings(t1=0.1, t2=0.4, t4=0.5))
    times = [at for at, _ in run_timers(layer, until=6.0)]
    assert times == pytest.approx([0.1, 0.3, 0.7, 1.5, 3.1])
    layer.handle_timer(6.4)
    assert event_types(layer) == [TransactionTimedOut, TransactionTerminated]


def test_provisional_response_stops_timers_a_and_b() -> None:
    invite = request()
    layer, key = started(invite)
    ringing = response_to(invite, 180)
    layer.receive(ringing, PROXY_UDP, 0.2)
    assert drain_events(layer) == [ResponseReceived(key, invite, ringing)]
    assert layer.transaction_state(key) is ClientState.PROCEEDING
    assert layer.get_timer() is None  # §17.1.1.2: no retransmission, no timer B in Proceeding
    layer.receive(response_to(invite, 183), PROXY_UDP, 1.0)
    assert event_types(layer) == [ResponseReceived]


def test_non_2xx_final_is_acknowledged_with_the_headers_of_17_1_1_3() -> None:
    routes = ("<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>")
    invite = request(routes=routes)
    layer, key = started(invite)
    trying = response_to(invite, 100, to_tag=None)
    layer.receive(trying, PROXY_UDP, 0.1)
    busy = response_to(invite, 486)
    layer.receive(busy, PROXY_UDP, 1.0)
    assert drain_events(layer) == [
        ResponseReceived(key, invite, trying),
        ResponseReceived(key, invite, busy),
    ]
    sent = layer.messages_to_send()
    assert len(sent) == 1 and sent[0].destination == PROXY_UDP
    ack = sent[0].message
    assert isinstance(ack, Request)
    assert ack.method == "ACK"
    assert str(ack.uri) == str(invite.uri)
    assert ack.headers.get_all("via") == [f"SIP/2.0/UDP 192.0.2.10:5060;branch={INVITE_BRANCH}"]
    assert ack.headers.get_all("route") == list(routes)
    assert ack.headers.get("from") == invite.headers.get("from")
    assert ack.headers.get("to") == busy.headers.get("to")
    assert ack.to.tag == "a6c85cf"
    assert ack.headers.get("call-id") == invite.headers.get("call-id")
    assert ack.headers.get("cseq") == "314159 ACK"
    assert ack.headers.get("max-forwards") == "70"
    assert ack.body == b""
    # The ACK parses back exactly as sent.
    assert bytes(parse_message(bytes(ack))) == bytes(ack)
    assert layer.transaction_state(key) is ClientState.COMPLETED


def test_completed_resends_the_ack_for_each_retransmitted_final_until_timer_d() -> None:
    invite = request()
    layer, key = started(invite)
    busy = response_to(invite, 486)
    layer.receive(busy, PROXY_UDP, 1.0)
    assert [type(e) for e in drain_events(layer)] == [ResponseReceived]
    first_ack = layer.messages_to_send()[0].message
    layer.receive(response_to(invite, 486), PROXY_UDP, 2.0)
    layer.receive(response_to(invite, 180), PROXY_UDP, 2.5)  # late provisional: discarded
    resent = layer.messages_to_send()
    assert [o.message for o in resent] == [first_ack]
    assert drain_events(layer) == []  # retransmissions are absorbed
    assert layer.get_timer() == 33.0  # timer D: 32 s after entering Completed
    layer.handle_timer(33.0)
    assert drain_events(layer) == [TransactionTerminated(key)]


def test_non_2xx_final_over_tcp_terminates_at_once() -> None:
    invite = request(transport="TCP")
    layer, key = started(invite, PROXY_TCP)
    busy = response_to(invite, 603)
    layer.receive(busy, PROXY_TCP, 1.0)
    assert drain_events(layer) == [ResponseReceived(key, invite, busy), TransactionTerminated(key)]
    assert labels(layer.messages_to_send()) == ["ACK"]
    assert layer.get_timer() is None


def test_2xx_enters_accepted_and_every_2xx_goes_up_until_timer_m() -> None:
    invite = request()
    layer, key = started(invite)
    ok = response_to(invite, 200)
    layer.receive(ok, PROXY_UDP, 1.0)
    assert drain_events(layer) == [ResponseReceived(key, invite, ok)]
    assert layer.transaction_state(key) is ClientState.ACCEPTED
    assert layer.messages_to_send() == []  # the ACK for a 2xx is the TU's (§13.2.2.4)
    assert layer.get_timer() == 33.0  # timer M = 64*T1
    retransmitted = response_to(invite, 200)
    forked = response_to(invite, 200, to_tag="other-fork")
    layer.receive(retransmitted, PROXY_UDP, 1.5)
    layer.receive(forked, PROXY_UDP, 2.0)
    layer.receive(response_to(invite, 180), PROXY_UDP, 2.1)  # discarded in Accepted
    layer.receive(response_to(invite, 486), PROXY_UDP, 2.2)  # discarded in Accepted
    assert drain_events(layer) == [
        ResponseReceived(key, invite, retransmitted),
        ResponseReceived(key, invite, forked),
    ]
    assert layer.messages_to_send() == []
    layer.handle_timer(33.0)
    assert drain_events(layer) == [TransactionTerminated(key)]  # no timeout: it succeeded
    late = response_to(invite, 200)
    layer.receive(late, PROXY_UDP, 40.0)
    assert drain_events(layer) == [StrayResponse(late, PROXY_UDP)]


def test_responses_matching_no_client_transaction_are_stray() -> None:
    invite = request()
    layer, _ = started(invite)
    unknown_branch = response_to(request(branch="z9hG4bKnothing"), 200)
    other_method = response_to(request("BYE", cseq=314159), 200)  # same branch, CSeq BYE
    for response in (unknown_branch, other_method):
        layer.receive(response, PROXY_UDP, 0.1)
    assert drain_events(layer) == [
        StrayResponse(unknown_branch, PROXY_UDP),
        StrayResponse(other_method, PROXY_UDP),
    ]
    assert layer.get_timer() == 0.5  # the INVITE is untouched


# -- non-INVITE client transaction ----------------------------------------------------------


def test_timer_e_doubles_up_to_t2_until_timer_f() -> None:
    register = request("REGISTER", branch="z9hG4bKreg1")
    layer, key = started(register)
    times = [at for at, _ in run_timers(layer, until=31.9)]
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    layer.handle_timer(32.0)
    assert drain_events(layer) == [
        TransactionTimedOut(key, register),
        TransactionTerminated(key),
    ]


def test_timer_e_in_proceeding_fires_every_t2() -> None:
    register = request("REGISTER", branch="z9hG4bKreg1")
    layer, key = started(register)
    run_timers(layer, until=0.5)  # first retransmission; E is now 1 s (at 1.5)
    layer.receive(response_to(register, 100, to_tag=None), PROXY_UDP, 1.0)
    assert event_types(layer) == [ResponseReceived]
    assert layer.transaction_state(key) is ClientState.PROCEEDING
    times = [at for at, _ in run_timers(layer, until=31.9)]
    assert times == [1.5, 5.5, 9.5, 13.5, 17.5, 21.5, 25.5, 29.5]
    layer.handle_timer(32.0)  # timer F still runs in Proceeding
    assert event_types(layer) == [TransactionTimedOut, TransactionTerminated]


def test_final_response_completes_and_timer_k_absorbs_retransmissions() -> None:
    register = request("REGISTER", branch="z9hG4bKreg1")
    layer, key = started(register)
    challenge = response_to(register, 401)
    layer.receive(challenge, PROXY_UDP, 0.3)
    assert drain_events(layer) == [ResponseReceived(key, register, challenge)]
    assert layer.transaction_state(key) is ClientState.COMPLETED
    layer.receive(response_to(register, 401), PROXY_UDP, 0.8)
    assert drain_events(layer) == []
    assert layer.messages_to_send() == []  # no retransmission in Completed, no ACK
    assert layer.get_timer() == pytest.approx(5.3)  # timer K = T4
    layer.handle_timer(5.3)
    assert drain_events(layer) == [TransactionTerminated(key)]


def test_non_invite_over_tcp_has_no_timer_e_and_zero_timer_k() -> None:
    options = request("OPTIONS", transport="TCP", branch="z9hG4bKopt1")
    layer, key = started(options, PROXY_TCP)
    assert layer.get_timer() == 32.0  # only F
    ok = response_to(options, 200)
    layer.receive(ok, PROXY_TCP, 0.1)
    assert drain_events(layer) == [ResponseReceived(key, options, ok), TransactionTerminated(key)]


# -- INVITE server transaction --------------------------------------------------------------


def test_new_invite_is_reported_and_100_trying_follows_after_200_ms() -> None:
    invite = request()
    layer, event = received(invite)
    assert event == RequestReceived(event.key, invite, CALLER_UDP)
    assert event.key == TransactionKey(INVITE_BRANCH, "INVITE", False, "192.0.2.10:5060")
    assert layer.transaction_state(event.key) is ServerState.PROCEEDING
    assert layer.messages_to_send() == []
    assert layer.get_timer() == pytest.approx(0.2)
    layer.handle_timer(0.2)
    sent = layer.messages_to_send()
    assert labels(sent) == ["100"] and sent[0].destination == CALLER_UDP
    trying = sent[0].message
    assert isinstance(trying, Response) and trying.to.tag is None
    assert trying.headers.get("cseq") == "314159 INVITE"
    # A retransmitted INVITE gets the latest provisional again and is not reported.
    layer.receive(request(), CALLER_UDP, 0.5)
    assert labels(layer.messages_to_send()) == ["100"]
    assert drain_events(layer) == []
    assert layer.get_timer() is None


def test_no_automatic_100_when_the_tu_answers_within_200_ms() -> None:
    invite = request()
    layer, event = received(invite)
    layer.respond(event.key, make_response(invite, 180, to_tag="bobtag"), 0.1)
    assert labels(layer.messages_to_send()) == ["180"]
    assert layer.get_timer() is None
    layer.receive(request(), CALLER_UDP, 0.5)
    assert labels(layer.messages_to_send()) == ["180"]


def test_timer_g_retransmits_the_final_response_up_to_t2_until_timer_h() -> None:
    invite = request()
    layer, event = received(invite)
    layer.respond(event.key, make_response(invite, 486, to_tag="bobtag"), 0.0)
    assert labels(layer.messages_to_send()) == ["486"]
    assert layer.transaction_state(event.key) is ServerState.COMPLETED
    sent = run_timers(layer, until=31.9)
    assert [at for at, _ in sent] == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert set(labels([o for _, o in sent])) == {"486"}
    layer.handle_timer(32.0)  # timer H: the ACK never came
    assert drain_events(layer) == [
        TransactionTimedOut(event.key, invite),
        TransactionTerminated(event.key),
    ]


def test_ack_confirms_and_timer_i_absorbs_further_acks() -> None:
    invite = request()
    layer, event = received(invite)
    busy = make_response(invite, 486, to_tag="bobtag")
    layer.respond(event.key, busy, 0.0)
    layer.receive(request(), CALLER_UDP, 0.3)  # retransmitted INVITE: the 486 again
    assert labels(layer.messages_to_send()) == ["486", "486"]
    layer.receive(ack_for(invite, busy), CALLER_UDP, 0.4)
    assert drain_events(layer) == []  # the ACK of a non-2xx is the transaction's
    assert layer.transaction_state(event.key) is ServerState.CONFIRMED
    assert layer.get_timer() == pytest.approx(5.4)  # timer I = T4; G and H stopped
    layer.receive(ack_for(invite, busy), CALLER_UDP, 1.0)
    layer.receive(request(), CALLER_UDP, 1.1)
    assert drain_events(layer) == []
    assert layer.messages_to_send() == []
    layer.handle_timer(5.4)
    assert drain_events(layer) == [TransactionTerminated(event.key)]


def test_server_invite_over_tcp_has_no_timer_g_and_zero_timer_i() -> None:
    invite = request(transport="TCP", sent_by="192.0.2.10:49152")
    layer, event = received(invite, CALLER_TCP)
    busy = make_response(invite, 480, to_tag="bobtag")
    layer.respond(event.key, busy, 0.0)
    assert [o.destination for o in layer.messages_to_send()] == [CALLER_TCP]
    assert layer.get_timer() == 32.0  # H only
    layer.receive(ack_for(invite, busy), CALLER_TCP, 0.1)
    assert drain_events(layer) == [TransactionTerminated(event.key)]


def test_2xx_enters_accepted_absorbing_invites_and_passing_acks_until_timer_l() -> None:
    invite = request()
    layer, event = received(invite)
    ok = make_response(invite, 200, to_tag="bobtag")
    layer.respond(event.key, ok, 0.0)
    assert labels(layer.messages_to_send()) == ["200"]
    assert layer.transaction_state(event.key) is ServerState.ACCEPTED
    assert layer.get_timer() == 32.0  # timer L; no retransmission timer of our own
    layer.receive(request(), CALLER_UDP, 0.5)  # retransmitted INVITE: absorbed
    assert layer.messages_to_send() == []
    assert drain_events(layer) == []
    layer.respond(event.key, ok, 0.5)  # the TU retransmits its 2xx (§13.3.1.4)
    assert labels(layer.messages_to_send()) == ["200"]
    same_branch_ack = ack_for(invite, ok)
    layer.receive(same_branch_ack, CALLER_UDP, 0.6)  # RFC 6026 figure 7: ACK to TU
    own_branch_ack = ack_for(request(branch="z9hG4bKack2"), ok)
    layer.receive(own_branch_ack, CALLER_UDP, 0.7)  # matches nothing: the dialog's
    assert drain_events(layer) == [
        AckReceived(same_branch_ack, CALLER_UDP),
        AckReceived(own_branch_ack, CALLER_UDP),
    ]
    layer.handle_timer(32.0)
    assert drain_events(layer) == [TransactionTerminated(event.key)]
    with pytest.raises(LocalProtocolError):
        layer.respond(event.key, ok, 33.0)  # after L: use send_stateless
    layer.send_stateless(ok, CALLER_UDP)
    assert layer.messages_to_send() == [Outgoing(ok, CALLER_UDP)]


# -- non-INVITE server transaction ----------------------------------------------------------


def test_non_invite_server_trying_completed_and_timer_j() -> None:
    options = request("OPTIONS", branch="z9hG4bKopt1")
    layer, event = received(options)
    assert layer.transaction_state(event.key) is ServerState.TRYING
    assert layer.get_timer() is None  # no automatic 100 outside INVITE
    layer.receive(request("OPTIONS", branch="z9hG4bKopt1"), CALLER_UDP, 0.5)
    assert layer.messages_to_send() == []  # Trying: nothing to resend yet
    assert drain_events(layer) == []
    layer.respond(event.key, make_response(options, 200, to_tag="bobtag"), 0.6)
    assert labels(layer.messages_to_send()) == ["200"]
    assert layer.transaction_state(event.key) is ServerState.COMPLETED
    layer.receive(request("OPTIONS", branch="z9hG4bKopt1"), CALLER_UDP, 1.0)
    assert labels(layer.messages_to_send()) == ["200"]
    assert layer.get_timer() == pytest.approx(32.6)  # timer J = 64*T1
    layer.handle_timer(32.6)
    assert drain_events(layer) == [TransactionTerminated(event.key)]


def test_non_invite_server_proceeding_resends_the_last_provisional() -> None:
    bye = request("BYE", branch="z9hG4bKbye1", to_tag="bobtag")
    layer, event = received(bye)
    layer.respond(event.key, make_response(bye, 100), 0.1)
    assert layer.transaction_state(event.key) is ServerState.PROCEEDING
    layer.receive(request("BYE", branch="z9hG4bKbye1", to_tag="bobtag"), CALLER_UDP, 0.5)
    assert labels(layer.messages_to_send()) == ["100", "100"]


def test_non_invite_server_over_tcp_terminates_with_the_final_response() -> None:
    options = request("OPTIONS", transport="TCP", branch="z9hG4bKopt1")
    layer, event = received(options, CALLER_TCP)
    layer.respond(event.key, make_response(options, 200, to_tag="t"), 0.0)
    assert drain_events(layer) == [TransactionTerminated(event.key)]


# -- merged requests (§8.2.2.2) -------------------------------------------------------------


def test_merged_request_is_answered_482_and_never_reaches_the_tu() -> None:
    layer, event = received(request())
    via_second_proxy = Peer(Transport.UDP, "192.0.2.20", 5060)
    merged = request(branch="z9hG4bKforked", sent_by="192.0.2.20")
    layer.receive(merged, via_second_proxy, 0.1)
    assert drain_events(layer) == []
    sent = layer.messages_to_send()
    assert labels(sent) == ["482"] and sent[0].destination == via_second_proxy
    loop_detected = sent[0].message
    assert isinstance(loop_detected, Response) and loop_detected.to.tag
    # Its retransmission gets the 482 again; its ACK is absorbed.
    layer.receive(request(branch="z9hG4bKforked", sent_by="192.0.2.20"), via_second_proxy, 0.6)
    assert labels(layer.messages_to_send()) == ["482"]
    layer.receive(ack_for(merged, loop_detected), via_second_proxy, 0.7)
    assert drain_events(layer) == []
    merged_key = TransactionKey("z9hG4bKforked", "INVITE", False, "192.0.2.20")
    with pytest.raises(LocalProtocolError):
        layer.respond(merged_key, make_response(merged, 200, to_tag="x"), 0.8)
    # The first transaction goes on as if nothing happened.
    assert layer.transaction_state(event.key) is ServerState.PROCEEDING
    run_timers(layer, until=40.0)
    assert drain_events(layer) == []  # the merged transaction ends silently


def test_requests_that_differ_in_cseq_or_carry_a_to_tag_are_not_merged() -> None:
    layer, _ = received(request())
    layer.receive(request(branch="z9hG4bKnext", cseq=314160), CALLER_UDP, 0.1)
    layer.receive(request(branch="z9hG4bKindialog", to_tag="bobtag"), CALLER_UDP, 0.1)
    assert event_types(layer) == [RequestReceived, RequestReceived]


# -- RFC 2543 fallback matching (§17.2.3) ---------------------------------------------------


def test_rfc2543_invite_from_rfc4475_is_matched_without_a_branch() -> None:
    data = corpus_file("rfc4475", "inv2543.dat").read_bytes()
    gateway = Peer(Transport.UDP, "192.0.2.99", 5060)
    invite = parse_message(data)
    assert isinstance(invite, Request)
    layer, event = received(invite, gateway)
    key = event.key
    assert key.branch == "" and key.method == "INVITE" and key.sent_by == "iftgw.example.com"
    assert key.rfc2543 == (
        "sip:UserB@example.com",
        "",
        "",
        "inv2543.1717@ift.client.example.com",
        "56",
        "SIP/2.0/UDP iftgw.example.com;received=192.0.2.99",
    )
    # §18.2.1: the sent-by host is not the source address, so `received` was added.
    assert invite.top_via.received == "192.0.2.99"
    layer.receive(parse_message(data), gateway, 0.1)  # a retransmission: not reported
    assert drain_events(layer) == []
    unavailable = make_response(invite, 480, to_tag="gw-tag")
    layer.respond(key, unavailable, 0.15)
    sent = layer.messages_to_send()
    assert labels(sent) == ["480"]
    assert sent[0].destination == gateway  # received address, sent-by port (5060)
    assert unavailable.top_via.received == "192.0.2.99"
    layer.receive(parse_message(data), gateway, 0.3)
    assert labels(layer.messages_to_send()) == ["480"]
    wrong_tag = ack_for(invite, make_response(invite, 480, to_tag="not-ours"))
    layer.receive(wrong_tag, gateway, 0.4)
    assert drain_events(layer) == [AckReceived(wrong_tag, gateway)]
    layer.receive(ack_for(invite, unavailable), gateway, 0.5)
    assert drain_events(layer) == []
    assert layer.transaction_state(key) is ServerState.CONFIRMED


def test_rfc2543_cancel_finds_the_invite_it_cancels() -> None:
    data = corpus_file("rfc4475", "inv2543.dat").read_bytes()
    gateway = Peer(Transport.UDP, "192.0.2.99", 5060)
    invite = parse_message(data)
    assert isinstance(invite, Request)
    layer, invite_event = received(invite, gateway)
    head = data.split(b"\r\n\r\n")[0].replace(b"Content-Type: application/sdp\r\n", b"")
    cancel = parse_message(
        head.replace(b"INVITE sip:", b"CANCEL sip:").replace(b"56 INVITE", b"56 CANCEL")
        + b"\r\nContent-Length: 0\r\n\r\n"
    )
    assert isinstance(cancel, Request)
    layer.receive(cancel, gateway, 0.1)
    (event,) = drain_events(layer)
    assert isinstance(event, RequestReceived) and event.key.method == "CANCEL"
    assert layer.invite_cancelled_by(cancel) == invite_event.key


def test_rfc2543_non_invite_requests_match_on_cseq_and_call_id() -> None:
    layer, _ = received(request("OPTIONS", branch="oldstyle1"))
    layer.receive(request("OPTIONS", branch="oldstyle1"), CALLER_UDP, 0.1)
    assert drain_events(layer) == []
    layer.receive(request("OPTIONS", branch="oldstyle1", cseq=2), CALLER_UDP, 0.2)
    layer.receive(request("OPTIONS", branch="oldstyle1", call_id="other@x"), CALLER_UDP, 0.2)
    assert event_types(layer) == [RequestReceived, RequestReceived]


# -- CANCEL (§9.1) --------------------------------------------------------------------------


def check_cancel(cancel: Request, invite: Request) -> None:
    assert cancel.method == "CANCEL"
    assert str(cancel.uri) == str(invite.uri)
    assert cancel.headers.get_all("via") == [invite.headers.get_all("via")[0]]
    assert cancel.headers.get_all("route") == invite.headers.get_all("route")
    for name in ("from", "to", "call-id"):
        assert cancel.headers.get(name) == invite.headers.get(name)
    assert cancel.headers.get("cseq") == f"{invite.cseq.number} CANCEL"
    assert cancel.headers.get("max-forwards") == "70"


def test_cancel_before_the_first_provisional_waits_for_it() -> None:
    invite = request(routes=("<sip:p1.example.com;lr>",))
    layer, key = started(invite)
    cancel_key = layer.cancel(key, 0.1)
    assert cancel_key == TransactionKey(INVITE_BRANCH, "CANCEL", True)
    assert layer.messages_to_send() == []  # §9.1: not before a provisional response
    assert layer.cancel(key, 0.15) == cancel_key
    ringing = response_to(invite, 180)
    layer.receive(ringing, PROXY_UDP, 0.2)
    assert drain_events(layer) == [ResponseReceived(key, invite, ringing)]
    sent = layer.messages_to_send()
    assert labels(sent) == ["CANCEL"] and sent[0].destination == PROXY_UDP
    cancel = sent[0].message
    assert isinstance(cancel, Request)
    check_cancel(cancel, invite)
    # The CANCEL is a non-INVITE client transaction of its own, matched by its method.
    assert layer.transaction_state(cancel_key) is ClientState.TRYING
    cancelled_ok = response_to(cancel, 200)
    layer.receive(cancelled_ok, PROXY_UDP, 0.3)
    terminated = response_to(invite, 487)
    layer.receive(terminated, PROXY_UDP, 0.35)
    assert drain_events(layer) == [
        ResponseReceived(cancel_key, cancel, cancelled_ok),
        ResponseReceived(key, invite, terminated),
    ]
    assert labels(layer.messages_to_send()) == ["ACK"]


def test_cancel_after_a_provisional_is_sent_at_once_and_only_once() -> None:
    invite = request()
    layer, key = started(invite)
    layer.receive(response_to(invite, 100, to_tag=None), PROXY_UDP, 0.1)
    cancel_key = layer.cancel(key, 0.2)
    assert cancel_key is not None
    assert labels(layer.messages_to_send()) == ["CANCEL"]
    assert layer.cancel(key, 0.3) == cancel_key
    assert layer.messages_to_send() == []
    assert [at for at, _ in run_timers(layer, until=1.0)] == [0.7]  # the CANCEL's timer E


def test_cancel_after_a_final_response_does_nothing() -> None:
    invite = request()
    layer, key = started(invite)
    layer.receive(response_to(invite, 200), PROXY_UDP, 0.1)
    assert layer.cancel(key, 0.2) is None
    assert layer.messages_to_send() == []
    layer.handle_timer(32.1)
    assert layer.cancel(key, 33.0) is None  # the transaction is gone


def test_pending_cancel_is_dropped_when_a_final_response_comes_first() -> None:
    invite = request()
    layer, key = started(invite)
    assert layer.cancel(key, 0.1) is not None
    layer.receive(response_to(invite, 486), PROXY_UDP, 0.2)
    assert labels(layer.messages_to_send()) == ["ACK"]
    layer.receive(response_to(invite, 486), PROXY_UDP, 0.3)
    assert labels(layer.messages_to_send()) == ["ACK"]


def test_only_invite_client_transactions_can_be_cancelled() -> None:
    layer, key = started(request("OPTIONS", branch="z9hG4bKopt1"))
    with pytest.raises(LocalProtocolError):
        layer.cancel(key, 0.1)
    server_key = TransactionKey(INVITE_BRANCH, "INVITE", False, "192.0.2.10:5060")
    with pytest.raises(LocalProtocolError):
        layer.cancel(server_key, 0.1)


def test_received_cancel_is_its_own_transaction_and_finds_its_invite() -> None:
    layer, invite_event = received(request())
    cancel = request("CANCEL")
    layer.receive(cancel, CALLER_UDP, 0.1)
    (event,) = drain_events(layer)
    assert isinstance(event, RequestReceived)
    assert event.key == TransactionKey(INVITE_BRANCH, "CANCEL", False, "192.0.2.10:5060")
    assert layer.invite_cancelled_by(cancel) == invite_event.key
    assert layer.invite_cancelled_by(request("CANCEL", branch="z9hG4bKnone")) is None


# -- transport errors (§17.1.4, §17.2.4) ----------------------------------------------------


def test_transport_error_fails_the_transactions_to_that_peer_only() -> None:
    invite = request(transport="TCP")
    layer, key = started(invite, PROXY_TCP)
    other = layer.send_request(request("OPTIONS", branch="z9hG4bKopt1"), OTHER_UDP, 0.0)
    layer.messages_to_send()
    layer.transport_error(PROXY_TCP, 0.1)
    assert drain_events(layer) == [TransportFailed(key, invite), TransactionTerminated(key)]
    assert layer.transaction_state(other) is ClientState.TRYING


def test_transport_error_after_a_final_response_only_ends_the_client_transaction() -> None:
    invite = request()
    layer, key = started(invite)
    layer.receive(response_to(invite, 486), PROXY_UDP, 0.1)
    drain_events(layer)
    layer.transport_error(PROXY_UDP, 0.2)  # sending the ACK failed: the TU has its answer
    assert drain_events(layer) == [TransactionTerminated(key)]


def test_transport_error_on_server_transactions() -> None:
    invite = request(transport="TCP", sent_by="192.0.2.10:49152")
    layer, event = received(invite, CALLER_TCP)
    layer.transport_error(CALLER_TCP, 0.1)
    assert drain_events(layer) == [
        TransportFailed(event.key, invite),
        TransactionTerminated(event.key),
    ]
    # Once the ACK has confirmed the final response there is nothing to tell.
    udp_invite = request(branch="z9hG4bKsecond")
    layer.receive(udp_invite, CALLER_UDP, 1.0)
    (new,) = drain_events(layer)
    assert isinstance(new, RequestReceived)
    busy = make_response(udp_invite, 486, to_tag="t")
    layer.respond(new.key, busy, 1.0)
    layer.receive(ack_for(udp_invite, busy), CALLER_UDP, 1.1)
    layer.transport_error(CALLER_UDP, 1.2)
    assert drain_events(layer) == [TransactionTerminated(new.key)]


def test_transport_error_in_accepted_is_reported_to_the_tu() -> None:
    invite = request(transport="TCP", sent_by="192.0.2.10:49152")
    layer, event = received(invite, CALLER_TCP)
    layer.respond(event.key, make_response(invite, 200, to_tag="t"), 0.0)
    layer.transport_error(CALLER_TCP, 0.1)  # RFC 6026 figure 7: Accepted, "Inform TU"
    assert drain_events(layer) == [
        TransportFailed(event.key, invite),
        TransactionTerminated(event.key),
    ]


# -- §18.1.1: large requests go over TCP ----------------------------------------------------


def test_large_request_for_udp_goes_over_tcp_with_the_via_rewritten() -> None:
    invite = request(body=b"v=0\r\n" + b"a=x-padding:" + b"x" * 1300 + b"\r\n")
    assert len(bytes(invite)) > 1300
    layer = TransactionLayer()
    key = layer.send_request(invite, PROXY_UDP, 0.0)
    (sent,) = layer.messages_to_send()
    assert sent.destination == PROXY_TCP
    assert isinstance(sent.message, Request)
    assert sent.message.top_via.transport == "TCP"
    assert sent.message.top_via.branch == INVITE_BRANCH
    assert sent.message.body == invite.body
    assert invite.top_via.transport == "UDP"  # the TU's request is left alone
    assert layer.get_timer() == 32.0  # TCP: no timer A
    # The CANCEL follows the INVITE over TCP with the same Via.
    layer.receive(response_to(sent.message, 180), PROXY_TCP, 0.5)
    layer.cancel(key, 0.6)
    (cancel,) = layer.messages_to_send()
    assert cancel.destination == PROXY_TCP
    assert isinstance(cancel.message, Request) and cancel.message.top_via.transport == "TCP"


def test_small_request_stays_on_udp() -> None:
    layer = TransactionLayer()
    layer.send_request(request(), PROXY_UDP, 0.0)
    assert [o.destination for o in layer.messages_to_send()] == [PROXY_UDP]


def test_failed_tcp_for_a_large_request_is_retried_once_over_udp() -> None:
    invite = request(body=b"x" * 1400)
    layer = TransactionLayer()
    key = layer.send_request(invite, PROXY_UDP, 0.0)
    layer.messages_to_send()
    layer.transport_error(PROXY_TCP, 2.0)
    assert drain_events(layer) == []
    (retry,) = layer.messages_to_send()
    assert retry.destination == PROXY_UDP
    assert isinstance(retry.message, Request) and retry.message.top_via.transport == "UDP"
    assert layer.get_timer() == 2.5  # timer A restarts with the UDP attempt
    layer.transport_error(PROXY_UDP, 2.1)
    events = drain_events(layer)
    assert [type(e) for e in events] == [TransportFailed, TransactionTerminated]
    assert events[0] == TransportFailed(key, retry.message)


def test_no_udp_retry_once_tcp_has_carried_a_response() -> None:
    invite = request(body=b"x" * 1400)
    layer = TransactionLayer()
    key = layer.send_request(invite, PROXY_UDP, 0.0)
    (sent,) = layer.messages_to_send()
    assert isinstance(sent.message, Request)
    layer.receive(response_to(sent.message, 100, to_tag=None), PROXY_TCP, 0.1)
    drain_events(layer)
    layer.transport_error(PROXY_TCP, 0.2)
    assert event_types(layer) == [TransportFailed, TransactionTerminated]
    assert layer.messages_to_send() == []
    assert layer.transaction_state(key) is None


# -- response routing (§18.2, RFC 3581) -----------------------------------------------------


def test_rport_sends_responses_back_to_the_source_port() -> None:
    behind_nat = Peer(Transport.UDP, "203.0.113.5", 40000)
    options = request("OPTIONS", branch="z9hG4bKnat", via_parameters=";rport")
    layer, event = received(options, behind_nat)
    assert options.top_via.received == "203.0.113.5"
    assert options.top_via.rport == 40000
    ok = make_response(options, 200, to_tag="t")
    assert ok.top_via.rport == 40000  # make_response copies the stamped Via
    layer.respond(event.key, ok, 0.0)
    assert [o.destination for o in layer.messages_to_send()] == [behind_nat]


def test_without_rport_responses_go_to_the_sent_by_port() -> None:
    source = Peer(Transport.UDP, "192.0.2.10", 40000)
    options = request("OPTIONS", branch="z9hG4bKport", sent_by="192.0.2.10:5062")
    layer, event = received(options, source)
    assert options.top_via.received is None  # sent-by host is the source address
    layer.respond(event.key, make_response(options, 200, to_tag="t"), 0.0)
    assert [o.destination for o in layer.messages_to_send()] == [
        Peer(Transport.UDP, "192.0.2.10", 5062)
    ]


# -- misuse and the state machines ----------------------------------------------------------


def test_send_request_rejects_what_is_not_a_transaction() -> None:
    layer = TransactionLayer()
    with pytest.raises(LocalProtocolError, match="branch"):
        layer.send_request(request(branch="rfc2543-style"), PROXY_UDP, 0.0)
    with pytest.raises(LocalProtocolError, match="send_stateless"):
        layer.send_request(request("ACK"), PROXY_UDP, 0.0)
    layer.send_request(request(), PROXY_UDP, 0.0)
    with pytest.raises(LocalProtocolError, match="exists"):
        layer.send_request(request(), PROXY_UDP, 0.0)


def test_illegal_responses_from_the_tu_raise() -> None:
    invite = request()
    layer, event = received(invite)
    layer.respond(event.key, make_response(invite, 200, to_tag="t"), 0.0)
    for code in (180, 486):  # Accepted allows only further 2xx
        with pytest.raises(LocalProtocolError, match="accepted"):
            layer.respond(event.key, make_response(invite, code, to_tag="t"), 0.1)
    options = request("OPTIONS", branch="z9hG4bKopt1")
    layer.receive(options, CALLER_UDP, 0.2)
    (options_event,) = drain_events(layer)
    assert isinstance(options_event, RequestReceived)
    layer.respond(options_event.key, make_response(options, 200, to_tag="t"), 0.3)
    with pytest.raises(LocalProtocolError, match="completed"):
        layer.respond(options_event.key, make_response(options, 200, to_tag="t"), 0.4)
    client_key = TransactionKey(INVITE_BRANCH, "INVITE", True)
    with pytest.raises(LocalProtocolError):
        layer.respond(client_key, make_response(invite, 200, to_tag="t"), 0.5)


def test_client_machine_rejects_a_timer_illegal_in_its_state() -> None:
    outbox: list[Outgoing] = []
    machine = ClientTransaction(request(), PROXY_UDP, TimerSettings(), outbox, now=0.0)
    with pytest.raises(LocalProtocolError, match="timer D is not allowed in state calling"):
        machine._transition(ClientInput.TIMER_D)
    assert machine.state is ClientState.CALLING


def test_every_state_change_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    invite = request()
    with caplog.at_level(logging.DEBUG, logger="phoneagent.sip"):
        layer, _ = started(invite)
        layer.receive(response_to(invite, 180), PROXY_UDP, 0.1)
        layer.receive(response_to(invite, 180), PROXY_UDP, 0.2)
        layer.receive(response_to(invite, 486), PROXY_UDP, 0.3)
    changes = [r.getMessage() for r in caplog.records if "->" in r.getMessage()]
    assert changes == [
        f"transaction {INVITE_BRANCH} INVITE client: calling -> proceeding",
        f"transaction {INVITE_BRANCH} INVITE client: proceeding -> completed",
    ]


def test_new_branch_carries_the_magic_cookie_and_is_unique() -> None:
    branches = {new_branch() for _ in range(100)}
    assert len(branches) == 100
    assert all(b.startswith("z9hG4bK") and len(b) > 7 + 8 for b in branches)


def test_idle_layer_has_no_timer_and_early_handle_timer_does_nothing() -> None:
    layer = TransactionLayer()
    assert layer.get_timer() is None
    layer.handle_timer(100.0)
    layer, _ = started(request())
    layer.handle_timer(0.4)
    assert layer.messages_to_send() == []
    assert layer.get_timer() == 0.5


def test_a_late_handle_timer_fires_each_due_timer_once_without_a_burst() -> None:
    invite = request()
    layer, key = started(invite)
    layer.handle_timer(40.0)  # the loop was blocked past A and B
    assert labels(layer.messages_to_send()) == ["INVITE"]  # A once, re-armed from now
    assert drain_events(layer) == [TransactionTimedOut(key, invite), TransactionTerminated(key)]
