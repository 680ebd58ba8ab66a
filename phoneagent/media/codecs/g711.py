"""G.711 µ-law (PCMU) and A-law (PCMA), bit-exact with the ITU-T G.191 STL.

Theory of operation
-------------------
ITU-T G.711 maps a 14-bit (µ-law) or 13-bit (A-law) linear sample to an
8-bit code with a segmented logarithmic law.  The reference implementation
is ``g711.c`` of the ITU-T G.191 Software Tools Library (STL); its test
vectors (``sweep.src`` and the ``sweep-r.*`` files: every 16-bit input once)
are what the tests compare against, input by input.  The STL takes 16-bit
left-justified samples and truncates them toward minus infinity (an
arithmetic right shift; negative values through their one's complement), so
encoding is a pure function of the 16-bit sample.  Note that CPython's old
``audioop.lin2ulaw`` rounds differently for 508 negative inputs; the STL is
the reference here.

Both directions are table lookups built once at import:

* encode: a 65,536-byte table indexed by the *unsigned* reading of each
  16-bit sample.  ``memoryview.cast("H")`` reads the samples in the machine's
  byte order without copying; on a big-endian machine the table is built with
  its index byte-swapped instead, so the hot path is identical.  The lookup
  itself is one ``operator.itemgetter`` call over all samples of the frame,
  which runs the loop in C.
* decode: two 256-byte ``bytes.translate`` tables, one giving the low byte
  and one the high byte of the decoded 16-bit little-endian sample,
  interleaved into the output with two extended-slice assignments.

RTP payload types 0 (PCMU) and 8 (PCMA) are static, clock rate 8000 Hz
(RFC 3551 §4.5.14, Table 4).
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Callable
from operator import itemgetter

from phoneagent.media.codecs.base import FrameConcealer
from phoneagent.sip.errors import LocalProtocolError

__all__ = [
    "ALAW_DECODE",
    "ULAW_DECODE",
    "PcmaCodec",
    "PcmuCodec",
    "alaw_code",
    "alaw_decode",
    "alaw_encode",
    "alaw_linear",
    "ulaw_code",
    "ulaw_decode",
    "ulaw_encode",
    "ulaw_linear",
]


def ulaw_code(sample: int) -> int:
    """The µ-law code of one 16-bit sample (STL ``ulaw_compress``)."""
    # 14-bit magnitude with the µ-law bias of 33; negative values via one's complement.
    magnitude = ((~sample if sample < 0 else sample) >> 2) + 33
    magnitude = min(magnitude, 0x1FFF)
    segment = (magnitude >> 6).bit_length() + 1  # 1..8
    code = ((8 - segment) << 4) | (0x0F - ((magnitude >> segment) & 0x0F))
    return code | 0x80 if sample >= 0 else code


def alaw_code(sample: int) -> int:
    """The A-law code of one 16-bit sample (STL ``alaw_compress``)."""
    value = (~sample if sample < 0 else sample) >> 4  # 12-bit magnitude
    if value > 15:
        exponent = 1
        while value > 16 + 15:
            value >>= 1
            exponent += 1
        value = value - 16 + (exponent << 4)
    if sample >= 0:
        value |= 0x80
    return value ^ 0x55  # even-bit inversion (G.711 §2)


def ulaw_linear(code: int) -> int:
    """The 16-bit sample of one µ-law code (STL ``ulaw_expand``)."""
    sign = 1 if code >= 0x80 else -1
    inverted = ~code
    exponent = (inverted >> 4) & 0x07
    step = 4 << (exponent + 1)
    mantissa = inverted & 0x0F
    return sign * ((0x80 << exponent) + step * mantissa + step // 2 - 4 * 33)


def alaw_linear(code: int) -> int:
    """The 16-bit sample of one A-law code (STL ``alaw_expand``)."""
    value = (code ^ 0x55) & 0x7F
    exponent = value >> 4
    mantissa = value & 0x0F
    if exponent > 0:
        mantissa += 16
    mantissa = (mantissa << 4) + 0x08
    if exponent > 1:
        mantissa <<= exponent - 1
    return mantissa if code > 127 else -mantissa


#: The decoded 16-bit sample of every code, index = transmitted octet.
ULAW_DECODE: tuple[int, ...] = tuple(ulaw_linear(code) for code in range(256))
ALAW_DECODE: tuple[int, ...] = tuple(alaw_linear(code) for code in range(256))


def _encode_table(code_of: Callable[[int], int]) -> bytes:
    """65,536 codes indexed by the 16-bit sample as the machine reads it unsigned.

    A G.711 law is a monotonic quantiser: every code covers one contiguous run
    of inputs.  Finding each run's end by binary search takes a few thousand
    calls of ``code_of`` instead of 65,536 (this runs at import, on a Pi).
    """
    runs: list[bytes] = []
    low = -32768
    while low <= 32767:
        code = code_of(low)
        first_other, last_same = 32768, low  # code_of(last_same) == code
        while first_other - last_same > 1:
            middle = (first_other + last_same) // 2
            if code_of(middle) == code:
                last_same = middle
            else:
                first_other = middle
        runs.append(bytes([code]) * (first_other - low))
        low = first_other
    by_signed = b"".join(runs)  # index = sample + 32768
    table = by_signed[32768:] + by_signed[:32768]  # index = sample & 0xFFFF
    if sys.byteorder == "big":  # memoryview.cast("H") reads the LE samples swapped
        swapped = array("H", range(65536))
        swapped.byteswap()
        table = bytes(itemgetter(*swapped)(table))
    return table


def _decode_tables(decoded: tuple[int, ...]) -> tuple[bytes, bytes]:
    """Two ``bytes.translate`` tables: low and high byte of each code's sample."""
    packed = struct.pack("<256h", *decoded)
    return packed[0::2], packed[1::2]


_ULAW_ENCODE = _encode_table(ulaw_code)
_ALAW_ENCODE = _encode_table(alaw_code)
_ULAW_LOW, _ULAW_HIGH = _decode_tables(ULAW_DECODE)
_ALAW_LOW, _ALAW_HIGH = _decode_tables(ALAW_DECODE)


def _encode(pcm: bytes, table: bytes) -> bytes:
    if len(pcm) % 2:
        raise LocalProtocolError(f"16-bit PCM has an even length, not {len(pcm)}")
    samples = memoryview(pcm).cast("H")
    if len(samples) < 2:  # itemgetter of one index returns a scalar, not a tuple
        return bytes([table[sample] for sample in samples])
    return bytes(itemgetter(*samples)(table))


def _decode(payload: bytes, low: bytes, high: bytes) -> bytes:
    out = bytearray(2 * len(payload))
    out[0::2] = payload.translate(low)
    out[1::2] = payload.translate(high)
    return bytes(out)


def ulaw_encode(pcm: bytes) -> bytes:
    """µ-law codes of 16-bit little-endian PCM, one octet per sample."""
    return _encode(pcm, _ULAW_ENCODE)


def ulaw_decode(payload: bytes) -> bytes:
    """16-bit little-endian PCM of µ-law codes."""
    return _decode(payload, _ULAW_LOW, _ULAW_HIGH)


def alaw_encode(pcm: bytes) -> bytes:
    """A-law codes of 16-bit little-endian PCM, one octet per sample."""
    return _encode(pcm, _ALAW_ENCODE)


def alaw_decode(payload: bytes) -> bytes:
    """16-bit little-endian PCM of A-law codes."""
    return _decode(payload, _ALAW_LOW, _ALAW_HIGH)


class PcmuCodec:
    """G.711 µ-law, RTP/AVP payload type 0 (RFC 3551 §4.5.14)."""

    name = "PCMU"
    clock_rate = 8000
    payload_type: int | None = 0

    def __init__(self) -> None:
        self._concealer = FrameConcealer(self.clock_rate)

    def encode(self, pcm: bytes) -> bytes:
        return ulaw_encode(pcm)

    def decode(self, payload: bytes) -> bytes:
        pcm = ulaw_decode(payload)
        self._concealer.remember(pcm)
        return pcm

    def conceal(self, samples: int) -> bytes:
        return self._concealer.conceal(samples)


class PcmaCodec:
    """G.711 A-law, RTP/AVP payload type 8 (RFC 3551 §4.5.14)."""

    name = "PCMA"
    clock_rate = 8000
    payload_type: int | None = 8

    def __init__(self) -> None:
        self._concealer = FrameConcealer(self.clock_rate)

    def encode(self, pcm: bytes) -> bytes:
        return alaw_encode(pcm)

    def decode(self, payload: bytes) -> bytes:
        pcm = alaw_decode(payload)
        self._concealer.remember(pcm)
        return pcm

    def conceal(self, samples: int) -> bytes:
        return self._concealer.conceal(samples)
