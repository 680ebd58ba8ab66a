"""A fake-clock driver for PhoneMachine: feed inputs, step time, collect commands."""

from __future__ import annotations

from typing import Any

from phoneagent.phone.dialplan import DialPlan
from phoneagent.phone.events import (
    CallAnswered,
    HookOff,
    HookOn,
    IncomingCall,
    KeyPress,
    PhoneCommand,
    PhoneInput,
    PlaceCall,
    StateChanged,
)
from phoneagent.phone.machine import PhoneMachine, PhoneState
from phoneagent.phone.settings import PhoneSettings

START = 1000.0
#: The dial plan of the examples: emergency, extensions, NANP with +1, German national
#: numbers to E.164, international by timeout or #, and numbers typed with a +.
PLAN = ["911", "112", "1xxx", "<:+1>[2-9]xxxxxxxxx", "<0:+49>[1-9]x.", "00x.", "+x."]
S = PhoneState


class Driver:
    def __init__(self, plan: list[str] | None = None, **settings: Any) -> None:
        if plan is not None:
            settings["dial_plan"] = DialPlan.parse(plan)
        self.now = START
        self.machine = PhoneMachine(PhoneSettings(**settings), self.now)

    @property
    def state(self) -> PhoneState:
        return self.machine.state

    def drain(self) -> list[PhoneCommand]:
        commands = []
        while (command := self.machine.next_command()) is not None:
            commands.append(command)
        return commands

    def do(self, *events: PhoneInput) -> list[PhoneCommand]:
        for event in events:
            self.machine.handle(event, self.now)
        return self.drain()

    def advance(self, seconds: float) -> list[PhoneCommand]:
        """Step the clock, firing each deadline at its own time (as loop.call_at would)."""
        end = self.now + seconds
        while (deadline := self.machine.get_timer()) is not None and deadline <= end:
            self.now = max(self.now, deadline)
            self.machine.handle_timer(self.now)
        self.now = end
        return self.drain()

    def advance_collecting(self, seconds: float) -> list[tuple[float, PhoneCommand]]:
        """Like advance, with the time (since the start of the step) of each command."""
        start, end = self.now, self.now + seconds
        out: list[tuple[float, PhoneCommand]] = []
        while (deadline := self.machine.get_timer()) is not None and deadline <= end:
            self.now = max(self.now, deadline)
            self.machine.handle_timer(self.now)
            out.extend((round(self.now - start, 6), command) for command in self.drain())
        self.now = end
        return out

    def press(self, keys: str) -> list[PhoneCommand]:
        return self.do(*(KeyPress(key) for key in keys))

    def lift(self) -> list[PhoneCommand]:
        return self.do(HookOff())

    def hang_up(self) -> list[PhoneCommand]:
        return self.do(HookOn())

    def incoming(self, caller: str = "sip:alice@example.org") -> tuple[int, list[PhoneCommand]]:
        line = self.machine.new_line()
        return line, self.do(IncomingCall(line, caller))


def changed(old: PhoneState, new: PhoneState) -> StateChanged:
    return StateChanged(old.value, new.value)


def connected_call(phone: Driver, number: str = "1002") -> int:
    """Lift, dial ``number`` (complete in PLAN) and have it answered; returns its line."""
    phone.lift()
    commands = phone.press(number)
    place = commands[-1]
    assert isinstance(place, PlaceCall)
    phone.do(CallAnswered(place.line))
    assert phone.state is S.CONNECTED
    return place.line
