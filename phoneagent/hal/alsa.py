"""The handset's audio on ALSA (pyalsaaudio >= 0.11): capture and playback off the event loop.

Theory of operation
-------------------
ALSA's blocking ``read``/``write`` are paced by the sound card's clock (DESIGN.md
principle 8): a capture read returns when the card has filled a period, a
playback write returns when the card has room for one.  Those calls must never
run on the event loop, so :class:`AlsaAudio` gives each direction one worker
thread and meets the loop in two bounded buffers guarded by one lock:

capture thread   ``pcm.read()`` one period → append to the capture ring (at most
                 ``buffer_ms``; when full the oldest audio is dropped and counted:
                 the loop fell behind, and late audio is worth less than new)
``read(n)``      (loop) takes ``n`` samples from the ring; if it holds fewer, the
                 rest is silence, counted in ``capture_gaps``
``write(pcm)``   (loop) appends to the playback queue (at most ``buffer_ms``;
                 when full the oldest is dropped and counted)
playback thread  takes the queue's head and ``pcm.write()``\\ s all of it (a short
                 write is counted and the rest written again).  With nothing
                 queued it waits; only when the card is about to run dry (less
                 than a period left in its buffer) does it write a period of
                 silence, which avoids an underrun without adding latency in the
                 steady state.

An xrun (capture overrun, playback underrun) is reported by pyalsaaudio 0.11 as
a length of ``-EPIPE`` after it has re-prepared the device itself: it is counted
(``overruns``/``underruns`` and ``recoveries``) and the thread carries on.  Any
other ALSA error (``ALSAAudioError``: a suspended or unplugged device …) is
logged and counted in ``recoveries``; the thread drops the stream, which makes
the next read/write prepare it again, and retries after a period.

Devices are opened in :meth:`AlsaAudio.start` on the caller's thread so that a
wrong device name fails there, loudly; the format is S16_LE mono at the
requested rate (use a ``plughw:`` or ``default`` device where the card itself
cannot do 8 kHz mono: ALSA's plug layer converts).  :meth:`AlsaAudio.stop`
signals the threads and joins each for at most ``join_timeout`` seconds.

``import alsaaudio`` happens inside the classes, so this package imports on a
machine without it (the mock backend needs no ALSA).
"""

from __future__ import annotations

import errno
import logging
import threading
from collections import deque
from typing import Any

from phoneagent.hal.interfaces import AudioStatistics
from phoneagent.media.tones import COUNTRIES, ToneGenerator, tone

__all__ = ["AlsaAudio", "AlsaRinger"]

log = logging.getLogger(__name__)

SAMPLE_WIDTH = 2  # bytes per sample: S16_LE mono
ALLOWED_PERIOD_MS = (10, 20)
# Bound of the capture ring and of the playback queue: room for a loop stall of a few periods,
# and a ceiling on the delay either can add when the loop's clock and the card's drift apart.
DEFAULT_BUFFER_MS = 120
JOIN_TIMEOUT_S = 1.0


def _open_pcm(alsa: Any, direction: str, device: str, rate: int, period_frames: int) -> Any:
    """Open ``device`` for ``direction`` ("capture"/"playback") as S16_LE mono at ``rate``."""
    pcm_type = alsa.PCM_CAPTURE if direction == "capture" else alsa.PCM_PLAYBACK
    try:
        # Three periods of card buffer: enough to ride out a scheduling hiccup on a Pi,
        # little enough to keep the mouth-to-ear delay down.
        pcm = alsa.PCM(type=pcm_type, mode=alsa.PCM_NORMAL, rate=rate, channels=1,
                       format=alsa.PCM_FORMAT_S16_LE, periodsize=period_frames, periods=3,
                       device=device)
    except alsa.ALSAAudioError as error:
        raise OSError(f"ALSA {direction} device {device!r}: {error}") from error
    info = pcm.info()
    if info["rate"] != rate or info["channels"] != 1:
        pcm.close()
        raise OSError(
            f"ALSA {direction} device {device!r} runs at {info['rate']} Hz, "
            f"{info['channels']} channel(s), not {rate} Hz mono: use a plughw: or default device"
        )
    return pcm


class AlsaAudio:
    """An :class:`~phoneagent.hal.interfaces.AudioDevice` on two ALSA PCMs, one thread each."""

    def __init__(
        self,
        capture_device: str = "default",
        playback_device: str = "default",
        *,
        period_ms: int = 20,
        buffer_ms: int = DEFAULT_BUFFER_MS,
        join_timeout: float = JOIN_TIMEOUT_S,
    ) -> None:
        if period_ms not in ALLOWED_PERIOD_MS:
            raise ValueError(f"period_ms must be one of {ALLOWED_PERIOD_MS}, not {period_ms}")
        if buffer_ms < 2 * period_ms:
            raise ValueError(f"buffer_ms must hold two periods ({2 * period_ms} ms)")
        self.capture_device = capture_device
        self.playback_device = playback_device
        self.period_ms = period_ms
        self._buffer_ms = buffer_ms
        self._join_timeout = join_timeout
        self._sample_rate = 0
        self._statistics = AudioStatistics()
        self._lock = threading.Lock()
        self._queued = threading.Condition(self._lock)  # playback data arrived, or stop
        self._capture_ring = bytearray()
        self._playback_queue: deque[bytes] = deque()
        self._playback_bytes = 0
        self._buffer_bytes = 0
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pcms: list[Any] = []

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def statistics(self) -> AudioStatistics:
        return self._statistics

    def start(self, sample_rate: int) -> None:
        """Open both devices at ``sample_rate`` and start their threads."""
        import alsaaudio  # noqa: PLC0415 -- only the pi backend needs ALSA

        if self._threads:
            raise RuntimeError("audio already started; stop() it first")
        period_frames = sample_rate * self.period_ms // 1000
        capture = _open_pcm(alsaaudio, "capture", self.capture_device, sample_rate,
                            period_frames)
        try:
            playback = _open_pcm(alsaaudio, "playback", self.playback_device, sample_rate,
                                 period_frames)
        except BaseException:
            capture.close()
            raise
        self._pcms = [capture, playback]
        self._sample_rate = sample_rate
        self._buffer_bytes = sample_rate * self._buffer_ms // 1000 * SAMPLE_WIDTH
        # A new event per run: a thread that outlived a bounded stop() stays stopped.
        self._stopping = threading.Event()
        with self._lock:
            self._capture_ring.clear()
            self._playback_queue.clear()
            self._playback_bytes = 0
        self._threads = [
            threading.Thread(target=self._capture_loop,
                             args=(alsaaudio, capture, self._stopping),
                             name="alsa-capture", daemon=True),
            threading.Thread(target=self._playback_loop,
                             args=(alsaaudio, playback, self._stopping),
                             name="alsa-playback", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def read(self, samples: int) -> bytes:
        """``samples`` samples of captured audio, silence-padded (and counted) if short."""
        if not self._threads:
            raise RuntimeError("audio not started")
        wanted = samples * SAMPLE_WIDTH
        with self._lock:
            data = bytes(self._capture_ring[:wanted])
            del self._capture_ring[:wanted]
            if len(data) < wanted:
                self._statistics.capture_gaps += 1
        return data + bytes(wanted - len(data))

    def capture_backlog(self) -> int | None:
        """Samples in the capture ring: the card's clock, which paces what a call sends."""
        with self._lock:
            return len(self._capture_ring) // SAMPLE_WIDTH

    def write(self, pcm: bytes) -> None:
        """Queue ``pcm`` for playback; never blocks (drops the oldest queued audio if full)."""
        if not self._threads:
            raise RuntimeError("audio not started")
        if len(pcm) % SAMPLE_WIDTH:
            raise ValueError(f"PCM must be whole 16-bit samples, got {len(pcm)} bytes")
        if not pcm:
            return
        with self._queued:
            self._playback_queue.append(bytes(pcm))
            self._playback_bytes += len(pcm)
            while self._playback_bytes > self._buffer_bytes and len(self._playback_queue) > 1:
                dropped = self._playback_queue.popleft()
                self._playback_bytes -= len(dropped)
                self._statistics.playback_drops += len(dropped)
            self._queued.notify()

    def stop(self) -> None:
        """Stop both threads (each joined for at most ``join_timeout``) and close the devices."""
        if not self._threads:
            return
        self._stopping.set()
        with self._queued:
            self._queued.notify_all()
        stuck = []
        for thread in self._threads:
            thread.join(self._join_timeout)
            if thread.is_alive():
                stuck.append(thread.name)
        self._threads = []
        if stuck:
            # Closing a PCM under a thread blocked in it would free memory it still uses:
            # leave it open (the daemon thread dies with the process) and say so.
            log.error("ALSA threads %s did not stop within %.1f s; devices left open",
                      ", ".join(stuck), self._join_timeout)
        else:
            for pcm in self._pcms:
                pcm.close()
        self._pcms = []

    def close(self) -> None:
        self.stop()

    # ------------------------------------------------------------------ worker threads

    def _capture_loop(self, alsa: Any, pcm: Any, stopping: threading.Event) -> None:
        period_s = self.period_ms / 1000
        while not stopping.is_set():
            try:
                length, data = pcm.read()
            except alsa.ALSAAudioError as error:
                self._recover(pcm, "capture", error)
                stopping.wait(period_s)
                continue
            if length == -errno.EPIPE:
                with self._lock:  # pyalsaaudio already re-prepared the stream
                    self._statistics.overruns += 1
                    self._statistics.recoveries += 1
                continue
            if length <= 0:
                continue
            with self._lock:
                ring = self._capture_ring
                ring += data
                excess = len(ring) - self._buffer_bytes
                if excess > 0:
                    del ring[:excess]
                    self._statistics.capture_drops += excess

    def _playback_loop(self, alsa: Any, pcm: Any, stopping: threading.Event) -> None:
        period_s = self.period_ms / 1000
        period_frames = self._sample_rate * self.period_ms // 1000
        silence = bytes(period_frames * SAMPLE_WIDTH)
        buffer_frames = int(pcm.info()["buffer_size"])
        while not stopping.is_set():
            with self._queued:
                if not self._playback_queue:
                    self._queued.wait(period_s / 2)
                chunk = self._playback_queue.popleft() if self._playback_queue else None
                if chunk is not None:
                    self._playback_bytes -= len(chunk)
            if chunk is None:
                free = pcm.avail()
                if 0 <= free < buffer_frames - period_frames:
                    continue  # the card still holds more than a period: wait for data
                chunk = silence  # about to run dry (or in an xrun): keep it fed
            try:
                self._write_all(pcm, chunk, stopping)
            except alsa.ALSAAudioError as error:
                self._recover(pcm, "playback", error)
                stopping.wait(period_s)

    def _write_all(self, pcm: Any, chunk: bytes, stopping: threading.Event) -> None:
        view = memoryview(chunk)
        while view and not stopping.is_set():
            written = pcm.write(view)
            if written == -errno.EPIPE:
                with self._lock:  # pyalsaaudio already re-prepared the stream
                    self._statistics.underruns += 1
                    self._statistics.recoveries += 1
                continue  # the chunk was not taken: write it again
            if written <= 0:
                continue
            done = written * SAMPLE_WIDTH
            if done < len(view):
                with self._lock:
                    self._statistics.short_writes += 1
            view = view[done:]

    def _recover(self, pcm: Any, direction: str, error: Exception) -> None:
        """After an ALSA error other than an xrun: drop the stream so the next call prepares it."""
        log.warning("ALSA %s error, re-preparing the device: %s", direction, error)
        with self._lock:
            self._statistics.recoveries += 1
        pcm.drop()


class AlsaRinger:
    """A :class:`~phoneagent.hal.interfaces.Ringer` that plays the country's "ring" tone.

    For a board whose bell is a loudspeaker on its own ALSA device (``ring_device``).
    While on, one thread renders the tone and writes it; the card paces it.
    """

    def __init__(self, device: str, country: str = "us", *, sample_rate: int = 16000) -> None:
        # A bad country fails now, not at the first incoming call.
        if country.lower() not in COUNTRIES:
            raise ValueError(f"no ring tone for country {country!r}; known: {', '.join(COUNTRIES)}")
        self._spec = tone(country, "ring")
        self.device = device
        self._sample_rate = sample_rate
        self._on = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def ringing(self) -> bool:
        return self._on.is_set()

    def set(self, on: bool) -> None:
        if on == self.ringing:
            return
        if on:
            import alsaaudio  # noqa: PLC0415 -- only the pi backend needs ALSA

            period_frames = self._sample_rate // 50  # 20 ms
            pcm = _open_pcm(alsaaudio, "playback", self.device, self._sample_rate,
                            period_frames)
            self._on.set()
            self._thread = threading.Thread(target=self._play, args=(pcm, period_frames),
                                            name="alsa-ringer", daemon=True)
            self._thread.start()
        else:
            self._on.clear()
            if self._thread is not None:
                self._thread.join(JOIN_TIMEOUT_S)
                if self._thread.is_alive():
                    log.error("ALSA ringer thread did not stop within %.1f s", JOIN_TIMEOUT_S)
                self._thread = None

    def close(self) -> None:
        self.set(False)

    def _play(self, pcm: Any, period_frames: int) -> None:
        generator = ToneGenerator(self._spec, self._sample_rate)
        try:
            while self._on.is_set():
                # An underrun (-EPIPE) is re-prepared by pyalsaaudio; a ring tone does not
                # need counting, so the return value is not examined.
                pcm.write(generator.frame(period_frames))
        finally:
            pcm.drop()
            pcm.close()
