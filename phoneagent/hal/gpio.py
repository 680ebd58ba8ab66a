"""The Raspberry Pi's GPIO devices on gpiozero 2.x: keypad, hook switch, rotary dial, ringer, LEDs.

Theory of operation
-------------------
Every device takes a gpiozero *pin factory* (``None``: gpiozero's default, lgpio
on a Pi; ``MockFactory`` in tests), so the same code drives real pins and
simulated ones.  The logic lives elsewhere and is tested without pins:
:mod:`~phoneagent.hal.keypad_scan` (debounce, ghost keys),
:mod:`~phoneagent.hal.hook` (debounce, flash), :mod:`~phoneagent.hal.rotary`
(pulse counting).  This module only moves levels between pins and that logic,
and respects two threads:

* The keypad is *polled* on the event loop: every ``scan_interval_ms`` the
  scheduler runs one scan.  While no key is down, all rows are held active and
  one read of the columns tells whether anything is pressed (three reads of a
  4x3 pad, no pin writes); only then are the rows driven one at a time.  A
  gpiozero read is a cheap call, so this needs no thread.
* The hook switch and the dial's contacts are *edge-driven*: gpiozero calls
  ``when_activated``/``when_deactivated`` on its own thread (lgpio's alert
  thread on a Pi; the thread that drives the pin under ``MockFactory``).  Those
  callbacks do nothing but hand the new level to the loop through the injected
  ``call_soon_threadsafe``; the detectors run on the loop, as everything else.

Outputs (ringer relay, LEDs) are plain ``DigitalOutputDevice``\\ s, switched on
the loop thread.  gpiozero itself is imported by this module: importing it, and
``MockFactory``, needs no GPIO library, so tests run on any machine.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from gpiozero import DigitalInputDevice, DigitalOutputDevice, Factory, InputDevice

from phoneagent.hal.hook import HookDetector
from phoneagent.hal.interfaces import (
    INDICATOR_NAMES,
    HardwareListener,
    Scheduler,
    ThreadsafeCaller,
    TimerHandle,
    check_indicator,
)
from phoneagent.hal.keypad_scan import KeypadScanner, Position, debounce_scans
from phoneagent.hal.profiles import (
    HookProfile,
    KeypadProfile,
    OutputPin,
    PinLevel,
    RotaryProfile,
)
from phoneagent.hal.rotary import RotaryDecoder

__all__ = ["GpioHookSwitch", "GpioIndicators", "GpioKeypad", "GpioRinger", "GpioRotaryDial"]


def _active_level(pull_up: bool) -> PinLevel:
    """With a pull-up the contact closes to ground, so gpiozero's "active" is low."""
    return "low" if pull_up else "high"


class GpioKeypad:
    """A matrix keypad: rows are outputs driven active (low) one at a time, columns inputs."""

    def __init__(
        self,
        profile: KeypadProfile,
        scheduler: Scheduler,
        listener: HardwareListener,
        *,
        pin_factory: Factory | None = None,
    ) -> None:
        self._scheduler = scheduler
        self._listener = listener
        self._interval = profile.scan_interval_ms / 1000
        self._scanner = KeypadScanner(
            profile.keymap, debounce_scans(profile.debounce_ms, profile.scan_interval_ms)
        )
        self._rows: list[DigitalOutputDevice] = []
        self._columns: list[InputDevice] = []
        try:
            for pin in profile.rows:
                # Active low: the columns have pull-ups, so a driven row pulls its keys' columns
                # low.  All rows start active: the idle state, see _scan().
                self._rows.append(DigitalOutputDevice(
                    pin, active_high=False, initial_value=True, pin_factory=pin_factory))
            for pin in profile.columns:
                # InputDevice, not DigitalInputDevice: the columns are polled, and edge
                # detection would only add an interrupt per row switched during a scan.
                self._columns.append(InputDevice(pin, pull_up=True, pin_factory=pin_factory))
        except Exception:
            self._close_devices()
            raise
        self._idle_rows = True  # all rows driven active, waiting for any key
        self._timer: TimerHandle | None = scheduler.call_later(self._interval, self._tick)

    @property
    def keys_down(self) -> frozenset[str]:
        """The keys the scanner sees down (debounced; a ghost key included)."""
        return self._scanner.keys_down

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._close_devices()

    def _close_devices(self) -> None:
        for device in (*self._rows, *self._columns):
            device.close()
        self._rows.clear()
        self._columns.clear()

    def _tick(self) -> None:
        self._timer = None
        if not self._rows:
            return  # closed
        # Re-arm first: a failing scan propagates to the loop's exception handler, and the
        # keypad keeps working if the fault was transient.
        self._timer = self._scheduler.call_later(self._interval, self._tick)
        self._scan()

    def _scan(self) -> None:
        if self._scanner.idle and not any(column.is_active for column in self._columns):
            return  # nothing pressed, nothing pending: the cheap idle check suffices
        reading = self._read_matrix()
        for event in self._scanner.scan(self._scheduler.time(), reading):
            self._listener(event)
        if self._scanner.idle:
            for row in self._rows:
                row.on()
            self._idle_rows = True

    def _read_matrix(self) -> list[Position]:
        if self._idle_rows:
            for row in self._rows:
                row.off()
            self._idle_rows = False
        reading: list[Position] = []
        for row_index, row in enumerate(self._rows):
            row.on()
            # The column settles within microseconds (pull-up against the line's capacitance);
            # one gpiozero call takes longer than that, so no delay is needed.
            for column_index, column in enumerate(self._columns):
                if column.is_active:
                    reading.append((row_index, column_index))
            row.off()
        return reading


class _EdgeInput:
    """An edge-driven input whose changes reach ``on_level`` on the loop thread."""

    def __init__(
        self,
        pin: int,
        pull_up: bool,
        true_level: PinLevel,
        call_soon_threadsafe: ThreadsafeCaller,
        pin_factory: Factory | None,
    ) -> None:
        self._device = DigitalInputDevice(pin, pull_up=pull_up, pin_factory=pin_factory)
        # The level that means True to the logic (off hook, contact open …) may be gpiozero's
        # active or inactive one.
        self._true_when_active = true_level == _active_level(pull_up)
        self._call_soon_threadsafe = call_soon_threadsafe

    @property
    def value(self) -> bool:
        return bool(self._device.is_active) == self._true_when_active

    def connect(self, on_level: Callable[[bool], None]) -> None:
        """From now on, deliver level changes to ``on_level`` on the loop; and the level now."""
        true_when_active = self._true_when_active

        def activated() -> None:  # gpiozero's thread
            self._call_soon_threadsafe(functools.partial(on_level, true_when_active))

        def deactivated() -> None:  # gpiozero's thread
            self._call_soon_threadsafe(functools.partial(on_level, not true_when_active))

        self._device.when_activated = activated
        self._device.when_deactivated = deactivated
        # A change between the caller's first read and now would have been lost: send the
        # level once more (the logic ignores a repeated level).
        self._call_soon_threadsafe(functools.partial(on_level, self.value))

    def close(self) -> None:
        self._device.when_activated = None
        self._device.when_deactivated = None
        self._device.close()


class GpioHookSwitch:
    """The hook switch: a contact on one input, through a :class:`HookDetector`."""

    def __init__(
        self,
        profile: HookProfile,
        scheduler: Scheduler,
        listener: HardwareListener,
        call_soon_threadsafe: ThreadsafeCaller,
        *,
        flash_min_ms: int,
        flash_max_ms: int,
        pin_factory: Factory | None = None,
    ) -> None:
        self._input = _EdgeInput(
            profile.pin, profile.pull_up, profile.off_hook_level, call_soon_threadsafe, pin_factory
        )
        self._detector = HookDetector(
            scheduler,
            listener,
            initial_off_hook=self._input.value,
            debounce_ms=profile.debounce_ms,
            flash_min_ms=flash_min_ms,
            flash_max_ms=flash_max_ms,
        )
        self._input.connect(self._detector.contact)

    @property
    def off_hook(self) -> bool:
        return self._detector.off_hook

    def close(self) -> None:
        self._input.close()
        self._detector.close()


class GpioRotaryDial:
    """A rotary dial's pulse contact (and off-normal contact, if wired) into a decoder.

    It reports :class:`~phoneagent.hal.interfaces.KeyPressed`, so it is the
    board's :class:`~phoneagent.hal.interfaces.Keypad` when it has no keypad.
    """

    def __init__(
        self,
        profile: RotaryProfile,
        scheduler: Scheduler,
        listener: HardwareListener,
        call_soon_threadsafe: ThreadsafeCaller,
        *,
        pin_factory: Factory | None = None,
    ) -> None:
        self._decoder = RotaryDecoder(
            scheduler,
            listener,
            inter_digit_ms=profile.inter_digit_ms,
            debounce_ms=profile.debounce_ms,
            uses_off_normal=profile.off_normal_pin is not None,
        )
        self._inputs: list[_EdgeInput] = []
        try:
            pulse = _EdgeInput(profile.pulse_pin, profile.pull_up, profile.pulse_open_level,
                               call_soon_threadsafe, pin_factory)
            self._inputs.append(pulse)
            if profile.off_normal_pin is not None:
                off_normal = _EdgeInput(profile.off_normal_pin, profile.pull_up,
                                        profile.off_normal_level, call_soon_threadsafe,
                                        pin_factory)
                self._inputs.append(off_normal)
                off_normal.connect(self._decoder.off_normal)
            pulse.connect(self._decoder.pulse_contact)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        for device in self._inputs:
            device.close()
        self._inputs.clear()
        self._decoder.close()


class GpioRinger:
    """The ringer's driver (a relay coil through a transistor, or a buzzer) on one output."""

    def __init__(self, profile: OutputPin, *, pin_factory: Factory | None = None) -> None:
        self._device = DigitalOutputDevice(
            profile.pin, active_high=profile.active_high, initial_value=False,
            pin_factory=pin_factory,
        )

    @property
    def ringing(self) -> bool:
        return bool(self._device.is_active)

    def set(self, on: bool) -> None:
        if on:
            self._device.on()
        else:
            self._device.off()

    def close(self) -> None:
        self._device.close()


class GpioIndicators:
    """LEDs by name; a name from :data:`INDICATOR_NAMES` the board lacks is remembered only."""

    def __init__(
        self, leds: Mapping[str, OutputPin], *, pin_factory: Factory | None = None
    ) -> None:
        for name in leds:
            check_indicator(name)
        self._states = dict.fromkeys(INDICATOR_NAMES, False)
        self._devices: dict[str, DigitalOutputDevice] = {}
        try:
            for name, led in leds.items():
                self._devices[name] = DigitalOutputDevice(
                    led.pin, active_high=led.active_high, initial_value=False,
                    pin_factory=pin_factory,
                )
        except Exception:
            self.close()
            raise

    def set(self, name: str, on: bool) -> None:
        check_indicator(name)
        self._states[name] = on
        device = self._devices.get(name)
        if device is None:
            return  # this board has no such LED: the phone works the same without it
        if on:
            device.on()
        else:
            device.off()

    def state(self, name: str) -> bool:
        check_indicator(name)
        return self._states[name]

    def close(self) -> None:
        for device in self._devices.values():
            device.close()
        self._devices.clear()
