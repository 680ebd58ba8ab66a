"""HookDetector: debounce, hook flash, hang-up after flash_max, on a fake clock."""

from __future__ import annotations

import pytest

from phoneagent.hal.hook import HookDetector
from phoneagent.hal.interfaces import HardwareEvent, HookChanged, HookFlashed

from .fake_clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make(clock: FakeClock, *, off_hook: bool = False, **options: int):
    events: list[HardwareEvent] = []
    detector = HookDetector(clock, events.append, initial_off_hook=off_hook, **options)
    return detector, events


def lifted(clock: FakeClock):
    """A detector whose handset is off hook (reported), with no events recorded yet."""
    detector, events = make(clock, off_hook=True)
    return detector, events


def test_lift_reported_after_debounce(clock: FakeClock) -> None:
    detector, events = make(clock)
    start = clock.time()
    detector.contact(True)
    clock.advance(0.019)
    assert events == []
    assert not detector.off_hook
    clock.advance(0.002)
    assert events == [HookChanged(at=pytest.approx(start + 0.020), off_hook=True)]
    assert detector.off_hook


def test_bounce_shorter_than_debounce_is_ignored(clock: FakeClock) -> None:
    detector, events = make(clock)
    for _ in range(5):  # a contact chattering every 3 ms
        detector.contact(True)
        clock.advance(0.003)
        detector.contact(False)
        clock.advance(0.003)
    clock.advance(2.0)
    assert events == []
    assert not detector.off_hook


def test_bouncy_lift_reported_once(clock: FakeClock) -> None:
    detector, events = make(clock)
    for _ in range(3):
        detector.contact(True)
        clock.advance(0.002)
        detector.contact(False)
        clock.advance(0.002)
    detector.contact(True)
    clock.advance(1.0)
    assert [type(event) for event in events] == [HookChanged]
    assert detector.off_hook


def test_repeated_levels_are_harmless(clock: FakeClock) -> None:
    detector, events = make(clock)
    detector.contact(True)
    clock.advance(0.010)
    detector.contact(True)  # must not restart the debounce
    clock.advance(0.011)
    assert len(events) == 1


def test_flash(clock: FakeClock) -> None:
    detector, events = lifted(clock)
    detector.contact(False)
    clock.advance(0.300)
    detector.contact(True)
    clock.advance(0.100)
    assert len(events) == 1 and isinstance(events[0], HookFlashed)
    assert detector.off_hook


@pytest.mark.parametrize("down_ms", [80, 85, 599])
def test_flash_window_edges(clock: FakeClock, down_ms: int) -> None:
    detector, events = lifted(clock)
    detector.contact(False)
    clock.advance(down_ms / 1000)
    detector.contact(True)
    clock.advance(1.0)
    assert [type(event) for event in events] == [HookFlashed]


def test_on_hook_shorter_than_flash_min_is_a_glitch(clock: FakeClock) -> None:
    detector, events = lifted(clock)
    detector.contact(False)
    clock.advance(0.050)  # longer than the debounce, shorter than flash_min
    detector.contact(True)
    clock.advance(1.0)
    assert events == []
    assert detector.off_hook


def test_hang_up_reported_when_flash_max_elapsed(clock: FakeClock) -> None:
    detector, events = lifted(clock)
    down = clock.time()
    detector.contact(False)
    clock.advance(0.599)
    assert events == []
    assert detector.off_hook
    clock.advance(0.002)
    assert events == [HookChanged(at=pytest.approx(down + 0.600), off_hook=False)]
    assert not detector.off_hook
    clock.advance(5.0)
    assert len(events) == 1  # nothing more while it stays down


def test_lift_after_hang_up(clock: FakeClock) -> None:
    detector, events = lifted(clock)
    detector.contact(False)
    clock.advance(1.0)
    detector.contact(True)
    clock.advance(0.1)
    assert events[1:] == [HookChanged(at=pytest.approx(clock.time() - 0.08), off_hook=True)]


def test_lift_at_the_end_of_the_window_waits_for_the_debounce(clock: FakeClock) -> None:
    """Lifted 590 ms after going down: the debounce ends after flash_max, still a flash."""
    detector, events = lifted(clock)
    detector.contact(False)
    clock.advance(0.590)
    detector.contact(True)
    clock.advance(1.0)
    assert [type(event) for event in events] == [HookFlashed]


def test_bounce_at_the_end_of_the_window_is_a_hang_up(clock: FakeClock) -> None:
    detector, events = lifted(clock)
    down = clock.time()
    detector.contact(False)
    clock.advance(0.590)
    detector.contact(True)  # a knock, not a lift: back down within the debounce
    clock.advance(0.005)
    detector.contact(False)
    clock.advance(1.0)
    assert events == [HookChanged(at=pytest.approx(down + 0.600), off_hook=False)]


def test_late_lift_that_bounces_back_is_a_hang_up(clock: FakeClock) -> None:
    """Lifted 590 ms after going down, back down 15 ms later: decided when that settles."""
    detector, events = lifted(clock)
    detector.contact(False)
    clock.advance(0.590)
    detector.contact(True)
    clock.advance(0.015)  # past flash_max, the lift still being debounced
    assert events == []
    detector.contact(False)
    clock.advance(1.0)
    assert [type(event) for event in events] == [HookChanged]
    assert not detector.off_hook


def test_configurable_window(clock: FakeClock) -> None:
    detector, events = make(clock, off_hook=True, flash_min_ms=200, flash_max_ms=1000,
                            debounce_ms=10)
    detector.contact(False)
    clock.advance(0.150)
    detector.contact(True)
    clock.advance(0.05)
    assert events == []  # 150 ms is a glitch with this window
    detector.contact(False)
    clock.advance(0.800)
    detector.contact(True)
    clock.advance(0.05)
    assert [type(event) for event in events] == [HookFlashed]


def test_zero_debounce(clock: FakeClock) -> None:
    detector, events = make(clock, debounce_ms=0)
    detector.contact(True)
    assert events == [HookChanged(at=clock.time(), off_hook=True)]


def test_close_cancels_timers(clock: FakeClock) -> None:
    detector, events = lifted(clock)
    detector.contact(False)
    clock.advance(0.1)
    detector.close()
    assert clock.pending == 0
    detector.contact(True)
    clock.advance(2.0)
    assert events == []


@pytest.mark.parametrize(("low", "high"), [(600, 80), (100, 100), (-1, 10)])
def test_bad_window_rejected(clock: FakeClock, low: int, high: int) -> None:
    with pytest.raises(ValueError, match="flash_min_ms"):
        HookDetector(clock, lambda event: None, flash_min_ms=low, flash_max_ms=high)
