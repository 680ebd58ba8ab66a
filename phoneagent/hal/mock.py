"""The mock backend: simulated hardware with user actions, for tests and the simulator.

Theory of operation
-------------------
The mock twin of ``gpio.py``/``alsa.py`` replaces only the pins and the sound
card; the logic behind them is the real one, so a test on the mock exercises
the same debounce, flash and scanning code as the phone on a Pi:

* :class:`MockKeypad` simulates the profile's key matrix *without diodes* — with its
  ghost keys — and feeds each scan to the real
  :class:`~phoneagent.hal.keypad_scan.KeypadScanner` every ``scan_interval_ms``
  while any key is down or settling (no timer runs while idle).
* :class:`MockHookSwitch` feeds a contact level to the real
  :class:`~phoneagent.hal.hook.HookDetector`: a hang-up is reported
  ``flash_max_ms`` after the handset goes down, as on real hardware.
* :class:`MockRotaryDial` produces 10 pps pulse trains (60 ms break, 40 ms
  make) for the real :class:`~phoneagent.hal.rotary.RotaryDecoder`.
* :class:`MockRinger` and :class:`MockIndicators` record what they were told;
  :class:`MockAudio` captures from a source or injected PCM and records what
  is played.

All timing runs on the given :class:`~phoneagent.hal.interfaces.Scheduler` —
an asyncio loop in the simulator, a fake clock in tests, which then step time
instead of sleeping.  :class:`MockHardware` bundles the devices for one board
profile and offers the user's actions: :meth:`~MockHardware.lift_handset`,
:meth:`~MockHardware.hang_up`, :meth:`~MockHardware.flash`,
:meth:`~MockHardware.press` and :meth:`~MockHardware.dial`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence

from phoneagent.hal.factory import Hardware
from phoneagent.hal.hook import (
    DEFAULT_DEBOUNCE_MS,
    DEFAULT_FLASH_MAX_MS,
    DEFAULT_FLASH_MIN_MS,
    HookDetector,
)
from phoneagent.hal.interfaces import (
    INDICATOR_NAMES,
    AudioStatistics,
    HardwareListener,
    Scheduler,
    TimerHandle,
    check_indicator,
)
from phoneagent.hal.keypad_scan import KeypadScanner, Position, debounce_scans
from phoneagent.hal.profiles import BoardProfile, RotaryProfile, load_profile
from phoneagent.hal.rotary import RotaryDecoder

__all__ = [
    "MockAudio",
    "MockHardware",
    "MockHookSwitch",
    "MockIndicators",
    "MockKeypad",
    "MockRinger",
    "MockRotaryDial",
]

DEFAULT_PROFILE = "pi-desk-4x3"
KEY_SPACING_S = 0.1  # dial(): one key every 100 ms
PULSE_BREAK_S = 0.060  # a 10 pps dial: 60 ms open …
PULSE_MAKE_S = 0.040  # … 40 ms closed
PLAYED_LIMIT_BYTES = 60 * 16000 * 2  # one minute of 16 kHz audio: enough for any test


class MockKeypad:
    """A diode-less key matrix held by a simulated user, scanned by the real scanner."""

    def __init__(
        self,
        scheduler: Scheduler,
        listener: HardwareListener,
        keymap: Sequence[str],
        *,
        scan_interval_ms: int = 10,
        debounce_ms: int = 20,
    ) -> None:
        self._scheduler = scheduler
        self._listener = listener
        self._interval = scan_interval_ms / 1000
        self._scanner = KeypadScanner(keymap, debounce_scans(debounce_ms, scan_interval_ms))
        # Long enough for the scanner to confirm the key, with a scan to spare either side.
        self.hold_s = max(0.05, (debounce_ms + 3 * scan_interval_ms) / 1000)
        self._held: set[Position] = set()
        self._timer: TimerHandle | None = None
        self._closed = False

    @property
    def held(self) -> frozenset[str]:
        """The keys the simulated user holds down now."""
        return frozenset(self._scanner.keymap[row][column] for row, column in self._held)

    @property
    def keys_down(self) -> frozenset[str]:
        """The keys the scanner sees down (debounced; a ghost key included)."""
        return self._scanner.keys_down

    def key_down(self, key: str) -> None:
        """The user puts a finger on ``key`` (``ValueError`` if the keypad has no such key)."""
        self._held.add(self._scanner.position_of(key))
        self._ensure_scanning()

    def key_up(self, key: str) -> None:
        self._held.discard(self._scanner.position_of(key))
        self._ensure_scanning()

    def duration_of(self, key: str) -> float:
        """How long :meth:`press` holds ``key`` (``ValueError`` if there is no such key)."""
        self._scanner.position_of(key)
        return self.hold_s

    def press(self, key: str) -> float:
        """Press and release ``key``; returns how long it is held (seconds)."""
        self.key_down(key)
        self._scheduler.call_later(self.hold_s, functools.partial(self.key_up, key))
        return self.hold_s

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def reading(self) -> frozenset[Position]:
        """What a scan reads: with open-drain rows and no diodes, every row reaches every column
        connected to it through held keys — which is where ghost keys come from."""
        # Union-find over the wires: rows are 0, 1 …, columns -1, -2 …; a held key joins its
        # row's group to its column's, and every group's root is a column.
        parent: dict[int, int] = {}

        def root(wire: int) -> int:
            while parent.get(wire, wire) != wire:
                wire = parent[wire]
            return wire

        for row, column in self._held:
            parent[root(row)] = root(-1 - column)
        return frozenset(
            (row, column)
            for row in range(self._scanner.rows)
            for column in range(self._scanner.columns)
            if root(row) == root(-1 - column)
        )

    def _ensure_scanning(self) -> None:
        if self._timer is None and not self._closed:
            self._timer = self._scheduler.call_later(self._interval, self._scan)

    def _scan(self) -> None:
        self._timer = None
        for event in self._scanner.scan(self._scheduler.time(), self.reading()):
            self._listener(event)
        if self._held or not self._scanner.idle:
            self._ensure_scanning()


class MockHookSwitch:
    """A hook contact the simulated user moves, through the real :class:`HookDetector`."""

    def __init__(
        self,
        scheduler: Scheduler,
        listener: HardwareListener,
        *,
        debounce_ms: int = DEFAULT_DEBOUNCE_MS,
        flash_min_ms: int = DEFAULT_FLASH_MIN_MS,
        flash_max_ms: int = DEFAULT_FLASH_MAX_MS,
    ) -> None:
        self._scheduler = scheduler
        self._detector = HookDetector(scheduler, listener, debounce_ms=debounce_ms,
                                      flash_min_ms=flash_min_ms, flash_max_ms=flash_max_ms)
        self.flash_s = (flash_min_ms + flash_max_ms) / 2 / 1000  # the middle of the window

    @property
    def off_hook(self) -> bool:
        return self._detector.off_hook

    def set_contact(self, off_hook: bool) -> None:
        """The raw contact level: call it quickly in turn to simulate bounce."""
        self._detector.contact(off_hook)

    def flash(self) -> float:
        """Press the cradle for the middle of the flash window; returns that time (seconds)."""
        self.set_contact(False)
        self._scheduler.call_later(self.flash_s, functools.partial(self.set_contact, True))
        return self.flash_s

    def close(self) -> None:
        self._detector.close()


class MockRotaryDial:
    """A 10 pps rotary dial (with an off-normal contact if the profile has one)."""

    def __init__(
        self, scheduler: Scheduler, listener: HardwareListener, profile: RotaryProfile
    ) -> None:
        self._scheduler = scheduler
        self._uses_off_normal = profile.off_normal_pin is not None
        self._inter_digit_s = profile.inter_digit_ms / 1000
        self.decoder = RotaryDecoder(
            scheduler, listener, inter_digit_ms=profile.inter_digit_ms,
            debounce_ms=profile.debounce_ms, uses_off_normal=self._uses_off_normal,
        )

    def duration_of(self, digit: str) -> float:
        """Seconds from winding the dial to ``digit`` until the digit is reported."""
        pulses = self._pulses(digit)
        pulse_train = (PULSE_MAKE_S if self._uses_off_normal else 0.0) + pulses * (
            PULSE_BREAK_S + PULSE_MAKE_S)
        # After the train: the off-normal's debounce, or the inter-digit gap; with room to spare.
        return pulse_train + (0.05 if self._uses_off_normal else self._inter_digit_s + 0.05)

    def dial_digit(self, digit: str) -> float:
        """Wind the dial to ``digit`` and let go; returns seconds until the digit is reported."""
        pulses = self._pulses(digit)
        at = 0.0
        if self._uses_off_normal:
            self.decoder.off_normal(True)
            at = PULSE_MAKE_S  # the dial travels before the first pulse
        for _ in range(pulses):
            self._at(at, self.decoder.pulse_contact, True)
            self._at(at + PULSE_BREAK_S, self.decoder.pulse_contact, False)
            at += PULSE_BREAK_S + PULSE_MAKE_S
        if self._uses_off_normal:
            self._at(at, self.decoder.off_normal, False)
        return self.duration_of(digit)

    def close(self) -> None:
        self.decoder.close()

    @staticmethod
    def _pulses(digit: str) -> int:
        if len(digit) != 1 or not digit.isdigit():
            raise ValueError(f"a rotary dial has only the digits 0-9, not {digit!r}")
        return int(digit) or 10  # ten pulses are the 0

    def _at(self, delay: float, action: Callable[[bool], None], level: bool) -> None:
        self._scheduler.call_later(delay, functools.partial(action, level))


class MockRinger:
    """Records every on/off transition with the scheduler's time."""

    def __init__(
        self, scheduler: Scheduler, on_change: Callable[[bool], None] | None = None
    ) -> None:
        self._scheduler = scheduler
        self.on_change = on_change
        self.history: list[tuple[float, bool]] = []
        self._ringing = False

    @property
    def ringing(self) -> bool:
        return self._ringing

    def set(self, on: bool) -> None:
        if on == self._ringing:
            return
        self._ringing = on
        self.history.append((self._scheduler.time(), on))
        if self.on_change is not None:
            self.on_change(on)

    def close(self) -> None:
        self.set(False)


class MockIndicators:
    """The LEDs a board has (``fitted``; all by default), readable in :attr:`states`.

    Like a real board, it accepts every name of :data:`INDICATOR_NAMES` and
    remembers its state, but only a fitted LED lights up: ``on_change(name, on)``
    is called for those alone.
    """

    def __init__(
        self,
        on_change: Callable[[str, bool], None] | None = None,
        *,
        fitted: Iterable[str] = INDICATOR_NAMES,
    ) -> None:
        self.on_change = on_change
        self.fitted = frozenset(fitted)
        for name in self.fitted:
            check_indicator(name)
        self.states: dict[str, bool] = dict.fromkeys(INDICATOR_NAMES, False)

    def lit(self, name: str) -> bool | None:
        """Whether the LED ``name`` shines; ``None`` if the board has no such LED."""
        return self.state(name) if name in self.fitted else None

    def set(self, name: str, on: bool) -> None:
        check_indicator(name)
        if self.states[name] != on:
            self.states[name] = on
            if self.on_change is not None and name in self.fitted:
                self.on_change(name, on)

    def state(self, name: str) -> bool:
        check_indicator(name)
        return self.states[name]

    def close(self) -> None:
        return None  # nothing to release


class MockAudio:
    """Captures injected PCM, then ``source(samples)``, then silence; records what is played."""

    def __init__(
        self,
        source: Callable[[int], bytes] | None = None,
        sink: Callable[[bytes], None] | None = None,
        *,
        played_limit: int = PLAYED_LIMIT_BYTES,
    ) -> None:
        self.source = source
        self.sink = sink
        self.played = bytearray()  # the most recent ``played_limit`` bytes written
        self._played_limit = played_limit
        self._injected = bytearray()
        self._sample_rate = 0
        self._statistics = AudioStatistics()

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def statistics(self) -> AudioStatistics:
        return self._statistics

    @property
    def started(self) -> bool:
        return self._sample_rate != 0

    def capture_backlog(self) -> int | None:
        return None  # no card clock: calls keep the event loop's schedule

    def inject(self, pcm: bytes) -> None:
        """Queue ``pcm`` to be captured before anything from ``source``."""
        self._injected += pcm

    def start(self, sample_rate: int) -> None:
        if self.started:
            raise RuntimeError("audio already started; stop() it first")
        self._sample_rate = sample_rate

    def read(self, samples: int) -> bytes:
        if not self.started:
            raise RuntimeError("audio not started")
        wanted = samples * 2
        data = bytes(self._injected[:wanted])
        del self._injected[:wanted]
        if len(data) < wanted and self.source is not None:
            data += self.source((wanted - len(data)) // 2)[: wanted - len(data)]
        if len(data) < wanted:
            self._statistics.capture_gaps += 1
            data += bytes(wanted - len(data))
        return data

    def write(self, pcm: bytes) -> None:
        if not self.started:
            raise RuntimeError("audio not started")
        if len(pcm) % 2:
            raise ValueError(f"PCM must be whole 16-bit samples, got {len(pcm)} bytes")
        self.played += pcm
        excess = len(self.played) - self._played_limit
        if excess > 0:
            del self.played[:excess]
        if self.sink is not None:
            self.sink(bytes(pcm))

    def stop(self) -> None:
        self._sample_rate = 0

    def close(self) -> None:
        self.stop()


class MockHardware(Hardware):
    """The mock devices of one board profile, and the user's actions on them."""

    keypad: MockKeypad | MockRotaryDial
    hook: MockHookSwitch
    ringer: MockRinger
    indicators: MockIndicators
    audio: MockAudio
    rotary: MockRotaryDial | None

    def __init__(
        self,
        scheduler: Scheduler,
        listener: HardwareListener,
        *,
        profile: BoardProfile | None = None,
        flash_min_ms: int = DEFAULT_FLASH_MIN_MS,
        flash_max_ms: int = DEFAULT_FLASH_MAX_MS,
        audio_source: Callable[[int], bytes] | None = None,
        audio_sink: Callable[[bytes], None] | None = None,
    ) -> None:
        board = profile if profile is not None else load_profile(DEFAULT_PROFILE)
        self.scheduler = scheduler
        rotary = (MockRotaryDial(scheduler, listener, board.rotary)
                  if board.rotary is not None else None)
        keypad: MockKeypad | MockRotaryDial
        if board.keypad is not None:
            keypad = MockKeypad(scheduler, listener, board.keypad.keymap,
                                scan_interval_ms=board.keypad.scan_interval_ms,
                                debounce_ms=board.keypad.debounce_ms)
        else:
            assert rotary is not None  # a profile has a keypad or a rotary dial
            keypad = rotary
        super().__init__(
            keypad=keypad,
            hook=MockHookSwitch(scheduler, listener, debounce_ms=board.hook.debounce_ms,
                                flash_min_ms=flash_min_ms, flash_max_ms=flash_max_ms),
            ringer=MockRinger(scheduler),
            indicators=MockIndicators(fitted=board.leds),
            audio=MockAudio(audio_source, audio_sink),
            rotary=rotary,
        )

    def lift_handset(self) -> None:
        self.hook.set_contact(True)

    def hang_up(self) -> None:
        """Put the handset down; ``HookChanged(off_hook=False)`` follows after ``flash_max_ms``."""
        self.hook.set_contact(False)

    def flash(self) -> float:
        """A hook flash; returns how long the cradle is held down (seconds)."""
        return self.hook.flash()

    def press(self, key: str) -> float:
        """Press one key (or dial one digit); returns seconds until it is done."""
        if isinstance(self.keypad, MockKeypad):
            return self.keypad.press(key)
        return self.keypad.dial_digit(key)

    def dial(self, keys: str) -> float:
        """Press ``keys`` in turn, 100 ms apart; a rotary dial dials each digit after the last.

        Every key is checked first, so a bad one raises before anything is pressed.
        Returns the seconds until the last key is done.
        """
        durations = [self.keypad.duration_of(key) for key in keys]
        start = 0.0
        done = 0.0
        for key, duration in zip(keys, durations, strict=True):
            if start == 0.0:
                self.press(key)
            else:
                self.scheduler.call_later(start, functools.partial(self.press, key))
            done = start + duration
            if isinstance(self.keypad, MockKeypad):
                start += max(KEY_SPACING_S, 2 * duration)
            else:
                start = done  # the next digit starts when the dial is back at rest
        return done
