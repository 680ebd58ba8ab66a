"""A fake clock for the HAL's tests: a Scheduler whose time moves only when a test says so.

``advance(seconds)`` runs every callback that falls due, in deadline order (ties
in the order they were scheduled), with ``time()`` set to each callback's
deadline — the way an event loop would run them, minus the waiting.
``call_soon_threadsafe`` queues a callback at the current time; the next
``advance`` (or ``run_ready``) runs it, as the loop's next iteration would.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable


class FakeTimer:
    def __init__(self, clock: FakeClock, when: float, callback: Callable[[], object]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._queue: list[tuple[float, int, FakeTimer]] = []
        self._sequence = itertools.count()

    def time(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], object]) -> FakeTimer:
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        return self.call_at(self._now + delay, callback)

    def call_at(self, when: float, callback: Callable[[], object]) -> FakeTimer:
        timer = FakeTimer(self, max(when, self._now), callback)
        heapq.heappush(self._queue, (timer.when, next(self._sequence), timer))
        return timer

    def call_soon_threadsafe(self, callback: Callable[[], object]) -> FakeTimer:
        return self.call_at(self._now, callback)

    @property
    def pending(self) -> int:
        """Timers not cancelled and not yet run."""
        return sum(1 for _, _, timer in self._queue if not timer.cancelled)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, running what falls due on the way."""
        if seconds < 0:
            raise ValueError(f"time does not go back ({seconds})")
        end = self._now + seconds
        while self._queue and self._queue[0][0] <= end + 1e-9:
            when, _, timer = heapq.heappop(self._queue)
            if timer.cancelled:
                continue
            self._now = max(self._now, when)
            timer.callback()
        self._now = max(self._now, end)

    def run_ready(self) -> None:
        """Run what is due now (callbacks handed over with call_soon_threadsafe)."""
        self.advance(0)
