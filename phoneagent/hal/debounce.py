"""Debouncing one mechanical contact on a scheduler: the shared first stage of hook and dial.

Theory of operation
-------------------
A contact that closes or opens chatters for a few milliseconds.  A
:class:`ContactDebouncer` accepts every raw level it is given and changes its
debounced :attr:`~ContactDebouncer.level` only when a new raw level has held
for ``debounce_ms``: each raw change (re)arms one timer, and a raw level that
returns to the debounced one before the timer fires cancels it.  When a change
is confirmed, ``on_change(level, edge_at)`` is called with the time of the raw
edge that started the now stable level — not the (later) time of the
confirmation — so durations measured between debounced edges are the real
ones.  A ``debounce_ms`` of 0 confirms at once.
"""

from __future__ import annotations

from collections.abc import Callable

from phoneagent.hal.interfaces import Scheduler, TimerHandle

__all__ = ["ContactDebouncer"]


class ContactDebouncer:
    """One contact's debounced level; calls ``on_change(level, edge_at)`` on a confirmed change."""

    def __init__(
        self,
        scheduler: Scheduler,
        on_change: Callable[[bool, float], None],
        *,
        debounce_ms: int,
        initial: bool = False,
    ) -> None:
        if debounce_ms < 0:
            raise ValueError(f"debounce_ms must be >= 0, not {debounce_ms}")
        self._scheduler = scheduler
        self._on_change = on_change
        self.debounce = debounce_ms / 1000
        self._raw = initial
        self._raw_since = scheduler.time()
        self._level = initial
        self._timer: TimerHandle | None = None
        self._closed = False

    @property
    def level(self) -> bool:
        """The debounced level."""
        return self._level

    @property
    def raw(self) -> bool:
        """The level last given to :meth:`set`."""
        return self._raw

    @property
    def raw_since(self) -> float:
        """When the raw level last changed (scheduler time)."""
        return self._raw_since

    @property
    def pending(self) -> bool:
        """A raw change is waiting to be confirmed."""
        return self._timer is not None

    def set(self, level: bool) -> None:
        """The contact reads ``level`` now; repeated levels are harmless, and after
        :meth:`close` every level is."""
        if level == self._raw or self._closed:
            return
        self._raw = level
        self._raw_since = self._scheduler.time()
        self.cancel()
        if level == self._level:
            return  # back where it was before the change was confirmed: a bounce
        if self.debounce == 0:
            self._confirm()
        else:
            self._timer = self._scheduler.call_later(self.debounce, self._confirm)

    def close(self) -> None:
        """Forget a pending change and ignore the contact from now on."""
        self._closed = True
        self.cancel()

    def cancel(self) -> None:
        """Forget a change waiting for confirmation (the level stays as it is)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _confirm(self) -> None:
        self._timer = None
        self._level = self._raw
        self._on_change(self._level, self._raw_since)
