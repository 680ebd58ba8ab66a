"""Rotary dial decoding: counting loop-disconnect pulses into digits.

Theory of operation
-------------------
A rotary dial returns to rest at a governed speed and, on its way, opens its
*pulse contact* once per unit dialled: nominally 10 pulses per second with a
60 ms break (contact open) and a 40 ms make (closed) — ITU-T Q.23's
predecessor, the decadic "loop disconnect" signalling of national specs such
as BT SIN 351 and Telcordia GR-506.  Exchanges accept 7 to 13 pulses per second;
so does :class:`RotaryDecoder`.  Ten pulses are the digit ``0``.

``pulse_contact(opened)``  raw level, debounced by a :class:`ContactDebouncer`
debounced break (open)     one pulse: count it, remember when it started
debounced make (closed)    arm the inter-digit timer (``inter_digit_ms``, 300 ms)
no break before the timer  the digit is complete → :class:`KeyPressed`

A digit is rejected (logged, not reported) when its average pulse rate — over
the starts of its breaks, so a single pulse has none — lies outside
``min_pps``..``max_pps``, when it has more than ten pulses, or when the contact
stays open longer than the inter-digit gap (a broken wire, not a pulse).

Many dials also have an *off-normal* contact that is active while the dial is
away from its rest position.  With one (``uses_off_normal``) a digit is the
pulses counted while off-normal is active, complete the moment the dial comes
to rest — no need to wait for the gap — and pulses seen with the dial at rest
are noise.

Like :mod:`phoneagent.hal.hook`, the decoder reads no pin: its only clock is
the injected scheduler, and it runs on that scheduler's thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from phoneagent.hal.debounce import ContactDebouncer
from phoneagent.hal.interfaces import HardwareListener, KeyPressed, Scheduler, TimerHandle

__all__ = ["RotaryDecoder"]

log = logging.getLogger(__name__)

DEFAULT_INTER_DIGIT_MS = 300
DEFAULT_PULSE_DEBOUNCE_MS = 5  # a 13 pps make is ~30 ms: debounce well below that
MAX_PULSES = 10


class RotaryDecoder:
    """Counts debounced pulse-contact breaks into digits and reports them as key presses."""

    def __init__(
        self,
        scheduler: Scheduler,
        listener: HardwareListener,
        *,
        inter_digit_ms: int = DEFAULT_INTER_DIGIT_MS,
        debounce_ms: int = DEFAULT_PULSE_DEBOUNCE_MS,
        min_pps: float = 7.0,
        max_pps: float = 13.0,
        uses_off_normal: bool = False,
    ) -> None:
        if inter_digit_ms <= 0:
            raise ValueError(f"inter_digit_ms must be > 0, not {inter_digit_ms}")
        if not 0 < min_pps <= max_pps:
            raise ValueError(f"need 0 < min_pps <= max_pps, not {min_pps}..{max_pps}")
        self._scheduler = scheduler
        self._listener = listener
        self._inter_digit = inter_digit_ms / 1000
        self._min_pps = min_pps
        self._max_pps = max_pps
        self._uses_off_normal = uses_off_normal
        # The pulse contact is closed at rest; ``True`` here means "open" (a break).
        self._pulse = ContactDebouncer(scheduler, self._pulse_edge, debounce_ms=debounce_ms)
        self._off_normal = ContactDebouncer(
            scheduler, self._off_normal_edge, debounce_ms=debounce_ms
        )
        self._pulses = 0
        self._first_break: float | None = None
        self._last_break: float | None = None
        self._timer: TimerHandle | None = None

    @property
    def dialling(self) -> bool:
        """A digit is being dialled (pulses counted, not yet complete)."""
        return self._pulses > 0 or self._off_normal.level

    def pulse_contact(self, opened: bool) -> None:
        """The pulse contact now reads open (``True``, a break) or closed."""
        self._pulse.set(opened)

    def off_normal(self, active: bool) -> None:
        """The off-normal contact now reads active (dial away from rest) or not."""
        self._off_normal.set(active)

    def close(self) -> None:
        """Cancel the timers and drop a digit in progress."""
        self._pulse.close()
        self._off_normal.close()
        self._cancel_timer()

    # ------------------------------------------------------------------ internals

    def _pulse_edge(self, opened: bool, edge_at: float) -> None:
        self._cancel_timer()
        if self._uses_off_normal and not self._off_normal.level:
            if opened:
                log.debug("rotary: pulse with the dial at rest ignored")
            return
        if opened:
            self._pulses += 1
            if self._first_break is None:
                self._first_break = edge_at
            self._last_break = edge_at
            # A break never lasts as long as the gap between digits: if it does, the wire is
            # open, and the digit so far is void.
            self._arm(self._inter_digit, self._stuck_open)
        elif not self._uses_off_normal and self._pulses:
            # The gap counts from the make's edge, not from its (debounced) confirmation.
            gap_left = edge_at + self._inter_digit - self._scheduler.time()
            self._arm(max(0.0, gap_left), self._complete)

    def _off_normal_edge(self, active: bool, edge_at: float) -> None:
        if active:
            self._reset_digit()  # a new digit starts with the dial leaving its rest
        elif self._pulses:
            self._complete()

    def _stuck_open(self) -> None:
        self._timer = None
        log.warning("rotary: pulse contact open for over %.0f ms; digit dropped",
                    self._inter_digit * 1000)
        self._reset_digit()

    def _complete(self) -> None:
        self._cancel_timer()
        pulses = self._pulses
        reason = self._check_rate()
        self._reset_digit()
        if pulses == 0:
            return
        if pulses > MAX_PULSES:
            reason = f"{pulses} pulses"
        if reason is not None:
            log.warning("rotary: digit rejected: %s", reason)
            return
        key = "0" if pulses == MAX_PULSES else str(pulses)
        self._listener(KeyPressed(at=self._scheduler.time(), key=key))

    def _check_rate(self) -> str | None:
        first, last = self._first_break, self._last_break
        if self._pulses < 2 or first is None or last is None:
            return None
        elapsed = last - first
        rate = (self._pulses - 1) / elapsed if elapsed > 0 else float("inf")
        if not self._min_pps <= rate <= self._max_pps:
            return (f"{rate:.1f} pulses per second, outside "
                    f"{self._min_pps:g}..{self._max_pps:g}")
        return None

    def _reset_digit(self) -> None:
        self._pulses = 0
        self._first_break = None
        self._last_break = None

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        self._cancel_timer()
        self._timer = self._scheduler.call_later(delay, callback)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
