"""Codec implementations by encoding name and clock rate (DESIGN.md principle 10).

SDP offer/answer (``phoneagent.sdp.codecs``) decides *which* payload format a
stream uses and names it the way RTP does: an encoding name, compared
case-insensitively (RFC 4855 §3), and a clock rate (RFC 3551 §6).  This
registry answers the next question — which object encodes and decodes it —
under the same key, so the media session does::

    codec = CODECS.create(negotiated.name, negotiated.clock_rate)

A codec object carries per-stream state (the decoder's concealment), so the
registry holds factories and every stream gets a fresh codec.  Registration
order is the order of preference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from phoneagent.media.codecs.base import AudioCodec
from phoneagent.sip.errors import LocalProtocolError

__all__ = ["CodecFactory", "CodecRegistry", "codec_key"]

CodecFactory = Callable[[], AudioCodec]


def codec_key(name: str, clock_rate: int) -> tuple[str, int]:
    """(lower-case encoding name, clock rate); ASCII case-folding as RFC 4855 means it."""
    return name.encode("ascii", "replace").lower().decode("ascii"), clock_rate


class CodecRegistry:
    """Codec factories keyed by :func:`codec_key`."""

    def __init__(self) -> None:
        self._factories: dict[tuple[str, int], CodecFactory] = {}

    def register(self, factory: CodecFactory) -> tuple[str, int]:
        """Add a codec implementation; returns its key."""
        sample = factory()
        key = codec_key(sample.name, sample.clock_rate)
        if key in self._factories:
            raise LocalProtocolError(f"codec {sample.name}/{sample.clock_rate} registered twice")
        self._factories[key] = factory
        return key

    def supports(self, name: str, clock_rate: int) -> bool:
        """Whether ``name``/``clock_rate`` (any case) has an implementation."""
        return codec_key(name, clock_rate) in self._factories

    def create(self, name: str, clock_rate: int) -> AudioCodec:
        """A new codec object for ``name``/``clock_rate`` (an unknown one is our bug)."""
        factory = self._factories.get(codec_key(name, clock_rate))
        if factory is None:
            raise LocalProtocolError(f"no codec implementation for {name}/{clock_rate}")
        return factory()

    def __iter__(self) -> Iterator[tuple[str, int]]:
        """The keys, most preferred first."""
        return iter(self._factories)

    def __len__(self) -> int:
        return len(self._factories)
