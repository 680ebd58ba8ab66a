"""AlsaAudio's threads and counters against a scripted stand-in for pyalsaaudio.

The real ALSA path is in the contract test; this one makes ALSA misbehave on
purpose — xruns, errors, short writes, a full queue, a thread that will not
stop — which a real device does not do on demand.
"""

from __future__ import annotations

import errno
import logging
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator

import pytest

from phoneagent.hal.alsa import AlsaAudio, AlsaRinger

DEADLINE_S = 2.0


class ALSAAudioError(Exception):
    pass


class FakePcm:
    """A PCM whose read/write results come from a script, then a paced default."""

    opened: list[FakePcm]
    start_blocked = False

    def __init__(self, *, type: int, mode: int, rate: int, channels: int, format: int,
                 periodsize: int, periods: int, device: str) -> None:
        self.type, self.rate, self.device = type, rate, device
        self.period = periodsize
        self.buffer = periodsize * periods
        self.script: list[object] = []
        self.accepted = bytearray()  # playback: what the "card" took
        self.drops = 0
        self.closed = False
        self.block = threading.Event()  # set: calls return; clear: they hang
        self.stuck = threading.Event()  # a call is hanging on ``block``
        if not FakePcm.start_blocked:
            self.block.set()
        FakePcm.opened.append(self)

    def info(self) -> dict[str, int]:
        return {"rate": FakeAlsa.actual_rate or self.rate, "channels": 1,
                "buffer_size": self.buffer}

    def _next(self) -> object:
        if not self.block.is_set():
            self.stuck.set()
        self.block.wait()
        time.sleep(0.001)  # a card takes its time
        return self.script.pop(0) if self.script else None

    def read(self) -> tuple[int, bytes]:
        step = self._next()
        if isinstance(step, Exception):
            raise step
        if step is not None:
            return step  # type: ignore[return-value]
        return self.period, b"\x05\x00" * self.period

    def write(self, data: memoryview) -> int:
        step = self._next()
        if isinstance(step, Exception):
            raise step
        frames = len(data) // 2 if step is None else int(step)  # type: ignore[call-overload]
        if frames > 0:
            self.accepted += bytes(data[: frames * 2])
        return frames

    def avail(self) -> int:
        return self.buffer

    def drop(self) -> None:
        self.drops += 1

    def close(self) -> None:
        self.closed = True


class FakeAlsa(types.ModuleType):
    PCM_CAPTURE = 1
    PCM_PLAYBACK = 0
    PCM_NORMAL = 0
    PCM_FORMAT_S16_LE = 2
    ALSAAudioError = ALSAAudioError
    PCM = FakePcm
    actual_rate = 0


@pytest.fixture(autouse=True)
def fake_alsa(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    FakePcm.opened = []
    FakePcm.start_blocked = False
    FakeAlsa.actual_rate = 0
    monkeypatch.setitem(sys.modules, "alsaaudio", FakeAlsa("alsaaudio"))
    yield
    for pcm in FakePcm.opened:
        pcm.block.set()


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def devices() -> tuple[FakePcm, FakePcm]:
    capture, playback = FakePcm.opened
    assert capture.type == FakeAlsa.PCM_CAPTURE and playback.type == FakeAlsa.PCM_PLAYBACK
    return capture, playback


def test_capture_xrun_and_error_are_counted_and_recovered(caplog: pytest.LogCaptureFixture) -> None:
    audio = AlsaAudio("mic", "ear")
    audio.start(8000)
    capture, _ = devices()
    assert (capture.device, capture.rate, capture.period) == ("mic", 8000, 160)
    capture.script += [(-errno.EPIPE, b""), ALSAAudioError("File descriptor in bad state")]
    try:
        wait_until(lambda: audio.statistics.recoveries >= 2 and not capture.script)
        wait_until(lambda: audio.read(160) == b"\x05\x00" * 160)  # and capture goes on
    finally:
        audio.stop()
    assert audio.statistics.overruns == 1
    assert audio.statistics.recoveries == 2
    assert capture.drops == 1  # the error made it drop (and so re-prepare) the stream
    assert "re-preparing" in caplog.text
    assert capture.closed


def test_playback_underrun_and_short_write() -> None:
    audio = AlsaAudio()
    audio.start(8000)
    _, playback = devices()
    speech = bytes(range(256)) * 2  # 256 samples
    playback.script += [-errno.EPIPE, 100]  # underrun, then only 100 of 256 frames
    try:
        audio.write(speech)
        wait_until(lambda: speech in playback.accepted)
    finally:
        audio.stop()
    assert audio.statistics.underruns == 1
    assert audio.statistics.short_writes == 1
    assert audio.statistics.recoveries == 1
    assert playback.accepted.count(speech) == 1  # the rest re-written, nothing twice


def test_read_pads_with_silence_and_counts() -> None:
    FakePcm.start_blocked = True  # the cards deliver nothing
    audio = AlsaAudio()
    audio.start(8000)
    capture, playback = devices()
    try:
        assert audio.read(160) == bytes(320)
        assert audio.statistics.capture_gaps == 1
    finally:
        capture.block.set()
        playback.block.set()
        audio.stop()


def test_full_playback_queue_drops_the_oldest() -> None:
    FakePcm.start_blocked = True
    audio = AlsaAudio(period_ms=20, buffer_ms=40)  # 640 bytes at 8 kHz
    audio.start(8000)
    capture, playback = devices()
    capture.block.set()
    try:
        # The playback thread found nothing queued and is stuck writing silence.
        assert playback.stuck.wait(DEADLINE_S)
        for value in range(4):
            audio.write(bytes([value + 1, 0]) * 160)
        assert audio.statistics.playback_drops == 640
        playback.block.set()
        wait_until(lambda: bytes([4, 0]) * 160 in playback.accepted)
    finally:
        playback.block.set()
        audio.stop()
    assert bytes([1, 0]) * 160 not in playback.accepted
    assert bytes([3, 0]) * 160 in playback.accepted


def test_stop_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    FakePcm.start_blocked = True
    audio = AlsaAudio(join_timeout=0.1)
    audio.start(8000)
    capture, playback = devices()
    playback.block.set()
    assert capture.stuck.wait(DEADLINE_S)  # stuck in read(), as with a wedged driver
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="phoneagent.hal.alsa"):
        audio.stop()
    assert time.monotonic() - started < 1.0
    assert "did not stop" in caplog.text
    assert not capture.closed and not playback.closed  # not freed under a blocked thread


def test_rate_the_device_cannot_do() -> None:
    FakeAlsa.actual_rate = 48000
    with pytest.raises(OSError, match="runs at 48000 Hz"):
        AlsaAudio("hw:0").start(8000)
    assert all(pcm.closed for pcm in FakePcm.opened)


def test_open_error_names_the_device() -> None:
    def refuse(**options: object) -> None:
        raise ALSAAudioError("No such file or directory")

    sys.modules["alsaaudio"].PCM = refuse  # type: ignore[attr-defined]
    with pytest.raises(OSError, match="ALSA capture device 'nope': No such file"):
        AlsaAudio("nope").start(8000)


def test_misuse() -> None:
    with pytest.raises(ValueError, match="period_ms"):
        AlsaAudio(period_ms=15)
    audio = AlsaAudio()
    with pytest.raises(RuntimeError, match="not started"):
        audio.write(b"\x00\x00")
    audio.start(16000)
    try:
        assert audio.sample_rate == 16000
        with pytest.raises(RuntimeError, match="already started"):
            audio.start(8000)
    finally:
        audio.close()


def test_ringer_plays_the_ring_tone_while_on() -> None:
    ringer = AlsaRinger("speaker", "de", sample_rate=8000)
    assert not ringer.ringing
    ringer.set(True)
    try:
        (pcm,) = FakePcm.opened
        assert ringer.ringing and pcm.device == "speaker"
        wait_until(lambda: len(pcm.accepted) >= 3200)  # 200 ms of the tone
        assert any(pcm.accepted)  # 1TR110's ring starts with 1 s of 425 Hz, not silence
    finally:
        ringer.set(False)
    assert not ringer.ringing
    assert pcm.closed and pcm.drops == 1
    with pytest.raises(ValueError, match="no ring tone for country 'xx'; known: us"):
        AlsaRinger("speaker", "xx")
