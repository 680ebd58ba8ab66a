"""PhoneMachine: dialling and outgoing calls, do-not-disturb, indicators, misuse, settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from phoneagent.phone.events import (
    CallAnswered,
    CallEnded,
    CallProgressed,
    ConnectAudio,
    DoNotDisturbChanged,
    HandsFreeAnswer,
    HandsFreeHangUp,
    HangUpCall,
    HookFlash,
    HookOff,
    HookOn,
    IncomingCall,
    KeyPress,
    PhoneInput,
    PlaceCall,
    PlayTone,
    RegistrationChanged,
    RejectCall,
    SendDtmf,
    SetDoNotDisturb,
    SetIndicator,
)
from phoneagent.phone.machine import (
    ENDED_TONES,
    TRANSITIONS,
    PhoneMachine,
    PhoneState,
)
from phoneagent.phone.settings import PhoneSettings
from phoneagent.sip.errors import LocalProtocolError

from .driver import PLAN, Driver, S, changed, connected_call

# --------------------------------------------------------------------------- outgoing


def test_outgoing_call_success_dtmf_and_hang_up() -> None:
    phone = Driver(PLAN)
    assert phone.lift() == [changed(S.IDLE, S.DIAL_TONE), PlayTone("dial")]
    assert phone.press("1") == [changed(S.DIAL_TONE, S.DIALING), PlayTone(None)]
    assert phone.machine.digits == "1"
    assert phone.press("002") == [changed(S.DIALING, S.CALLING), PlaceCall(1, "1002")]
    assert phone.machine.digits == ""
    assert phone.machine.get_timer() is None
    assert phone.do(CallProgressed(1)) == [PlayTone("ringback")]
    assert phone.do(CallAnswered(1)) == [
        changed(S.CALLING, S.CONNECTED),
        ConnectAudio(1),
        PlayTone(None),
        SetIndicator("in_call", True),
    ]
    assert phone.press("5#A") == [SendDtmf(1, "5"), SendDtmf(1, "#"), SendDtmf(1, "A")]
    assert phone.hang_up() == [
        HangUpCall(1),
        changed(S.CONNECTED, S.IDLE),
        ConnectAudio(None),
        SetIndicator("in_call", False),
    ]
    # The stack's report of our own hang-up comes later: that line is gone here.
    assert phone.do(CallEnded(1, "local-hangup")) == []
    assert phone.state is S.IDLE


def test_early_media_is_heard_instead_of_ringback() -> None:
    phone = Driver(PLAN)
    phone.lift()
    phone.press("1002")
    assert phone.do(CallProgressed(1, early_media=True)) == [ConnectAudio(1)]
    assert phone.do(CallProgressed(1, early_media=False)) == [
        PlayTone("ringback"),
        ConnectAudio(None),
    ]


def test_busy_then_howler_then_lockout() -> None:
    phone = Driver(PLAN)
    phone.lift()
    phone.press("1002")
    phone.do(CallProgressed(1))
    assert phone.do(CallEnded(1, "busy", 486)) == [changed(S.CALLING, S.ENDED), PlayTone("busy")]
    assert phone.advance(29.9) == []
    assert phone.advance(0.1) == [changed(S.ENDED, S.HOWLER), PlayTone("howler")]
    assert phone.advance(59.9) == []
    assert phone.advance(0.1) == [changed(S.HOWLER, S.LOCKOUT), PlayTone(None)]
    assert phone.machine.get_timer() is None
    assert phone.press("1") == []  # keys do nothing until the handset goes down
    assert phone.hang_up() == [changed(S.LOCKOUT, S.IDLE)]


def test_ended_and_howler_durations_are_settings() -> None:
    phone = Driver(PLAN, ended_tone_seconds=5.0, howler_seconds=10.0)
    phone.lift()
    phone.press("1002")
    phone.do(CallEnded(1, "declined", 603))
    assert phone.machine.tone == "busy"
    assert phone.advance(5.0)[-1] == PlayTone("howler")
    assert phone.advance(10.0)[-1] == PlayTone(None)
    assert phone.state is S.LOCKOUT


@pytest.mark.parametrize(("reason", "tone"), [*ENDED_TONES.items(), ("mystery", "congestion")])
def test_call_end_reason_chooses_the_tone(reason: str, tone: str) -> None:
    phone = Driver(PLAN)
    line = connected_call(phone)
    phone.do(CallEnded(line, reason))
    assert phone.state is S.ENDED
    assert phone.machine.tone == tone
    assert phone.machine.audio_line is None


def test_reason_mapping() -> None:
    assert ENDED_TONES["busy"] == ENDED_TONES["declined"] == ENDED_TONES["remote-hangup"] == "busy"
    assert ENDED_TONES["unobtainable"] == "unobtainable"
    assert ENDED_TONES["failed"] == ENDED_TONES["timeout"] == "congestion"


def test_no_answer_timeout_from_the_stack_gives_congestion() -> None:
    phone = Driver(PLAN)
    phone.lift()
    phone.press("1002")
    phone.do(CallProgressed(1))
    assert phone.do(CallEnded(1, "timeout", 408)) == [
        changed(S.CALLING, S.ENDED),
        PlayTone("congestion"),
    ]


def test_number_that_matches_no_pattern_is_unobtainable_at_once() -> None:
    phone = Driver(["911", "1xxx"])
    phone.lift()
    assert phone.press("5") == [
        changed(S.DIAL_TONE, S.DIALING),
        PlayTone(None),
        changed(S.DIALING, S.ENDED),
        PlayTone("unobtainable"),
    ]


def test_unobtainable_from_the_network() -> None:
    phone = Driver(PLAN)
    phone.lift()
    phone.press("1002")
    assert phone.do(CallEnded(1, "unobtainable", 404))[-1] == PlayTone("unobtainable")


def test_first_digit_timeout_leads_to_the_howler() -> None:
    phone = Driver(PLAN)
    phone.lift()
    assert phone.advance(14.9) == []
    assert phone.advance(0.1) == [changed(S.DIAL_TONE, S.HOWLER), PlayTone("howler")]
    assert phone.advance(60.0) == [changed(S.HOWLER, S.LOCKOUT), PlayTone(None)]


def test_hash_dials_what_was_collected() -> None:
    phone = Driver()  # the empty plan: anything, ended by # or the timeout
    phone.lift()
    assert phone.press("1234") == [changed(S.DIAL_TONE, S.DIALING), PlayTone(None)]
    assert phone.press("#") == [changed(S.DIALING, S.CALLING), PlaceCall(1, "1234")]


def test_hash_as_the_first_key_is_a_key() -> None:
    phone = Driver()
    phone.lift()
    phone.press("#31")
    assert phone.machine.digits == "#31"
    assert phone.press("#")[-1] == PlaceCall(1, "#31")


def test_hash_is_a_key_where_the_plan_continues_with_it() -> None:
    phone = Driver(["*31#x.", "1xxx"])
    phone.lift()
    phone.press("*31#0301")
    assert phone.state is S.DIALING and phone.machine.digits == "*31#0301"
    assert phone.press("#")[-1] == PlaceCall(1, "*31#0301")


def test_inter_digit_timeout_dials() -> None:
    phone = Driver()
    phone.lift()
    phone.press("123")
    assert phone.advance(3.9) == []
    phone.press("4")  # re-arms the timeout
    assert phone.advance(3.9) == []
    assert phone.advance(0.1) == [changed(S.DIALING, S.CALLING), PlaceCall(1, "1234")]


def test_inter_digit_timeout_is_a_setting() -> None:
    phone = Driver(inter_digit_timeout=1.5)
    phone.lift()
    phone.press("7")
    assert phone.advance(1.5)[-1] == PlaceCall(1, "7")


def test_timeout_on_an_incomplete_number_is_unobtainable() -> None:
    phone = Driver(PLAN)
    phone.lift()
    phone.press("10")
    assert phone.advance(4.0) == [changed(S.DIALING, S.ENDED), PlayTone("unobtainable")]


def test_open_ended_number_dials_on_timeout_with_rewrite() -> None:
    phone = Driver(PLAN)
    phone.lift()
    phone.press("0301234567")
    assert phone.state is S.DIALING
    assert phone.advance(4.0)[-1] == PlaceCall(1, "+49301234567")


def test_emergency_number_dials_immediately() -> None:
    phone = Driver(["911", "<:+1>[2-9]xxxxxxxxx"])
    phone.lift()
    assert phone.press("911")[-1] == PlaceCall(1, "911")
    assert phone.state is S.CALLING


def test_e164_rewrite_of_a_complete_number() -> None:
    phone = Driver(PLAN)
    phone.lift()
    assert phone.press("2125551234")[-1] == PlaceCall(1, "+12125551234")


def test_speed_dial_on_timeout_with_rewrite() -> None:
    phone = Driver(PLAN, speed_dials={"1": "0301234567"})
    phone.lift()
    phone.press("1")  # also the start of 1xxx: wait
    assert phone.advance(4.0)[-1] == PlaceCall(1, "+49301234567")


def test_speed_dial_to_a_sip_uri_by_hash() -> None:
    phone = Driver(PLAN, speed_dials={"*2": "sip:bob@example.org"})
    phone.lift()
    phone.press("*2")
    assert phone.state is S.DIALING  # not refused: a speed-dial key is being dialled
    assert phone.press("#")[-1] == PlaceCall(1, "sip:bob@example.org")


def test_too_many_digits_are_unobtainable() -> None:
    phone = Driver()
    phone.lift()
    phone.press("1" * 32)
    assert phone.machine.digits == "1" * 32
    assert phone.press("1") == [changed(S.DIALING, S.ENDED), PlayTone("unobtainable")]


def test_keys_a_to_d_are_ignored_while_dialling() -> None:
    phone = Driver()
    phone.lift()
    assert phone.press("A") == []
    assert phone.state is S.DIAL_TONE and phone.machine.tone == "dial"


def test_hang_up_while_calling_cancels() -> None:
    phone = Driver(PLAN)
    phone.lift()
    phone.press("1002")
    phone.do(CallProgressed(1))
    assert phone.hang_up() == [HangUpCall(1), changed(S.CALLING, S.IDLE), PlayTone(None)]


def test_hang_up_while_dialling_clears_the_digits() -> None:
    phone = Driver(PLAN)
    phone.lift()
    phone.press("10")
    assert phone.hang_up() == [changed(S.DIALING, S.IDLE)]
    assert phone.machine.digits == "" and phone.machine.get_timer() is None
    phone.lift()
    phone.press("02")
    assert phone.machine.digits == "02"  # a new number, not 1002


# --------------------------------------------------------------------------- do not disturb


def test_feature_codes_switch_do_not_disturb() -> None:
    phone = Driver(PLAN)
    phone.lift()
    assert phone.press("*78") == [
        changed(S.DIAL_TONE, S.DIALING),
        PlayTone(None),
        DoNotDisturbChanged(True),
        changed(S.DIALING, S.DIAL_TONE),
        PlayTone("dial"),
    ]
    assert phone.machine.do_not_disturb
    assert phone.advance(14.9) == []  # a fresh first-digit timeout
    phone.hang_up()
    line, commands = phone.incoming()
    assert commands == [RejectCall(line, 480)]
    assert phone.state is S.IDLE and not phone.machine.ringer_on
    phone.lift()
    assert DoNotDisturbChanged(False) in phone.press("*79")
    assert not phone.machine.do_not_disturb


def test_set_do_not_disturb_input() -> None:
    phone = Driver()
    assert phone.do(SetDoNotDisturb(True)) == [DoNotDisturbChanged(True)]
    line, commands = phone.incoming()
    assert commands == [RejectCall(line, 480)]
    assert phone.do(SetDoNotDisturb(False)) == [DoNotDisturbChanged(False)]
    assert phone.incoming()[1][0] == changed(S.IDLE, S.RINGING)


def test_do_not_disturb_setting_at_start() -> None:
    phone = Driver(do_not_disturb=True)
    assert phone.incoming()[1] == [RejectCall(1, 480)]


def test_do_not_disturb_wins_over_auto_answer_and_call_waiting() -> None:
    phone = Driver(PLAN, auto_answer=True, do_not_disturb=True)
    assert phone.incoming()[1] == [RejectCall(1, 480)]
    connected_call(phone)
    line, commands = phone.incoming()
    assert commands == [RejectCall(line, 480)]


# --------------------------------------------------------------------------- indicators, logging


def test_registration_lights_its_indicator_and_does_not_block_dialling() -> None:
    phone = Driver(PLAN)
    assert phone.do(RegistrationChanged(True)) == [SetIndicator("registered", True)]
    assert phone.do(RegistrationChanged(True)) == []
    assert phone.machine.registered
    assert phone.do(RegistrationChanged(False)) == [SetIndicator("registered", False)]
    phone.lift()
    assert phone.press("911")[-1] == PlaceCall(1, "911")


def test_state_changes_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    phone = Driver(PLAN)
    with caplog.at_level(logging.INFO, logger="phoneagent.phone.machine"):
        phone.lift()
        phone.press("1002")
    transitions = [r.getMessage() for r in caplog.records if " -> " in r.getMessage()]
    assert transitions == [
        "phone: idle -> dial-tone",
        "phone: dial-tone -> dialing",
        "phone: dialing -> calling",
    ]


# --------------------------------------------------------------------------- ignored and illegal


@pytest.mark.parametrize(
    "event", [KeyPress("5"), HookOn(), HookFlash(), HandsFreeAnswer(), HandsFreeHangUp()]
)
def test_user_actions_a_phone_ignores_when_idle(event: PhoneInput) -> None:
    phone = Driver()
    assert phone.do(event) == []
    assert phone.state is S.IDLE


def test_flash_and_a_second_lift_while_dialling_are_ignored() -> None:
    phone = Driver()
    phone.lift()
    assert phone.do(HookFlash(), HookOff(), HandsFreeAnswer(), HandsFreeHangUp()) == []
    assert phone.state is S.DIAL_TONE


def test_stale_call_events_are_ignored() -> None:
    phone = Driver(PLAN)
    phone.lift()
    phone.press("1002")
    phone.hang_up()  # cancelled while the far end answers
    assert phone.do(CallProgressed(1), CallAnswered(1), CallEnded(1, "cancelled")) == []
    assert phone.state is S.IDLE


def test_call_answered_for_a_call_we_answered_is_ignored() -> None:
    phone = Driver()
    line, _ = phone.incoming()
    phone.lift()
    assert phone.do(CallAnswered(line), CallProgressed(line)) == []


def test_incoming_call_on_a_line_not_from_new_line_is_a_bug() -> None:
    phone = Driver()
    with pytest.raises(LocalProtocolError):
        phone.do(IncomingCall(7, "sip:a@b"))
    line, _ = phone.incoming()
    with pytest.raises(LocalProtocolError):
        phone.do(IncomingCall(line, "sip:a@b"))  # the same line twice


def test_call_event_for_a_line_never_issued_is_a_bug() -> None:
    phone = Driver()
    for event in (CallAnswered(1), CallProgressed(0), CallEnded(5, "busy")):
        with pytest.raises(LocalProtocolError):
            phone.do(event)


def test_unknown_key_and_unknown_input_are_bugs() -> None:
    @dataclass(frozen=True, slots=True)
    class Mystery(PhoneInput):
        pass

    phone = Driver()
    with pytest.raises(LocalProtocolError):
        phone.do(KeyPress("E"))
    with pytest.raises(LocalProtocolError):
        phone.do(Mystery())


def test_new_line_numbers_incoming_and_outgoing_calls_from_one_counter() -> None:
    phone = Driver(PLAN)
    assert phone.machine.new_line() == 1
    phone.lift()
    assert phone.press("1002")[-1] == PlaceCall(2, "1002")
    assert phone.machine.new_line() == 3


def test_transition_table_names_only_real_states_and_inputs() -> None:
    for state, kind in TRANSITIONS:
        assert isinstance(state, PhoneState)
        assert issubclass(kind, PhoneInput)
    assert (S.IDLE, KeyPress) not in TRANSITIONS  # a key while idle: deliberately ignored


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    "bad",
    [
        {"inter_digit_timeout": 0},
        {"first_digit_timeout": -1},
        {"ended_tone_seconds": 0},
        {"howler_seconds": 0},
        {"auto_answer_delay": -0.5},
        {"ring_cadence": ()},
        {"ring_cadence": ((0.0, True),)},
        {"speed_dials": {"1": "not a target"}},
        {"speed_dials": {"x": "100"}},
    ],
)
def test_settings_are_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PhoneSettings(**bad)  # type: ignore[arg-type]


def test_default_settings() -> None:
    settings = PhoneSettings()
    assert settings.dial_plan.is_empty and settings.speed_dials == {}
    assert settings.inter_digit_timeout == 4.0
    assert settings.first_digit_timeout == 15.0
    assert settings.ended_tone_seconds == 30.0
    assert settings.howler_seconds == 60.0
    assert settings.ring_cadence == ((2.0, True), (4.0, False))
    assert settings.tone_country == "us"
    assert not settings.auto_answer and settings.auto_answer_delay == 0.0
    assert not settings.do_not_disturb and settings.call_waiting
    machine = PhoneMachine(settings, 0.0)
    assert machine.state is S.IDLE and machine.get_timer() is None
    assert machine.next_command() is None
