"""What the transaction machines share: timers as deadlines (DESIGN.md principle 2) and
the transition-table lookup (principle 3)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import TypeVar

from phoneagent.sip.errors import LocalProtocolError

Timer = TypeVar("Timer")


def fire_due(
    deadlines: dict[Timer, float],
    now: float,
    fire: Callable[[Timer, float], bool],
    alive: Callable[[], bool],
) -> bool:
    """Fire every timer due at ``now``, earliest first, while ``alive()``.

    A timer is removed before it fires, so ``fire`` may re-arm it; one re-armed for
    a time still not after ``now`` fires again in this call.  Returns True when any
    ``fire`` returned True (a timeout the caller reports).
    """
    reported = False
    while alive():
        due = [(at, timer) for timer, at in deadlines.items() if at <= now]
        if not due:
            break
        _, timer = min(due, key=lambda item: item[0])
        del deadlines[timer]
        reported |= fire(timer, now)
    return reported


State = TypeVar("State", bound=Enum)
Event = TypeVar("Event", bound=Enum)


def next_state(
    transitions: Mapping[tuple[State, Event], State], state: State, event: Event, label: str
) -> State:
    """The state ``event`` leads to from ``state``; LocalProtocolError when illegal there
    (DESIGN.md principle 3: an event illegal in a state is our bug, never ignored)."""
    new = transitions.get((state, event))
    if new is None:
        raise LocalProtocolError(f"{label}: {event.value} is not allowed in state {state.value}")
    return new
