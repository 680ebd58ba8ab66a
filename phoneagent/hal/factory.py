"""Building the phone's hardware: a backend chosen by name from a registry, a board profile.

Theory of operation
-------------------
:func:`build_hardware` is the one place that turns :class:`HardwareSettings`
(from the config's ``[hardware]`` section) into devices.  It loads the board
profile, looks the backend up in :data:`BACKENDS` (a registry, not an if/elif
chain: a new backend is one entry) and returns a :class:`Hardware` bundle:

``"mock"``  :class:`~phoneagent.hal.mock.MockHardware` — simulated devices with
            the user's actions (``lift_handset()``, ``press("5")`` …)
``"pi"``    gpiozero devices on the injected ``pin_factory`` (gpiozero's default
            when ``None``) and ALSA audio; hook and dial callbacks come on
            gpiozero's thread and enter the loop through ``call_soon_threadsafe``

Each backend's module is imported only when that backend is built: the mock
needs neither gpiozero nor ALSA, and the phone does not pay for importing
what it does not use.  Every device reports to the one ``listener`` on the
scheduler's thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from phoneagent.hal.hook import DEFAULT_FLASH_MAX_MS, DEFAULT_FLASH_MIN_MS
from phoneagent.hal.interfaces import (
    AudioDevice,
    HardwareListener,
    HookSwitch,
    Indicators,
    Keypad,
    Ringer,
    Scheduler,
    ThreadsafeCaller,
)
from phoneagent.hal.profiles import BoardProfile, load_profile

__all__ = ["BACKENDS", "BuildOptions", "Hardware", "HardwareSettings", "build_hardware"]


@dataclass(frozen=True)
class HardwareSettings:
    """What the config says about the hardware (validated where it is read)."""

    backend: str = "mock"
    profile: str = "pi-desk-4x3"  # a shipped profile's name, or a path to a .toml file
    flash_min_ms: int = DEFAULT_FLASH_MIN_MS
    flash_max_ms: int = DEFAULT_FLASH_MAX_MS
    capture_device: str = "default"  # ALSA PCM names, e.g. "plughw:CARD=Device"
    playback_device: str = "default"
    ring_device: str = ""  # an ALSA device to play the ring tone on, instead of a ringer pin
    period_ms: int = 20  # audio period: 20 or 10
    ring_country: str = "us"  # whose ring cadence ring_device plays (media.tones plans)


@dataclass
class Hardware:
    """The devices of one phone.  ``keypad`` reports the keys: on a rotary phone it is the dial,
    which is then also ``rotary``."""

    keypad: Keypad
    hook: HookSwitch
    ringer: Ringer
    indicators: Indicators
    audio: AudioDevice
    rotary: Keypad | None = None
    _closed: bool = field(default=False, init=False, repr=False)

    def close(self) -> None:
        """Close every device (in reverse order of building); safe to call twice.

        All are closed even if one fails; the first failure is raised after.
        """
        if self._closed:
            return
        self._closed = True
        devices: list[Keypad | HookSwitch | Ringer | Indicators | AudioDevice] = [
            self.keypad, self.hook, self.ringer, self.indicators, self.audio]
        if self.rotary is not None and self.rotary is not self.keypad:
            devices.insert(1, self.rotary)
        with contextlib.ExitStack() as stack:
            for device in devices:
                stack.callback(device.close)


@dataclass(frozen=True)
class BuildOptions:
    """What :func:`build_hardware` passes a backend besides the settings and the profile."""

    call_soon_threadsafe: ThreadsafeCaller | None = None
    pin_factory: object | None = None
    mock_audio_source: Callable[[int], bytes] | None = None
    mock_audio_sink: Callable[[bytes], None] | None = None


BackendBuilder = Callable[
    [HardwareSettings, BoardProfile, Scheduler, HardwareListener, BuildOptions], Hardware
]


def _build_mock(
    settings: HardwareSettings,
    profile: BoardProfile,
    scheduler: Scheduler,
    listener: HardwareListener,
    options: BuildOptions,
) -> Hardware:
    from phoneagent.hal.mock import MockHardware  # noqa: PLC0415 -- see the module docstring

    return MockHardware(
        scheduler,
        listener,
        profile=profile,
        flash_min_ms=settings.flash_min_ms,
        flash_max_ms=settings.flash_max_ms,
        audio_source=options.mock_audio_source,
        audio_sink=options.mock_audio_sink,
    )


def _build_pi(
    settings: HardwareSettings,
    profile: BoardProfile,
    scheduler: Scheduler,
    listener: HardwareListener,
    options: BuildOptions,
) -> Hardware:
    from phoneagent.hal import alsa, gpio  # noqa: PLC0415 -- see the module docstring

    call_soon_threadsafe = options.call_soon_threadsafe
    if call_soon_threadsafe is None:
        raise ValueError("the pi backend needs call_soon_threadsafe (the event loop's)")
    if profile.ringer is None and not settings.ring_device:
        raise ValueError(f"board profile {profile.name} has no [ringer]: set ring_device")
    factory = options.pin_factory
    with contextlib.ExitStack() as built:  # closes what was built if a later device fails
        rotary = None
        if profile.rotary is not None:
            rotary = gpio.GpioRotaryDial(profile.rotary, scheduler, listener,
                                         call_soon_threadsafe, pin_factory=factory)
            built.callback(rotary.close)
        keypad: Keypad
        if profile.keypad is not None:
            keypad = gpio.GpioKeypad(profile.keypad, scheduler, listener, pin_factory=factory)
            built.callback(keypad.close)
        else:
            assert rotary is not None  # load_profile() requires a keypad or a rotary dial
            keypad = rotary
        hook = gpio.GpioHookSwitch(
            profile.hook, scheduler, listener, call_soon_threadsafe,
            flash_min_ms=settings.flash_min_ms, flash_max_ms=settings.flash_max_ms,
            pin_factory=factory,
        )
        built.callback(hook.close)
        ringer: Ringer
        if settings.ring_device:
            ringer = alsa.AlsaRinger(settings.ring_device, settings.ring_country)
        else:
            assert profile.ringer is not None  # checked above
            ringer = gpio.GpioRinger(profile.ringer, pin_factory=factory)
        built.callback(ringer.close)
        indicators = gpio.GpioIndicators(profile.leds, pin_factory=factory)
        built.callback(indicators.close)
        audio = alsa.AlsaAudio(settings.capture_device, settings.playback_device,
                               period_ms=settings.period_ms)
        built.pop_all()  # success: the Hardware owns the devices now
    return Hardware(keypad, hook, ringer, indicators, audio, rotary)


#: Backends by name (``[hardware] backend``).
BACKENDS: dict[str, BackendBuilder] = {
    "mock": _build_mock,
    "pi": _build_pi,
}


def build_hardware(
    settings: HardwareSettings,
    scheduler: Scheduler,
    listener: HardwareListener,
    *,
    call_soon_threadsafe: ThreadsafeCaller | None = None,
    pin_factory: object | None = None,
    mock_audio_source: Callable[[int], bytes] | None = None,
    mock_audio_sink: Callable[[bytes], None] | None = None,
) -> Hardware:
    """The hardware ``settings`` describe, reporting to ``listener`` on ``scheduler``'s thread.

    ``ValueError`` names what is wrong: an unknown backend, a bad profile, a
    setting the backend cannot honour.
    """
    builder = BACKENDS.get(settings.backend)
    if builder is None:
        raise ValueError(
            f"hardware.backend: unknown backend {settings.backend!r}; known: {', '.join(BACKENDS)}"
        )
    profile = load_profile(settings.profile)
    options = BuildOptions(call_soon_threadsafe, pin_factory, mock_audio_source, mock_audio_sink)
    return builder(settings, profile, scheduler, listener, options)
