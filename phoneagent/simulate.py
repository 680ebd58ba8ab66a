"""``phoneagent simulate``: one phone on mocked hardware, driven from the terminal.

The terminal is the keypad: ``0``-``9``, ``*``, ``#`` and ``A``-``D`` press keys,
the space bar (or ``h``) lifts and puts down the handset, ``f`` flashes the hook,
``d`` toggles do-not-disturb, ``q`` (or Ctrl-D) quits.  What the user would see or
hear is printed as it happens (tones, the ringer, LEDs, the phone's state).  Audio
comes from ``[media] play`` and goes to ``[media] record``, or with ``--alsa`` from
and to the sound card of ``[audio]`` (the default ALSA device unless configured).
When standard input is not a terminal it is read as lines of the same keys, so a
script can drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import termios
import tty
from collections.abc import Iterator
from dataclasses import replace

from phoneagent.app import Phone
from phoneagent.config import Config
from phoneagent.hal.interfaces import KEYS
from phoneagent.hal.mock import MockHardware
from phoneagent.phone import events as phone_events

HELP = "keys 0-9 * # A-D dial · space/h hook · f flash · d do-not-disturb · q quit"


def describe(name: str, fields: dict[str, object]) -> str | None:
    """One line for the user, or None for events that say nothing to them."""
    if name == "tone":
        return "(silence)" if fields["name"] == "off" else f"you hear: {fields['name']} tone"
    if name == "ring":
        return "RING" if fields["state"] == "on" else None
    if name == "led":
        return f"LED {fields['name']}: {fields['state']}"
    if name == "state":
        return f"phone: {fields['old']} -> {fields['new']}"
    if name in ("incoming", "connected", "ended", "dtmf", "registered", "dnd", "calling"):
        return f"{name}: " + " ".join(f"{key}={value}" for key, value in fields.items())
    return None


class Simulator:
    #: Keys typed faster than a finger presses them (a paste, a pipe) are spaced this far apart:
    #: the keypad is a matrix, and keys held together are ambiguous.
    KEY_SPACING = 0.15

    def __init__(self, phone: Phone) -> None:
        self.phone = phone
        self.loop = asyncio.get_running_loop()
        self._next_key_at = 0.0
        self.done = asyncio.Event()
        self.off_hook = False

    @property
    def hardware(self) -> MockHardware:
        assert isinstance(self.phone.hardware, MockHardware)
        return self.phone.hardware

    def key(self, char: str) -> None:
        if char in ("q", "\x04"):
            self.done.set()
        elif char in (" ", "h"):
            self.off_hook = not self.off_hook
            if self.off_hook:
                self.hardware.lift_handset()
            else:
                self.hardware.hang_up()
        elif char == "f":
            self.hardware.flash()
        elif char == "d":
            # The machine's own setting: *78/*79 at the keypad change it too.
            dnd = not self.phone.machine.do_not_disturb
            self.phone.feed(phone_events.SetDoNotDisturb(dnd))
        elif char.upper() in KEYS:
            now = self.loop.time()
            at = max(now, self._next_key_at)
            self._next_key_at = at + self.KEY_SPACING
            self.loop.call_at(at, self._press, char.upper())

    def _press(self, key: str) -> None:
        try:
            self.hardware.press(key)
        except ValueError as error:  # a key this board does not have (A-D on a 4x3 keypad)
            print(error, flush=True)


@contextlib.contextmanager
def _cbreak(fd: int) -> Iterator[None]:
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def run_simulator(config: Config, *, alsa: bool = False) -> int:
    """``alsa``: the handset's audio on ``[audio]``'s ALSA devices instead of files."""
    config = replace(config, hardware=replace(config.hardware, backend="mock"))
    phone = Phone(config, alsa_audio=alsa)
    loop = asyncio.get_running_loop()
    simulator = Simulator(phone)
    def show(name: str, fields: dict[str, object]) -> None:
        line = describe(name, fields)
        if line is not None:
            print(line, flush=True)

    phone.observers.append(show)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, simulator.done.set)
    await phone.start()
    print(HELP, flush=True)
    fd = sys.stdin.fileno()
    interactive = os.isatty(fd)

    def readable() -> None:
        data = os.read(fd, 64)
        if not data:
            simulator.done.set()
        for char in data.decode("utf-8", "replace"):
            if char != "\n" or interactive:
                simulator.key(char)

    try:
        with _cbreak(fd) if interactive else contextlib.nullcontext():
            loop.add_reader(fd, readable)
            try:
                await simulator.done.wait()
            finally:
                loop.remove_reader(fd)
    finally:
        await phone.stop()
    return 0
