"""Audio that comes from or goes to files: test tones, WAV/raw sources, a WAV recorder.

The mock handset's microphone is ``[media] play`` (a tone, silence or a file) and its
earpiece is ``[media] record`` (a WAV file); the simulator and the tests use them.
"""

from __future__ import annotations

import struct
import wave
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from phoneagent.media.tones import sine

__all__ = ["WavRecorder", "file_source", "silence_source", "source_for", "tone_source"]

AudioSource = Callable[[int], bytes]


def tone_source(frequency: float, sample_rate: int = 8000) -> AudioSource:
    """A phase-continuous sine (``media.tones.sine``, about -9 dBm0) for the far end to
    detect."""
    position = 0

    def read(samples: int) -> bytes:
        nonlocal position
        pcm = sine(frequency, samples, sample_rate, start=position)
        position += samples
        return pcm

    return read


def silence_source(samples: int) -> bytes:
    return b"\0\0" * samples


def file_source(path: Path) -> AudioSource:
    """Loop a WAV file (8 kHz mono 16-bit) or raw 16-bit little-endian PCM."""
    if path.suffix.lower() == ".wav":
        with wave.open(str(path), "rb") as audio:
            data = audio.readframes(audio.getnframes())
    else:
        data = path.read_bytes()
    data = data or b"\0\0"
    position = 0

    def read(samples: int) -> bytes:
        nonlocal position
        wanted = samples * 2
        out = bytearray()
        while len(out) < wanted:
            chunk = data[position : position + wanted - len(out)]
            out += chunk
            position = (position + len(chunk)) % len(data)
        return bytes(out)

    return read


def source_for(play: str, sample_rate: int = 8000) -> AudioSource:
    """``[media] play``: ``tone:HZ``, ``file:PATH`` or ``silence``."""
    if play.startswith("tone:"):
        return tone_source(float(play[5:]), sample_rate)
    if play.startswith("file:"):
        return file_source(Path(play[5:]))
    return silence_source


class WavRecorder:
    """A mono 16-bit WAV file that is valid after every write.

    ``wave`` fixes the header's lengths only on close, so a recording of a phone
    that is killed (or read while it runs) would be unreadable; here the two length
    fields are rewritten after each write, which costs two small seeks.
    """

    HEADER = 44

    def __init__(self, path: Path, sample_rate: int = 8000) -> None:
        self.path = path
        self.sample_rate = sample_rate
        self._file: BinaryIO | None = path.open("wb")
        self._data_bytes = 0
        self._write_header()

    def _write_header(self) -> None:
        assert self._file is not None
        rate = self.sample_rate
        self._file.seek(0)
        self._file.write(
            b"RIFF"
            + struct.pack("<I", 36 + self._data_bytes)
            + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
            + b"data"
            + struct.pack("<I", self._data_bytes)
        )
        self._file.seek(0, 2)

    def write(self, pcm: bytes) -> None:
        if self._file is None or not pcm:
            return
        self._file.write(pcm)
        self._data_bytes += len(pcm)
        self._write_header()
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
