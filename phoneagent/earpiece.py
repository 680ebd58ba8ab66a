"""What the user hears in the handset: one call's audio, a tone, or both mixed.

The phone's state machine says which tone plays (``PlayTone``) and whose call the
handset carries (``ConnectAudio``); this module turns that into PCM for the audio
device.  Call audio is written as it is played out by its media session; a tone
alone is written on an absolute 20 ms schedule (DESIGN.md principle 8, no summed
sleeps); a tone during a call (call waiting) is added into the call's frames.
"""

from __future__ import annotations

import asyncio
import logging
from array import array
from collections.abc import Callable

from phoneagent.media.tones import ToneGenerator, tone

log = logging.getLogger(__name__)

FRAME_SECONDS = 0.020


class Earpiece:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        write: Callable[[bytes], None],
        country: str,
        sample_rate: int = 8000,
    ) -> None:
        self.loop = loop
        self.write = write
        self.country = country
        self.sample_rate = sample_rate
        self.tone_name: str | None = None
        self.line: int | None = None  # whose call audio the handset carries
        self._tone: ToneGenerator | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._frames = 0
        self._start = 0.0

    def play_tone(self, name: str | None) -> None:
        if name == self.tone_name:
            return
        self.tone_name = name
        self._tone = ToneGenerator(tone(self.country, name), self.sample_rate) if name else None
        self._schedule()

    def connect(self, line: int | None) -> None:
        self.line = line
        self._schedule()

    def call_audio(self, line: int, pcm: bytes) -> None:
        """A call's decoded frame: heard only if the handset carries that call."""
        if line != self.line:
            return
        if self._tone is not None:
            pcm = _mix(pcm, self._tone.frame(len(pcm) // 2))
        self.write(pcm)

    def _schedule(self) -> None:
        """Tick alone only while a tone plays and no call's audio carries it."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._tone is not None and self.line is None:
            self._start = self.loop.time()
            self._frames = 0
            self._tick()

    def _tick(self) -> None:
        self._timer = None
        if self._tone is None or self.line is not None:
            return
        self.write(self._tone.frame(int(self.sample_rate * FRAME_SECONDS)))
        self._frames += 1
        self._timer = self.loop.call_at(self._start + self._frames * FRAME_SECONDS, self._tick)

    def close(self) -> None:
        self._tone = None
        self.tone_name = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _mix(first: bytes, second: bytes) -> bytes:
    """Sum two 16-bit frames with saturation."""
    a = array("h", first)
    b = array("h", second)
    for index in range(min(len(a), len(b))):
        a[index] = max(-32768, min(32767, a[index] + b[index]))
    return a.tobytes()
