"""Call-progress and DTMF tones: frequencies, levels and cadences measured with Goertzel.

Expected values are the national plans (ITU-T E.180 Supplement 2; ANSI T1.401,
BT SIN 350, 1TR110, France Télécom) written out here independently of the
module's table, so a typo in either shows up.
"""

from __future__ import annotations

import math
import struct
from itertools import groupby, pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoneagent.media.goertzel import detect_dtmf, goertzel_power, signal_power, tone_powers
from phoneagent.media.tones import (
    COUNTRIES,
    DTMF_FREQUENCIES,
    TONES,
    ToneGenerator,
    ToneSegment,
    ToneSpec,
    amplitude_of_dbm0,
    dtmf_tone,
    sine,
    tone,
)
from phoneagent.sip.errors import LocalProtocolError

# country -> name -> (frequencies, [(on ms, off ms), ...] per cycle; None = continuous)
PLANS: dict[str, dict[str, tuple[tuple[int, ...], list[tuple[int, int]] | None]]] = {
    "us": {
        "dial": ((350, 440), None),
        "ringback": ((440, 480), [(2000, 4000)]),
        "busy": ((480, 620), [(500, 500)]),
        "congestion": ((480, 620), [(250, 250)]),
        "howler": ((1400, 2060, 2450, 2600), [(100, 100)]),
        "call_waiting": ((440,), [(300, 9700)]),
        "unobtainable": ((950, 1400, 1800), [(990, 1000)]),
        "ring": ((440, 480), [(2000, 4000)]),
    },
    "uk": {
        "dial": ((350, 440), None),
        "ringback": ((400, 450), [(400, 200), (400, 2000)]),
        "busy": ((400,), [(375, 375)]),
        "congestion": ((400,), [(400, 350), (225, 525)]),
        "howler": ((1400, 2060, 2450, 2600), [(100, 100)]),
        "call_waiting": ((400,), [(100, 4000)]),
        "unobtainable": ((400,), None),
        "ring": ((400, 450), [(400, 200), (400, 2000)]),
    },
    "de": {
        "dial": ((425,), None),
        "ringback": ((425,), [(1000, 4000)]),
        "busy": ((425,), [(480, 480)]),
        "congestion": ((425,), [(240, 240)]),
        "howler": ((1400, 2060, 2450, 2600), [(100, 100)]),
        "call_waiting": ((425,), [(200, 200), (200, 5000)]),
        "unobtainable": ((950, 1400, 1800), [(990, 1000)]),
        "ring": ((425,), [(1000, 4000)]),
    },
    "fr": {
        "dial": ((440,), None),
        "ringback": ((440,), [(1500, 3500)]),
        "busy": ((440,), [(500, 500)]),
        "congestion": ((440,), [(250, 250)]),
        "howler": ((1400, 2060, 2450, 2600), [(100, 100)]),
        "call_waiting": ((440,), [(300, 10000)]),
        "unobtainable": ((950, 1400, 1800), [(990, 1000)]),
        "ring": ((440,), [(1500, 3500)]),
    },
}
CASES = [(country, name) for country, plan in PLANS.items() for name in plan]
ALL_FREQUENCIES = sorted({f for plan in PLANS.values() for fs, _ in plan.values() for f in fs})


def samples_of(pcm: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(pcm) // 2}h", pcm))


def render(spec: ToneSpec, milliseconds: int, rate: int = 8000, frame_ms: int = 20) -> list[int]:
    """The tone as the phone plays it: frame by frame."""
    generator = ToneGenerator(spec, rate)
    frame = rate * frame_ms // 1000
    pcm = b"".join(generator.frame(frame) for _ in range(milliseconds // frame_ms))
    return samples_of(pcm)


def on_off_runs(
    samples: list[int], spec: ToneSpec, rate: int, block_ms: int = 5
) -> list[tuple[bool, int, list[int]]]:
    """(sounding, milliseconds, samples) runs, judged per block by its energy.

    Energy rather than one frequency's power: two tones a few tens of Hz apart
    beat, and a 5 ms block cannot tell them apart anyway.  Frequencies are
    checked on each run as a whole (:func:`strongest`).
    """
    block = rate * block_ms // 1000
    threshold = 0.02 * amplitude_of_dbm0(spec.level_dbm0) ** 2 / 2
    blocks = [samples[i : i + block] for i in range(0, len(samples) - block + 1, block)]
    runs = []
    for on, run in groupby(blocks, key=lambda b: signal_power(b) > threshold):
        parts = list(run)
        runs.append((on, len(parts) * block_ms, [x for part in parts for x in part]))
    return runs


def strongest(samples: list[int], count: int, rate: int = 8000) -> list[int]:
    """The ``count`` plan frequencies with the most Goertzel power, sorted."""
    powers = tone_powers(samples, ALL_FREQUENCIES, rate)
    return sorted(sorted(powers, key=powers.__getitem__)[-count:])


def test_every_country_has_every_tone() -> None:
    assert set(COUNTRIES) >= {"us", "uk", "de", "fr"}
    for country, plan in PLANS.items():
        assert set(TONES[country]) == set(plan) | {"stutter"}  # stutter: its own test


def is_sequence(spec: ToneSpec) -> bool:
    """Different sounds one after another (the special information tone), not together."""
    return len({segment.frequencies for segment in spec.segments if segment.frequencies}) > 1


@pytest.mark.parametrize(
    ("country", "name"), [case for case in CASES if not is_sequence(TONES[case[0]][case[1]])]
)
def test_frequencies_and_level(country: str, name: str) -> None:
    spec = TONES[country][name]
    frequencies, _ = PLANS[country][name]
    assert spec.frequencies == frozenset(float(f) for f in frequencies)
    # 80 ms from 10 ms into the first "on" part (past the fade-in).
    samples = render(spec, 100)[80:720]
    powers = tone_powers(samples, ALL_FREQUENCIES)
    strongest = sorted(powers, key=powers.__getitem__, reverse=True)[: len(frequencies)]
    assert sorted(strongest) == sorted(frequencies)
    expected = amplitude_of_dbm0(spec.level_dbm0) ** 2 / 2
    for frequency in frequencies:
        assert powers[frequency] == pytest.approx(expected, rel=0.12)
    assert signal_power(samples) == pytest.approx(expected * len(frequencies), rel=0.12)


@pytest.mark.parametrize("country", ["us", "de", "fr"])
def test_special_information_tone_steps_through_its_three_frequencies(country: str) -> None:
    """ITU-T E.180 "number unobtainable": 950, 1400, 1800 Hz for 330 ms each, then 1 s off."""
    spec = TONES[country]["unobtainable"]
    samples = render(spec, 2000)
    for step, frequency in enumerate((950, 1400, 1800)):
        start = (step * 330 + 40) * 8  # 40 ms into the step, past the ramps
        powers = tone_powers(samples[start : start + 2000], ALL_FREQUENCIES)
        assert max(powers, key=powers.__getitem__) == frequency
    assert signal_power(samples[1100 * 8 : 1900 * 8]) == 0


@pytest.mark.parametrize(("country", "name"), CASES)
def test_cadence(country: str, name: str) -> None:
    spec = TONES[country][name]
    frequencies, cadence = PLANS[country][name]
    if cadence is None:
        runs = on_off_runs(render(spec, 3000), spec, 8000)
        assert [(on, ms) for on, ms, _ in runs] == [(True, 3000)]
        assert spec.period_ms is None
        return
    period = sum(on + off for on, off in cadence)
    assert spec.period_ms == period
    runs = on_off_runs(render(spec, 2 * period), spec, 8000)
    expected = [(True, on) for on, _ in cadence]
    expected = [
        step
        for (_, on), (_, off) in zip(expected, cadence, strict=True)
        for step in ((True, on), (False, off))
    ]
    assert len(runs) == 2 * len(expected)
    for (sounding, measured, samples), (want_sounding, want) in zip(
        runs, expected * 2, strict=True
    ):
        assert sounding == want_sounding
        assert abs(measured - want) <= 5  # one 5 ms block
        if sounding:  # Goertzel: the run sounds the plan's frequencies
            assert strongest(samples, len(frequencies)) == sorted(frequencies)
        else:
            assert not any(samples)  # true silence


@pytest.mark.parametrize(("country", "name"), [("us", "busy"), ("uk", "ringback"), ("de", "dial")])
def test_wideband_frequencies_and_cadence(country: str, name: str) -> None:
    spec = TONES[country][name]
    frequencies, cadence = PLANS[country][name]
    runs = on_off_runs(render(spec, 3000, rate=16000), spec, 16000)
    assert strongest(runs[0][2], len(frequencies), 16000) == sorted(frequencies)
    if cadence is None:
        assert [(on, ms) for on, ms, _ in runs] == [(True, 3000)]
    else:
        assert abs(runs[0][1] - cadence[0][0]) <= 5 and abs(runs[1][1] - cadence[0][1]) <= 5


@pytest.mark.parametrize(("country", "name"), CASES)
def test_frames_join_without_a_seam(country: str, name: str) -> None:
    """Phase-continuous: 20 ms frames are exactly the tone rendered in one go."""
    spec = TONES[country][name]
    generator = ToneGenerator(spec)
    framed = b"".join(generator.frame(160) for _ in range(100))
    assert framed == ToneGenerator(spec).frame(160 * 100)


@settings(max_examples=40, deadline=None)
@given(
    case=st.sampled_from(CASES),
    sizes=st.lists(st.integers(0, 400), min_size=1, max_size=30),
    rate=st.sampled_from([8000, 16000]),
)
def test_any_framing_gives_the_same_samples(
    case: tuple[str, str], sizes: list[int], rate: int
) -> None:
    spec = TONES[case[0]][case[1]]
    generator = ToneGenerator(spec, rate)
    framed = b"".join(generator.frame(size) for size in sizes)
    assert framed == ToneGenerator(spec, rate).frame(sum(sizes))
    assert generator.position == sum(sizes)


@pytest.mark.parametrize(("country", "name"), CASES)
@pytest.mark.parametrize("rate", [8000, 16000])
def test_no_clicks(country: str, name: str, rate: int) -> None:
    """No sample-to-sample step beyond what the sines (and the 2 ms ramps) can make."""
    spec = TONES[country][name]
    period = spec.period_ms or 1000
    samples = render(spec, min(period, 6000) + 1000, rate)
    amplitude = amplitude_of_dbm0(spec.level_dbm0)
    slope = sum(2 * math.pi * f / rate for f in spec.frequencies)  # max step of the sum
    ramp = round(rate * 0.002)
    bound = amplitude * (slope + len(spec.frequencies) * math.pi / (ramp + 1)) + 2
    steepest = max(abs(b - a) for a, b in pairwise(samples))
    assert steepest <= bound
    # Where the tone meets silence it does so near zero: the ramp's first steps
    # (gains 0.009, 0.034 …) instead of a cut at whatever the waveform was.
    edge = amplitude * len(spec.frequencies) * 0.05 + 1
    for index in range(8, len(samples) - 8):
        if not any(samples[index - 8 : index]):  # eight silent samples before
            assert abs(samples[index]) <= edge
        if not any(samples[index + 1 : index + 9]):  # eight silent samples after
            assert abs(samples[index]) <= edge


def test_tone_starts_from_silence() -> None:
    samples = samples_of(ToneGenerator(TONES["de"]["dial"]).frame(40))
    assert abs(samples[0]) < 50 and max(map(abs, samples[:4])) < max(map(abs, samples[16:40]))


# --------------------------------------------------------------------------- DTMF tones


@pytest.mark.parametrize("digit", "0123456789*#ABCD")
def test_dtmf_tones_are_detected(digit: str) -> None:
    generator = ToneGenerator(dtmf_tone(digit, duration_ms=60))
    pcm = generator.frame(480)
    assert detect_dtmf(pcm[160:570]) == digit  # 205 samples inside the digit
    assert generator.finished
    assert generator.frame(160) == bytes(320)  # silence after the digit


def test_dtmf_frequencies() -> None:
    assert DTMF_FREQUENCIES["1"] == (697, 1209)
    assert DTMF_FREQUENCIES["0"] == (941, 1336)
    assert DTMF_FREQUENCIES["#"] == (941, 1477)
    assert DTMF_FREQUENCIES["D"] == (941, 1633)
    assert dtmf_tone("a").frequencies == {697.0, 1633.0}
    with pytest.raises(LocalProtocolError):
        dtmf_tone("x")


def test_endless_dtmf_tone() -> None:
    generator = ToneGenerator(dtmf_tone("5"))
    generator.frame(8000)
    assert not generator.finished
    assert detect_dtmf(generator.frame(205)) == "5"


# --------------------------------------------------------------------------- specs and helpers


def test_cadence_notation() -> None:
    spec = ToneSpec.cadence("x", "400+450/400,0/200,400+450/400,0/2000", -19)
    assert spec.segments == (
        ToneSegment((400.0, 450.0), 400),
        ToneSegment((), 200),
        ToneSegment((400.0, 450.0), 400),
        ToneSegment((), 2000),
    )
    assert spec.period_ms == 3000 and spec.level_dbm0 == -19 and spec.repeat
    assert ToneSpec.cadence("d", "350+440").segments == (ToneSegment((350.0, 440.0), None),)


@pytest.mark.parametrize("country", ["us", "uk", "de", "fr"])
def test_stutter_dial_tone_is_ten_bursts_then_the_dial_tone(country: str) -> None:
    spec = TONES[country]["stutter"]
    dial = TONES[country]["dial"]
    runs = on_off_runs(render(spec, 3000), spec, 8000)
    assert [on for on, _, _ in runs] == [True, False] * 10 + [True]
    assert all(abs(ms - 100) <= 5 for _, ms, _ in runs[:-1])
    assert abs(runs[-1][1] - 1000) <= 5  # then steady to the end of the render
    assert spec.frequencies == dial.frequencies and spec.level_dbm0 == dial.level_dbm0


def test_stutter_then_steady() -> None:
    """A non-repeating cadence whose last segment lasts forever (stutter dial tone)."""
    spec = ToneSpec.cadence("stutter", "350+440/100,0/100,350+440/100,0/100,350+440", repeat=False)
    runs = on_off_runs(render(spec, 1400), spec, 8000)
    assert [on for on, _, _ in runs] == [True, False, True, False, True]
    assert abs(runs[-1][1] - 1000) <= 5 and spec.period_ms is None


def test_non_repeating_tone_ends() -> None:
    generator = ToneGenerator(ToneSpec.cadence("beep", "440/300", repeat=False))
    assert not generator.finished
    assert max(map(abs, samples_of(generator.frame(2400)))) > 1000
    assert generator.finished and generator.frame(160) == bytes(320)
    generator.reset()
    assert not generator.finished and generator.position == 0


@pytest.mark.parametrize(
    "segments",
    [
        (),
        (ToneSegment((440.0,), None), ToneSegment((), 100)),
        (ToneSegment((440.0,), 0),),
        (ToneSegment((0.0,), 100),),
        (ToneSegment((-5.0,), 100),),
    ],
)
def test_bad_specs(segments: tuple[ToneSegment, ...]) -> None:
    with pytest.raises(LocalProtocolError):
        ToneSpec("bad", segments)


def test_generator_misuse() -> None:
    with pytest.raises(LocalProtocolError):
        ToneGenerator(TONES["us"]["dial"], 0)
    with pytest.raises(LocalProtocolError):
        ToneGenerator(TONES["us"]["dial"]).frame(-1)
    assert ToneGenerator(TONES["us"]["dial"]).frame(0) == b""


def test_loud_tones_clip_instead_of_overflowing() -> None:
    spec = ToneSpec.cadence("loud", "1000+1200+1400", level_dbm0=3.0)
    samples = samples_of(ToneGenerator(spec).frame(800))
    assert max(samples) == 32767 and min(samples) == -32768


def test_tone_lookup() -> None:
    assert tone("US", "busy") is TONES["us"]["busy"]
    with pytest.raises(LocalProtocolError, match="known: us, uk, de, fr"):
        tone("xx", "dial")
    with pytest.raises(LocalProtocolError, match="howler"):
        tone("de", "ringing")


def test_levels() -> None:
    assert amplitude_of_dbm0(3.17) == pytest.approx(32767)
    assert amplitude_of_dbm0(-13) == pytest.approx(5093, abs=1)


def test_plain_sine() -> None:
    block = sine(1000, 160, amplitude=4000)
    assert goertzel_power(block, 1000) == pytest.approx(4000**2 / 2, rel=1e-3)
    assert sine(1000, 100) + sine(1000, 100, start=100) == sine(1000, 200)
    assert samples_of(sine(2000, 4, amplitude=1000)) == [0, 1000, 0, -1000]
    expected = [round(1000 * math.sin(2 * math.pi * 1000 * n / 16000)) for n in range(2, 6)]
    assert samples_of(sine(1000, 4, 16000, amplitude=1000, start=2)) == expected
