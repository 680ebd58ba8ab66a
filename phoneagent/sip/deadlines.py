"""Timers as deadlines (DESIGN.md principle 2), shared by the transaction machines."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

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
