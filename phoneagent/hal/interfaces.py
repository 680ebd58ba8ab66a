"""The hardware abstraction layer's interfaces: what the phone needs from its hardware.

A backend (``gpio.py``/``alsa.py`` on a Raspberry Pi, ``mock.py`` in tests and the
simulator) builds these devices from an injected factory, the way gpiozero takes a
``pin_factory``.  Devices report what the user did as :class:`HardwareEvent` values
through one :data:`HardwareListener`, always called on the event loop's thread
(callbacks from gpiozero's or ALSA's threads enter the loop only through
``loop.call_soon_threadsafe``).  They make no decisions: the phone's state machine
(``phoneagent.phone``) decides what a key or the hook means.

Audio is 16-bit signed little-endian mono PCM ("S16_LE") at the rate the call's
codec needs (8 kHz for G.711, 16 kHz for wideband).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "INDICATOR_NAMES",
    "KEYS",
    "AudioDevice",
    "AudioStatistics",
    "HardwareEvent",
    "HardwareListener",
    "HookChanged",
    "HookFlashed",
    "HookSwitch",
    "Indicators",
    "KeyPressed",
    "Keypad",
    "Ringer",
    "Scheduler",
    "ThreadsafeCaller",
    "TimerHandle",
    "check_indicator",
]

#: The keys a keypad may report: the twelve of a telephone keypad and the four DTMF extras.
KEYS = frozenset("0123456789*#ABCD")
#: The indicators (LEDs) a board may have; a board without one ignores it.
INDICATOR_NAMES = ("registered", "in_call", "message_waiting")


def check_indicator(name: str) -> None:
    """``ValueError`` unless ``name`` is one of :data:`INDICATOR_NAMES`."""
    if name not in INDICATOR_NAMES:
        raise ValueError(f"unknown indicator {name!r}; known: {', '.join(INDICATOR_NAMES)}")


@dataclass(frozen=True, slots=True)
class HardwareEvent:
    """Something the user did, at loop time ``at``."""

    at: float


@dataclass(frozen=True, slots=True)
class KeyPressed(HardwareEvent):
    """A key went down (keypad) or a digit was dialled (rotary dial: ``"0"`` for ten pulses)."""

    key: str


@dataclass(frozen=True, slots=True)
class HookChanged(HardwareEvent):
    """The handset was lifted (``off_hook``) or put down for longer than a flash."""

    off_hook: bool


@dataclass(frozen=True, slots=True)
class HookFlashed(HardwareEvent):
    """The hook went down and up again within ``flash_min_ms``..``flash_max_ms``."""


HardwareListener = Callable[[HardwareEvent], None]
#: How a device on another thread gets a callback run on the loop: ``loop.call_soon_threadsafe``.
ThreadsafeCaller = Callable[[Callable[[], object]], object]


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """What devices need of a clock: ``asyncio``'s loop has it, and so has a fake clock."""

    def time(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle: ...


@runtime_checkable
class Keypad(Protocol):
    """Reports :class:`KeyPressed` (debounced, ghost keys rejected)."""

    def close(self) -> None: ...


@runtime_checkable
class HookSwitch(Protocol):
    """Reports :class:`HookChanged` and :class:`HookFlashed` (debounced)."""

    @property
    def off_hook(self) -> bool: ...

    def close(self) -> None: ...


@runtime_checkable
class Ringer(Protocol):
    """The bell: on or off.  The phone's state machine times the country's cadence."""

    @property
    def ringing(self) -> bool: ...

    def set(self, on: bool) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class Indicators(Protocol):
    """LEDs by name (:data:`INDICATOR_NAMES`); unknown names are an error, absent LEDs not."""

    def set(self, name: str, on: bool) -> None: ...

    def state(self, name: str) -> bool: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class AudioStatistics:
    """Counted, never hidden: what went wrong in the audio path."""

    overruns: int = 0  # capture: frames the card dropped because we were late (xrun)
    underruns: int = 0  # playback: the card ran dry (xrun)
    short_writes: int = 0  # playback: the card took part of a period
    capture_gaps: int = 0  # read() found less than asked and padded with silence
    recoveries: int = 0  # the device was re-prepared after an error
    capture_drops: int = 0  # capture: bytes dropped (oldest first) because read() fell behind
    playback_drops: int = 0  # playback: bytes dropped (oldest first) from a full write queue


@runtime_checkable
class AudioDevice(Protocol):
    """The handset: a microphone to capture from and an earpiece to play to.

    ``start`` opens the device at a rate; ``read`` returns exactly ``samples``
    samples (silence where capture had nothing yet, counted in ``capture_gaps``);
    ``write`` queues PCM for playback and never blocks the event loop.
    """

    @property
    def sample_rate(self) -> int: ...

    @property
    def statistics(self) -> AudioStatistics: ...

    def start(self, sample_rate: int) -> None: ...

    def read(self, samples: int) -> bytes: ...

    def write(self, pcm: bytes) -> None: ...

    def capture_backlog(self) -> int | None:
        """Samples captured and not yet read; ``None`` when capture has no clock of its own
        (the mock), so that sending keeps the event loop's schedule instead of the card's."""
        ...

    def stop(self) -> None: ...

    def close(self) -> None: ...
