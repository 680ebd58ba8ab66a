"""The codec registry: lookups by (name, clock rate), static payload types, plugging in."""

from __future__ import annotations

import pytest

from phoneagent.sdp.codecs import CODECS, PCMA, PCMU, TELEPHONE_EVENT, AudioCodec
from phoneagent.sip.errors import LocalProtocolError

G722 = AudioCodec("G722", 8000, static_payload_type=9)  # RFC 3551: 8000 despite 16 kHz audio
OPUS = AudioCodec("opus", 48000, channels=2, fmtp="useinbandfec=1")


def test_shipped_codecs() -> None:
    assert list(CODECS) == [PCMU, PCMA, TELEPHONE_EVENT]
    assert (PCMU.static_payload_type, PCMA.static_payload_type) == (0, 8)
    assert TELEPHONE_EVENT.static_payload_type is None
    assert TELEPHONE_EVENT.fmtp == "0-16" and TELEPHONE_EVENT.telephone_event
    for codec in CODECS:
        assert (codec.default_ptime, codec.channels) == (20, 1)


@pytest.mark.parametrize(
    ("name", "rate", "expected"),
    [
        ("PCMU", 8000, PCMU),
        ("pcmu", 8000, PCMU),
        ("PcMa", 8000, PCMA),
        ("TELEPHONE-EVENT", 8000, TELEPHONE_EVENT),
        ("telephone-event", 16000, None),
        ("PCMU", 16000, None),
        ("G729", 8000, None),
        ("PCM\u00dc", 8000, None),
    ],
)
def test_lookup_is_case_insensitive_by_name_and_rate(
    name: str, rate: int, expected: AudioCodec | None
) -> None:
    assert CODECS.lookup(name, rate) == expected


def test_static_payload_types() -> None:
    assert CODECS.by_static_payload_type(0) == PCMU
    assert CODECS.by_static_payload_type(8) == PCMA
    assert CODECS.by_static_payload_type(9) is None
    assert CODECS.by_static_payload_type(101) is None


def test_a_later_codec_plugs_in_by_registering() -> None:
    registry = CODECS.copy()
    registry.register(G722)
    registry.register(OPUS)
    assert registry.lookup("g722", 8000) == G722
    assert registry.by_static_payload_type(9) == G722
    assert registry.resolve("opus") == OPUS
    assert OPUS.rtpmap_value(96) == "96 opus/48000/2"
    assert len(CODECS) == 3  # the shared registry is untouched
    assert G722 in registry and G722 not in CODECS


def test_registering_twice_is_a_local_error() -> None:
    registry = CODECS.copy()
    with pytest.raises(LocalProtocolError):
        registry.register(AudioCodec("pcmu", 8000))
    with pytest.raises(LocalProtocolError):
        registry.register(AudioCodec("NOT-PCMU", 8000, static_payload_type=0))


def test_resolve_configuration_names() -> None:
    assert CODECS.resolve("PCMU") == PCMU
    assert CODECS.resolve("pcma/8000") == PCMA
    registry = CODECS.copy()
    registry.register(AudioCodec("telephone-event", 48000, telephone_event=True))
    with pytest.raises(LocalProtocolError, match="ambiguous"):
        registry.resolve("telephone-event")
    assert registry.resolve("telephone-event/48000").clock_rate == 48000
    for spec in ("G729", "PCMU/16000", "PCMU/x", "PCMU/" + "9" * 5000):
        with pytest.raises(LocalProtocolError):
            CODECS.resolve(spec)


@pytest.mark.parametrize(
    "build",
    [
        lambda: AudioCodec("", 8000),
        lambda: AudioCodec("PC MU", 8000),
        lambda: AudioCodec("PCMU/8000", 8000),
        lambda: AudioCodec("PCMU", 0),
        lambda: AudioCodec("X", 8000, static_payload_type=96),
        lambda: AudioCodec("X", 8000, channels=0),
    ],
)
def test_bad_codec_definitions(build: object) -> None:
    with pytest.raises(LocalProtocolError):
        build()  # type: ignore[operator]
