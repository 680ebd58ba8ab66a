"""What the transaction machines share: timers as deadlines (DESIGN.md principle 2), the
transition-table lookup (principle 3), and the base class that keeps both for a machine."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Generic, TypeVar

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


class TransactionMachine(Generic[State, Event]):
    """A transaction's state, its timers as deadlines and its table of transitions.

    Subclasses (RFC 3261 §17.1 client, §17.2 server) set ``state``, ``_transitions``,
    ``_deadlines`` and ``_label`` and say what a timer does (``_fire``), which states
    end the earlier states' timers (``_clears_timers``) and when the machine is done
    (``_alive``).
    """

    state: State
    _transitions: Mapping[tuple[State, Event], State]
    _deadlines: dict[Event, float]
    _label: str
    _logger: logging.Logger

    def _fire(self, timer: Event, now: float) -> bool:
        raise NotImplementedError

    def _clears_timers(self, new: State) -> bool:
        raise NotImplementedError

    def _alive(self) -> bool:
        raise NotImplementedError

    def next_deadline(self) -> float | None:
        return min(self._deadlines.values(), default=None)

    def _fire_due(self, now: float) -> bool:
        return fire_due(self._deadlines, now, self._fire, self._alive)

    def _wait(self, timer: Event, duration: float, now: float) -> None:
        """Arm a wait timer; one of zero length (reliable transports) fires at once."""
        if duration <= 0:
            self._fire(timer, now)
        else:
            self._deadlines[timer] = now + duration

    def _transition(self, event: Event) -> None:
        self._set_state(next_state(self._transitions, self.state, event, self._label))

    def _set_state(self, new: State) -> None:
        old = self.state
        if new is old:
            return
        self.state = new
        if self._clears_timers(new):
            self._deadlines.clear()  # the timers of the earlier states no longer apply
        self._logger.debug("%s: %s -> %s", self._label, old.value, new.value)
