"""G.711 PCMU/PCMA: bit-exact with the ITU-T G.191 STL, round trips, concealment, registry.

Reference material: ``shared/corpus/media/g711-itu-t-g191-stl/`` (the STL's own
test vectors: ``sweep.src`` holds every 16-bit input once, from -32768 up;
``sweep-r.u``/``sweep-r.a`` the code of each, one code per 16-bit word;
``sweep-r.u-u``/``sweep-r.a-a`` those codes decoded; ``sweep-r.reu``/``.rea``
encode-then-decode) and ``g711-reference.json`` (checksums, the derived decode
tables).  All files are 16-bit little-endian.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import sys
import zlib
from functools import cache
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phoneagent.media.codecs import CODECS, AudioCodec, CodecRegistry, PcmaCodec, PcmuCodec, g711
from phoneagent.media.codecs.base import FrameConcealer, pcm_to_samples
from phoneagent.sip.errors import LocalProtocolError
from tests.helpers import corpus_file

STL = ("media", "g711-itu-t-g191-stl")
LAWS = {
    # law: (encode, decode, code file, decoded-codes file, encode-then-decode file)
    "ulaw": (g711.ulaw_encode, g711.ulaw_decode, "sweep-r.u", "sweep-r.u-u", "sweep-r.reu"),
    "alaw": (g711.alaw_encode, g711.alaw_decode, "sweep-r.a", "sweep-r.a-a", "sweep-r.rea"),
}


@cache
def stl(name: str) -> bytes:
    return corpus_file(*STL, name).read_bytes()


@cache
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(corpus_file("media", "g711-reference.json").read_text())
    return data


def words(data: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(data) // 2}h", data)


def pcm(*samples: int) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


# --------------------------------------------------------------------------- the corpus itself


STL_FILES = [
    "sweep.src",
    "sweep-r.u",
    "sweep-r.u-u",
    "sweep-r.reu",
    "sweep-r.a",
    "sweep-r.a-a",
    "sweep-r.rea",
]


def test_reference_lists_the_stl_files() -> None:
    assert sorted(reference()["files"]) == sorted(STL_FILES)


@pytest.mark.parametrize("name", STL_FILES)
def test_corpus_file_is_intact(name: str) -> None:
    expected = reference()["files"][name]
    data = stl(name)
    assert len(data) == expected["bytes"]
    assert f"{zlib.crc32(data):08X}" == expected["crc32"]
    assert hashlib.sha256(data).hexdigest() == expected["sha256"]


def test_sweep_holds_every_16_bit_input_once() -> None:
    assert words(stl("sweep.src")) == tuple(range(-32768, 32768))


# --------------------------------------------------------------------------- bit-exactness


@pytest.mark.parametrize("law", sorted(LAWS))
def test_encode_every_input_matches_stl(law: str) -> None:
    encode, _, code_file, _, _ = LAWS[law]
    expected = words(stl(code_file))
    produced = encode(stl("sweep.src"))
    assert len(produced) == 65536
    mismatches = [
        (sample, code, want)
        for sample, code, want in zip(range(-32768, 32768), produced, expected, strict=True)
        if code != want
    ]
    assert mismatches == []


@pytest.mark.parametrize("law", sorted(LAWS))
def test_scalar_code_function_matches_stl(law: str) -> None:
    code_of = g711.ulaw_code if law == "ulaw" else g711.alaw_code
    expected = words(stl(LAWS[law][2]))
    assert [code_of(sample) for sample in range(-32768, 32768)] == list(expected)


@pytest.mark.parametrize("law", sorted(LAWS))
def test_decode_every_code_matches_derived_table(law: str) -> None:
    _, decode, _, _, _ = LAWS[law]
    table = reference()[f"{law}_decode_table_DERIVED"]
    assert words(decode(bytes(range(256)))) == tuple(table)
    assert list(g711.ULAW_DECODE if law == "ulaw" else g711.ALAW_DECODE) == table


@pytest.mark.parametrize("law", sorted(LAWS))
def test_decode_of_stl_codes_matches_stl(law: str) -> None:
    """``loli`` mode: the STL's code file decoded equals its decoded file."""
    _, decode, code_file, decoded_file, _ = LAWS[law]
    codes = bytes(words(stl(code_file)))
    assert decode(codes) == stl(decoded_file)


@pytest.mark.parametrize("law", sorted(LAWS))
def test_encode_then_decode_matches_stl(law: str) -> None:
    """``lili`` mode: every input encoded and decoded equals the STL's result."""
    encode, decode, _, _, round_trip_file = LAWS[law]
    assert decode(encode(stl("sweep.src"))) == stl(round_trip_file)


def test_known_points() -> None:
    # Silence and the extremes (G.711 Tables 1a/2a).
    assert g711.ulaw_encode(pcm(0, -1, 32767, -32768)) == bytes([0xFF, 0x7F, 0x80, 0x00])
    assert g711.alaw_encode(pcm(0, -1, 32767, -32768)) == bytes([0xD5, 0x55, 0xAA, 0x2A])
    assert words(g711.ulaw_decode(bytes([0xFF, 0x7F, 0x80, 0x00]))) == (0, 0, 32124, -32124)
    assert words(g711.alaw_decode(bytes([0xD5, 0x55, 0xAA, 0x2A]))) == (8, -8, 32256, -32256)


def test_big_endian_table_reads_swapped_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a big-endian machine ``memoryview.cast('H')`` sees the bytes swapped."""
    native = g711._ULAW_ENCODE
    monkeypatch.setattr(sys, "byteorder", "big")
    swapped = g711._encode_table(g711.ulaw_code)
    for unsigned in (0, 1, 0x00FF, 0x0100, 0x7FFF, 0x8000, 0xABCD, 0xFFFF):
        as_read_big_endian = ((unsigned & 0xFF) << 8) | (unsigned >> 8)
        assert swapped[as_read_big_endian] == native[unsigned]


# --------------------------------------------------------------------------- properties


@pytest.mark.parametrize("law", sorted(LAWS))
def test_reencoding_a_decoded_code_gives_it_back(law: str) -> None:
    encode, decode, _, _, _ = LAWS[law]
    codes = bytes(range(256))
    again = encode(decode(codes))
    differing = {code: new for code, new in zip(codes, again, strict=True) if code != new}
    # µ-law has two codes for zero (+0 = 0xFF, -0 = 0x7F); 0 encodes as +0.
    assert differing == ({0x7F: 0xFF} if law == "ulaw" else {})


@pytest.mark.parametrize("law", sorted(LAWS))
def test_quantiser_is_monotonic_with_bounded_error(law: str) -> None:
    encode, decode, _, _, _ = LAWS[law]
    out = words(decode(encode(stl("sweep.src"))))
    assert all(a <= b for a, b in pairwise(out))
    for sample, value in zip(range(-32768, 32768), out, strict=True):
        # Within half a quantisation step: 1/32 of the magnitude in the log segments,
        # and the linear segment's step near zero (µ-law 8, A-law 16) plus the clip.
        assert abs(value - sample) <= abs(sample) / 32 + 16 or abs(sample) > 32124


@given(st.lists(st.integers(-32768, 32767), max_size=400))
def test_frames_of_any_length_match_the_scalar_law(samples: list[int]) -> None:
    frame = pcm(*samples)
    assert list(g711.ulaw_encode(frame)) == [g711.ulaw_code(s) for s in samples]
    assert list(g711.alaw_encode(frame)) == [g711.alaw_code(s) for s in samples]
    assert words(g711.ulaw_decode(g711.ulaw_encode(frame))) == tuple(
        g711.ULAW_DECODE[g711.ulaw_code(s)] for s in samples
    )


@given(st.binary(max_size=400))
def test_any_payload_decodes_to_two_bytes_per_code(payload: bytes) -> None:
    for decode, table in (
        (g711.ulaw_decode, g711.ULAW_DECODE),
        (g711.alaw_decode, g711.ALAW_DECODE),
    ):
        assert words(decode(payload)) == tuple(table[code] for code in payload)


def test_odd_length_pcm_is_our_bug() -> None:
    with pytest.raises(LocalProtocolError):
        g711.ulaw_encode(b"\x00\x01\x02")
    with pytest.raises(LocalProtocolError):
        PcmaCodec().encode(b"\x00")


def test_empty_and_single_sample_frames() -> None:
    assert g711.ulaw_encode(b"") == b"" and g711.ulaw_decode(b"") == b""
    assert g711.ulaw_encode(pcm(1000)) == bytes([g711.ulaw_code(1000)])
    assert g711.alaw_encode(pcm(-1000)) == bytes([g711.alaw_code(-1000)])


# --------------------------------------------------------------------------- codecs, registry


def test_codec_objects_describe_themselves() -> None:
    for codec, name, payload_type in ((PcmuCodec(), "PCMU", 0), (PcmaCodec(), "PCMA", 8)):
        assert isinstance(codec, AudioCodec)
        assert (codec.name, codec.clock_rate, codec.payload_type) == (name, 8000, payload_type)


def test_registry_creates_fresh_codecs_case_insensitively() -> None:
    assert list(CODECS) == [("pcmu", 8000), ("pcma", 8000)]  # order of preference
    first, second = CODECS.create("pcmu", 8000), CODECS.create("PCMU", 8000)
    assert isinstance(first, PcmuCodec) and first is not second
    assert isinstance(CODECS.create("PcMa", 8000), PcmaCodec)
    assert CODECS.supports("PCMA", 8000) and not CODECS.supports("PCMA", 16000)
    with pytest.raises(LocalProtocolError):
        CODECS.create("G722", 8000)


def test_registering_twice_is_our_bug() -> None:
    registry = CodecRegistry()
    assert registry.register(PcmuCodec) == ("pcmu", 8000)
    with pytest.raises(LocalProtocolError):
        registry.register(PcmuCodec)
    assert len(registry) == 1


@pytest.mark.parametrize("name", ["PCMU", "PCMA"])
def test_codec_round_trip_of_a_tone(name: str) -> None:
    codec = CODECS.create(name, 8000)
    tone = pcm(*(round(10000 * math.sin(2 * math.pi * 1000 * n / 8000)) for n in range(160)))
    payload = codec.encode(tone)
    assert len(payload) == 160
    decoded = words(codec.decode(payload))
    error = max(abs(a - b) for a, b in zip(decoded, words(tone), strict=True))
    assert error <= 10000 / 32 + 16


# --------------------------------------------------------------------------- concealment


def frame_of(value_of: Any, count: int = 160) -> bytes:
    return pcm(*(value_of(n) for n in range(count)))


def test_conceal_before_any_frame_is_silence() -> None:
    assert PcmuCodec().conceal(160) == bytes(320)
    assert PcmuCodec().conceal(0) == b""


def test_conceal_repeats_then_fades_then_silences() -> None:
    codec = PcmuCodec()
    decoded = codec.decode(codec.encode(frame_of(lambda n: 8000 if n % 2 else -8000)))
    original = words(decoded)
    first = words(codec.conceal(160))
    # The first 10 ms (80 samples) repeat the frame exactly...
    assert first[:80] == original[:80]
    # ... then it fades linearly (-1/400 per sample over the next 50 ms).
    assert abs(first[159]) < abs(first[80]) < abs(original[80]) + 1
    assert abs(first[159]) == round(abs(original[159]) * (1 - 79 / 400))
    second = words(codec.conceal(160))
    third = words(codec.conceal(160))
    assert max(map(abs, second)) < max(map(abs, first[80:]))
    assert max(map(abs, third)) < max(map(abs, second))
    assert third[-1] == 0 or abs(third[-1]) <= 8000 * 0.01
    assert codec.conceal(160) == bytes(320)  # after 60 ms: silence


def test_conceal_in_pieces_equals_conceal_at_once() -> None:
    def fresh() -> PcmaCodec:
        codec = PcmaCodec()
        codec.decode(codec.encode(frame_of(lambda n: (n * 397) % 20000 - 10000)))
        return codec

    whole = fresh().conceal(400)
    pieces = fresh()
    assert pieces.conceal(80) + pieces.conceal(160) + pieces.conceal(160) == whole


def test_a_good_frame_ends_the_loss() -> None:
    codec = PcmuCodec()
    good = codec.decode(codec.encode(frame_of(lambda n: 5000)))
    for _ in range(5):
        codec.conceal(160)
    assert codec.conceal(160) == bytes(320)
    codec.decode(codec.encode(frame_of(lambda n: 5000)))
    assert codec.conceal(80) == good[:160]


def test_conceal_tiles_a_short_last_frame() -> None:
    concealer = FrameConcealer(8000)
    concealer.remember(pcm(1, 2, 3))
    assert words(concealer.conceal(8)) == (1, 2, 3, 1, 2, 3, 1, 2)
    assert words(concealer.conceal(4)) == (3, 1, 2, 3)


def test_conceal_rejects_negative_counts() -> None:
    with pytest.raises(LocalProtocolError):
        FrameConcealer(8000).conceal(-1)
    with pytest.raises(LocalProtocolError):
        FrameConcealer(0)


def test_pcm_to_samples_needs_even_length() -> None:
    assert list(pcm_to_samples(pcm(-5, 7))) == [-5, 7]
    with pytest.raises(LocalProtocolError):
        pcm_to_samples(b"\x01")
