"""KeypadScanner: debounce over scans, one report per press, ghost-key rejection."""

from __future__ import annotations

import pytest

from phoneagent.hal.interfaces import KeyPressed
from phoneagent.hal.keypad_scan import KeypadScanner, debounce_scans, ghost_positions

KEYMAP = ("123", "456", "789", "*0#")
INTERVAL = 0.010


class Feeder:
    """Feeds a scanner one scan per 10 ms and collects the keys it reports."""

    def __init__(self, scanner: KeypadScanner) -> None:
        self.scanner = scanner
        self.now = 0.0
        self.keys: list[str] = []
        self.events: list[KeyPressed] = []

    def scans(self, count: int, *keys: str) -> None:
        reading = [self.scanner.position_of(key) for key in keys]
        for _ in range(count):
            self.now += INTERVAL
            events = self.scanner.scan(self.now, reading)
            self.events += events
            self.keys += [event.key for event in events]


@pytest.fixture
def feeder() -> Feeder:
    return Feeder(KeypadScanner(KEYMAP, debounce_scans=2))


@pytest.mark.parametrize(("debounce_ms", "interval_ms", "scans"),
                         [(20, 10, 2), (25, 10, 3), (20, 5, 4), (0, 10, 1), (5, 10, 1)])
def test_debounce_scans(debounce_ms: int, interval_ms: int, scans: int) -> None:
    assert debounce_scans(debounce_ms, interval_ms) == scans


def test_debounce_scans_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="scan_interval_ms"):
        debounce_scans(20, 0)
    with pytest.raises(ValueError, match="debounce_ms"):
        debounce_scans(-1, 10)


def test_every_key_reported_once_on_press(feeder: Feeder) -> None:
    for key in "123456789*0#":
        feeder.scans(10, key)  # held for 100 ms: no autorepeat
        feeder.scans(5)
    assert feeder.keys == list("123456789*0#")
    assert feeder.scanner.idle


def test_press_reported_when_debounced_at_scan_time(feeder: Feeder) -> None:
    feeder.scans(1, "5")
    assert feeder.keys == []
    assert not feeder.scanner.idle
    feeder.scans(1, "5")
    assert feeder.events == [KeyPressed(at=pytest.approx(0.020), key="5")]
    assert feeder.scanner.keys_down == {"5"}


def test_single_scan_glitch_ignored(feeder: Feeder) -> None:
    for _ in range(5):
        feeder.scans(1, "7")
        feeder.scans(1)
    feeder.scans(3)
    assert feeder.keys == []
    assert feeder.scanner.idle


def test_bounce_on_release_does_not_repeat(feeder: Feeder) -> None:
    feeder.scans(5, "8")
    for _ in range(3):  # the release chatters
        feeder.scans(1)
        feeder.scans(1, "8")
    feeder.scans(5)
    assert feeder.keys == ["8"]


def test_two_keys_at_once(feeder: Feeder) -> None:
    feeder.scans(5, "1", "9")
    assert sorted(feeder.keys) == ["1", "9"]


def test_second_key_while_first_held(feeder: Feeder) -> None:
    feeder.scans(5, "4")
    feeder.scans(5, "4", "6")  # same row: no ghost possible with two keys
    assert feeder.keys == ["4", "6"]


def test_rectangle_rejects_the_ambiguous_keys(feeder: Feeder) -> None:
    feeder.scans(5, "1")
    feeder.scans(5, "1", "2")
    # "4" pressed too: a diode-less matrix also reads "5", the fourth corner.
    feeder.scans(5, "1", "2", "4", "5")
    assert feeder.keys == ["1", "2"]
    # Releasing "2" removes the ghost: "4" is unambiguous now but was not just pressed.
    feeder.scans(5, "1", "4")
    assert feeder.keys == ["1", "2"]
    # A new, unambiguous key is still reported while others are held.
    feeder.scans(5, "1", "4", "9")
    assert feeder.keys == ["1", "2", "9"]


def test_rectangle_pressed_at_once_reports_nothing(feeder: Feeder) -> None:
    feeder.scans(5, "1", "3", "7", "9")
    assert feeder.keys == []


def test_ghost_positions() -> None:
    assert ghost_positions([(0, 0), (0, 1), (1, 0)]) == set()
    assert ghost_positions([(0, 0), (0, 1), (1, 0), (1, 1), (3, 2)]) == {
        (0, 0), (0, 1), (1, 0), (1, 1)}
    assert ghost_positions([(0, 0), (0, 2), (2, 0), (2, 2), (2, 1)]) == {
        (0, 0), (0, 2), (2, 0), (2, 2)}


def test_position_of() -> None:
    scanner = KeypadScanner(KEYMAP)
    assert scanner.position_of("#") == (3, 2)
    with pytest.raises(ValueError, match="not on this keypad"):
        scanner.position_of("A")
    with pytest.raises(ValueError, match="not on this keypad"):
        scanner.position_of("12")


def test_reading_outside_the_matrix_is_an_error() -> None:
    with pytest.raises(ValueError, match="outside"):
        KeypadScanner(KEYMAP).scan(0.0, [(4, 0)])


@pytest.mark.parametrize(("keymap", "message"), [
    ((), "at least one row"),
    (("123", "45"), "row 1 has 2 keys"),
    (("12x",), "not a telephone key"),
])
def test_bad_keymap(keymap: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KeypadScanner(keymap)
