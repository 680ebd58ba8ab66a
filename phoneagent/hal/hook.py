"""Hook switch logic: debounce, hook flash and hang-up, independent of where the contact is read.

Theory of operation
-------------------
The hook switch is a mechanical contact that bounces for a few milliseconds
whenever the handset is lifted or put down.  The user also uses it as a key:
a short press of the cradle (a *hook flash*, also called *register recall*,
ITU-T Q.23's "timed break recall") asks for a second line or a transfer.  A
:class:`HookDetector` turns raw contact changes into the three things the phone
needs to know:

``contact(off_hook)``           raw level, bounces and all
      │  debounce: a level must hold for ``debounce_ms`` before it counts
      ▼
debounced on-hook at ``t``      → arm a timer at ``t + flash_max_ms``
debounced off-hook at ``t'``    → ``t' - t`` < ``flash_min_ms``: a glitch, ignored
                                  ``flash_min_ms`` ≤ ``t' - t`` ≤ ``flash_max_ms``:
                                  :class:`HookFlashed`
timer fires (still on-hook)     → :class:`HookChanged` ``(off_hook=False)``:
                                  hung up, reported as soon as it cannot be a flash
debounced off-hook after that   → :class:`HookChanged` ``(off_hook=True)``

So a hang-up is reported ``flash_max_ms`` after the handset went down: the
price of telling it from a flash, the same as on every analogue exchange.
Durations are measured between the *first* edges of the debounced levels (when
the contact first moved, not when the debounce confirmed it), so the bounce
time does not skew the flash window.

The detector is "sans-IO": it reads no pin and sleeps nowhere.  Its only clock
is the injected :class:`~phoneagent.hal.interfaces.Scheduler` (an asyncio loop
in the phone, a fake clock in tests), used for the two timers (debounce and
flash window).  It must be called on the scheduler's thread; GPIO backends
enter it through ``call_soon_threadsafe``.
"""

from __future__ import annotations

import logging

from phoneagent.hal.debounce import ContactDebouncer
from phoneagent.hal.interfaces import (
    HardwareListener,
    HookChanged,
    HookFlashed,
    Scheduler,
    TimerHandle,
)

__all__ = ["HookDetector"]

log = logging.getLogger(__name__)

DEFAULT_DEBOUNCE_MS = 20
DEFAULT_FLASH_MIN_MS = 80
DEFAULT_FLASH_MAX_MS = 600


class HookDetector:
    """Debounces a hook contact and reports lifts, hang-ups and flashes to ``listener``."""

    def __init__(
        self,
        scheduler: Scheduler,
        listener: HardwareListener,
        *,
        initial_off_hook: bool = False,
        debounce_ms: int = DEFAULT_DEBOUNCE_MS,
        flash_min_ms: int = DEFAULT_FLASH_MIN_MS,
        flash_max_ms: int = DEFAULT_FLASH_MAX_MS,
    ) -> None:
        if not 0 <= flash_min_ms < flash_max_ms:
            raise ValueError(
                f"need 0 <= flash_min_ms < flash_max_ms, not {flash_min_ms}..{flash_max_ms}"
            )
        self._scheduler = scheduler
        self._listener = listener
        self._contact = ContactDebouncer(
            scheduler, self._debounced, debounce_ms=debounce_ms, initial=initial_off_hook
        )
        self._flash_min = flash_min_ms / 1000
        self._flash_max = flash_max_ms / 1000
        self._reported = initial_off_hook  # what the listener was told (off_hook property)
        self._went_on_hook_at: float | None = None  # start of a possible flash
        self._flash_timer: TimerHandle | None = None

    @property
    def off_hook(self) -> bool:
        """The state the listener was last told (starts as ``initial_off_hook``)."""
        return self._reported

    def contact(self, off_hook: bool) -> None:
        """The contact now reads ``off_hook``; repeated levels are harmless."""
        self._contact.set(off_hook)

    def close(self) -> None:
        """Cancel the timers; later contact changes are ignored."""
        self._contact.close()
        self._cancel_flash()

    # ------------------------------------------------------------------ internals

    def _debounced(self, off_hook: bool, edge_at: float) -> None:
        if off_hook:
            self._off_hook(edge_at)
        else:
            self._on_hook(edge_at)

    def _on_hook(self, edge_at: float) -> None:
        if not self._reported:
            return  # already reported on-hook (a bounce of a hung-up handset)
        self._went_on_hook_at = edge_at
        # Report the hang-up as soon as the on-hook outlasts the longest flash, measured
        # from the edge (the debounce delay is already part of the elapsed time).
        remaining = max(0.0, edge_at + self._flash_max - self._scheduler.time())
        self._flash_timer = self._scheduler.call_later(remaining, self._flash_window_over)

    def _off_hook(self, edge_at: float) -> None:
        if not self._reported:
            self._report_hook(True)
            return
        went_down = self._went_on_hook_at
        self._cancel_flash()
        self._went_on_hook_at = None
        if went_down is None:
            return
        duration = edge_at - went_down
        if duration < self._flash_min:
            log.debug("hook: on-hook for %.0f ms ignored (shorter than a flash)", duration * 1000)
            return
        # Longer than flash_max cannot happen here: the timer would have reported a hang-up.
        self._listener(HookFlashed(at=self._scheduler.time()))

    def _flash_window_over(self) -> None:
        self._flash_timer = None
        went_down = self._went_on_hook_at
        contact = self._contact
        if (
            contact.pending
            and contact.raw
            and went_down is not None
            and contact.raw_since - went_down <= self._flash_max
        ):
            # The handset came up inside the window but the lift is still being debounced:
            # wait for the debounce to decide between a flash and a hang-up (1 ms later, so
            # the debounce timer runs first even where equal deadlines have no set order).
            confirm_at = contact.raw_since + contact.debounce + 0.001
            remaining = max(0.0, confirm_at - self._scheduler.time())
            self._flash_timer = self._scheduler.call_later(remaining, self._flash_window_over)
            return
        self._went_on_hook_at = None
        self._report_hook(False)

    def _report_hook(self, off_hook: bool) -> None:
        self._reported = off_hook
        self._listener(HookChanged(at=self._scheduler.time(), off_hook=off_hook))

    def _cancel_flash(self) -> None:
        if self._flash_timer is not None:
            self._flash_timer.cancel()
            self._flash_timer = None
