"""SDP (RFC 8866) and offer/answer (RFC 3264) for the phone's audio stream, sans-IO.

``SessionDescription.parse(body)`` and ``bytes(description)`` are the wire
forms (``model``); ``codecs`` is the registry of audio formats by name and
clock rate; ``offer_answer`` builds offers, answers offers, checks answers and
keeps the o= version across re-offers (``SdpSession``).
"""

from phoneagent.sdp.codecs import (
    CODECS,
    PCMA,
    PCMU,
    TELEPHONE_EVENT,
    AudioCodec,
    CodecRegistry,
)
from phoneagent.sdp.model import (
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    Rtcp,
    RtpMap,
    SessionDescription,
    TimeDescription,
)
from phoneagent.sdp.offer_answer import (
    ALLOWED_PTIMES,
    MediaPolicy,
    NegotiatedMedia,
    PayloadFormat,
    SdpSession,
    answer_offer,
    build_offer,
    process_answer,
)

__all__ = [
    "ALLOWED_PTIMES",
    "CODECS",
    "PCMA",
    "PCMU",
    "TELEPHONE_EVENT",
    "Attribute",
    "AudioCodec",
    "Bandwidth",
    "CodecRegistry",
    "Connection",
    "Direction",
    "MediaDescription",
    "MediaPolicy",
    "NegotiatedMedia",
    "Origin",
    "PayloadFormat",
    "Rtcp",
    "RtpMap",
    "SdpSession",
    "SessionDescription",
    "TimeDescription",
    "answer_offer",
    "build_offer",
    "process_answer",
]
