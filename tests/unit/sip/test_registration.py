"""Tests for phoneagent.sip.registration: the REGISTER client (RFC 3261 §10.2, RFC 5626).

``Registration`` is sans-IO: every test drives it on a fake clock (plain floats
passed as ``now``), takes the REGISTERs it wants sent from ``requests_to_send()``
and feeds it the final responses built with ``make_response``.  Nothing sleeps.
"""

from __future__ import annotations

import itertools
import random

import pytest

from phoneagent.sip import NameAddress, Request, Response, SipUri, make_response, parse_message
from phoneagent.sip.errors import LocalProtocolError
from phoneagent.sip.registration import (
    REFRESH_FRACTION,
    REFRESH_MARGIN,
    Registered,
    Registration,
    RegistrationEvent,
    RegistrationFailed,
    RegistrationSettings,
    RegistrationState,
    Unregistered,
)

AOR = SipUri.parse("sip:alice@example.org")
REGISTRAR = SipUri.parse("sip:example.org")
CONTACT = SipUri.parse("sip:alice@192.0.2.10:5060")
INSTANCE = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
VIA = "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKregtest;rport"


def settings(**changes: object) -> RegistrationSettings:
    values: dict[str, object] = {
        "aor": AOR,
        "registrar": REGISTRAR,
        "contact": CONTACT,
        "instance_id": INSTANCE,
        "expires": 600,
        "reg_id": 1,
        "retry_base": 2.0,
        "retry_max": 300.0,
    }
    values.update(changes)
    return RegistrationSettings(**values)  # type: ignore[arg-type]


def make_registration(seed: int = 7, **changes: object) -> Registration:
    counter = itertools.count()
    return Registration(
        settings(**changes), lambda: f"token{next(counter)}", rng=random.Random(seed)
    )


def take_one(registration: Registration) -> Request:
    """The single REGISTER the registration wants sent, round-tripped through the parser.

    The user agent adds the Via; we add one here so the request can be parsed
    and answered like one from the wire.
    """
    requests = registration.requests_to_send()
    assert len(requests) == 1, requests
    request = requests[0]
    assert request.method == "REGISTER"
    request.headers.insert_first("Via", VIA)
    parsed = parse_message(bytes(request))
    assert isinstance(parsed, Request)
    return parsed


def answer(
    request: Request,
    status_code: int,
    headers: list[tuple[str, str]] | None = None,
    *,
    echo_contact: int | None = None,
) -> Response:
    """A response to ``request``; ``echo_contact`` adds its Contact with that expires."""
    extra = list(headers or [])
    if echo_contact is not None:
        extra.append(("Contact", f"{request.headers.get('contact')};expires={echo_contact}"))
    response = make_response(request, status_code, to_tag="registrar", headers=extra)
    parsed = parse_message(bytes(response))
    assert isinstance(parsed, Response)
    return parsed


def state_of(registration: Registration) -> RegistrationState:
    """The state, read through a call so that mypy does not keep an earlier narrowing."""
    return registration.state


def events(registration: Registration) -> list[RegistrationEvent]:
    found = []
    while (event := registration.next_event()) is not None:
        found.append(event)
    return found


def registered(now: float = 0.0, granted: int = 600, contact: SipUri = CONTACT) -> Registration:
    """A registration that the registrar accepted at ``now`` for ``granted`` seconds."""
    registration = make_registration(contact=contact)
    registration.start(now)
    registration.response_received(answer(take_one(registration), 200, echo_contact=granted), now)
    assert registration.state is RegistrationState.REGISTERED
    events(registration)
    return registration


def refresh_delay(granted: int) -> float:
    return max(1.0, min(granted * REFRESH_FRACTION, granted - REFRESH_MARGIN))


# -- the first REGISTER (§10.2.1) ---------------------------------------------------------------


def test_first_register_has_the_headers_of_section_10_2_1() -> None:
    registration = make_registration()
    assert registration.state is RegistrationState.UNREGISTERED
    registration.start(0.0)
    assert state_of(registration) is RegistrationState.REGISTERING
    request = take_one(registration)

    assert request.uri == REGISTRAR  # the Request-URI names the registrar's domain
    assert request.to.uri == AOR and request.to.tag is None
    assert request.from_.uri == AOR and request.from_.tag
    assert request.cseq.method == "REGISTER" and request.cseq.number == 1
    assert request.call_id == registration.call_id
    assert request.max_forwards == 70
    assert request.expires == 600
    assert set(request.supported) == {"path", "outbound"}

    (contact,) = request.contact
    assert contact.uri == CONTACT
    assert contact.parameter("+sip.instance") == f"<{INSTANCE}>"
    assert contact.parameter("reg-id") == "1"
    # RFC 5626 §4.1: the instance id goes in quotes, as a URN in angle brackets
    assert f'+sip.instance="<{INSTANCE}>"' in (request.headers.get("contact") or "")


def test_without_reg_id_the_contact_has_no_reg_id_and_outbound_is_not_claimed() -> None:
    registration = make_registration(reg_id=None)
    registration.start(0.0)
    request = take_one(registration)
    (contact,) = request.contact
    assert contact.parameter("reg-id") is None
    assert contact.parameter("+sip.instance") == f"<{INSTANCE}>"
    assert request.supported == ("path",)


def test_every_register_keeps_call_id_and_from_tag_and_counts_cseq_up() -> None:
    registration = make_registration()
    registration.start(0.0)
    first = take_one(registration)
    registration.response_received(answer(first, 200, echo_contact=600), 0.0)
    timer = registration.get_timer()
    assert timer is not None
    registration.handle_timer(timer)
    second = take_one(registration)
    registration.response_received(answer(second, 500), timer)
    retry_at = registration.get_timer()
    assert retry_at is not None
    registration.handle_timer(retry_at)
    third = take_one(registration)

    requests = (first, second, third)
    assert {request.call_id for request in requests} == {registration.call_id}
    assert {request.from_.tag for request in requests} == {first.from_.tag}
    assert [request.cseq.number for request in requests] == [1, 2, 3]


def test_nothing_is_sent_before_start() -> None:
    registration = make_registration()
    assert registration.requests_to_send() == []
    assert registration.get_timer() is None
    assert registration.next_event() is None


@pytest.mark.parametrize(
    "state_setup",
    ["registering", "registered", "waiting-retry", "unregistering"],
)
def test_start_while_active_is_a_local_protocol_error(state_setup: str) -> None:
    registration = make_registration()
    registration.start(0.0)
    request = take_one(registration)
    if state_setup in ("registered", "unregistering"):
        registration.response_received(answer(request, 200, echo_contact=600), 0.0)
    if state_setup == "unregistering":
        registration.stop(1.0)
    if state_setup == "waiting-retry":
        registration.response_received(answer(request, 500), 0.0)
    assert registration.state.value == state_setup
    with pytest.raises(LocalProtocolError):
        registration.start(2.0)


def test_start_again_after_failed_is_allowed() -> None:
    registration = make_registration()
    registration.start(0.0)
    registration.response_received(answer(take_one(registration), 403), 0.0)
    assert registration.state is RegistrationState.FAILED
    registration.start(10.0)
    assert state_of(registration) is RegistrationState.REGISTERING
    assert take_one(registration).cseq.number == 2


# -- the 2xx and the refresh timer (§10.2.4) ----------------------------------------------------


@pytest.mark.parametrize("granted", [3600, 600, 120, 20, 10, 6, 3, 1])
def test_200_with_our_contacts_expires_registers_and_arms_the_refresh(granted: int) -> None:
    registration = make_registration()
    registration.start(100.0)
    registration.response_received(answer(take_one(registration), 200, echo_contact=granted), 100.0)

    assert registration.state is RegistrationState.REGISTERED
    assert events(registration) == [Registered(granted, str(CONTACT))]
    assert registration.granted_expires == granted
    assert registration.expires_at == 100.0 + granted
    delay = refresh_delay(granted)
    assert registration.get_timer() == pytest.approx(100.0 + delay)
    assert delay >= 1.0
    # refreshed at 80 % of the expiry, never later than 5 s before it (unless that is < 1 s)
    assert delay <= max(1.0, granted - REFRESH_MARGIN)


def test_refresh_delay_examples() -> None:
    assert refresh_delay(3600) == 2880.0  # 80 %
    assert refresh_delay(20) == 15.0  # 5 s before expiry beats 80 % (16 s)
    assert refresh_delay(3) == 1.0  # never sooner than 1 s


def test_our_contact_is_picked_among_other_bindings_of_the_aor() -> None:
    registration = make_registration()
    registration.start(0.0)
    request = take_one(registration)
    response = answer(
        request,
        200,
        [
            ("Contact", "<sip:alice@198.51.100.7:5060>;expires=3600"),
            ("Contact", f"{request.headers.get('contact')};expires=300"),
            ("Contact", "<sip:alice@198.51.100.8>;expires=60"),
        ],
    )
    registration.response_received(response, 0.0)
    assert registration.granted_expires == 300
    assert registration.get_timer() == pytest.approx(240.0)


def test_200_with_only_an_expires_header_uses_it() -> None:
    registration = make_registration()
    registration.start(0.0)
    registration.response_received(answer(take_one(registration), 200, [("Expires", "900")]), 0.0)
    assert events(registration) == [Registered(900, str(CONTACT))]
    assert registration.get_timer() == pytest.approx(720.0)


def test_contact_expires_wins_over_the_expires_header() -> None:
    registration = make_registration()
    registration.start(0.0)
    response = answer(take_one(registration), 200, [("Expires", "900")], echo_contact=120)
    registration.response_received(response, 0.0)
    assert registration.granted_expires == 120


def test_200_without_any_expiry_grants_what_we_asked_for() -> None:
    registration = make_registration(expires=1800)
    registration.start(0.0)
    registration.response_received(answer(take_one(registration), 200), 0.0)
    assert events(registration) == [Registered(1800, str(CONTACT))]
    assert registration.get_timer() == pytest.approx(1440.0)


def test_refresh_timer_sends_a_new_register_with_the_same_contact() -> None:
    registration = registered(now=0.0, granted=600)
    timer = registration.get_timer()
    assert timer is not None
    assert timer == pytest.approx(480.0)
    registration.handle_timer(timer - 0.001)  # early: nothing
    assert registration.requests_to_send() == []
    registration.handle_timer(timer)
    assert registration.state is RegistrationState.REGISTERING
    request = take_one(registration)
    assert request.cseq.number == 2
    assert request.expires == 600
    assert request.contact[0].uri == CONTACT
    # the binding is still good while the refresh is under way
    assert registration.granted_expires == 600
    registration.response_received(answer(request, 200, echo_contact=600), timer)
    assert events(registration) == [Registered(600, str(CONTACT))]
    assert registration.get_timer() == pytest.approx(timer + 480.0)


def test_provisional_responses_change_nothing() -> None:
    registration = make_registration()
    registration.start(0.0)
    request = take_one(registration)
    registration.response_received(answer(request, 100), 0.0)
    assert registration.state is RegistrationState.REGISTERING
    assert events(registration) == []


def test_a_2xx_that_grants_zero_seconds_is_a_failure_and_retried() -> None:
    registration = make_registration()
    registration.start(0.0)
    registration.response_received(answer(take_one(registration), 200, echo_contact=0), 0.0)
    assert registration.state is RegistrationState.WAITING_RETRY
    (event,) = events(registration)
    assert isinstance(event, RegistrationFailed)
    assert event.code == 200 and event.retry_in is not None
    assert registration.granted_expires is None


# -- 423 Interval Too Brief (§10.2.8) -----------------------------------------------------------


def test_423_with_min_expires_registers_again_at_once_with_that_expiry() -> None:
    registration = make_registration(expires=60)
    registration.start(0.0)
    first = take_one(registration)
    registration.response_received(answer(first, 423, [("Min-Expires", "3600")]), 0.5)
    assert registration.state is RegistrationState.REGISTERING
    assert events(registration) == []
    assert registration.get_timer() is None
    second = take_one(registration)
    assert second.expires == 3600
    assert second.cseq.number == first.cseq.number + 1
    registration.response_received(answer(second, 200, echo_contact=3600), 1.0)
    assert events(registration) == [Registered(3600, str(CONTACT))]
    # the larger expiry sticks for refreshes
    timer = registration.get_timer()
    assert timer is not None
    registration.handle_timer(timer)
    assert take_one(registration).expires == 3600


def test_423_never_lowers_the_expiry() -> None:
    registration = make_registration(expires=600)
    registration.start(0.0)
    registration.response_received(answer(take_one(registration), 423, [("Min-Expires", "60")]), 0)
    assert take_one(registration).expires == 600


def test_423_without_min_expires_is_an_ordinary_failure() -> None:
    registration = make_registration()
    registration.start(0.0)
    registration.response_received(answer(take_one(registration), 423), 0.0)
    assert registration.state is RegistrationState.WAITING_RETRY
    assert registration.requests_to_send() == []


# -- failures that stop -------------------------------------------------------------------------


def test_403_fails_for_good_with_no_timer() -> None:
    registration = make_registration()
    registration.start(0.0)
    registration.response_received(answer(take_one(registration), 403), 0.0)
    assert registration.state is RegistrationState.FAILED
    assert events(registration) == [RegistrationFailed(403, "Forbidden", None)]
    assert registration.get_timer() is None
    assert registration.last_failure == (403, "Forbidden")
    registration.handle_timer(10_000.0)
    assert registration.requests_to_send() == []


def test_authentication_failed_fails_for_good() -> None:
    registration = make_registration()
    registration.start(0.0)
    take_one(registration)
    registration.authentication_failed(401, "credentials rejected", 0.0)
    assert registration.state is RegistrationState.FAILED
    assert events(registration) == [RegistrationFailed(401, "credentials rejected", None)]
    assert registration.get_timer() is None


# -- failures that retry: backoff ---------------------------------------------------------------


def fail_once(registration: Registration, now: float, how: int | str) -> RegistrationFailed:
    """Fail the REGISTER outstanding at ``now`` and return the failure event."""
    request = take_one(registration)
    if how == "request_failed":
        registration.request_failed(408, "Request Timeout", now)
    else:
        assert isinstance(how, int)
        registration.response_received(answer(request, how), now)
    assert registration.state is RegistrationState.WAITING_RETRY
    (event,) = events(registration)
    assert isinstance(event, RegistrationFailed)
    assert registration.get_timer() == pytest.approx(now + (event.retry_in or 0.0))
    return event


@pytest.mark.parametrize("how", [500, 503, 408, 480, 404, 603, "request_failed"])
def test_retryable_failures_wait_and_then_register_again(how: int | str) -> None:
    registration = make_registration()
    registration.start(0.0)
    event = fail_once(registration, 0.0, how)
    assert event.retry_in is not None and 1.0 <= event.retry_in <= 2.0  # 50–100 % of base
    timer = registration.get_timer()
    assert timer is not None
    registration.handle_timer(timer - 0.01)
    assert registration.requests_to_send() == []
    registration.handle_timer(timer)
    assert registration.state is RegistrationState.REGISTERING
    assert take_one(registration).cseq.number == 2


@pytest.mark.parametrize("seed", range(20))
def test_backoff_doubles_from_retry_base_up_to_retry_max_with_jitter(seed: int) -> None:
    registration = make_registration(seed=seed, retry_base=2.0, retry_max=60.0)
    now = 0.0
    registration.start(now)
    for failures in range(1, 16):
        event = fail_once(registration, now, 500 if failures % 2 else "request_failed")
        ceiling = min(60.0, 2.0 * 2 ** (failures - 1))
        assert event.retry_in is not None
        assert 0.5 * ceiling <= event.retry_in <= ceiling, (failures, event.retry_in)
        now += event.retry_in
        registration.handle_timer(now)


def test_backoff_jitter_really_varies() -> None:
    delays = set()
    for seed in range(10):
        registration = make_registration(seed=seed)
        registration.start(0.0)
        delays.add(fail_once(registration, 0.0, 500).retry_in)
    assert len(delays) == 10


def test_503_retry_after_longer_than_the_backoff_is_honoured() -> None:
    registration = make_registration(retry_base=2.0, retry_max=300.0)
    registration.start(0.0)
    response = answer(take_one(registration), 503, [("Retry-After", "120")])
    registration.response_received(response, 0.0)
    (event,) = events(registration)
    assert isinstance(event, RegistrationFailed)
    assert event.retry_in == 120.0
    assert registration.get_timer() == 120.0


def test_503_retry_after_is_bounded_by_retry_max() -> None:
    registration = make_registration(retry_base=2.0, retry_max=300.0)
    registration.start(0.0)
    response = answer(take_one(registration), 503, [("Retry-After", "86400")])
    registration.response_received(response, 0.0)
    (event,) = events(registration)
    assert isinstance(event, RegistrationFailed)
    assert event.retry_in == 300.0


def test_503_retry_after_shorter_than_the_backoff_does_not_shorten_it() -> None:
    registration = make_registration(retry_base=64.0, retry_max=300.0)
    registration.start(0.0)
    response = answer(take_one(registration), 503, [("Retry-After", "1")])
    registration.response_received(response, 0.0)
    (event,) = events(registration)
    assert isinstance(event, RegistrationFailed)
    assert event.retry_in is not None and 32.0 <= event.retry_in <= 64.0


def test_a_200_resets_the_failure_count() -> None:
    registration = make_registration(retry_base=2.0, retry_max=300.0)
    now = 0.0
    registration.start(now)
    for _ in range(5):  # the ceiling climbs to 32 s
        event = fail_once(registration, now, 500)
        now += event.retry_in or 0.0
        registration.handle_timer(now)
    registration.response_received(answer(take_one(registration), 200, echo_contact=600), now)
    assert registration.state is RegistrationState.REGISTERED
    events(registration)
    now += 480.0
    registration.handle_timer(now)  # refresh, which fails: back to the first step
    event = fail_once(registration, now, 500)
    assert event.retry_in is not None and 1.0 <= event.retry_in <= 2.0


def test_failed_refresh_forgets_the_binding() -> None:
    registration = registered(now=0.0, granted=600)
    registration.handle_timer(480.0)
    fail_once(registration, 480.0, 500)
    assert registration.granted_expires is None
    assert registration.expires_at is None
    assert registration.last_failure == (500, "Server Internal Error")


# -- registering again at once ------------------------------------------------------------------


def test_refresh_now_from_registered_registers_at_once() -> None:
    registration = registered(now=0.0)
    registration.refresh_now("connection lost", 30.0)
    assert registration.state is RegistrationState.REGISTERING
    request = take_one(registration)
    assert request.cseq.number == 2
    assert registration.get_timer() is None  # the refresh timer is replaced by the request


def test_refresh_now_from_waiting_retry_skips_the_wait() -> None:
    registration = make_registration()
    registration.start(0.0)
    fail_once(registration, 0.0, 500)
    registration.refresh_now("keep-alive failed", 0.5)
    assert registration.state is RegistrationState.REGISTERING
    assert take_one(registration).cseq.number == 2


@pytest.mark.parametrize("state", ["unregistered", "registering", "failed"])
def test_refresh_now_elsewhere_does_nothing(state: str) -> None:
    registration = make_registration()
    if state != "unregistered":
        registration.start(0.0)
        request = take_one(registration)
        if state == "failed":
            registration.response_received(answer(request, 403), 0.0)
    events(registration)
    registration.refresh_now("connection lost", 1.0)
    assert registration.state.value == state
    assert registration.requests_to_send() == []


def test_address_learnt_with_a_new_address_changes_the_contact_and_registers() -> None:
    registration = registered(now=0.0)
    registration.address_learnt("203.0.113.9", 40000, 10.0)
    assert registration.contact == SipUri.parse("sip:alice@203.0.113.9:40000")
    assert registration.state is RegistrationState.REGISTERING
    request = take_one(registration)
    (contact,) = request.contact
    assert contact.uri == SipUri.parse("sip:alice@203.0.113.9:40000")
    assert contact.parameter("+sip.instance") == f"<{INSTANCE}>"
    registration.response_received(answer(request, 200, echo_contact=600), 10.0)
    assert events(registration) == [Registered(600, "sip:alice@203.0.113.9:40000")]


def test_address_learnt_with_only_a_new_port_registers_again() -> None:
    registration = registered(now=0.0)
    registration.address_learnt("192.0.2.10", 5062, 10.0)
    assert take_one(registration).contact[0].uri == SipUri.parse("sip:alice@192.0.2.10:5062")


def test_address_learnt_keeps_uri_parameters() -> None:
    registration = registered(now=0.0, contact=SipUri.parse("sip:alice@192.0.2.10;transport=tcp"))
    registration.address_learnt("203.0.113.9", 40000, 10.0)
    assert registration.contact == SipUri.parse("sip:alice@203.0.113.9:40000;transport=tcp")


@pytest.mark.parametrize(
    ("contact", "host", "port"),
    [
        ("sip:alice@192.0.2.10:5060", "192.0.2.10", 5060),
        ("sip:alice@192.0.2.10", "192.0.2.10", 5060),  # no port means 5060
    ],
)
def test_address_learnt_with_the_same_address_does_nothing(
    contact: str, host: str, port: int
) -> None:
    registration = registered(now=0.0, contact=SipUri.parse(contact))
    timer = registration.get_timer()
    registration.address_learnt(host, port, 10.0)
    assert registration.state is RegistrationState.REGISTERED
    assert registration.requests_to_send() == []
    assert registration.get_timer() == timer
    assert registration.contact == SipUri.parse(contact)


def test_address_learnt_while_unregistered_is_used_by_the_first_register() -> None:
    registration = make_registration()
    registration.address_learnt("203.0.113.9", 40000, 0.0)
    assert registration.requests_to_send() == []
    registration.start(0.0)
    assert take_one(registration).contact[0].uri == SipUri.parse("sip:alice@203.0.113.9:40000")


def test_expiry_granted_to_the_contact_sent_counts_after_an_address_was_learnt() -> None:
    registration = make_registration()
    registration.start(0.0)
    request = take_one(registration)  # Contact: the private address
    registration.address_learnt("203.0.113.9", 40000, 0.1)  # what the UA does with the Via
    registration.response_received(answer(request, 200, echo_contact=300), 0.1)
    assert registration.granted_expires == 300  # not the 600 we asked for
    assert registration.expires_at == pytest.approx(300.1)


def test_address_learnt_while_registering_is_registered_after_the_2xx() -> None:
    registration = make_registration()
    registration.start(0.0)
    request = take_one(registration)
    registration.address_learnt("203.0.113.9", 40000, 0.1)
    registration.response_received(answer(request, 200, echo_contact=600), 0.1)
    public = SipUri.parse("sip:alice@203.0.113.9:40000")
    reported = [event for event in events(registration) if isinstance(event, Registered)]
    follow_up = registration.requests_to_send()
    # Either the new Contact is registered at once, or what is reported is what was bound.
    assert [r.contact[0].uri for r in follow_up] == [public] or reported == [
        Registered(600, str(CONTACT))
    ]


# -- stop(): unregistering (§10.2.2) ------------------------------------------------------------


def test_stop_when_registered_sends_expires_zero_then_reports_unregistered() -> None:
    registration = registered(now=0.0)
    registration.stop(10.0)
    assert registration.state is RegistrationState.UNREGISTERING
    assert registration.get_timer() is None
    request = take_one(registration)
    assert request.expires == 0
    assert request.cseq.number == 2
    assert request.call_id == registration.call_id
    assert request.contact[0].uri == CONTACT  # the binding we registered, not "*"
    assert events(registration) == []
    registration.response_received(answer(request, 200), 10.2)
    assert state_of(registration) is RegistrationState.UNREGISTERED
    assert events(registration) == [Unregistered()]
    assert registration.granted_expires is None and registration.expires_at is None


@pytest.mark.parametrize("code", [200, 404, 500, 503])
def test_any_final_response_ends_unregistering(code: int) -> None:
    registration = registered(now=0.0)
    registration.stop(10.0)
    registration.response_received(answer(take_one(registration), code), 10.2)
    assert registration.state is RegistrationState.UNREGISTERED
    assert events(registration) == [Unregistered()]
    assert registration.get_timer() is None


def test_request_failed_ends_unregistering() -> None:
    registration = registered(now=0.0)
    registration.stop(10.0)
    take_one(registration)
    registration.request_failed(408, "Request Timeout", 42.0)
    assert registration.state is RegistrationState.UNREGISTERED
    assert events(registration) == [Unregistered()]


def test_authentication_failed_ends_unregistering() -> None:
    registration = registered(now=0.0)
    registration.stop(10.0)
    take_one(registration)
    registration.authentication_failed(401, "credentials rejected", 10.1)
    assert registration.state is RegistrationState.UNREGISTERED
    assert events(registration) == [Unregistered()]


def test_stop_during_a_refresh_unregisters_the_binding() -> None:
    registration = registered(now=0.0)
    registration.handle_timer(480.0)
    take_one(registration)  # the refresh, never answered
    registration.stop(481.0)
    assert registration.state is RegistrationState.UNREGISTERING
    assert take_one(registration).expires == 0


def test_stop_when_never_registered_sends_nothing() -> None:
    registration = make_registration()
    registration.stop(0.0)
    assert registration.state is RegistrationState.UNREGISTERED
    assert registration.requests_to_send() == []
    assert events(registration) == []


def test_stop_while_the_first_register_is_outstanding_sends_nothing() -> None:
    registration = make_registration()
    registration.start(0.0)
    take_one(registration)
    registration.stop(0.1)
    assert registration.state is RegistrationState.UNREGISTERED
    assert registration.requests_to_send() == []
    assert registration.get_timer() is None


def test_stop_when_waiting_to_retry_cancels_the_retry() -> None:
    registration = make_registration()
    registration.start(0.0)
    fail_once(registration, 0.0, 500)
    registration.stop(0.5)
    assert registration.state is RegistrationState.UNREGISTERED
    assert registration.get_timer() is None
    registration.handle_timer(1000.0)
    assert registration.requests_to_send() == []


def test_stop_when_failed_stays_quiet() -> None:
    registration = make_registration()
    registration.start(0.0)
    registration.response_received(answer(take_one(registration), 403), 0.0)
    events(registration)
    registration.stop(1.0)
    assert registration.state is RegistrationState.UNREGISTERED
    assert registration.requests_to_send() == []
    assert events(registration) == []


# -- input that does not fit the state ----------------------------------------------------------


def test_responses_in_unregistered_are_ignored() -> None:
    registration = make_registration()
    registration.start(0.0)
    request = take_one(registration)
    registration.stop(0.1)
    registration.response_received(answer(request, 200, echo_contact=600), 0.2)
    assert registration.state is RegistrationState.UNREGISTERED
    assert events(registration) == []
    assert registration.get_timer() is None


@pytest.mark.parametrize("code", [200, 500, 403, 423])
def test_responses_when_registered_are_ignored(code: int) -> None:
    registration = registered(now=0.0)
    timer = registration.get_timer()
    stale = make_registration()
    stale.start(0.0)
    registration.response_received(answer(take_one(stale), code, [("Min-Expires", "3600")]), 1.0)
    assert registration.state is RegistrationState.REGISTERED
    assert events(registration) == []
    assert registration.requests_to_send() == []
    assert registration.get_timer() == timer


def test_responses_when_waiting_to_retry_or_failed_are_ignored() -> None:
    registration = make_registration()
    registration.start(0.0)
    request = take_one(registration)
    registration.response_received(answer(request, 500), 0.0)
    events(registration)
    timer = registration.get_timer()
    registration.response_received(answer(request, 200, echo_contact=600), 0.1)
    assert registration.state is RegistrationState.WAITING_RETRY
    assert registration.get_timer() == timer
    assert events(registration) == []

    failed = make_registration()
    failed.start(0.0)
    request = take_one(failed)
    failed.response_received(answer(request, 403), 0.0)
    events(failed)
    failed.response_received(answer(request, 200, echo_contact=600), 0.1)
    assert failed.state is RegistrationState.FAILED
    assert events(failed) == []


def test_request_failed_outside_registering_is_ignored() -> None:
    registration = registered(now=0.0)
    registration.request_failed(408, "Request Timeout", 1.0)
    assert registration.state is RegistrationState.REGISTERED
    assert events(registration) == []


def test_timer_in_the_wrong_state_does_nothing() -> None:
    registration = make_registration()
    registration.handle_timer(1e9)
    assert registration.state is RegistrationState.UNREGISTERED
    assert registration.requests_to_send() == []


def test_next_request_after_challenge_takes_the_next_cseq() -> None:
    registration = make_registration()
    registration.start(0.0)
    request = take_one(registration)
    resent = registration.next_request_after_challenge(request)
    assert resent.cseq.number == 2 and resent.cseq.method == "REGISTER"
    # and the next REGISTER counts on from there
    registration.response_received(answer(resent, 200, echo_contact=600), 0.0)
    registration.handle_timer(480.0)
    assert take_one(registration).cseq.number == 3


def test_registered_event_names_the_contact() -> None:
    registration = make_registration(contact=SipUri.parse("sip:alice@192.0.2.10:5070"))
    registration.start(0.0)
    request = take_one(registration)
    registration.response_received(answer(request, 200, echo_contact=600), 0.0)
    (event,) = events(registration)
    assert isinstance(event, Registered)
    assert NameAddress.parse(f"<{event.contact}>").uri == SipUri.parse("sip:alice@192.0.2.10:5070")
