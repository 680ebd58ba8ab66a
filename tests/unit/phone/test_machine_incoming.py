"""PhoneMachine: incoming calls, ringing, call waiting, hold and recall, hands-free."""

from __future__ import annotations

import pytest

from phoneagent.phone.events import (
    AnswerCall,
    CallAnswered,
    CallEnded,
    CallProgressed,
    ConnectAudio,
    HandsFreeAnswer,
    HandsFreeDial,
    HandsFreeHangUp,
    HangUpCall,
    HoldCall,
    HookFlash,
    MessagesWaiting,
    PlaceCall,
    PlayTone,
    RejectCall,
    ResumeCall,
    SendDtmf,
    SetIndicator,
    SetRinger,
)

from .driver import PLAN, Driver, S, changed, connected_call

# --------------------------------------------------------------------------- incoming


def test_incoming_call_rings_with_the_cadence() -> None:
    phone = Driver()
    line, commands = phone.incoming()
    assert commands == [changed(S.IDLE, S.RINGING), SetRinger(True)]
    assert phone.advance_collecting(11.9) == [
        (2.0, SetRinger(False)),
        (6.0, SetRinger(True)),
        (8.0, SetRinger(False)),
    ]
    assert phone.state is S.RINGING and line == 1


def test_ring_cadence_is_a_setting() -> None:
    uk = ((0.4, True), (0.2, False), (0.4, True), (2.0, False))
    phone = Driver(ring_cadence=uk)
    phone.incoming()
    assert phone.advance_collecting(3.5) == [
        (0.4, SetRinger(False)),
        (0.6, SetRinger(True)),
        (1.0, SetRinger(False)),
        (3.0, SetRinger(True)),
        (3.4, SetRinger(False)),
    ]


def test_ring_cadence_does_not_replay_missed_steps_when_served_late() -> None:
    phone = Driver()
    phone.incoming()
    phone.now += 100.0
    phone.machine.handle_timer(phone.now)
    assert phone.drain() == [SetRinger(False)]
    assert phone.machine.get_timer() == pytest.approx(phone.now + 4.0)  # the off step, from now


def test_answer_by_lifting_the_handset() -> None:
    phone = Driver()
    line, _ = phone.incoming()
    assert phone.lift() == [
        AnswerCall(line),
        changed(S.RINGING, S.CONNECTED),
        SetRinger(False),
        ConnectAudio(line),
        SetIndicator("in_call", True),
    ]
    assert phone.machine.get_timer() is None
    assert not phone.machine.hands_free


def test_answer_during_the_silent_part_of_the_cadence() -> None:
    phone = Driver()
    phone.incoming()
    phone.advance(3.0)
    assert SetRinger(False) not in phone.lift()  # it is already off


def test_caller_gives_up() -> None:
    phone = Driver()
    line, _ = phone.incoming()
    assert phone.do(CallEnded(line, "cancelled")) == [changed(S.RINGING, S.IDLE), SetRinger(False)]
    assert phone.machine.get_timer() is None


@pytest.mark.parametrize("state_setup", ["dial-tone", "dialing", "calling", "ended", "howler"])
def test_busy_states_reject_with_486(state_setup: str) -> None:
    phone = Driver(PLAN)
    phone.lift()
    if state_setup == "dialing":
        phone.press("1")
    elif state_setup == "calling":
        phone.press("1002")
    elif state_setup == "ended":
        phone.press("#")  # no pattern starts with #
    elif state_setup == "howler":
        phone.advance(15.0)
    assert phone.state.value == state_setup
    line, commands = phone.incoming()
    assert commands == [RejectCall(line, 486)]


def test_a_second_caller_while_ringing_is_busy() -> None:
    phone = Driver()
    phone.incoming()
    line, commands = phone.incoming()
    assert commands == [RejectCall(line, 486)]


def test_without_call_waiting_a_caller_during_a_call_is_busy() -> None:
    phone = Driver(PLAN, call_waiting=False)
    connected_call(phone)
    line, commands = phone.incoming()
    assert commands == [RejectCall(line, 486)]


# --------------------------------------------------------------------------- call waiting, hold


def test_call_waiting_flash_answers_and_swaps() -> None:
    phone = Driver(PLAN)
    first = connected_call(phone)
    second, commands = phone.incoming("sip:bob@example.org")
    assert commands == [PlayTone("call_waiting")]
    assert phone.state is S.CONNECTED and not phone.machine.ringer_on
    third, commands = phone.incoming()  # a third caller: one is already waiting
    assert commands == [RejectCall(third, 486)]
    assert phone.do(HookFlash()) == [
        HoldCall(first),
        AnswerCall(second),
        ConnectAudio(second),
        PlayTone(None),
    ]
    assert phone.do(HookFlash()) == [HoldCall(second), ResumeCall(first), ConnectAudio(first)]
    assert phone.do(HookFlash()) == [HoldCall(first), ResumeCall(second), ConnectAudio(second)]
    fourth, commands = phone.incoming()  # two calls already: busy
    assert commands == [RejectCall(fourth, 486)]
    # The held party hangs up: the active call goes on.
    assert phone.do(CallEnded(first, "remote-hangup")) == []
    assert phone.state is S.CONNECTED and phone.machine.lines == (second,)
    assert phone.press("1") == [SendDtmf(second, "1")]


def test_waiting_caller_gives_up_and_the_beep_stops() -> None:
    phone = Driver(PLAN)
    connected_call(phone)
    second, _ = phone.incoming()
    assert phone.do(CallEnded(second, "cancelled")) == [PlayTone(None)]
    assert phone.state is S.CONNECTED


def test_active_call_ends_with_a_held_one_left() -> None:
    phone = Driver(PLAN)
    first = connected_call(phone)
    second, _ = phone.incoming()
    phone.do(HookFlash())
    assert phone.do(CallEnded(second, "remote-hangup")) == [
        changed(S.CONNECTED, S.ON_HOLD),
        ConnectAudio(None),
    ]
    assert phone.do(HookFlash()) == [
        ResumeCall(first),
        changed(S.ON_HOLD, S.CONNECTED),
        ConnectAudio(first),
    ]


def test_hold_and_resume_without_a_waiting_call() -> None:
    phone = Driver(PLAN)
    line = connected_call(phone)
    assert phone.do(HookFlash()) == [
        HoldCall(line),
        changed(S.CONNECTED, S.ON_HOLD),
        ConnectAudio(None),
    ]
    assert phone.press("5") == []  # no DTMF to a held call
    assert phone.do(HookFlash()) == [
        ResumeCall(line),
        changed(S.ON_HOLD, S.CONNECTED),
        ConnectAudio(line),
    ]


def test_held_call_rings_back_when_the_handset_goes_down() -> None:
    phone = Driver(PLAN)
    line = connected_call(phone)
    phone.do(HookFlash())
    assert phone.hang_up() == [changed(S.ON_HOLD, S.RINGING), SetRinger(True)]
    assert phone.machine.lines == (line,)
    assert phone.advance(2.0) == [SetRinger(False)]
    assert phone.lift() == [
        ResumeCall(line),
        changed(S.RINGING, S.CONNECTED),
        ConnectAudio(line),
    ]


def test_hang_up_with_a_held_call_hangs_up_the_active_one_then_recalls() -> None:
    phone = Driver(PLAN)
    first = connected_call(phone)
    second, _ = phone.incoming()
    phone.do(HookFlash())  # first held, second active
    assert phone.hang_up() == [
        HangUpCall(second),
        changed(S.CONNECTED, S.RINGING),
        ConnectAudio(None),
        SetRinger(True),
    ]
    assert phone.lift()[0] == ResumeCall(first)


def test_held_party_hangs_up_during_the_recall() -> None:
    phone = Driver(PLAN)
    line = connected_call(phone)
    phone.do(HookFlash())
    phone.hang_up()
    assert phone.do(CallEnded(line, "remote-hangup")) == [
        changed(S.RINGING, S.IDLE),
        SetRinger(False),
        SetIndicator("in_call", False),
    ]


def test_hang_up_with_a_waiting_call_makes_it_ring() -> None:
    phone = Driver(PLAN)
    first = connected_call(phone)
    second, _ = phone.incoming()
    assert phone.hang_up() == [
        HangUpCall(first),
        changed(S.CONNECTED, S.RINGING),
        PlayTone(None),
        ConnectAudio(None),
        SetRinger(True),
        SetIndicator("in_call", False),
    ]
    assert phone.lift()[0] == AnswerCall(second)


def test_far_end_clears_with_a_call_waiting_then_flash_takes_it() -> None:
    phone = Driver(PLAN)
    first = connected_call(phone)
    second, _ = phone.incoming()
    assert phone.do(CallEnded(first, "remote-hangup")) == [
        changed(S.CONNECTED, S.ENDED),
        PlayTone("busy"),
        ConnectAudio(None),
        SetIndicator("in_call", False),
    ]
    assert phone.do(HookFlash()) == [
        AnswerCall(second),
        changed(S.ENDED, S.CONNECTED),
        ConnectAudio(second),
        PlayTone(None),
        SetIndicator("in_call", True),
    ]


def test_call_waiting_during_hold() -> None:
    phone = Driver(PLAN)
    first = connected_call(phone)
    phone.do(HookFlash())
    second, commands = phone.incoming()
    assert commands == [PlayTone("call_waiting")]
    assert phone.do(HookFlash()) == [
        AnswerCall(second),
        changed(S.ON_HOLD, S.CONNECTED),
        ConnectAudio(second),
        PlayTone(None),
    ]
    assert phone.do(HookFlash()) == [HoldCall(second), ResumeCall(first), ConnectAudio(first)]


# --------------------------------------------------------------------------- hands-free


def test_auto_answer_after_the_delay() -> None:
    phone = Driver(auto_answer=True, auto_answer_delay=3.0)
    line, _ = phone.incoming()
    assert phone.advance(2.9) == [SetRinger(False)]
    assert phone.advance(0.1) == [
        AnswerCall(line),
        changed(S.RINGING, S.CONNECTED),
        ConnectAudio(line),
        SetIndicator("in_call", True),
    ]
    assert phone.machine.hands_free
    assert phone.hang_up() == []  # the handset is already down: no effect
    assert phone.lift() == []  # the call moves to the handset, nothing else changes
    assert not phone.machine.hands_free and phone.state is S.CONNECTED
    assert phone.hang_up()[0] == HangUpCall(line)


def test_auto_answer_without_delay_answers_at_once() -> None:
    phone = Driver(auto_answer=True)
    line, _ = phone.incoming()
    assert phone.machine.get_timer() == phone.now
    assert phone.advance(0.0)[0] == AnswerCall(line)


def test_auto_answered_call_ended_by_the_console() -> None:
    phone = Driver(auto_answer=True)
    line, _ = phone.incoming()
    phone.advance(0.0)
    assert phone.do(HandsFreeHangUp()) == [
        HangUpCall(line),
        changed(S.CONNECTED, S.IDLE),
        ConnectAudio(None),
        SetIndicator("in_call", False),
    ]


def test_auto_answer_does_not_take_a_waiting_call() -> None:
    phone = Driver(PLAN, auto_answer=True)
    connected_call(phone)
    phone.incoming()
    assert phone.advance(60.0) == []


def test_hands_free_dial_and_far_end_hangs_up_without_tones() -> None:
    phone = Driver(PLAN)
    assert phone.do(HandsFreeDial("1002")) == [changed(S.IDLE, S.CALLING), PlaceCall(1, "1002")]
    assert phone.machine.hands_free
    phone.do(CallProgressed(1))
    phone.do(CallAnswered(1))
    assert phone.do(CallEnded(1, "remote-hangup")) == [
        changed(S.CONNECTED, S.IDLE),
        ConnectAudio(None),
        SetIndicator("in_call", False),
    ]


def test_hands_free_busy_goes_straight_to_idle() -> None:
    phone = Driver(PLAN)
    phone.do(HandsFreeDial("1002"))
    phone.do(CallProgressed(1))
    assert phone.do(CallEnded(1, "busy", 486)) == [changed(S.CALLING, S.IDLE), PlayTone(None)]


def test_hands_free_dial_uses_speed_dials_and_the_rewrite() -> None:
    phone = Driver(PLAN, speed_dials={"7": "0301234"})
    assert phone.do(HandsFreeDial("7"))[-1] == PlaceCall(1, "+49301234")
    phone.do(HandsFreeHangUp())
    assert phone.do(HandsFreeDial("sip:bob@example.org"))[-1] == PlaceCall(2, "sip:bob@example.org")


def test_console_dial_while_the_handset_is_lifted_uses_the_handset() -> None:
    phone = Driver(PLAN)
    phone.lift()
    phone.press("0")
    assert phone.do(HandsFreeDial("1002"))[-1] == PlaceCall(1, "1002")
    assert not phone.machine.hands_free
    assert phone.do(CallEnded(1, "busy")) == [changed(S.CALLING, S.ENDED), PlayTone("busy")]


def test_console_dial_without_a_target_is_ignored() -> None:
    phone = Driver()
    assert phone.do(HandsFreeDial("  ")) == []
    assert phone.state is S.IDLE


def test_hands_free_answer_and_hang_up() -> None:
    phone = Driver()
    line, _ = phone.incoming()
    assert phone.do(HandsFreeAnswer()) == [
        AnswerCall(line),
        changed(S.RINGING, S.CONNECTED),
        SetRinger(False),
        ConnectAudio(line),
        SetIndicator("in_call", True),
    ]
    assert phone.machine.hands_free
    assert phone.do(HandsFreeHangUp())[0] == HangUpCall(line)
    assert phone.state is S.IDLE


def test_console_refuses_a_ringing_call() -> None:
    phone = Driver()
    line, _ = phone.incoming()
    assert phone.do(HandsFreeHangUp()) == [
        HangUpCall(line),
        changed(S.RINGING, S.IDLE),
        SetRinger(False),
    ]


def test_hands_free_call_moved_to_the_handset_ends_with_a_tone() -> None:
    phone = Driver()
    line, _ = phone.incoming()
    phone.do(HandsFreeAnswer())
    assert phone.lift() == []
    assert phone.do(CallEnded(line, "remote-hangup"))[:2] == [
        changed(S.CONNECTED, S.ENDED),
        PlayTone("busy"),
    ]


def test_console_hang_up_with_the_handset_lifted_gives_dial_tone() -> None:
    phone = Driver(PLAN)
    line = connected_call(phone)
    assert phone.do(HandsFreeHangUp()) == [
        HangUpCall(line),
        changed(S.CONNECTED, S.DIAL_TONE),
        PlayTone("dial"),
        ConnectAudio(None),
        SetIndicator("in_call", False),
    ]


def test_console_answer_takes_a_waiting_call() -> None:
    phone = Driver(PLAN)
    first = connected_call(phone)
    second, _ = phone.incoming()
    assert phone.do(HandsFreeAnswer())[:2] == [HoldCall(first), AnswerCall(second)]


def test_voicemail_lights_the_message_waiting_led_in_any_state() -> None:
    phone = Driver()
    assert phone.do(MessagesWaiting(True)) == [SetIndicator("message_waiting", True)]
    assert phone.do(MessagesWaiting(True)) == []  # no change, nothing to do
    assert PlayTone("stutter") in phone.lift()  # the voicemail reminder
    assert phone.do(MessagesWaiting(False)) == [SetIndicator("message_waiting", False)]
    assert phone.state is S.DIAL_TONE  # the call state is not touched
    phone.hang_up()
    assert PlayTone("dial") in phone.lift()
