"""Call-progress tones, DTMF tones and plain sines as 16-bit PCM frames.

Theory of operation
-------------------
A SIP phone makes its own call-progress tones: dial tone when the handset is
lifted, ringback while the far end rings (unless early media brings the
network's), busy and congestion on a failed call, the howler when the
handset is left off hook, a beep for a waiting call.  Each tone is a
:class:`ToneSpec`: a cadence of :class:`ToneSegment` (the frequencies that
sound, added together, and for how long; no frequencies means silence), a
level per frequency in dBm0, and whether the cadence repeats.

:class:`ToneGenerator` renders a spec at any sample rate (8 kHz for G.711,
16 kHz for wideband) into frames of whatever size the caller asks.  Every
sample is computed from its absolute index — ``sin(2π·f·n/rate)`` — so the
output does not depend on how it is cut into frames (phase-continuous, no
click at frame boundaries, no drift) and frequencies keep their phase through
the silent parts of a cadence.  Where a cadence switches between different
sounds, a short raised-cosine ramp (2 ms) fades out and in, which keeps the
switch free of clicks without audibly changing the cadence.

Levels (ITU-T G.711): a sine at +3.17 dBm0 has the full-scale peak of 32,767
(the µ-law "digital milliwatt" convention), so -13 dBm0 is a peak of about
5,100.  The national tone plans come from ITU-T E.180 Supplement 2 (the
compendium of national tones) and the national specifications it
summarises: ANSI T1.401 / Telcordia GR-506 (us), BT SIN 350 (uk), Deutsche
Telekom 1TR110 (de), France Télécom (fr).  National networks do not agree on
an off-hook warning (the UK "howler", in Germany and France the exchange
just plays busy); the phone makes its own, so every country uses the
ANSI/Telcordia receiver-off-hook tone (1400+2060+2450+2600 Hz, 0.1 s on /
0.1 s off), which is loud and unmistakable.  "unobtainable" (a number that
does not exist) is the E.180 special information tone except in the UK (a
steady 400 Hz); "stutter" is dial tone that starts with ten short bursts, heard when
voicemail is waiting; "ring" is the ringing cadence of each country, as the ringer
sounds it (a relay follows its on/off segments, a loudspeaker plays it).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from operator import add

from phoneagent.media.codecs.base import samples_to_pcm
from phoneagent.sip.errors import LocalProtocolError

__all__ = [
    "COUNTRIES",
    "DTMF_FREQUENCIES",
    "TONES",
    "ToneGenerator",
    "ToneSegment",
    "ToneSpec",
    "amplitude_of_dbm0",
    "dtmf_tone",
    "sine",
    "tone",
]

#: Level of a full-scale sine (peak 32,767) in dBm0 (ITU-T G.711, µ-law).
FULL_SCALE_DBM0 = 3.17


def amplitude_of_dbm0(level_dbm0: float) -> float:
    """The peak 16-bit amplitude of a sine at ``level_dbm0``."""
    return 32767 * 10 ** ((level_dbm0 - FULL_SCALE_DBM0) / 20)


@dataclass(frozen=True)
class ToneSegment:
    """One step of a cadence: ``frequencies`` sound together for ``duration_ms``.

    No frequencies is silence; a ``duration_ms`` of ``None`` lasts forever
    (it can only be the last segment).
    """

    frequencies: tuple[float, ...]
    duration_ms: int | None


@dataclass(frozen=True)
class ToneSpec:
    """A tone: a cadence of segments at ``level_dbm0`` per frequency.

    With ``repeat`` the cadence starts over after its last segment; without,
    the tone ends (silence) unless its last segment lasts forever.
    """

    name: str
    segments: tuple[ToneSegment, ...]
    level_dbm0: float = -13.0
    repeat: bool = True

    def __post_init__(self) -> None:
        if not self.segments:
            raise LocalProtocolError(f"tone {self.name!r} has no segments")
        for index, segment in enumerate(self.segments):
            if segment.duration_ms is None and index != len(self.segments) - 1:
                raise LocalProtocolError(f"tone {self.name!r}: only the last segment is endless")
            if segment.duration_ms is not None and segment.duration_ms <= 0:
                raise LocalProtocolError(f"tone {self.name!r}: segment durations are positive")
            if any(not 0 < frequency < 20000 for frequency in segment.frequencies):
                raise LocalProtocolError(f"tone {self.name!r}: frequency out of range")

    @classmethod
    def cadence(
        cls, name: str, text: str, level_dbm0: float = -13.0, *, repeat: bool = True
    ) -> ToneSpec:
        """A spec from the compact notation ``"400+450/400,0/200,400+450/400,0/2000"``.

        Each comma-separated step is ``f1+f2/milliseconds``; ``0`` is silence and
        a step without ``/milliseconds`` lasts forever.
        """
        segments: list[ToneSegment] = []
        for step in text.split(","):
            sound, _, duration = step.strip().partition("/")
            frequencies = tuple(float(f) for f in sound.split("+") if float(f) != 0)
            segments.append(ToneSegment(frequencies, int(duration) if duration else None))
        return cls(name, tuple(segments), level_dbm0, repeat)

    @property
    def frequencies(self) -> frozenset[float]:
        """Every frequency the tone uses."""
        return frozenset(f for segment in self.segments for f in segment.frequencies)

    @property
    def period_ms(self) -> int | None:
        """Length of one cadence cycle, or ``None`` for a tone with an endless segment."""
        durations = [segment.duration_ms for segment in self.segments]
        return None if None in durations else sum(d for d in durations if d is not None)


_RAMP_MS = 2.0


class ToneGenerator:
    """Renders a :class:`ToneSpec` into 16-bit little-endian PCM frames."""

    def __init__(self, tone: ToneSpec, sample_rate: int = 8000) -> None:
        if sample_rate <= 0:
            raise LocalProtocolError(f"sample rate {sample_rate} is not positive")
        self.tone = tone
        self.sample_rate = sample_rate
        self.position = 0  # samples produced so far
        self._amplitude = amplitude_of_dbm0(tone.level_dbm0)
        self._ramp = max(1, round(sample_rate * _RAMP_MS / 1000))
        # Segment boundaries in samples; None for an endless last segment.
        self._lengths: list[int | None] = [
            None if s.duration_ms is None else max(1, round(s.duration_ms * sample_rate / 1000))
            for s in tone.segments
        ]
        lengths = self._lengths
        self._cycle = None if None in lengths else sum(n for n in lengths if n is not None)

    @property
    def finished(self) -> bool:
        """True once a non-repeating tone has played all of its finite cadence."""
        return not self.tone.repeat and self._cycle is not None and self.position >= self._cycle

    def reset(self) -> None:
        """Start the tone again from its beginning."""
        self.position = 0

    def frame(self, samples: int) -> bytes:
        """The next ``samples`` samples of the tone."""
        if samples < 0:
            raise LocalProtocolError(f"cannot make {samples} samples")
        out: list[float] = []
        position = self.position
        end = position + samples
        while position < end:
            index, offset, length = self._locate(position)
            count = end - position if length is None else min(end - position, length - offset)
            if index is None:
                out.extend([0.0] * count)
            else:
                out.extend(self._render(index, position, offset, count, length))
            position += count
        self.position = end
        return samples_to_pcm(array("h", [_clip(round(value)) for value in out]))

    def _locate(self, position: int) -> tuple[int | None, int, int | None]:
        """(segment index or None for silence after the end, offset in it, its length)."""
        cycle = self._cycle
        if cycle is not None:
            if position >= cycle and not self.tone.repeat:
                return None, 0, None
            position %= cycle
        for index, length in enumerate(self._lengths):
            if length is None or position < length:
                return index, position, length
            position -= length
        raise AssertionError("unreachable: a finite cycle always holds the position")

    def _render(
        self, index: int, start: int, offset: int, count: int, length: int | None
    ) -> list[float]:
        """``count`` samples of segment ``index`` from absolute sample ``start``."""
        frequencies = self.tone.segments[index].frequencies
        if not frequencies:
            return [0.0] * count
        rate = self.sample_rate
        total: list[float] | None = None
        for frequency in frequencies:
            step = 2 * math.pi * frequency / rate
            # The phase from the absolute index, reduced to one turn for precision.
            phase = 2 * math.pi * ((frequency * start / rate) % 1.0)
            wave = [math.sin(phase + step * i) for i in range(count)]
            total = wave if total is None else list(map(add, total, wave))
        assert total is not None
        amplitude = self._amplitude
        result = [amplitude * value for value in total]
        # Ramps where the sound switches: into this segment, and out of it.
        ramp = self._ramp
        sound = frequencies
        first_cycle = self._cycle is None or start < self._cycle
        if self._previous_sound(index, first_cycle) != sound:
            for k in range(offset, min(offset + count, ramp)):
                result[k - offset] *= _ramp_gain(k, ramp)
        if length is not None and self._next_sound(index) != sound:
            for k in range(max(offset, length - ramp), min(offset + count, length)):
                result[k - offset] *= _ramp_gain(length - 1 - k, ramp)
        return result

    def _previous_sound(self, index: int, first_cycle: bool) -> tuple[float, ...]:
        segments = self.tone.segments
        if index > 0:
            return segments[index - 1].frequencies
        if first_cycle or not self.tone.repeat:
            return ()  # the tone starts out of silence
        return segments[-1].frequencies

    def _next_sound(self, index: int) -> tuple[float, ...]:
        segments = self.tone.segments
        if index + 1 < len(segments):
            return segments[index + 1].frequencies
        return segments[0].frequencies if self.tone.repeat else ()


def _ramp_gain(k: int, ramp: int) -> float:
    """Raised-cosine gain of the ``k``-th sample of a ramp of ``ramp`` samples (never 0)."""
    return 0.5 - 0.5 * math.cos(math.pi * (k + 1) / (ramp + 1))


def _clip(value: int) -> int:
    return -32768 if value < -32768 else min(value, 32767)


def sine(
    frequency: float,
    samples: int,
    sample_rate: int = 8000,
    amplitude: float = 8000.0,
    *,
    start: int = 0,
) -> bytes:
    """A plain sine as 16-bit little-endian PCM, from absolute sample ``start``."""
    step = 2 * math.pi * frequency / sample_rate
    phase = 2 * math.pi * ((frequency * start / sample_rate) % 1.0)
    values = [_clip(round(amplitude * math.sin(phase + step * i))) for i in range(samples)]
    return samples_to_pcm(array("h", values))


# --------------------------------------------------------------------------- DTMF

_DTMF_ROWS = (697, 770, 852, 941)
_DTMF_COLUMNS = (1209, 1336, 1477, 1633)
_DTMF_KEYPAD = ("123A", "456B", "789C", "*0#D")

#: (low-group, high-group) frequency of each DTMF digit (ITU-T Q.23).
DTMF_FREQUENCIES: dict[str, tuple[int, int]] = {
    key: (_DTMF_ROWS[row], _DTMF_COLUMNS[column])
    for row, keys in enumerate(_DTMF_KEYPAD)
    for column, key in enumerate(keys)
}


def dtmf_tone(digit: str, duration_ms: int | None = None, level_dbm0: float = -10.0) -> ToneSpec:
    """A DTMF digit as a tone (local key feedback, in-band signalling).

    With a duration the digit sounds once and the tone ends; without, it
    sounds until the generator is dropped.
    """
    frequencies = DTMF_FREQUENCIES.get(digit.upper())
    if frequencies is None:
        raise LocalProtocolError(f"not a DTMF digit: {digit!r}")
    segment = ToneSegment((float(frequencies[0]), float(frequencies[1])), duration_ms)
    return ToneSpec(f"dtmf-{digit.upper()}", (segment,), level_dbm0, repeat=False)


# --------------------------------------------------------------------------- national plans

_OFF_HOOK_WARNING = "1400+2060+2450+2600/100,0/100"  # ANSI T1.401 receiver off-hook
# Stutter dial tone (Telcordia GR-506: "recall dial tone", the voicemail reminder):
# ten 100 ms bursts of the country's dial tone, then the steady dial tone.
def _stutter(dial: str) -> str:
    return ",".join([f"{dial}/100,0/100"] * 10 + [dial])


# ITU-T E.180 special information tone (950/1400/1800 Hz), "number unobtainable".
_SPECIAL_INFORMATION = "950/330,1400/330,1800/330,0/1000"

_PLANS: dict[str, dict[str, tuple[str, float]]] = {
    # ANSI T1.401, Telcordia GR-506 "precise tone plan".
    "us": {
        "dial": ("350+440", -13),
        "stutter": (_stutter("350+440"), -13),
        "ringback": ("440+480/2000,0/4000", -19),
        "busy": ("480+620/500,0/500", -24),
        "congestion": ("480+620/250,0/250", -24),
        "howler": (_OFF_HOOK_WARNING, -10),
        "call_waiting": ("440/300,0/9700", -13),
        "unobtainable": (_SPECIAL_INFORMATION, -24),
        "ring": ("440+480/2000,0/4000", -10),
    },
    # BT SIN 350.
    "uk": {
        "dial": ("350+440", -13),
        "stutter": (_stutter("350+440"), -13),
        "ringback": ("400+450/400,0/200,400+450/400,0/2000", -19),
        "busy": ("400/375,0/375", -19),
        "congestion": ("400/400,0/350,400/225,0/525", -19),
        "howler": (_OFF_HOOK_WARNING, -10),
        "call_waiting": ("400/100,0/4000", -19),
        "unobtainable": ("400", -19),
        "ring": ("400+450/400,0/200,400+450/400,0/2000", -10),
    },
    # Deutsche Telekom 1TR110 (425 Hz throughout).
    "de": {
        "dial": ("425", -13),
        "stutter": (_stutter("425"), -13),
        "ringback": ("425/1000,0/4000", -13),
        "busy": ("425/480,0/480", -13),
        "congestion": ("425/240,0/240", -13),
        "howler": (_OFF_HOOK_WARNING, -10),
        "call_waiting": ("425/200,0/200,425/200,0/5000", -13),
        "unobtainable": (_SPECIAL_INFORMATION, -13),
        "ring": ("425/1000,0/4000", -10),
    },
    # France Télécom (440 Hz throughout).
    "fr": {
        "dial": ("440", -13),
        "stutter": (_stutter("440"), -13),
        "ringback": ("440/1500,0/3500", -13),
        "busy": ("440/500,0/500", -13),
        "congestion": ("440/250,0/250", -13),
        "howler": (_OFF_HOOK_WARNING, -10),
        "call_waiting": ("440/300,0/10000", -13),
        "unobtainable": (_SPECIAL_INFORMATION, -13),
        "ring": ("440/1500,0/3500", -10),
    },
}

#: ``TONES[country][name]``: the tones of each country's plan.
TONES: dict[str, dict[str, ToneSpec]] = {
    country: {
        name: ToneSpec.cadence(f"{country}-{name}", text, level)
        for name, (text, level) in plan.items()
    }
    for country, plan in _PLANS.items()
}
COUNTRIES: tuple[str, ...] = tuple(TONES)


def tone(country: str, name: str) -> ToneSpec:
    """``TONES[country][name]`` with an error that names what is missing."""
    plan = TONES.get(country.lower())
    if plan is None:
        raise LocalProtocolError(f"no tone plan for {country!r}; known: {', '.join(COUNTRIES)}")
    spec = plan.get(name)
    if spec is None:
        raise LocalProtocolError(f"no tone {name!r} in plan {country!r}; known: {', '.join(plan)}")
    return spec
