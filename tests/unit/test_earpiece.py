"""The earpiece: tones on an absolute 20 ms schedule, call audio of the connected line only,
a tone mixed over the call; and the WAV recorder that stays readable while it records."""

from __future__ import annotations

import asyncio
import struct
import wave
from pathlib import Path

from phoneagent.audio_files import WavRecorder, source_for, tone_source
from phoneagent.earpiece import Earpiece
from phoneagent.media.goertzel import goertzel_power


def test_a_tone_alone_is_written_every_20_ms() -> None:
    async def main() -> list[bytes]:
        frames: list[bytes] = []
        earpiece = Earpiece(asyncio.get_running_loop(), frames.append, "us")
        earpiece.play_tone("dial")
        await asyncio.sleep(0.21)
        earpiece.play_tone(None)
        count = len(frames)
        await asyncio.sleep(0.06)
        assert len(frames) == count  # stopped
        earpiece.close()
        return frames

    frames = asyncio.run(main())
    assert 10 <= len(frames) <= 12
    assert all(len(frame) == 320 for frame in frames)
    pcm = b"".join(frames)
    assert goertzel_power(pcm, 350) > 100 * goertzel_power(pcm, 1000)


def test_call_audio_of_the_connected_line_only_with_a_tone_mixed_in() -> None:
    async def main() -> list[bytes]:
        frames: list[bytes] = []
        earpiece = Earpiece(asyncio.get_running_loop(), frames.append, "us")
        voice = tone_source(600)(160)
        earpiece.call_audio(1, voice)  # no line connected yet: not heard
        earpiece.connect(1)
        earpiece.call_audio(2, voice)  # the other line (held, waiting): not heard
        earpiece.call_audio(1, voice)
        earpiece.play_tone("call_waiting")  # the beep over the call, no ticks of its own
        earpiece.call_audio(1, voice)
        await asyncio.sleep(0.05)
        earpiece.close()
        return frames

    frames = asyncio.run(main())
    assert len(frames) == 2
    assert frames[0] == tone_source(600)(160)
    assert goertzel_power(frames[1], 440) > 10 * goertzel_power(frames[0], 440)
    assert goertzel_power(frames[1], 600) > 0.5 * goertzel_power(frames[0], 600)


def test_mixing_saturates_instead_of_wrapping() -> None:
    async def main() -> bytes:
        frames: list[bytes] = []
        earpiece = Earpiece(asyncio.get_running_loop(), frames.append, "us")
        earpiece.connect(1)
        earpiece.play_tone("howler")
        earpiece.call_audio(1, struct.pack("<160h", *([32000] * 160)))
        earpiece.close()
        return frames[0]

    samples = struct.unpack("<160h", asyncio.run(main()))
    assert max(samples) == 32767 and min(samples) > 0


def test_the_recording_is_a_valid_wav_after_every_write(tmp_path: Path) -> None:
    path = tmp_path / "heard.wav"
    recorder = WavRecorder(path)
    source = source_for("tone:1000")
    for count in range(1, 4):
        recorder.write(source(160))
        with wave.open(str(path), "rb") as audio:  # readable while still recording
            shape = (audio.getframerate(), audio.getnchannels(), audio.getsampwidth())
            assert shape == (8000, 1, 2)
            assert audio.getnframes() == 160 * count
    recorder.close()
    recorder.write(b"\0\0")  # after close: ignored
    with wave.open(str(path), "rb") as audio:
        assert audio.getnframes() == 480


def test_sources(tmp_path: Path) -> None:
    assert source_for("silence")(3) == b"\0" * 6
    raw = tmp_path / "voice.raw"
    raw.write_bytes(b"\1\0\2\0\3\0")
    looped = source_for(f"file:{raw}")
    assert looped(4) == b"\1\0\2\0\3\0\1\0" and looped(2) == b"\2\0\3\0"
