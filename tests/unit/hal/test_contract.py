"""The HAL contract: the same checks against the mock backend and the pi backend.

The pi backend runs on gpiozero's ``MockFactory`` with a pin class that models
a diode-less key matrix (a held key joins its row wire to its column wire, so a
driven row pulls every column it reaches low — ghost keys included) and plain
mock pins for everything else; its audio runs on ALSA's userspace ``file``
plugin (playback into a raw file, capture from a FIFO the test feeds), selected
with a per-test ``ALSA_CONFIG_PATH``.  Both backends run on the same fake
clock: the keypad's scans, the hook's debounce and flash timers and the
callbacks gpiozero hands over through ``call_soon_threadsafe`` happen when the
test advances time, so no check sleeps (only the ALSA one waits, briefly, for
its threads).
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from phoneagent.hal.alsa import AlsaAudio
from phoneagent.hal.factory import Hardware, HardwareSettings, build_hardware
from phoneagent.hal.interfaces import (
    INDICATOR_NAMES,
    AudioDevice,
    HardwareEvent,
    HookChanged,
    HookFlashed,
    HookSwitch,
    Indicators,
    Keypad,
    KeyPressed,
    Ringer,
)
from phoneagent.hal.mock import PULSE_BREAK_S, PULSE_MAKE_S, MockHardware, MockKeypad
from phoneagent.hal.profiles import BoardProfile, load_profile

from .fake_clock import FakeClock
from .matrix_pins import KeypadMatrix

BACKENDS = ["mock", "pi"]
PATTERN = struct.pack("<160h", *range(-80 * 64, 80 * 64, 64))  # 20 ms at 8 kHz, no zero bytes
ALSA_DEADLINE_S = 1.0


# --------------------------------------------------------------------------- the two rigs


class Rig:
    """One backend's hardware on a fake clock, with the user's hands on it."""

    def __init__(self, clock: FakeClock, hardware: Hardware, events: list[HardwareEvent],
                 profile: BoardProfile) -> None:
        self.clock = clock
        self.hardware = hardware
        self.events = events
        self.profile = profile

    def reported_keys(self) -> list[str]:
        return [event.key for event in self.events if isinstance(event, KeyPressed)]

    # What each backend implements:
    def key_down(self, key: str) -> None: raise NotImplementedError
    def key_up(self, key: str) -> None: raise NotImplementedError
    def hook_contact(self, off_hook: bool) -> None: raise NotImplementedError
    def dial_digit(self, digit: str) -> None: raise NotImplementedError
    def ringer_output(self) -> bool: raise NotImplementedError
    def led_output(self, name: str) -> bool | None: raise NotImplementedError
    def feed_capture(self, pattern: bytes) -> None: raise NotImplementedError
    def played(self) -> bytes: raise NotImplementedError
    def wait_for_audio(self) -> None: raise NotImplementedError
    def close(self) -> None: self.hardware.close()


class MockRig(Rig):
    def __init__(self, clock: FakeClock, profile_name: str, tmp_path: Path) -> None:
        events: list[HardwareEvent] = []
        self._capture: bytes = b""
        self._phase = 0
        hardware = build_hardware(HardwareSettings(backend="mock", profile=profile_name),
                                  clock, events.append, mock_audio_source=self._source)
        assert isinstance(hardware, MockHardware)
        self.mock = hardware
        super().__init__(clock, hardware, events, load_profile(profile_name))

    def _source(self, samples: int) -> bytes:
        if not self._capture:
            return b""
        out = bytearray()
        while len(out) < samples * 2:
            out += self._capture[self._phase:]
            self._phase = 0
        self._phase = (samples * 2) % len(self._capture)
        return bytes(out[: samples * 2])

    def key_down(self, key: str) -> None:
        assert isinstance(self.mock.keypad, MockKeypad)
        self.mock.keypad.key_down(key)

    def key_up(self, key: str) -> None:
        assert isinstance(self.mock.keypad, MockKeypad)
        self.mock.keypad.key_up(key)

    def hook_contact(self, off_hook: bool) -> None:
        self.mock.hook.set_contact(off_hook)

    def dial_digit(self, digit: str) -> None:
        assert self.mock.rotary is not None
        self.mock.rotary.dial_digit(digit)

    def ringer_output(self) -> bool:
        history = self.mock.ringer.history
        return bool(history) and history[-1][1]

    def led_output(self, name: str) -> bool | None:
        return self.mock.indicators.lit(name)

    def feed_capture(self, pattern: bytes) -> None:
        self._capture = pattern

    def played(self) -> bytes:
        return bytes(self.mock.audio.played)

    def wait_for_audio(self) -> None:
        return None  # the mock's audio is synchronous


class PiRig(Rig):
    def __init__(self, clock: FakeClock, profile_name: str, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> None:
        profile = load_profile(profile_name)
        self.matrix = KeypadMatrix(profile) if profile.keypad is not None else None
        pin_class = self.matrix.pin_class() if self.matrix is not None else MockPin
        self.factory = MockFactory(pin_class=pin_class)
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch
        self._feeder: threading.Thread | None = None
        self._stop_feeding = threading.Event()
        self._fifo_fd: int | None = None
        events: list[HardwareEvent] = []
        settings = HardwareSettings(backend="pi", profile=profile_name,
                                    capture_device="phonetest", playback_device="phonetest")
        hardware = build_hardware(settings, clock, events.append,
                                  call_soon_threadsafe=clock.call_soon_threadsafe,
                                  pin_factory=self.factory)
        super().__init__(clock, hardware, events, profile)
        if profile.rotary is not None:
            # A mock pin starts at its pull-up's level, which for the pulse contact means open;
            # a dial at rest holds it closed.
            rotary = profile.rotary
            self._drive(self.factory.pin(rotary.pulse_pin), high=rotary.pulse_open_level != "high")
            clock.advance(0.1)
            assert events == []

    def key_down(self, key: str) -> None:
        assert self.matrix is not None
        self.matrix.press(key)

    def key_up(self, key: str) -> None:
        assert self.matrix is not None
        self.matrix.release(key)

    def hook_contact(self, off_hook: bool) -> None:
        hook = self.profile.hook
        pin = self.factory.pin(hook.pin)
        self._drive(pin, high=(hook.off_hook_level == "high") == off_hook)

    def dial_digit(self, digit: str) -> None:
        rotary = self.profile.rotary
        assert rotary is not None
        pulse = self.factory.pin(rotary.pulse_pin)
        open_high = rotary.pulse_open_level == "high"
        at = 0.0
        if rotary.off_normal_pin is not None:
            off_normal = self.factory.pin(rotary.off_normal_pin)
            self._drive(off_normal, high=rotary.off_normal_level == "high")
            at = PULSE_MAKE_S  # the dial travels before the first pulse, as the mock's does
        for _ in range(int(digit) or 10):
            self.clock.call_later(at, lambda: self._drive(pulse, high=open_high))
            self.clock.call_later(
                at + PULSE_BREAK_S, lambda: self._drive(pulse, high=not open_high)
            )
            at += PULSE_BREAK_S + PULSE_MAKE_S
        if rotary.off_normal_pin is not None:
            level = rotary.off_normal_level != "high"
            self.clock.call_later(at, lambda: self._drive(off_normal, high=level))

    @staticmethod
    def _drive(pin: MockPin, *, high: bool) -> None:
        # Runs gpiozero's callbacks synchronously, here; they hand over to the fake loop.
        if high:
            pin.drive_high()
        else:
            pin.drive_low()

    def ringer_output(self) -> bool:
        ringer = self.profile.ringer
        assert ringer is not None
        return bool(self.factory.pin(ringer.pin).state) == ringer.active_high

    def led_output(self, name: str) -> bool | None:
        led = self.profile.leds.get(name)
        if led is None:
            return None
        return bool(self.factory.pin(led.pin).state) == led.active_high

    def feed_capture(self, pattern: bytes) -> None:
        """Point ALSA at a file-plugin PCM and keep its capture FIFO fed until close()."""
        fifo = self.tmp_path / "capture.fifo"
        os.mkfifo(fifo)
        self._played_path = self.tmp_path / "played.raw"
        config = self.tmp_path / "asound.conf"
        config.write_text(f"""
pcm.phonetest {{
    type asym
    playback.pcm {{
        type file
        slave.pcm {{ type null }}
        file "{self._played_path}"
        format "raw"
    }}
    capture.pcm {{
        type file
        slave.pcm {{ type null }}
        file "/dev/null"
        infile "{fifo}"
        format "raw"
    }}
}}
""")
        self.monkeypatch.setenv("ALSA_CONFIG_PATH", str(config))
        # Opened read-write, the FIFO has a writer before ALSA opens it for reading (which
        # would block otherwise), and never reports an end that ALSA would read as garbage.
        self._fifo_fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        self._feeder = threading.Thread(target=self._feed, args=(pattern,), daemon=True)
        self._feeder.start()

    def _feed(self, pattern: bytes) -> None:
        assert self._fifo_fd is not None
        while not self._stop_feeding.is_set():
            with contextlib.suppress(BlockingIOError):  # full: ALSA has enough for now
                os.write(self._fifo_fd, pattern)
            self._stop_feeding.wait(0.005)

    def played(self) -> bytes:
        return self._played_path.read_bytes()

    def wait_for_audio(self) -> None:
        time.sleep(0.02)  # the ALSA threads run in real time

    def close(self) -> None:
        try:
            super().close()  # stops ALSA first: it must not read an unfed FIFO
        finally:
            self._stop_feeding.set()
            if self._feeder is not None:
                self._feeder.join(1.0)
            if self._fifo_fd is not None:
                os.close(self._fifo_fd)
            self.factory.reset()
            self.factory.close()


def make_rig(backend: str, profile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Rig:
    clock = FakeClock()
    if backend == "mock":
        return MockRig(clock, profile, tmp_path)
    return PiRig(clock, profile, tmp_path, monkeypatch)


@pytest.fixture(params=BACKENDS)
def rig(request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    made = make_rig(request.param, "pi-desk-4x3", tmp_path, monkeypatch)
    yield made
    made.close()


@pytest.fixture(params=BACKENDS)
def rotary_rig(request: pytest.FixtureRequest, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    made = make_rig(request.param, "pi-rotary", tmp_path, monkeypatch)
    yield made
    made.close()


# --------------------------------------------------------------------------- the checks


def test_devices_satisfy_the_interfaces(rig: Rig) -> None:
    hardware = rig.hardware
    assert isinstance(hardware.keypad, Keypad)
    assert isinstance(hardware.hook, HookSwitch)
    assert isinstance(hardware.ringer, Ringer)
    assert isinstance(hardware.indicators, Indicators)
    assert isinstance(hardware.audio, AudioDevice)
    assert hardware.rotary is None
    assert not hardware.hook.off_hook


def test_each_key_once(rig: Rig) -> None:
    assert rig.profile.keypad is not None
    for key in "".join(rig.profile.keypad.keymap):
        rig.key_down(key)
        rig.clock.advance(0.200)  # held well beyond the debounce: no repeat
        rig.key_up(key)
        rig.clock.advance(0.100)
    assert rig.reported_keys() == list("123456789*0#")
    assert all(event.at > 0 for event in rig.events)


def test_key_bounce_ignored(rig: Rig) -> None:
    for _ in range(5):
        rig.key_down("5")
        rig.clock.advance(0.005)
        rig.key_up("5")
        rig.clock.advance(0.010)
    rig.clock.advance(0.200)
    assert rig.reported_keys() == []


def test_two_keys_at_once(rig: Rig) -> None:
    rig.key_down("1")
    rig.key_down("9")
    rig.clock.advance(0.100)
    rig.key_up("1")
    rig.key_up("9")
    rig.clock.advance(0.100)
    assert sorted(rig.reported_keys()) == ["1", "9"]


def test_rectangle_does_not_report_the_ghost(rig: Rig) -> None:
    rig.key_down("1")
    rig.clock.advance(0.100)
    rig.key_down("2")
    rig.clock.advance(0.100)
    rig.key_down("4")  # the matrix now also reads "5"
    rig.clock.advance(0.100)
    assert rig.hardware.keypad.keys_down == {"1", "2", "4", "5"}  # type: ignore[attr-defined]
    assert "5" not in rig.reported_keys()
    assert rig.reported_keys() == ["1", "2"]  # "4" is as ambiguous as the ghost
    for key in "124":
        rig.key_up(key)
    rig.clock.advance(0.100)
    rig.key_down("5")  # a real 5 later is a normal key
    rig.clock.advance(0.100)
    assert rig.reported_keys() == ["1", "2", "5"]


def test_hook_bounce_ignored(rig: Rig) -> None:
    for _ in range(4):
        rig.hook_contact(True)
        rig.clock.advance(0.005)
        rig.hook_contact(False)
        rig.clock.advance(0.005)
    rig.clock.advance(1.0)
    assert rig.events == []
    assert not rig.hardware.hook.off_hook


def lift(rig: Rig) -> None:
    rig.hook_contact(True)
    rig.clock.advance(0.100)
    del rig.events[:]


def test_lift(rig: Rig) -> None:
    start = rig.clock.time()
    rig.hook_contact(True)
    rig.clock.advance(0.100)
    assert rig.events == [HookChanged(at=pytest.approx(start + 0.020, abs=0.002), off_hook=True)]
    assert rig.hardware.hook.off_hook


def test_flash(rig: Rig) -> None:
    lift(rig)
    rig.hook_contact(False)
    rig.clock.advance(0.300)
    rig.hook_contact(True)
    rig.clock.advance(0.100)
    assert [type(event) for event in rig.events] == [HookFlashed]
    assert rig.hardware.hook.off_hook


def test_hang_up_after_flash_max(rig: Rig) -> None:
    lift(rig)
    down = rig.clock.time()
    rig.hook_contact(False)
    rig.clock.advance(0.590)
    assert rig.events == []
    rig.clock.advance(0.410)
    assert rig.events == [HookChanged(at=pytest.approx(down + 0.600, abs=0.002), off_hook=False)]
    assert not rig.hardware.hook.off_hook


def test_ringer(rig: Rig) -> None:
    ringer = rig.hardware.ringer
    assert not ringer.ringing and not rig.ringer_output()
    ringer.set(True)
    assert ringer.ringing and rig.ringer_output()
    ringer.set(False)
    assert not ringer.ringing and not rig.ringer_output()


def test_each_led(rig: Rig) -> None:
    indicators = rig.hardware.indicators
    for name in INDICATOR_NAMES:
        assert not indicators.state(name)
        indicators.set(name, True)
        assert indicators.state(name)
        assert rig.led_output(name) is True
        others = [rig.led_output(other) for other in INDICATOR_NAMES if other != name]
        assert not any(others)
        indicators.set(name, False)
        assert not indicators.state(name)
        assert rig.led_output(name) is False
    with pytest.raises(ValueError, match="unknown indicator"):
        indicators.set("power", True)
    with pytest.raises(ValueError, match="unknown indicator"):
        indicators.state("power")


def test_audio(rig: Rig) -> None:
    audio = rig.hardware.audio
    with pytest.raises(RuntimeError, match="not started"):
        audio.read(160)
    rig.feed_capture(PATTERN)
    audio.start(8000)
    assert audio.sample_rate == 8000
    speech = struct.pack("<160h", *range(1000, 1160))
    captured = b""
    deadline = time.monotonic() + ALSA_DEADLINE_S
    while PATTERN not in captured and time.monotonic() < deadline:
        audio.write(speech)
        rig.wait_for_audio()
        backlog = audio.capture_backlog()
        if isinstance(audio, AlsaAudio):  # the card's clock: what it captured, not yet read
            assert backlog is not None and backlog >= 0
        else:  # no card, no clock of its own: calls keep the loop's schedule
            assert backlog is None
        chunk = audio.read(160)
        assert len(chunk) == 320
        captured += chunk
    with pytest.raises(ValueError, match="16-bit"):
        audio.write(b"\x01")
    audio.stop()
    assert PATTERN in captured
    assert speech in rig.played()
    with pytest.raises(RuntimeError, match="not started"):
        audio.write(speech)


# --------------------------------------------------------------------------- rotary boards


def test_rotary_dial(rotary_rig: Rig) -> None:
    rig = rotary_rig
    assert rig.hardware.rotary is not None
    assert rig.hardware.keypad is rig.hardware.rotary
    for digit in "2090":
        rig.dial_digit(digit)
        rig.clock.advance(1.5)
    assert rig.reported_keys() == list("2090")


def test_missing_led_is_accepted(rotary_rig: Rig) -> None:
    indicators = rotary_rig.hardware.indicators
    assert "in_call" not in rotary_rig.profile.leds
    indicators.set("in_call", True)  # the board has no such LED: no error
    indicators.set("registered", True)
    assert rotary_rig.led_output("registered") is True
    assert rotary_rig.led_output("in_call") is None


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="unknown backend 'sim'; known: mock, pi"):
        build_hardware(HardwareSettings(backend="sim"), FakeClock(), lambda event: None)


def test_pi_needs_call_soon_threadsafe() -> None:
    with pytest.raises(ValueError, match="call_soon_threadsafe"):
        build_hardware(HardwareSettings(backend="pi"), FakeClock(), lambda event: None,
                       pin_factory=MockFactory())

