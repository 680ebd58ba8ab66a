"""Random input sequences: PhoneMachine never raises and keeps its invariants."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from phoneagent.phone.dialplan import DialPlan
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
    HookOff,
    HookOn,
    IncomingCall,
    KeyPress,
    PhoneCommand,
    PhoneInput,
    PlaceCall,
    PlayTone,
    RegistrationChanged,
    RejectCall,
    ResumeCall,
    SendDtmf,
    SetDoNotDisturb,
    SetIndicator,
    SetRinger,
    StateChanged,
)
from phoneagent.phone.machine import PhoneMachine, PhoneState
from phoneagent.phone.settings import PhoneSettings

S = PhoneState
HOOK_OFF_STATES = {S.DIAL_TONE, S.DIALING, S.ENDED, S.HOWLER, S.LOCKOUT, S.ON_HOLD}
TIMED_STATES = {S.DIAL_TONE, S.DIALING, S.ENDED, S.HOWLER, S.RINGING}
REASONS = ["remote-hangup", "busy", "declined", "unobtainable", "cancelled", "timeout", "failed"]


@dataclass(frozen=True)
class Advance:
    seconds: float


@dataclass(frozen=True)
class Incoming:
    pass


@dataclass(frozen=True)
class OnLine:
    """A call event for the ``index``-th most recent line issued (modulo their number)."""

    kind: str
    index: int
    early_media: bool = False
    reason: str = "remote-hangup"


Action = PhoneInput | Advance | Incoming | OnLine


def _on_line(kind: str) -> st.SearchStrategy[OnLine]:
    return st.builds(
        OnLine,
        st.just(kind),
        st.sampled_from([0, 0, 0, 1, 2]),
        st.booleans(),
        st.sampled_from(REASONS),
    )


# Weighted by repetition, so that random sequences reach hold, call waiting, recall,
# hands-free calls and the howler's lockout rather than hanging up at once.
actions: st.SearchStrategy[Action] = st.one_of(
    st.just(HookOff()),
    st.just(HookOff()),
    st.just(HookFlash()),
    st.just(HookFlash()),
    st.just(HookOn()),
    st.just(Incoming()),
    st.just(Incoming()),
    _on_line("answered"),
    _on_line("answered"),
    _on_line("progress"),
    _on_line("ended"),
    st.builds(KeyPress, st.sampled_from(list("0123456789*#ABCD"))),
    st.sampled_from([HandsFreeAnswer(), HandsFreeHangUp()]),
    st.builds(HandsFreeDial, st.sampled_from(["1002", "0301234", "sip:bob@example.org", "1"])),
    st.builds(SetDoNotDisturb, st.booleans()),
    st.builds(RegistrationChanged, st.booleans()),
    st.builds(Advance, st.sampled_from([0.0, 0.5, 2.0, 4.0, 15.0, 30.0, 61.0])),
)

phone_settings = st.builds(
    PhoneSettings,
    dial_plan=st.sampled_from(
        [DialPlan(), DialPlan.parse(["911", "1xxx", "<0:+49>[1-9]x.", "*7x"])]
    ),
    speed_dials=st.sampled_from([{}, {"1": "sip:bob@example.org", "*2": "0301"}]),
    auto_answer=st.booleans(),
    auto_answer_delay=st.sampled_from([0.0, 3.0]),
    do_not_disturb=st.sampled_from([False, False, True]),
    call_waiting=st.sampled_from([True, True, False]),
    ring_cadence=st.sampled_from([((2.0, True), (4.0, False)), ((1.0, True),)]),
)


@dataclass
class Observer:
    """What the commands said so far, checked against the machine."""

    state: PhoneState = S.IDLE
    tone: str | None = None
    audio: int | None = None
    ringer: bool = False
    in_call: bool = False
    issued: list[int] = field(default_factory=list)
    incoming: set[int] = field(default_factory=set)
    dead: set[int] = field(default_factory=set)

    def see(self, command: PhoneCommand) -> None:
        line = getattr(command, "line", None)
        if isinstance(command, PlaceCall):
            assert command.line not in self.issued
            self.issued.append(command.line)
        if isinstance(command, ConnectAudio):
            self.audio = command.line
        elif line is not None:
            assert line in self.issued, command
            assert line not in self.dead, f"{command} after the line was let go"
        if isinstance(command, StateChanged):
            assert command.old == self.state.value and command.old != command.new
            self.state = PhoneState(command.new)
        elif isinstance(command, PlayTone):
            self.tone = command.name
        elif isinstance(command, SetRinger):
            assert command.on != self.ringer, "a redundant SetRinger"
            self.ringer = command.on
        elif isinstance(command, SetIndicator) and command.name == "in_call":
            self.in_call = command.on
        elif isinstance(command, AnswerCall):
            assert command.line in self.incoming
        elif isinstance(command, HangUpCall | RejectCall):
            self.dead.add(command.line)
        elif isinstance(command, HoldCall | ResumeCall | SendDtmf):
            assert line is not None

    def check(self, machine: PhoneMachine) -> None:
        state = machine.state
        assert self.state is state
        assert self.tone == machine.tone
        assert self.audio == machine.audio_line
        assert self.ringer == machine.ringer_on
        assert not machine.ringer_on or state is S.RINGING, "the ringer rings outside RINGING"
        assert len(machine.lines) <= 2
        if state in HOOK_OFF_STATES:
            assert machine.hook_off
        if state in (S.IDLE, S.RINGING):
            assert not machine.hook_off
        if state is S.IDLE:
            assert machine.lines == () and machine.tone is None and machine.audio_line is None
        if state in (S.CONNECTED, S.CALLING, S.RINGING):
            assert machine.lines
        if state is S.CONNECTED:
            assert machine.audio_line in machine.lines
        assert (machine.get_timer() is not None) == (state in TIMED_STATES)
        assert machine.digits == "" or state is S.DIALING


def run(machine: PhoneMachine, observer: Observer, now: float, action: Action) -> float:
    if isinstance(action, Advance):
        end = now + action.seconds
        while (deadline := machine.get_timer()) is not None and deadline <= end:
            now = max(now, deadline)
            machine.handle_timer(now)
            drain(machine, observer)
        return end
    if isinstance(action, Incoming):
        line = machine.new_line()
        observer.issued.append(line)
        observer.incoming.add(line)
        machine.handle(IncomingCall(line, "sip:caller@example.org"), now)
    elif isinstance(action, OnLine):
        if not observer.issued:
            return now
        line = observer.issued[-1 - action.index % len(observer.issued)]
        event: PhoneInput
        if action.kind == "progress":
            event = CallProgressed(line, action.early_media)
        elif action.kind == "answered":
            event = CallAnswered(line)
        else:
            event = CallEnded(line, action.reason)
        machine.handle(event, now)
    else:
        machine.handle(action, now)
    drain(machine, observer)
    return now


def drain(machine: PhoneMachine, observer: Observer) -> None:
    while (command := machine.next_command()) is not None:
        observer.see(command)
    observer.check(machine)


@settings(max_examples=600, deadline=None)
@given(phone_settings, st.lists(actions, min_size=10, max_size=80))
def test_random_inputs_keep_the_invariants(
    phone_settings: PhoneSettings, sequence: list[Action]
) -> None:
    now = 100.0
    machine = PhoneMachine(phone_settings, now)
    observer = Observer()
    for action in sequence:
        now = run(machine, observer, now, action)

    # Handset down and every call ended by the far end: back to a quiet IDLE.
    machine.handle(HookOn(), now)
    drain(machine, observer)
    for _ in range(4):
        for line in machine.lines:
            machine.handle(CallEnded(line, "remote-hangup"), now)
            drain(machine, observer)
    assert machine.state is S.IDLE
    assert machine.lines == ()
    assert machine.tone is None and machine.audio_line is None and not machine.ringer_on
    assert machine.get_timer() is None
    assert not observer.in_call
