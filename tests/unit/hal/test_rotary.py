"""RotaryDecoder: pulses into digits, inter-digit gap, off-normal contact, bad rates."""

from __future__ import annotations

import logging

import pytest

from phoneagent.hal.interfaces import HardwareEvent, KeyPressed
from phoneagent.hal.rotary import RotaryDecoder

from .fake_clock import FakeClock


def make(clock: FakeClock, **options: object) -> tuple[RotaryDecoder, list[HardwareEvent]]:
    events: list[HardwareEvent] = []
    return RotaryDecoder(clock, events.append, **options), events  # type: ignore[arg-type]


def pulses(decoder: RotaryDecoder, clock: FakeClock, count: int, *,
           break_s: float = 0.060, make_s: float = 0.040, bounce: bool = False) -> None:
    for _ in range(count):
        decoder.pulse_contact(True)
        if bounce:  # 1 ms of chatter on the opening edge
            clock.advance(0.001)
            decoder.pulse_contact(False)
            clock.advance(0.001)
            decoder.pulse_contact(True)
        clock.advance(break_s)
        decoder.pulse_contact(False)
        clock.advance(make_s)


def keys(events: list[HardwareEvent]) -> list[str]:
    return [event.key for event in events if isinstance(event, KeyPressed)]


@pytest.mark.parametrize(("count", "digit"), [(1, "1"), (5, "5"), (9, "9"), (10, "0")])
def test_pulses_make_digits(count: int, digit: str) -> None:
    clock = FakeClock()
    decoder, events = make(clock)
    pulses(decoder, clock, count)
    assert events == []  # not before the inter-digit gap
    assert decoder.dialling
    clock.advance(0.300)
    assert keys(events) == [digit]
    assert not decoder.dialling


def test_digit_reported_after_the_gap_from_the_last_make() -> None:
    clock = FakeClock()
    decoder, events = make(clock)
    pulses(decoder, clock, 3)
    last_make = clock.time() - 0.040
    clock.advance(0.259)
    assert events == []
    clock.advance(0.002)
    assert events == [KeyPressed(at=pytest.approx(last_make + 0.300), key="3")]


def test_several_digits() -> None:
    clock = FakeClock()
    decoder, events = make(clock)
    for count in (1, 10, 10, 2):
        pulses(decoder, clock, count)
        clock.advance(0.5)
    assert keys(events) == ["1", "0", "0", "2"]


def test_contact_bounce_is_debounced() -> None:
    clock = FakeClock()
    decoder, events = make(clock)
    pulses(decoder, clock, 4, bounce=True)
    clock.advance(0.5)
    assert keys(events) == ["4"]


@pytest.mark.parametrize(("break_s", "make_s"), [(0.046, 0.031), (0.085, 0.057)])
def test_rates_within_7_to_13_pps_accepted(break_s: float, make_s: float) -> None:
    clock = FakeClock()
    decoder, events = make(clock)
    pulses(decoder, clock, 6, break_s=break_s, make_s=make_s)
    clock.advance(0.5)
    assert keys(events) == ["6"]


@pytest.mark.parametrize(("break_s", "make_s"), [(0.030, 0.030), (0.100, 0.100)])
def test_rates_outside_7_to_13_pps_rejected(
    break_s: float, make_s: float, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    decoder, events = make(clock)
    with caplog.at_level(logging.WARNING, logger="phoneagent.hal.rotary"):
        pulses(decoder, clock, 6, break_s=break_s, make_s=make_s)
        clock.advance(0.5)
    assert events == []
    assert "pulses per second" in caplog.text


def test_more_than_ten_pulses_rejected(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    decoder, events = make(clock)
    with caplog.at_level(logging.WARNING, logger="phoneagent.hal.rotary"):
        pulses(decoder, clock, 11)
        clock.advance(0.5)
    assert events == []
    assert "11 pulses" in caplog.text


def test_contact_stuck_open_drops_the_digit(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    decoder, events = make(clock)
    pulses(decoder, clock, 2)
    decoder.pulse_contact(True)
    with caplog.at_level(logging.WARNING, logger="phoneagent.hal.rotary"):
        clock.advance(1.0)
    decoder.pulse_contact(False)
    clock.advance(1.0)
    assert events == []
    assert "open for over" in caplog.text


def test_configurable_inter_digit_gap() -> None:
    clock = FakeClock()
    decoder, events = make(clock, inter_digit_ms=500)
    pulses(decoder, clock, 2)
    clock.advance(0.4)
    assert events == []
    clock.advance(0.2)
    assert keys(events) == ["2"]


def test_off_normal_completes_the_digit_at_rest() -> None:
    clock = FakeClock()
    decoder, events = make(clock, uses_off_normal=True)
    decoder.off_normal(True)
    clock.advance(0.05)
    pulses(decoder, clock, 7)
    decoder.off_normal(False)
    clock.advance(0.010)  # just the debounce: no inter-digit wait
    assert keys(events) == ["7"]


def test_off_normal_ignores_pulses_at_rest() -> None:
    clock = FakeClock()
    decoder, events = make(clock, uses_off_normal=True)
    pulses(decoder, clock, 3)
    clock.advance(1.0)
    assert events == []


def test_close_cancels_the_digit() -> None:
    clock = FakeClock()
    decoder, events = make(clock)
    pulses(decoder, clock, 3)
    decoder.close()
    assert clock.pending == 0
    clock.advance(1.0)
    assert events == []


def test_bad_options_rejected() -> None:
    clock = FakeClock()
    with pytest.raises(ValueError, match="inter_digit_ms"):
        make(clock, inter_digit_ms=0)
    with pytest.raises(ValueError, match="min_pps"):
        make(clock, min_pps=14.0, max_pps=13.0)
