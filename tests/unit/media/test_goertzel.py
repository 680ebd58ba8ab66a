"""Goertzel detector: tone power, dominant frequency, DTMF digits; noise and speech rejected."""

from __future__ import annotations

import math
import random
import struct

import pytest

from phoneagent.media.codecs import g711
from phoneagent.media.goertzel import (
    detect_dtmf,
    dominant_frequency,
    goertzel_power,
    signal_power,
    tone_powers,
)
from phoneagent.media.tones import (
    DTMF_FREQUENCIES,
    ToneGenerator,
    amplitude_of_dbm0,
    dtmf_tone,
    sine,
)

DIGITS = "0123456789*#ABCD"


def pcm_of(values: list[float]) -> bytes:
    clipped = [max(-32768, min(32767, round(v))) for v in values]
    return struct.pack(f"<{len(clipped)}h", *clipped)


def tones(
    parts: list[tuple[float, float]], count: int, rate: int = 8000, phase: float = 0.3
) -> list[float]:
    """Sum of sines, each (frequency, peak amplitude)."""
    return [
        sum(
            a * math.sin(2 * math.pi * f * n / rate + phase * (i + 1))
            for i, (f, a) in enumerate(parts)
        )
        for n in range(count)
    ]


def dtmf_pcm(
    digit: str,
    count: int = 205,
    rate: int = 8000,
    *,
    low_db: float = 0,
    high_db: float = 0,
    deviation: float = 0.0,
) -> bytes:
    low, high = DTMF_FREQUENCIES[digit]
    amplitude = amplitude_of_dbm0(-10)
    return pcm_of(
        tones(
            [
                (low * (1 + deviation), amplitude * 10 ** (low_db / 20)),
                (high * (1 + deviation), amplitude * 10 ** (high_db / 20)),
            ],
            count,
            rate,
        )
    )


# --------------------------------------------------------------------------- power


def test_power_of_a_sine_is_half_its_squared_peak() -> None:
    block = sine(1000, 160, amplitude=10000)  # exactly 20 cycles
    assert goertzel_power(block, 1000) == pytest.approx(10000**2 / 2, rel=1e-3)
    assert signal_power(block) == pytest.approx(10000**2 / 2, rel=1e-3)
    assert goertzel_power(block, 1500) < 1e-3 * 10000**2


def test_power_off_the_bin_grid() -> None:
    block = sine(697, 205, amplitude=8000)
    assert goertzel_power(block, 697) == pytest.approx(8000**2 / 2, rel=0.05)


def test_samples_or_pcm_and_empty_blocks() -> None:
    values = [round(v) for v in tones([(440, 3000)], 80)]
    assert goertzel_power(values, 440) == pytest.approx(goertzel_power(pcm_of(values), 440))
    assert goertzel_power(b"", 440) == 0.0 and signal_power(b"") == 0.0
    assert tone_powers(pcm_of(values), [440, 880]).keys() == {440, 880}


def test_16_khz() -> None:
    block = sine(3000, 320, sample_rate=16000, amplitude=5000)
    powers = tone_powers(block, [1000, 3000, 5000], sample_rate=16000)
    assert max(powers, key=powers.__getitem__) == 3000


# --------------------------------------------------------------------------- dominant frequency


@pytest.mark.parametrize("frequency", [400, 1000, 1500, 2000, 3000])
def test_dominant_frequency_distinguishes_test_tones(frequency: int) -> None:
    candidates = [400, 1000, 1500, 2000, 3000]
    block = sine(frequency, 160, amplitude=6000)
    assert dominant_frequency(block, candidates) == frequency
    # Through a G.711 round trip, and under noise 20 dB down.
    assert dominant_frequency(g711.ulaw_decode(g711.ulaw_encode(block)), candidates) == frequency
    noise = random.Random(frequency)
    noisy = [v + noise.gauss(0, 600) for v in tones([(frequency, 6000)], 160)]
    assert dominant_frequency(pcm_of(noisy), candidates) == frequency


def test_dominant_frequency_none_without_a_clear_tone() -> None:
    candidates = [1000, 1500]
    assert dominant_frequency(bytes(320), candidates) is None  # silence
    noise = random.Random(7)
    assert (
        dominant_frequency(pcm_of([noise.gauss(0, 3000) for _ in range(160)]), candidates) is None
    )
    assert dominant_frequency(sine(700, 160, amplitude=6000), candidates) is None  # another tone
    assert dominant_frequency(sine(1000, 160, amplitude=6000), []) is None


# --------------------------------------------------------------------------- DTMF


@pytest.mark.parametrize("digit", DIGITS)
@pytest.mark.parametrize(("count", "rate"), [(205, 8000), (160, 8000), (320, 16000), (410, 16000)])
def test_detects_every_digit(digit: str, count: int, rate: int) -> None:
    assert detect_dtmf(dtmf_pcm(digit, count, rate), rate) == digit


@pytest.mark.parametrize("digit", DIGITS)
def test_detects_generated_digits_through_g711(digit: str) -> None:
    pcm = ToneGenerator(dtmf_tone(digit), 8000).frame(160)
    assert detect_dtmf(pcm) == digit
    assert detect_dtmf(g711.ulaw_decode(g711.ulaw_encode(pcm))) == digit
    assert detect_dtmf(g711.alaw_decode(g711.alaw_encode(pcm))) == digit
    wideband = ToneGenerator(dtmf_tone(digit), 16000).frame(320)
    assert detect_dtmf(wideband, 16000) == digit


@pytest.mark.parametrize("digit", DIGITS)
@pytest.mark.parametrize("deviation", [-0.015, 0.015])
def test_tolerates_frequency_deviation(digit: str, deviation: float) -> None:
    """ITU-T Q.24: a receiver must accept ±1.5 %."""
    assert detect_dtmf(dtmf_pcm(digit, deviation=deviation)) == digit


@pytest.mark.parametrize(
    ("low_db", "high_db", "expected"),
    [
        (0, 3, "5"),  # normal twist within 4 dB
        (0, -7, "5"),  # reverse twist within 8 dB
        (0, 6, None),  # high group too loud
        (0, -10, None),  # low group too loud
    ],
)
def test_twist_limits(low_db: float, high_db: float, expected: str | None) -> None:
    assert detect_dtmf(dtmf_pcm("5", low_db=low_db, high_db=high_db)) == expected


@pytest.mark.parametrize("digit", DIGITS)
def test_detects_digits_in_noise(digit: str) -> None:
    """Signal-to-noise ratio 15 dB, tones 1 % off their nominal frequencies."""
    noise = random.Random(digit)
    clean = struct.unpack("<205h", dtmf_pcm(digit, deviation=0.01))
    noise_sigma = math.sqrt(signal_power(list(clean)) / 10 ** (15 / 10))
    noisy = [v + noise.gauss(0, noise_sigma) for v in clean]
    assert detect_dtmf(pcm_of(noisy)) == digit


def test_rejects_silence_quiet_and_short_blocks() -> None:
    assert detect_dtmf(bytes(410)) is None
    quiet = dtmf_pcm("1", low_db=-40, high_db=-40)  # -50 dBm0
    assert detect_dtmf(quiet) is None
    assert detect_dtmf(dtmf_pcm("1", count=60)) is None  # 7.5 ms


def test_rejects_single_tones_and_two_rows() -> None:
    amplitude = amplitude_of_dbm0(-10)
    for parts in ([(697, amplitude)], [(1209, amplitude)], [(697, amplitude), (770, amplitude)]):
        assert detect_dtmf(pcm_of(tones(parts, 205))) is None


def test_rejects_a_digit_buried_in_another_tone() -> None:
    low, high = DTMF_FREQUENCIES["2"]
    amplitude = amplitude_of_dbm0(-10)
    parts = [(low, amplitude), (high, amplitude), (1000, 1.5 * amplitude)]
    assert detect_dtmf(pcm_of(tones(parts, 205))) is None


def test_rejects_white_noise() -> None:
    noise = random.Random(1)
    for _ in range(200):
        block = pcm_of([noise.gauss(0, 4000) for _ in range(205)])
        assert detect_dtmf(block) is None


def speech_like(chooser: random.Random, count: int) -> list[float]:
    """A voiced sound: harmonics of f0 shaped by three formants, plus breath noise."""
    f0 = chooser.uniform(80, 300)
    formants = [
        (chooser.uniform(300, 900), 1.0),
        (chooser.uniform(900, 2500), chooser.uniform(0.2, 0.7)),
        (chooser.uniform(2500, 3500), chooser.uniform(0.05, 0.3)),
    ]
    parts = []
    harmonic = 1
    while harmonic * f0 < 3800:
        frequency = harmonic * f0
        gain = sum(g / (1 + ((frequency - f) / 120) ** 2) for f, g in formants)
        parts.append((frequency, 6000 * gain / harmonic**0.5))
        harmonic += 1
    breath = [chooser.gauss(0, 150) for _ in range(count)]
    voiced = tones(parts, count, phase=chooser.uniform(0, 6.28))
    return [v + b for v, b in zip(voiced, breath, strict=True)]


def test_rejects_speech_like_sounds() -> None:
    """Single blocks of synthetic voiced speech: at most 0.5 % taken for a digit."""
    chooser = random.Random(2024)
    false_digits = [detect_dtmf(pcm_of(speech_like(chooser, 205))) for _ in range(400)]
    assert sum(digit is not None for digit in false_digits) <= 2


def test_rejects_a_harmonic_series_through_a_row_and_a_column() -> None:
    """f0 = 697/15 Hz puts harmonics 15 and 26 on 697 and ~1208 Hz; the rest spreads the energy."""
    f0 = 697 / 15
    parts = [(k * f0, 3000.0) for k in range(1, 60) if k * f0 < 3800]
    assert detect_dtmf(pcm_of(tones(parts, 205))) is None


def test_rejects_a_chord() -> None:
    notes = [262, 330, 392, 523, 659, 784, 1047, 1319]
    assert detect_dtmf(pcm_of(tones([(f, 2500) for f in notes], 205))) is None
