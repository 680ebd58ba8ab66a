"""The audio codecs offer/answer knows, in a registry keyed by (encoding name, clock rate).

RTP names a payload format by its encoding name and clock rate (RFC 3551 §6,
RFC 8866 §6.6); encoding names compare case-insensitively (RFC 4855 §3), so
``pcmu/8000`` is ``PCMU/8000``.  A few formats also own a static payload type
(RFC 3551 Table 4: PCMU 0, PCMA 8), used when an offer lists the number with no
``a=rtpmap``.

``CODECS`` holds what ships today — PCMU, PCMA and RFC 4733's
``telephone-event`` — and a codec added later plugs in with
``CODECS.register(AudioCodec(...))`` next to its implementation; nothing in
offer/answer names a codec.  Tests that register codecs work on
``CODECS.copy()``.

This module describes formats for negotiation only; encoding and decoding live
in ``phoneagent.media``.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from phoneagent.sdp.grammar import MAX_PAYLOAD_TYPE
from phoneagent.sip.errors import LocalProtocolError

#: RFC 3551 §3: 96–127 is the dynamic range; below it payload types are static or reserved.
FIRST_DYNAMIC_PAYLOAD_TYPE = 96


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _key(name: str, clock_rate: int) -> tuple[str, int]:
    # RFC 4855's case-insensitivity is ASCII's: "PCMÜ" must not become "pcmü".
    return name.translate(_ASCII_LOWER), clock_rate


@dataclass(frozen=True)
class AudioCodec:
    """One RTP audio payload format as SDP names it.

    ``fmtp`` is the ``a=fmtp`` parameter string we send for it (``"0-16"`` for
    telephone-event: DTMF 0–9, *, #, A–D and flash, RFC 4733 §3.2), ``None`` for
    none.  ``telephone_event`` marks RFC 4733 events: negotiated beside a codec,
    never chosen as one.
    """

    name: str
    clock_rate: int
    static_payload_type: int | None = None
    default_ptime: int = 20
    channels: int = 1
    fmtp: str | None = None
    telephone_event: bool = False

    def __post_init__(self) -> None:
        if not self.name or any(char in self.name for char in " /\r\n\x00"):
            raise LocalProtocolError(f"bad encoding name: {self.name!r}")
        if self.clock_rate <= 0 or self.channels <= 0 or self.default_ptime <= 0:
            raise LocalProtocolError(f"{self.name}: clock rate, channels and ptime must be > 0")
        if self.static_payload_type is not None and not (
            0 <= self.static_payload_type < FIRST_DYNAMIC_PAYLOAD_TYPE
        ):
            raise LocalProtocolError(
                f"{self.name}: static payload type {self.static_payload_type} is not in 0-95"
            )

    @property
    def key(self) -> tuple[str, int]:
        """(lower-case name, clock rate): the identity RTP negotiation uses."""
        return _key(self.name, self.clock_rate)

    def rtpmap_value(self, payload_type: int) -> str:
        """The ``a=rtpmap`` value for this codec on ``payload_type``."""
        if not 0 <= payload_type <= MAX_PAYLOAD_TYPE:
            raise LocalProtocolError(f"payload type out of range: {payload_type}")
        channels = f"/{self.channels}" if self.channels != 1 else ""
        return f"{payload_type} {self.name}/{self.clock_rate}{channels}"

    def __str__(self) -> str:
        return f"{self.name}/{self.clock_rate}"


class CodecRegistry:
    """Audio codecs by (name, clock rate), plus the static payload types they own."""

    def __init__(self, codecs: Iterable[AudioCodec] = ()) -> None:
        self._by_key: dict[tuple[str, int], AudioCodec] = {}
        self._by_static_payload_type: dict[int, AudioCodec] = {}
        for codec in codecs:
            self.register(codec)

    def register(self, codec: AudioCodec) -> None:
        """Add a codec; registering a name/rate or a static payload type twice is a bug."""
        if codec.key in self._by_key:
            raise LocalProtocolError(f"codec {codec} is already registered")
        static = codec.static_payload_type
        if static is not None and static in self._by_static_payload_type:
            owner = self._by_static_payload_type[static]
            raise LocalProtocolError(f"static payload type {static} already belongs to {owner}")
        self._by_key[codec.key] = codec
        if static is not None:
            self._by_static_payload_type[static] = codec

    def lookup(self, name: str, clock_rate: int) -> AudioCodec | None:
        """The codec named ``name`` (any case) at ``clock_rate``, ``None`` if unknown."""
        return self._by_key.get(_key(name, clock_rate))

    def by_static_payload_type(self, payload_type: int) -> AudioCodec | None:
        return self._by_static_payload_type.get(payload_type)

    def resolve(self, spec: str) -> AudioCodec:
        """``"PCMU"`` or ``"PCMU/8000"`` from configuration; unknown or ambiguous is our error."""
        name, slash, rate = spec.partition("/")
        if slash:
            valid = rate.isascii() and rate.isdigit() and len(rate) <= 9
            codec = self.lookup(name, int(rate)) if valid else None
            if codec is None:
                raise LocalProtocolError(f"unknown codec {spec!r}")
            return codec
        matches = [codec for codec in self if codec.key[0] == _key(name, 0)[0]]
        if len(matches) != 1:
            problem = "unknown" if not matches else "ambiguous (give name/rate)"
            raise LocalProtocolError(f"codec {spec!r} is {problem}")
        return matches[0]

    def copy(self) -> CodecRegistry:
        return CodecRegistry(self)

    def __iter__(self) -> Iterator[AudioCodec]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, codec: object) -> bool:
        return isinstance(codec, AudioCodec) and self._by_key.get(codec.key) == codec


#: G.711 µ-law and A-law (RFC 3551 §4.5.14).
PCMU = AudioCodec("PCMU", 8000, static_payload_type=0)
PCMA = AudioCodec("PCMA", 8000, static_payload_type=8)
#: RFC 4733 named telephone events on a dynamic payload type.
TELEPHONE_EVENT = AudioCodec("telephone-event", 8000, fmtp="0-16", telephone_event=True)

#: The registry offer/answer uses unless given another.
CODECS = CodecRegistry((PCMU, PCMA, TELEPHONE_EVENT))
