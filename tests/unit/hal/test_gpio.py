"""The pi backend's GPIO devices on gpiozero's MockFactory: what the contract test does not see."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from phoneagent.hal.factory import HardwareSettings, build_hardware
from phoneagent.hal.gpio import GpioIndicators, GpioRinger
from phoneagent.hal.interfaces import HardwareEvent, HookChanged, KeyPressed
from phoneagent.hal.profiles import OutputPin, load_profile

from .fake_clock import FakeClock
from .matrix_pins import KeypadMatrix

PROFILE = load_profile("pi-desk-4x3")


@pytest.fixture
def matrix() -> KeypadMatrix:
    return KeypadMatrix(PROFILE)


@pytest.fixture
def factory(matrix: KeypadMatrix) -> Iterator[MockFactory]:
    made = MockFactory(pin_class=matrix.pin_class())
    yield made
    made.reset()
    made.close()


def test_idle_keypad_drives_no_rows(factory: MockFactory, matrix: KeypadMatrix) -> None:
    clock = FakeClock()
    events: list[HardwareEvent] = []
    hardware = build_hardware(HardwareSettings(backend="pi"), clock, events.append,
                              call_soon_threadsafe=clock.call_soon_threadsafe,
                              pin_factory=factory)
    try:
        clock.advance(1.0)
        idle_changes = matrix.row_changes
        clock.advance(1.0)  # a hundred idle scans: columns read, rows left alone
        assert matrix.row_changes == idle_changes
        matrix.press("7")
        clock.advance(0.1)
        assert events == [KeyPressed(at=pytest.approx(clock.time() - 0.07, abs=0.011), key="7")]
        assert matrix.row_changes > idle_changes  # scanning row by row while a key is down
        matrix.release("7")
        clock.advance(0.1)
        back_to_idle = matrix.row_changes
        clock.advance(1.0)
        assert matrix.row_changes == back_to_idle
        assert all(not pin.state for pin in matrix.row_pins())  # all rows active (low)
    finally:
        hardware.close()
    assert clock.pending == 0  # no scan left behind


def test_close_releases_the_pins(factory: MockFactory) -> None:
    clock = FakeClock()
    settings = HardwareSettings(backend="pi")
    for _ in range(2):  # the second build would fail on pins still reserved
        hardware = build_hardware(settings, clock, lambda event: None,
                                  call_soon_threadsafe=clock.call_soon_threadsafe,
                                  pin_factory=factory)
        hardware.close()
        hardware.close()  # twice is harmless


def test_hook_edges_enter_only_through_call_soon_threadsafe(factory: MockFactory) -> None:
    clock = FakeClock()
    events: list[HardwareEvent] = []
    handed_over: list[object] = []

    def call_soon_threadsafe(callback: object) -> None:
        handed_over.append(callback)
        clock.call_soon_threadsafe(callback)  # type: ignore[arg-type]

    hardware = build_hardware(HardwareSettings(backend="pi"), clock, events.append,
                              call_soon_threadsafe=call_soon_threadsafe, pin_factory=factory)
    try:
        clock.advance(0.1)
        before = len(handed_over)
        factory.pin(PROFILE.hook.pin).drive_low()  # lifted
        assert len(handed_over) == before + 1
        assert not hardware.hook.off_hook  # nothing ran on the "loop" yet
        clock.advance(0.1)
        assert events == [HookChanged(at=pytest.approx(clock.time() - 0.08), off_hook=True)]
    finally:
        hardware.close()


def test_hook_on_a_real_loop_from_another_thread(factory: MockFactory) -> None:
    """gpiozero calls back on its own thread: the event reaches the listener on the loop's."""

    async def scenario() -> tuple[HardwareEvent, int, int]:
        loop = asyncio.get_running_loop()
        arrived: asyncio.Future[tuple[HardwareEvent, int]] = loop.create_future()

        def listener(event: HardwareEvent) -> None:
            if not arrived.done():
                arrived.set_result((event, threading.get_ident()))

        hardware = build_hardware(HardwareSettings(backend="pi"), loop, listener,
                                  call_soon_threadsafe=loop.call_soon_threadsafe,
                                  pin_factory=factory)
        try:
            lifter = threading.Thread(target=factory.pin(PROFILE.hook.pin).drive_low)
            lifter.start()
            lifter.join(1.0)
            event, thread = await asyncio.wait_for(arrived, 1.0)
            return event, thread, threading.get_ident()
        finally:
            hardware.close()

    event, listener_thread, loop_thread = asyncio.run(scenario())
    assert isinstance(event, HookChanged) and event.off_hook
    assert listener_thread == loop_thread


def test_ringer_active_low(factory: MockFactory) -> None:
    ringer = GpioRinger(OutputPin(27, active_high=False), pin_factory=factory)
    try:
        pin = factory.pin(27)
        assert pin.state  # off: driven high
        ringer.set(True)
        assert ringer.ringing and not pin.state
    finally:
        ringer.close()


def test_indicators_reject_unknown_names(factory: MockFactory) -> None:
    with pytest.raises(ValueError, match="unknown indicator 'power'"):
        GpioIndicators({"power": OutputPin(22)}, pin_factory=factory)
    indicators = GpioIndicators({}, pin_factory=factory)
    indicators.set("in_call", True)  # no such LED on this board: remembered only
    assert indicators.state("in_call")
    indicators.close()
