"""The mock backend's user actions and recorders, on a fake clock and on a real loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from phoneagent.hal.factory import HardwareSettings, build_hardware
from phoneagent.hal.interfaces import HardwareEvent, HookChanged, HookFlashed, KeyPressed
from phoneagent.hal.mock import MockAudio, MockHardware, MockIndicators, MockKeypad
from phoneagent.hal.profiles import load_profile

from .fake_clock import FakeClock


def make(profile: str = "pi-desk-4x3") -> tuple[FakeClock, MockHardware, list[HardwareEvent]]:
    clock = FakeClock()
    events: list[HardwareEvent] = []
    hardware = MockHardware(clock, events.append, profile=load_profile(profile))
    return clock, hardware, events


def keys(events: list[HardwareEvent]) -> str:
    return "".join(event.key for event in events if isinstance(event, KeyPressed))


def test_lift_hang_up_flash() -> None:
    clock, hardware, events = make()
    hardware.lift_handset()
    clock.advance(0.1)
    assert events == [HookChanged(at=pytest.approx(clock.time() - 0.08), off_hook=True)]
    held = hardware.flash()
    assert 0.08 < held < 0.6
    clock.advance(1.0)
    assert isinstance(events[-1], HookFlashed)
    hardware.hang_up()
    down = clock.time()
    clock.advance(0.5)
    assert hardware.hook.off_hook  # not yet: it could still be a flash
    clock.advance(0.2)
    assert events[-1] == HookChanged(at=pytest.approx(down + 0.6), off_hook=False)


def test_flash_window_from_settings() -> None:
    clock = FakeClock()
    events: list[HardwareEvent] = []
    hardware = build_hardware(HardwareSettings(flash_min_ms=200, flash_max_ms=1000), clock,
                              events.append)
    assert isinstance(hardware, MockHardware)
    assert hardware.hook.flash_s == pytest.approx(0.6)
    hardware.lift_handset()
    clock.advance(0.1)
    hardware.hang_up()
    clock.advance(0.9)
    assert hardware.hook.off_hook
    clock.advance(0.2)
    assert not hardware.hook.off_hook


def test_press_and_dial() -> None:
    clock, hardware, events = make()
    hardware.press("5")
    clock.advance(0.2)
    assert keys(events) == "5"
    start = clock.time()
    duration = hardware.dial("1002#")
    assert duration == pytest.approx(0.4 + hardware.keypad.duration_of("#"))
    clock.advance(duration + 0.05)
    assert keys(events) == "51002#"
    presses = [event.at - start for event in events[1:]]
    assert presses == pytest.approx([0.02, 0.12, 0.22, 0.32, 0.42], abs=0.011)


def test_dial_checks_every_key_first() -> None:
    clock, hardware, events = make()
    with pytest.raises(ValueError, match="'A' is not on this keypad"):
        hardware.dial("12A")
    clock.advance(1.0)
    assert events == []


def test_keypad_ghosts() -> None:
    clock, hardware, events = make()
    keypad = hardware.keypad
    assert isinstance(keypad, MockKeypad)
    for key in "124":
        keypad.key_down(key)
    assert keypad.reading() == {(0, 0), (0, 1), (1, 0), (1, 1)}
    clock.advance(0.1)
    assert keys(events) == ""
    assert keypad.held == {"1", "2", "4"}
    assert clock.pending == 1  # scanning while keys are held …
    for key in "124":
        keypad.key_up(key)
    clock.advance(0.1)
    assert clock.pending == 0  # … and not once all are up and settled


def test_rotary_board() -> None:
    clock, hardware, events = make("pi-rotary")
    assert hardware.rotary is not None and hardware.keypad is hardware.rotary
    duration = hardware.dial("109")
    clock.advance(duration + 0.1)
    assert keys(events) == "109"
    with pytest.raises(ValueError, match="only the digits"):
        hardware.press("#")


def test_ringer_history() -> None:
    clock, hardware, _ = make()
    changes: list[bool] = []
    hardware.ringer.on_change = changes.append
    hardware.ringer.set(True)
    clock.advance(2.0)
    hardware.ringer.set(True)  # no transition
    hardware.ringer.set(False)
    assert hardware.ringer.history == [(1000.0, True), (1002.0, False)]
    assert changes == [True, False]
    assert not hardware.ringer.ringing


def test_indicators() -> None:
    changes: list[tuple[str, bool]] = []
    indicators = MockIndicators(lambda name, on: changes.append((name, on)),
                                fitted=["registered"])
    indicators.set("registered", True)
    indicators.set("in_call", True)
    assert indicators.state("in_call") and indicators.lit("in_call") is None
    assert indicators.lit("registered") is True
    assert changes == [("registered", True)]
    with pytest.raises(ValueError, match="unknown indicator"):
        MockIndicators(fitted=["power"])


def test_audio_capture_order_and_gaps() -> None:
    audio = MockAudio(source=lambda samples: b"\x07\x00" * samples)
    audio.start(8000)
    audio.inject(b"\x01\x00\x02\x00")
    assert audio.read(4) == b"\x01\x00\x02\x00\x07\x00\x07\x00"
    assert audio.statistics.capture_gaps == 0
    audio.source = None
    assert audio.read(2) == bytes(4)
    assert audio.statistics.capture_gaps == 1


def test_audio_playback_sink_and_limit() -> None:
    sunk: list[bytes] = []
    audio = MockAudio(sink=sunk.append, played_limit=6)
    with pytest.raises(RuntimeError, match="not started"):
        audio.write(b"\x00\x00")
    audio.start(16000)
    assert audio.sample_rate == 16000
    audio.write(b"\x01\x00\x02\x00")
    audio.write(b"\x03\x00\x04\x00")
    assert sunk == [b"\x01\x00\x02\x00", b"\x03\x00\x04\x00"]
    assert audio.played == b"\x02\x00\x03\x00\x04\x00"  # the most recent 6 bytes
    with pytest.raises(RuntimeError, match="already started"):
        audio.start(8000)
    audio.stop()
    assert audio.sample_rate == 0


def test_on_a_real_event_loop() -> None:
    async def scenario() -> list[HardwareEvent]:
        loop = asyncio.get_running_loop()
        events: list[HardwareEvent] = []
        hardware = build_hardware(HardwareSettings(), loop, events.append)
        assert isinstance(hardware, MockHardware)
        try:
            hardware.lift_handset()
            duration = hardware.dial("12")
            await asyncio.sleep(duration + 0.05)
        finally:
            hardware.close()
        return events

    events = asyncio.run(scenario())
    assert [event for event in events if isinstance(event, HookChanged)] == [
        HookChanged(at=pytest.approx(events[0].at, abs=0.1), off_hook=True)]
    assert keys(events) == "12"


def test_mock_backend_needs_no_hardware_library() -> None:
    """The simulator and the tests import neither gpiozero nor ALSA (lazy backend imports)."""
    code = (
        "import asyncio, sys\n"
        "from phoneagent.hal.factory import HardwareSettings, build_hardware\n"
        "import phoneagent.hal.alsa\n"
        "loop = asyncio.new_event_loop()\n"
        "build_hardware(HardwareSettings(), loop, print).close()\n"
        "loop.close()\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in "
        "('gpiozero', 'alsaaudio', 'lgpio', 'RPi')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "[]"
