"""Board profiles: the shipped ones load; a bad one fails with a message naming the key."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from phoneagent.hal.interfaces import INDICATOR_NAMES
from phoneagent.hal.profiles import BoardProfile, OutputPin, load_profile, profile_names

REPO = Path(__file__).resolve().parents[3]

GOOD = """
name = "test-board"
[keypad]
rows = [5, 6, 13, 26]
columns = [12, 16, 25]
keymap = ["123", "456", "789", "*0#"]
[hook]
pin = 17
[ringer]
pin = 27
active_high = false
[leds]
registered = { pin = 22 }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "board.toml"
    path.write_text(text)
    return path


def test_shipped_profiles() -> None:
    assert {"pi-desk-4x3", "pi-rotary"} <= set(profile_names())
    for name in profile_names():
        profile = load_profile(name)
        assert profile.name == name
        assert profile.keypad is not None or profile.rotary is not None


def test_desk_profile_contents() -> None:
    profile = load_profile("pi-desk-4x3")
    assert profile.keypad is not None
    assert profile.keypad.keymap == ("123", "456", "789", "*0#")
    assert len(profile.keypad.rows) == 4 and len(profile.keypad.columns) == 3
    assert profile.keypad.debounce_ms == 20 and profile.keypad.scan_interval_ms == 10
    assert profile.hook.off_hook_level == "low"
    assert profile.ringer is not None
    assert set(profile.leds) == set(INDICATOR_NAMES)
    assert profile.rotary is None


def test_rotary_profile_contents() -> None:
    profile = load_profile("pi-rotary")
    assert profile.keypad is None
    assert profile.rotary is not None and profile.rotary.off_normal_pin is not None
    assert profile.rotary.inter_digit_ms == 300


def test_profiles_ship_in_the_package_and_hw_links_to_them() -> None:
    directory = resources.files("phoneagent.hal").joinpath("profiles")
    assert directory.joinpath("pi-desk-4x3.toml").is_file()
    link = REPO / "hw" / "profiles"
    assert link.is_symlink()
    assert link.resolve() == (REPO / "phoneagent" / "hal" / "profiles").resolve()


def test_load_by_path(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, GOOD))
    assert profile == BoardProfile(
        name="test-board",
        hook=profile.hook,
        keypad=profile.keypad,
        ringer=OutputPin(27, active_high=False),
        leds={"registered": OutputPin(22)},
    )
    assert load_profile(str(write(tmp_path, GOOD))) == profile


def test_name_defaults_to_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('name = "test-board"\n', ""))
    assert load_profile(path).name == "board"


def test_unknown_profile_name() -> None:
    with pytest.raises(ValueError, match=r"unknown board profile 'pi-nope'; known: .*pi-desk-4x3"):
        load_profile("pi-nope")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read it"):
        load_profile(tmp_path / "absent.toml")


@pytest.mark.parametrize(("change", "message"), [
    (("rows = [5, 6, 13, 26]", "rows = [5, 6, 13, 40]"),
     r"keypad\.rows\[3\]: expected a BCM GPIO number 0\.\.27, got 40"),
    (("rows = [5, 6, 13, 26]", 'rows = "5"'), r"keypad\.rows: expected a non-empty list"),
    (("rows = [5, 6, 13, 26]", "rows = [5, 6, 13]"),
     r"keypad\.keymap: has 4 rows, but there are 3"),
    (('"*0#"]', '"*0"]'), r"keypad\.keymap\[3\]: '\*0' has 2 keys, but there are 3 column pins"),
    (('"*0#"]', '"*0x"]'), r"keypad\.keymap\[3\]: 'x' is not a telephone key"),
    (('"*0#"]', '"*01"]'), r"keypad\.keymap\[3\]: key '1' appears twice"),
    (("[hook]\npin = 17", "[hook]\npin = 12"),
     r"keypad\.columns\[0\]: GPIO12 is already used by hook\.pin"),
    (("[hook]\npin = 17", "[hook]\npin = 17\npull_up = 1"),
     r"hook\.pull_up: expected true or false"),
    (("[hook]\npin = 17", '[hook]\npin = 17\noff_hook_level = "up"'),
     r'hook\.off_hook_level: expected "low" or "high"'),
    (("[hook]\npin = 17", "[hook]\npin = 17\ndebounce = 20"), r"hook\.debounce: unknown key"),
    (("[hook]\npin = 17", "[hook]\npin = 17\ndebounce_ms = 9000"),
     r"hook\.debounce_ms: expected 0\.\.500, got 9000"),
    (("[hook]\npin = 17", "[hook]"), r"hook\.pin: missing"),
    (('name = "test-board"', 'name = "test-board"\nrotary = 5'), r": rotary: expected a table"),
    (("registered = ", "ringing = "), r"leds\.ringing: not an indicator"),
    (("registered = { pin = 22 }", "registered = { pin = 22, colour = 1 }"),
     r"leds\.registered\.colour: unknown key"),
    (('name = "test-board"', 'name = "test-board"\nbackend = "pi"'), r": backend: unknown key"),
    (('name = "test-board"', "name = 5"), r": name: expected a string"),
    (("keymap = [", "keymap = [1, "), r"keypad\.keymap\[0\]: expected a string"),
    (("rows = [5, 6, 13, 26]", "rows = [5, 6, 13, true]"), r"keypad\.rows\[3\]: expected a BCM"),
])
def test_bad_profile(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ValueError, match=message) as caught:
        load_profile(path)
    text = str(caught.value)
    assert text.startswith(f"board profile {path}: ")
    assert "\n" not in text


def test_missing_sections(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r": hook: missing"):
        load_profile(write(tmp_path, "[keypad]\nrows=[5]\ncolumns=[6]\nkeymap=['1']\n"))
    with pytest.raises(ValueError, match=r": keypad: missing: a board needs a \[keypad\] or"):
        load_profile(write(tmp_path, "[hook]\npin = 17\n"))


def test_rotary_checks(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, "[hook]\npin = 17\n[rotary]\npulse_pin = 5\n"))
    assert profile.rotary is not None and profile.rotary.off_normal_pin is None
    with pytest.raises(ValueError, match=r"rotary\.off_normal_pin: GPIO17 is already used"):
        load_profile(write(tmp_path, "[hook]\npin = 17\n[rotary]\npulse_pin = 5\n"
                                     "off_normal_pin = 17\n"))
    with pytest.raises(ValueError, match=r"rotary\.inter_digit_ms: expected 150\.\.2000"):
        load_profile(write(tmp_path, "[hook]\npin = 17\n[rotary]\npulse_pin = 5\n"
                                     "inter_digit_ms = 50\n"))


def test_not_toml(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"board profile .*board\.toml: not valid TOML: .*line 1"):
        load_profile(write(tmp_path, "[hook\n"))
