"""Board profiles: which GPIO pin does what on a given phone, read from TOML and checked once.

Theory of operation
-------------------
A *board profile* describes one way of wiring a phone to a Raspberry Pi: the
keypad's row and column pins and its key map (or a rotary dial's contacts),
the hook switch, the ringer's driver, the LEDs.  Pins are BCM GPIO numbers
(``GPIO17``, not header pin 11).  The profiles that ship with phoneagent live in
the package, ``phoneagent/hal/profiles/NAME.toml`` (``hw/profiles`` in the
source tree is a link to that directory), and are found through
:mod:`importlib.resources`, so they work from a source checkout, an editable
install and a wheel alike; a path to any other ``.toml`` file works too.

:func:`load_profile` validates everything before a pin is touched — types,
ranges, unknown keys (a misspelt key is an error, not a silent default), a
pin used twice, a key map that does not fit the matrix — and raises
``ValueError`` with a one-line message naming the file and the key, e.g.
``board profile pi-desk-4x3: keypad.rows[2]: expected a BCM pin number 0..27, got 40``.
See ``hw/README.md`` for the wiring behind each profile.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal, NoReturn, TypeVar

from phoneagent.hal.interfaces import INDICATOR_NAMES, KEYS

__all__ = [
    "BoardProfile",
    "HookProfile",
    "KeypadProfile",
    "OutputPin",
    "RotaryProfile",
    "load_profile",
    "profile_names",
]

#: The BCM GPIOs on the Pi's 40-pin header.
HIGHEST_PIN = 27
PinLevel = Literal["low", "high"]
_T = TypeVar("_T")


@dataclass(frozen=True)
class OutputPin:
    """An output: a relay or buzzer driver, an LED.  ``active_high``: on drives the pin high."""

    pin: int
    active_high: bool = True


@dataclass(frozen=True)
class KeypadProfile:
    """A matrix keypad: ``keymap[r][c]`` is the key joining ``rows[r]`` to ``columns[c]``."""

    rows: tuple[int, ...]
    columns: tuple[int, ...]
    keymap: tuple[str, ...]
    scan_interval_ms: int = 10
    debounce_ms: int = 20


@dataclass(frozen=True)
class HookProfile:
    """The hook switch: a contact on ``pin``; ``off_hook_level`` is what the pin reads lifted."""

    pin: int
    pull_up: bool = True
    off_hook_level: PinLevel = "low"
    debounce_ms: int = 20


@dataclass(frozen=True)
class RotaryProfile:
    """A rotary dial's pulse contact and, optionally, its off-normal contact."""

    pulse_pin: int
    off_normal_pin: int | None = None
    pull_up: bool = True
    pulse_open_level: PinLevel = "high"  # with a pull-up, the open (breaking) contact reads high
    off_normal_level: PinLevel = "low"  # what the off-normal pin reads with the dial off rest
    inter_digit_ms: int = 300
    debounce_ms: int = 5


@dataclass(frozen=True)
class BoardProfile:
    """One board's wiring: a keypad or a rotary dial (or both), hook, ringer and LEDs."""

    name: str
    hook: HookProfile
    description: str = ""
    keypad: KeypadProfile | None = None
    rotary: RotaryProfile | None = None
    ringer: OutputPin | None = None
    leds: Mapping[str, OutputPin] = field(default_factory=dict)


# --------------------------------------------------------------------------- loading


def _profile_directory() -> resources.abc.Traversable:
    return resources.files("phoneagent.hal").joinpath("profiles")


def profile_names() -> tuple[str, ...]:
    """The names of the profiles shipped with phoneagent, sorted."""
    directory = _profile_directory()
    return tuple(
        sorted(entry.name.removesuffix(".toml") for entry in directory.iterdir()
               if entry.name.endswith(".toml"))
    )


def load_profile(name_or_path: str | os.PathLike[str]) -> BoardProfile:
    """A shipped profile by name (``"pi-desk-4x3"``) or any profile file by path."""
    text = str(name_or_path)
    if isinstance(name_or_path, os.PathLike) or "/" in text or text.endswith(".toml"):
        path = Path(name_or_path)
        origin = f"board profile {path}"
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ValueError(f"{origin}: cannot read it: {error.strerror}") from error
        name = path.stem
    else:
        names = profile_names()
        if text not in names:
            raise ValueError(f"unknown board profile {text!r}; known: {', '.join(names)}")
        origin = f"board profile {text}"
        data = _profile_directory().joinpath(f"{text}.toml").read_bytes()
        name = text
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"{origin}: not valid TOML: {error}") from error
    return _parse(_Table(document, "", origin), name)


def _parse(document: _Table, default_name: str) -> BoardProfile:
    name = document.text("name", default_name)
    description = document.text("description", "")
    keypad = document.optional_table("keypad", _parse_keypad)
    rotary = document.optional_table("rotary", _parse_rotary)
    hook = document.optional_table("hook", _parse_hook)
    ringer = document.optional_table("ringer", _parse_output)
    leds: dict[str, OutputPin] = {}
    led_table = document.optional_table("leds", lambda table: table)
    if led_table is not None:
        for led_name in led_table.names():
            if led_name not in INDICATOR_NAMES:
                led_table.fail(led_name, f"not an indicator; known: {', '.join(INDICATOR_NAMES)}")
            led = led_table.optional_table(led_name, _parse_output)
            assert led is not None  # the key exists: we are iterating over it
            leds[led_name] = led
        led_table.finish()
    document.finish()
    if hook is None:
        document.fail("hook", "missing: every phone has a hook switch")
    if keypad is None and rotary is None:
        document.fail("keypad", "missing: a board needs a [keypad] or a [rotary] dial")
    profile = BoardProfile(name, hook, description, keypad, rotary, ringer, leds)
    _check_pins_unique(document, profile)
    return profile


def _parse_keypad(table: _Table) -> KeypadProfile:
    rows = table.pins("rows")
    columns = table.pins("columns")
    keymap = tuple(table.strings("keymap"))
    if len(keymap) != len(rows):
        table.fail("keymap", f"has {len(keymap)} rows, but there are {len(rows)} row pins")
    seen: set[str] = set()
    for index, keys in enumerate(keymap):
        if len(keys) != len(columns):
            table.fail(f"keymap[{index}]",
                       f"{keys!r} has {len(keys)} keys, but there are {len(columns)} column pins")
        for key in keys:
            if key not in KEYS:
                table.fail(f"keymap[{index}]", f"{key!r} is not a telephone key (0-9 * # A-D)")
            if key in seen:
                table.fail(f"keymap[{index}]", f"key {key!r} appears twice")
            seen.add(key)
    profile = KeypadProfile(
        rows, columns, keymap,
        scan_interval_ms=table.integer("scan_interval_ms", 10, minimum=1, maximum=100),
        debounce_ms=table.integer("debounce_ms", 20, minimum=0, maximum=500),
    )
    table.finish()
    return profile


def _parse_hook(table: _Table) -> HookProfile:
    profile = HookProfile(
        pin=table.pin("pin"),
        pull_up=table.boolean("pull_up", True),
        off_hook_level=table.level("off_hook_level", "low"),
        debounce_ms=table.integer("debounce_ms", 20, minimum=0, maximum=500),
    )
    table.finish()
    return profile


def _parse_rotary(table: _Table) -> RotaryProfile:
    profile = RotaryProfile(
        pulse_pin=table.pin("pulse_pin"),
        off_normal_pin=table.optional_pin("off_normal_pin"),
        pull_up=table.boolean("pull_up", True),
        pulse_open_level=table.level("pulse_open_level", "high"),
        off_normal_level=table.level("off_normal_level", "low"),
        inter_digit_ms=table.integer("inter_digit_ms", 300, minimum=150, maximum=2000),
        debounce_ms=table.integer("debounce_ms", 5, minimum=0, maximum=25),
    )
    table.finish()
    return profile


def _parse_output(table: _Table) -> OutputPin:
    output = OutputPin(table.pin("pin"), table.boolean("active_high", True))
    table.finish()
    return output


def _check_pins_unique(document: _Table, profile: BoardProfile) -> None:
    keypad, rotary, ringer = profile.keypad, profile.rotary, profile.ringer
    uses: list[tuple[str, int | None]] = [("hook.pin", profile.hook.pin)]
    if keypad is not None:
        uses += [(f"keypad.rows[{i}]", pin) for i, pin in enumerate(keypad.rows)]
        uses += [(f"keypad.columns[{i}]", pin) for i, pin in enumerate(keypad.columns)]
    if rotary is not None:
        uses += [("rotary.pulse_pin", rotary.pulse_pin),
                 ("rotary.off_normal_pin", rotary.off_normal_pin)]
    if ringer is not None:
        uses.append(("ringer.pin", ringer.pin))
    uses += [(f"leds.{name}.pin", led.pin) for name, led in profile.leds.items()]
    owner: dict[int, str] = {}
    for key, pin in uses:
        if pin is None:
            continue
        if pin in owner:
            document.fail(key, f"GPIO{pin} is already used by {owner[pin]}")
        owner[pin] = key


class _Table:
    """One TOML table being read: typed getters that name the key in every error."""

    def __init__(self, data: Mapping[str, object], prefix: str, origin: str) -> None:
        self._data = data
        self._prefix = prefix
        self._origin = origin
        self._used: set[str] = set()

    def names(self) -> list[str]:
        return list(self._data)

    def fail(self, key: str, message: str) -> NoReturn:
        raise ValueError(f"{self._origin}: {self._prefix}{key}: {message}")

    def finish(self) -> None:
        """Every key must have been read: an unknown one is most likely misspelt."""
        for key in self._data:
            if key not in self._used:
                self.fail(key, "unknown key")

    def _get(self, key: str) -> object:
        self._used.add(key)
        return self._data.get(key)

    def optional_table(self, key: str, parse: Callable[[_Table], _T]) -> _T | None:
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(key, f"expected a table, got {value!r}")
        return parse(_Table(value, f"{self._prefix}{key}.", self._origin))

    def text(self, key: str, default: str) -> str:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {value!r}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {value!r}")
        return value

    def integer(self, key: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"expected an integer, got {value!r}")
        if not minimum <= value <= maximum:
            self.fail(key, f"expected {minimum}..{maximum}, got {value}")
        return value

    def level(self, key: str, default: PinLevel) -> PinLevel:
        value = self._get(key)
        if value is None:
            return default
        if value == "low":
            return "low"
        if value == "high":
            return "high"
        self.fail(key, f'expected "low" or "high", got {value!r}')

    def pin(self, key: str) -> int:
        value = self._get(key)
        if value is None:
            self.fail(key, "missing: the BCM GPIO number it is wired to")
        return self._check_pin(key, value)

    def optional_pin(self, key: str) -> int | None:
        value = self._get(key)
        return None if value is None else self._check_pin(key, value)

    def pins(self, key: str) -> tuple[int, ...]:
        value = self._get(key)
        if not isinstance(value, list) or not value:
            self.fail(key, f"expected a non-empty list of BCM GPIO numbers, got {value!r}")
        return tuple(self._check_pin(f"{key}[{i}]", item) for i, item in enumerate(value))

    def strings(self, key: str) -> list[str]:
        value = self._get(key)
        if not isinstance(value, list) or not value:
            self.fail(key, f"expected a non-empty list of strings, got {value!r}")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(f"{key}[{index}]", f"expected a string, got {item!r}")
        return [str(item) for item in value]

    def _check_pin(self, key: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= HIGHEST_PIN:
            self.fail(key, f"expected a BCM GPIO number 0..{HIGHEST_PIN}, got {value!r}")
        return value
