"""Matrix keypad scanning logic: debounce and ghost-key rejection, with no pins in sight.

Theory of operation
-------------------
A telephone keypad is a matrix: each key joins one *row* wire to one *column*
wire.  The scanner drives one row active at a time and reads which columns
follow it; a column that reads active has a key down at (row, column).  One
pass over all rows is a *scan*; the device (``gpio.py``, or the mock) does the
driving and reading every ``scan_interval_ms`` and hands each scan's result —
the set of (row, column) positions that read active — to
:meth:`KeypadScanner.scan`, which returns the keys to report.

Debounce.  Contacts bounce for a few milliseconds.  A position's debounced
state changes only after it read the new state on ``debounce_scans``
consecutive scans (:func:`debounce_scans` derives that number from
``debounce_ms`` and ``scan_interval_ms``).  A key is reported once, when its
debounced state goes down; holding it does not repeat it (no autorepeat:
a phone's keys are digits, not a typewriter's).

Ghost keys.  A keypad without a diode per key has "ghosts": with three keys
down at three corners of a rectangle — (r1, c1), (r1, c2) and (r2, c1) — a
driven row r2 reaches column c2 through the other three switches, and the
fourth corner (r2, c2) reads as pressed although it is not.  The reading
with the ghost is then exactly the reading of any three of the four corners,
so which keys are real cannot be known.  Every position that is a corner of a
complete rectangle in the debounced reading is therefore *ambiguous* and is
not reported; a key that went down ambiguous stays unreported until it is
released (reporting it later, when another key is released, would be a key
the user did not just press).  With two or more keys down, a newly pressed
key is reported only when it is unambiguous — two keys in different rows and
columns, or in one row, are both reported.

The scanner is pure logic: it takes the scan time as an argument (for the
events' ``at``) and keeps no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from phoneagent.hal.interfaces import KEYS, KeyPressed

__all__ = ["KeypadScanner", "Position", "debounce_scans", "ghost_positions"]

#: (row, column), counted from 0.
Position = tuple[int, int]


def debounce_scans(debounce_ms: int, scan_interval_ms: int) -> int:
    """How many consecutive equal scans, one per ``scan_interval_ms``, make ``debounce_ms``."""
    if scan_interval_ms <= 0:
        raise ValueError(f"scan_interval_ms must be > 0, not {scan_interval_ms}")
    if debounce_ms < 0:
        raise ValueError(f"debounce_ms must be >= 0, not {debounce_ms}")
    return max(1, math.ceil(debounce_ms / scan_interval_ms))


def ghost_positions(reading: Iterable[Position]) -> frozenset[Position]:
    """The positions of ``reading`` that are corners of a complete rectangle (ambiguous)."""
    down = frozenset(reading)
    if len(down) < 4:
        return frozenset()  # a rectangle needs four corners
    columns_of_row: dict[int, set[int]] = {}
    for row, column in down:
        columns_of_row.setdefault(row, set()).add(column)
    ambiguous: set[Position] = set()
    rows = [row for row, columns in columns_of_row.items() if len(columns) >= 2]
    for index, row in enumerate(rows):
        for other in rows[index + 1 :]:
            shared = columns_of_row[row] & columns_of_row[other]
            if len(shared) >= 2:
                for column in shared:
                    ambiguous.add((row, column))
                    ambiguous.add((other, column))
    return frozenset(ambiguous)


class KeypadScanner:
    """Turns successive scans of a key matrix into :class:`KeyPressed` events."""

    def __init__(self, keymap: Sequence[str], debounce_scans: int = 2) -> None:
        """``keymap[row][column]`` is the key at that position (one character per key)."""
        if not keymap or not keymap[0]:
            raise ValueError("keymap must have at least one row and one column")
        width = len(keymap[0])
        for row, keys in enumerate(keymap):
            if len(keys) != width:
                raise ValueError(f"keymap row {row} has {len(keys)} keys, row 0 has {width}")
            for key in keys:
                if key not in KEYS:
                    raise ValueError(f"keymap row {row}: {key!r} is not a telephone key")
        if debounce_scans < 1:
            raise ValueError(f"debounce_scans must be >= 1, not {debounce_scans}")
        self.keymap = tuple(keymap)
        self.rows = len(keymap)
        self.columns = width
        self.debounce_scans = debounce_scans
        self._down: set[Position] = set()  # debounced: keys that are down
        self._pending: dict[Position, int] = {}  # position → consecutive scans disagreeing

    @property
    def idle(self) -> bool:
        """No key down and none on its way down or up: the device may stop scanning fully."""
        return not self._down and not self._pending

    @property
    def keys_down(self) -> frozenset[str]:
        """The debounced keys that are down now (ghosts included: they read as down)."""
        return frozenset(self.keymap[row][column] for row, column in self._down)

    def position_of(self, key: str) -> Position:
        """Where ``key`` is on the keymap (``ValueError`` if it is not on it)."""
        for row, keys in enumerate(self.keymap):
            column = keys.find(key)
            if column >= 0 and len(key) == 1:
                return row, column
        raise ValueError(f"key {key!r} is not on this keypad ({' '.join(self.keymap)})")

    def scan(self, now: float, reading: Iterable[Position]) -> list[KeyPressed]:
        """Feed one scan (the positions that read active) taken at ``now``; return new keys."""
        active = set(reading)
        for row, column in active:
            if not (0 <= row < self.rows and 0 <= column < self.columns):
                size = f"{self.rows}x{self.columns}"
                raise ValueError(f"position {(row, column)} is outside the {size} keypad")
        went_down: list[Position] = []
        for position in active | self._down | set(self._pending):
            is_active = position in active
            if is_active == (position in self._down):
                self._pending.pop(position, None)  # reads as debounced again: bounce over
                continue
            count = self._pending.get(position, 0) + 1
            if count < self.debounce_scans:
                self._pending[position] = count
                continue
            del self._pending[position]
            if is_active:
                self._down.add(position)
                went_down.append(position)
            else:
                self._down.discard(position)
        if not went_down:
            return []
        ambiguous = ghost_positions(self._down)
        events = []
        for position in sorted(went_down):
            if position in ambiguous:
                continue  # never reported, not even once the ambiguity is gone
            row, column = position
            events.append(KeyPressed(at=now, key=self.keymap[row][column]))
        return events
