"""Audio codecs: the :class:`AudioCodec` interface, G.711 and the registry.

``CODECS`` holds the implementations, in the phone's order of preference
(PCMU, then PCMA), under the (name, clock rate) keys SDP negotiation
(``phoneagent.sdp.codecs``) uses::

    codec = CODECS.create("pcmu", 8000)
    payload = codec.encode(pcm)          # 16-bit LE mono in, RTP payload out
    pcm = codec.decode(payload)
    pcm = codec.conceal(160)             # a lost 20 ms frame
"""

from __future__ import annotations

from phoneagent.media.codecs.base import AudioCodec, FrameConcealer
from phoneagent.media.codecs.g711 import PcmaCodec, PcmuCodec
from phoneagent.media.codecs.registry import CodecFactory, CodecRegistry, codec_key

__all__ = [
    "CODECS",
    "AudioCodec",
    "CodecFactory",
    "CodecRegistry",
    "FrameConcealer",
    "PcmaCodec",
    "PcmuCodec",
    "codec_key",
]

CODECS = CodecRegistry()
CODECS.register(PcmuCodec)
CODECS.register(PcmaCodec)
