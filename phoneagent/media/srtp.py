"""SRTP and SRTCP sessions (RFC 3711, RFC 6188, RFC 7714), sans-IO.

Theory of operation
-------------------
An :class:`SrtpSession` protects or unprotects packets with one
:class:`~phoneagent.media.srtp_keys.SrtpPolicy` — one master key.  With SDES
each direction has its own key, so a call uses two sessions: one built from
our ``a=crypto`` key for :meth:`~SrtpSession.protect_rtp`/``protect_rtcp``,
one from the peer's for ``unprotect_rtp``/``unprotect_rtcp``.  (One session
can do both, e.g. in tests; its outbound and inbound state are kept apart.)

Keep one session for the whole life of a master key and never build a second
one that protects with the same key (say, on a re-INVITE that keeps the
``a=crypto`` key): a fresh session starts ROC and the SRTCP index again at 0
and would reuse keystream (RFC 3711 §9.1).

Per SSRC the session keeps a *stream context* (RFC 3711 §3.2.3): outbound ones
are created by the first packet protected, inbound ones by the first packet
that authenticates — a forged packet never creates state.

SRTP index (§3.3.1, Appendix A).  The packet index is ``ROC * 2^16 + SEQ``,
48 bits.  The rollover counter ROC is not sent; the receiver guesses it from
the highest index authenticated so far (``s_l`` its low 16 bits)::

    if s_l < 2^15:  v = ROC - 1 if SEQ - s_l > 2^15 else ROC
    else:           v = ROC + 1 if s_l - 2^15 > SEQ else ROC

and only after the packet authenticates (with ``v``) does the highest index —
hence ROC and ``s_l`` — move forward.  A first packet is taken with ROC 0
(SDES cannot signal another).  The sender runs the same estimate over its own
sequence numbers, so ROC steps when SEQ wraps from 65535 to 0.

Replay protection (§3.3.2): a sliding window (bitmap) of ``replay_window``
indices (≥ 64, default 128, as libsrtp) below the highest authenticated one.
A packet older than the window or already marked is rejected *before* the
costly authentication; the window is marked only *after* it.  The sender keeps
a window too and refuses to use an index twice: that would reuse keystream.

SRTCP (§3.4) carries its 31-bit index in the packet, after the encrypted part,
with the E flag (encrypted or not) in the top bit.  The sender counts from 0
per SSRC (libsrtp starts at 1; receivers do not care); the receiver checks the
index against a replay window per SSRC and decrypts as the E flag says (the
flag is authenticated).  RTCP encryption starts after the first 8 octets.

Errors (DESIGN.md principle 5, media): a packet that cannot be processed raises
an :class:`SrtpError` — never anything else, whatever the bytes; a fuzz test
holds that — and is counted in :attr:`SrtpSession.stats`.  The caller drops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from phoneagent.media.srtp_keys import (
    SUITES,
    SrtpCipher,
    SrtpPolicy,
    SrtpPolicyError,
    SrtpSuite,
    derive_session_keys,
    suite_by_name,
)
from phoneagent.media.srtp_transform import SrtpTransform, make_transform

__all__ = [
    "SUITES",
    "ReplayWindow",
    "SrtpAuthenticationError",
    "SrtpCipher",
    "SrtpError",
    "SrtpLimitError",
    "SrtpMalformedError",
    "SrtpPolicy",
    "SrtpPolicyError",
    "SrtpReplayError",
    "SrtpSession",
    "SrtpStats",
    "SrtpSuite",
    "estimate_index",
    "rtp_header_length",
    "suite_by_name",
]


class SrtpError(Exception):
    """A packet could not be protected or unprotected; drop it (it has been counted)."""


class SrtpMalformedError(SrtpError):
    """Too short, not RTP/RTCP version 2, or a header that does not fit the packet."""


class SrtpAuthenticationError(SrtpError):
    """The authentication tag did not verify (forged, corrupted or wrong key)."""


class SrtpReplayError(SrtpError):
    """Index already seen or older than the replay window (or, sending, already used)."""


class SrtpLimitError(SrtpError):
    """Index space of the master key exhausted, or too many streams: re-key."""


@dataclass(slots=True)
class SrtpStats:
    """Counters of one session; failures are the packets that raised."""

    rtp_protected: int = 0
    rtp_unprotected: int = 0
    rtcp_protected: int = 0
    rtcp_unprotected: int = 0
    auth_failures: int = 0
    replays: int = 0
    malformed: int = 0
    limit_errors: int = 0


_MAX_SRTP_INDEX = (1 << 48) - 1
_MAX_SRTCP_INDEX = (1 << 31) - 1
_MIN_WINDOW = 64
_MAX_WINDOW = 1 << 15


def rtp_header_length(packet: bytes) -> int:
    """Length of the RTP header incl. CSRC list and header extension (RFC 3550 §5.1, §5.3.1).

    ``12 + 4 * CC``, plus ``4 + 4 * length`` when X is set.  Raises
    :class:`SrtpMalformedError` when the packet is not version 2 or too short
    for the header it announces.
    """
    size = len(packet)
    if size < 12:
        raise SrtpMalformedError(f"RTP packet of {size} octets is shorter than its header")
    first = packet[0]
    if first >> 6 != 2:
        raise SrtpMalformedError(f"RTP version {first >> 6}, not 2")
    length = 12 + 4 * (first & 0x0F)
    if first & 0x10:
        if size < length + 4:
            raise SrtpMalformedError("RTP header extension does not fit the packet")
        length += 4 + 4 * int.from_bytes(packet[length + 2 : length + 4])
    if length > size:
        raise SrtpMalformedError(f"RTP header of {length} octets in a {size}-octet packet")
    return length


def estimate_index(highest: int, seq: int) -> int:
    """The SRTP index of ``seq`` given the highest index authenticated (RFC 3711 Appendix A).

    ``highest`` is -1 before the first packet (the index is then ``seq``, ROC 0).
    The result is negative for a packet from before the stream's ROC 0.
    """
    if highest < 0:
        return seq
    roc = highest >> 16
    s_l = highest & 0xFFFF
    if s_l < 0x8000:
        if seq - s_l > 0x8000:
            roc -= 1
    elif s_l - 0x8000 > seq:
        roc += 1
    return (roc << 16) | seq if roc >= 0 else -1


class ReplayWindow:
    """The sliding replay window of RFC 3711 §3.3.2 as a bitmap below the highest index.

    Bit ``i`` of the bitmap marks index ``highest - i`` as received.
    """

    __slots__ = ("_bitmap", "_mask", "highest", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.highest = -1
        self._bitmap = 0
        self._mask = (1 << size) - 1

    def accepts(self, index: int) -> bool:
        """Whether ``index`` is new: above the highest, or inside the window and unmarked."""
        delta = self.highest - index
        if delta < 0:
            return True
        return delta < self.size and not (self._bitmap >> delta) & 1

    def mark(self, index: int) -> None:
        """Record ``index`` as received (call only once it has authenticated)."""
        delta = index - self.highest
        if delta > 0:
            self._bitmap = ((self._bitmap << delta) | 1) & self._mask if delta < self.size else 1
            self.highest = index
        elif -delta < self.size:
            self._bitmap |= 1 << -delta


class SrtpSession:
    """SRTP/SRTCP protection with one master key (see the module docstring).

    ``replay_window`` is the replay window size in packets (64 … 32768);
    ``max_streams`` bounds the SSRCs remembered per direction and protocol.
    """

    __slots__ = (
        "_inbound_rtcp",
        "_inbound_rtp",
        "_max_streams",
        "_outbound_rtcp",
        "_outbound_rtp",
        "_policy",
        "_rtcp",
        "_rtp",
        "_window_size",
        "stats",
    )

    def __init__(
        self, policy: SrtpPolicy, replay_window: int = 128, *, max_streams: int = 64
    ) -> None:
        if not _MIN_WINDOW <= replay_window <= _MAX_WINDOW:
            raise ValueError(f"replay window {replay_window} is outside 64..32768")
        if max_streams < 1:
            raise ValueError("max_streams must be at least 1")
        self._policy = policy
        self._window_size = replay_window
        self._max_streams = max_streams
        self._rtp: SrtpTransform = make_transform(
            policy.suite,
            derive_session_keys(policy, rtcp=False),
            rtcp=False,
            encrypt=policy.encrypt_rtp,
        )
        self._rtcp: SrtpTransform = make_transform(
            policy.suite,
            derive_session_keys(policy, rtcp=True),
            rtcp=True,
            encrypt=policy.encrypt_rtcp,
        )
        self._outbound_rtp: dict[int, ReplayWindow] = {}
        self._inbound_rtp: dict[int, ReplayWindow] = {}
        self._outbound_rtcp: dict[int, int] = {}  # SSRC -> next SRTCP index
        self._inbound_rtcp: dict[int, ReplayWindow] = {}
        self.stats = SrtpStats()

    @property
    def policy(self) -> SrtpPolicy:
        """The policy (suite and master key) of this session."""
        return self._policy

    def rollover_counter(self, ssrc: int, *, inbound: bool) -> int | None:
        """The ROC of an SRTP stream (``None`` when the SSRC has not been seen)."""
        streams = self._inbound_rtp if inbound else self._outbound_rtp
        window = streams.get(ssrc)
        return None if window is None else max(window.highest, 0) >> 16

    # -- SRTP ---------------------------------------------------------------------------------

    def protect_rtp(self, packet: bytes) -> bytes:
        """The SRTP packet for an RTP packet (RFC 3711 §3.3)."""
        header_length = self._header_length(packet, 0)
        ssrc = int.from_bytes(packet[8:12])
        window = self._outbound_rtp.get(ssrc)
        if window is None:
            window = ReplayWindow(self._window_size)
            self._add_stream(self._outbound_rtp, ssrc, window, "outbound SRTP")
        index = estimate_index(window.highest, (packet[2] << 8) | packet[3])
        if index < 0 or not window.accepts(index):
            self.stats.replays += 1
            raise SrtpReplayError(
                f"SSRC {ssrc:#010x}: SRTP index {index} was used before or is older than the "
                "replay window: refusing to reuse keystream"
            )
        if index > _MAX_SRTP_INDEX:
            self.stats.limit_errors += 1
            raise SrtpLimitError(f"SSRC {ssrc:#010x}: SRTP index space exhausted, re-key")
        window.mark(index)
        self.stats.rtp_protected += 1
        return self._rtp.protect_rtp(packet, header_length, ssrc, index)

    def unprotect_rtp(self, packet: bytes) -> bytes:
        """The RTP packet of an SRTP packet; :class:`SrtpError` when it must be dropped."""
        header_length = self._header_length(packet, self._rtp.rtp_overhead)
        ssrc = int.from_bytes(packet[8:12])
        window = self._inbound_rtp.get(ssrc)
        new_stream = window is None
        if window is None:
            window = ReplayWindow(self._window_size)
        index = estimate_index(window.highest, (packet[2] << 8) | packet[3])
        if index < 0 or not window.accepts(index):
            self.stats.replays += 1
            raise SrtpReplayError(self._replay_reason("SRTP", ssrc, window, index))
        if index > _MAX_SRTP_INDEX:
            self.stats.limit_errors += 1
            raise SrtpLimitError(f"SSRC {ssrc:#010x}: SRTP index beyond 2^48")
        plain = self._rtp.unprotect_rtp(packet, header_length, ssrc, index)
        if plain is None:
            self.stats.auth_failures += 1
            raise SrtpAuthenticationError(f"SSRC {ssrc:#010x}: SRTP authentication failed")
        if new_stream:
            self._add_stream(self._inbound_rtp, ssrc, window, "inbound SRTP")
        window.mark(index)
        self.stats.rtp_unprotected += 1
        return plain

    # -- SRTCP --------------------------------------------------------------------------------

    def protect_rtcp(self, packet: bytes) -> bytes:
        """The SRTCP packet for a (compound) RTCP packet (RFC 3711 §3.4)."""
        self._check_rtcp(packet, 0)
        ssrc = int.from_bytes(packet[4:8])
        index = self._outbound_rtcp.get(ssrc)
        if index is None:
            if len(self._outbound_rtcp) >= self._max_streams:
                self._too_many_streams("outbound SRTCP")
            index = 0
        if index > _MAX_SRTCP_INDEX:
            self.stats.limit_errors += 1
            raise SrtpLimitError(f"SSRC {ssrc:#010x}: SRTCP index space exhausted, re-key")
        self._outbound_rtcp[ssrc] = index + 1
        self.stats.rtcp_protected += 1
        return self._rtcp.protect_rtcp(packet, ssrc, index)

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        """The RTCP packet of an SRTCP packet; :class:`SrtpError` when it must be dropped."""
        transform = self._rtcp
        self._check_rtcp(packet, transform.rtcp_overhead)
        ssrc = int.from_bytes(packet[4:8])
        word_start = len(packet) - transform.rtcp_index_offset
        word = int.from_bytes(packet[word_start : word_start + 4])
        index = word & _MAX_SRTCP_INDEX
        window = self._inbound_rtcp.get(ssrc)
        new_stream = window is None
        if window is None:
            window = ReplayWindow(self._window_size)
        if not window.accepts(index):
            self.stats.replays += 1
            raise SrtpReplayError(self._replay_reason("SRTCP", ssrc, window, index))
        plain = transform.unprotect_rtcp(packet, ssrc, index, bool(word >> 31))
        if plain is None:
            self.stats.auth_failures += 1
            raise SrtpAuthenticationError(f"SSRC {ssrc:#010x}: SRTCP authentication failed")
        if new_stream:
            self._add_stream(self._inbound_rtcp, ssrc, window, "inbound SRTCP")
        window.mark(index)
        self.stats.rtcp_unprotected += 1
        return plain

    # -- helpers ------------------------------------------------------------------------------

    def _header_length(self, packet: bytes, overhead: int) -> int:
        """The RTP header length, checked to leave room for ``overhead`` trailing octets."""
        try:
            header_length = rtp_header_length(packet)
        except SrtpMalformedError:
            self.stats.malformed += 1
            raise
        if header_length + overhead > len(packet):
            self.stats.malformed += 1
            raise SrtpMalformedError(
                f"SRTP packet of {len(packet)} octets has no room for its "
                f"{header_length}-octet header and {overhead}-octet trailer"
            )
        return header_length

    def _check_rtcp(self, packet: bytes, overhead: int) -> None:
        """An RTCP packet needs version 2 and its first 8 octets (header and SSRC, §6.4.1)."""
        if len(packet) < 8 + overhead:
            self.stats.malformed += 1
            raise SrtpMalformedError(f"SRTCP packet of {len(packet)} octets is too short")
        if packet[0] >> 6 != 2:
            self.stats.malformed += 1
            raise SrtpMalformedError(f"RTCP version {packet[0] >> 6}, not 2")

    def _add_stream(
        self, streams: dict[int, ReplayWindow], ssrc: int, window: ReplayWindow, kind: str
    ) -> None:
        """Remember a stream context, up to ``max_streams`` of a kind."""
        if len(streams) >= self._max_streams:
            self._too_many_streams(kind)
        streams[ssrc] = window

    def _too_many_streams(self, kind: str) -> NoReturn:
        self.stats.limit_errors += 1
        raise SrtpLimitError(f"more than {self._max_streams} {kind} streams")

    @staticmethod
    def _replay_reason(kind: str, ssrc: int, window: ReplayWindow, index: int) -> str:
        if index < 0 or window.highest - index >= window.size:
            return f"SSRC {ssrc:#010x}: {kind} index {index} is older than the replay window"
        return f"SSRC {ssrc:#010x}: {kind} index {index} was already received"
