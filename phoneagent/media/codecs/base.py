"""The audio codec interface and the packet-loss concealment codecs share.

Theory of operation
-------------------
Every audio codec turns 16-bit little-endian signed mono PCM at its clock
rate into an RTP payload and back.  The media session holds one codec object
per stream; the only state in it today is the decoder's concealment state,
the last frame it decoded, so that a lost frame can be replaced by
:meth:`AudioCodec.conceal`.

Concealment (a "simple PLC") repeats the last good frame and fades it: the
first ``hold_ms`` of a loss are played at full level (a single lost 20 ms
packet is then barely audible), the next ``fade_ms`` fade linearly to
silence, and a longer loss is silence.  This is the attenuation schedule of
ITU-T G.711 Appendix I without its pitch-period search: repeating a whole
frame leaves a buzz at the frame rate on long losses, which the fade hides.
Consecutive concealed frames continue the repetition where the previous one
stopped, so the only seams are where the repeated frame wraps around.

Codecs never see RTP headers, sequence numbers or time: the jitter buffer
decides that a frame is missing and asks for ``conceal(samples)``.
"""

from __future__ import annotations

import sys
from array import array
from typing import Protocol, runtime_checkable

from phoneagent.sip.errors import LocalProtocolError

__all__ = ["AudioCodec", "FrameConcealer", "pcm_to_samples", "samples_to_pcm"]


@runtime_checkable
class AudioCodec(Protocol):
    """What the media session needs of a codec.

    ``name`` is the SDP encoding name (RFC 4566 ``a=rtpmap``, RFC 3551 §6),
    ``clock_rate`` the RTP clock rate, ``payload_type`` the static RTP payload
    type of RFC 3551 Table 4 or ``None`` for a codec that needs a dynamic one.
    """

    @property
    def name(self) -> str: ...

    @property
    def clock_rate(self) -> int: ...

    @property
    def payload_type(self) -> int | None: ...

    def encode(self, pcm: bytes) -> bytes:
        """Encode 16-bit little-endian signed mono samples into one payload."""
        ...

    def decode(self, payload: bytes) -> bytes:
        """Decode one payload into 16-bit little-endian signed mono samples."""
        ...

    def conceal(self, samples: int) -> bytes:
        """PCM standing in for ``samples`` lost samples (a lost frame)."""
        ...


def pcm_to_samples(pcm: bytes) -> array[int]:
    """16-bit little-endian PCM as an ``array('h')`` of samples."""
    if len(pcm) % 2:
        raise LocalProtocolError(f"16-bit PCM has an even length, not {len(pcm)}")
    samples = array("h", pcm)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def samples_to_pcm(samples: array[int]) -> bytes:
    """An ``array('h')`` of samples as 16-bit little-endian PCM."""
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


class FrameConcealer:
    """Repeat-and-fade packet-loss concealment over decoded PCM.

    The decoder calls :meth:`remember` with every frame it decodes; the
    jitter buffer calls :meth:`conceal` for every frame that never arrived.
    """

    def __init__(self, clock_rate: int, *, hold_ms: int = 10, fade_ms: int = 50) -> None:
        if clock_rate <= 0 or hold_ms < 0 or fade_ms <= 0:
            raise LocalProtocolError("concealment needs a positive clock rate and fade")
        self._hold = clock_rate * hold_ms // 1000
        self._fade = clock_rate * fade_ms // 1000
        self._last: bytes = b""
        self._lost = 0  # samples concealed since the last good frame
        self._cursor = 0  # where in the last frame the repetition continues

    def remember(self, pcm: bytes) -> None:
        """Note a good decoded frame: the loss (if any) is over."""
        if pcm:
            self._last = pcm
        self._lost = 0
        self._cursor = 0

    def conceal(self, samples: int) -> bytes:
        """``samples`` samples of the last frame repeated, faded by the loss length."""
        if samples < 0:
            raise LocalProtocolError(f"cannot conceal {samples} samples")
        lost = self._lost
        self._lost = lost + samples
        if not self._last or lost >= self._hold + self._fade:
            return bytes(2 * samples)
        source = pcm_to_samples(self._last)
        period = len(source)
        start = self._cursor
        self._cursor = (start + samples) % period
        # Tile the last frame from the cursor on, then apply the gain ramp.
        tiled = source[start:] + source * ((samples + period - 1) // period + 1)
        hold, fade = self._hold, self._fade
        if lost + samples <= hold:
            return samples_to_pcm(tiled[:samples])
        gains = [
            1.0 if n < hold else max(0.0, 1.0 - (n - hold) / fade)
            for n in range(lost, lost + samples)
        ]
        faded = [round(sample * gain) for sample, gain in zip(tiled, gains, strict=False)]
        return samples_to_pcm(array("h", faded))
