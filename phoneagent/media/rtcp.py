"""RTCP compound packets, NTP time, round-trip time and the report interval (RFC 3550 §6), sans-IO.

Theory of operation
-------------------
**Wire format** (§6.4–§6.6).  Every RTCP packet starts with the same four
octets; ``length`` counts 32-bit words minus one, header and padding included::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P|  count  |      PT       |             length            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Several packets travel stacked in one datagram, a *compound* packet
(§6.1).  :class:`RtcpCompound` parses and builds one; its ``packets`` are
:class:`SenderReport` (SR, 200), :class:`ReceiverReport` (RR, 201),
:class:`SourceDescription` (SDES, 202), :class:`Goodbye` (BYE, 203) and, for
every other type (APP 204, RTPFB 205, PSFB 206, XR 207, …),
:class:`UnknownRtcpPacket`, which keeps the raw body and is otherwise ignored.

Parsing applies the validity checks of Appendix A.2 — version 2 everywhere,
padding only on the last packet, lengths that add up to the datagram — and
rejects bodies that do not fit their counts.  It does *not* insist that the
compound begin with SR or RR: reduced-size RTCP (RFC 5506) does not, and
neither do real peers (baresip sends an APP "PING" alone at the start of a
call and its final BYE without a report).  Building is strict (§6.1): a
compound starts with an SR or RR and carries an SDES CNAME, or
``LocalProtocolError`` is raised.  Padding is removed when parsing and never
added when building.

**Reports** (§6.4).  :meth:`ReportBlock.from_receiver` turns an
:class:`~phoneagent.media.rtp.RtpReceiver`'s figures (A.3 loss, A.8 jitter,
LSR/DLSR) into a report block — taking the fraction lost *resets its
interval*, so call it once per report sent — and :meth:`SenderInfo.from_sender`
turns an :class:`~phoneagent.media.rtp.RtpSender`'s counts into sender info.
:func:`make_compound` stacks SR or RR, SDES CNAME and optionally BYE.

**Time** (§4).  NTP timestamps are 64-bit fixed point seconds since 1900;
:func:`ntp_timestamp` converts a wall-clock ``float`` (Unix seconds) and
:func:`ntp_short` takes the middle 32 bits used as LSR.  Round-trip time
(§6.4.1, Figure 2) is ``A - LSR - DLSR`` in 1/65536 s, where ``A`` is when
the report block arrived, on the same clock as the one that stamped our SRs:
:func:`round_trip_time`.

**Interval** (§6.3, A.7), for the two participants of a phone call:
``max(5 s, avg_rtcp_size * 2 / rtcp_bw)`` where ``rtcp_bw`` is 5 % of the
session bandwidth (when it is known), times a random factor in [0.5, 1.5];
the first report waits for half the minimum (§6.2, A.7 ``initial``).  With
two members there is nothing for timer reconsideration to do, so its
e − 3/2 compensation is left out.  :class:`RtcpScheduler` holds the deadline:
``next_deadline``, ``due(now)``, ``sent(now, size)``.

Errors (DESIGN.md principle 5, media): :meth:`RtcpCompound.parse` raises
:class:`~phoneagent.media.rtp.MediaPacketError` and nothing else, whatever
the bytes (a fuzz test holds that); the caller drops and counts the datagram.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum

from phoneagent.media.rtp import MediaPacketError, RtpReceiver, RtpSender
from phoneagent.sip.errors import LocalProtocolError

__all__ = [
    "NTP_UNIX_OFFSET",
    "Goodbye",
    "ReceiverReport",
    "ReportBlock",
    "RtcpCompound",
    "RtcpPacket",
    "RtcpPacketType",
    "RtcpScheduler",
    "SdesChunk",
    "SdesItem",
    "SdesItemType",
    "SenderInfo",
    "SenderReport",
    "SourceDescription",
    "UnknownRtcpPacket",
    "looks_like_rtcp",
    "make_compound",
    "ntp_short",
    "ntp_timestamp",
    "ntp_to_unix",
    "round_trip_time",
]

NTP_UNIX_OFFSET = 2_208_988_800
"""Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01)."""

_HEADER = struct.Struct("!BBH")  # V/P/count, packet type, length in words - 1
_REPORT_BLOCK = struct.Struct("!IB3sIIII")
_SENDER_INFO = struct.Struct("!QIII")
_SSRC = struct.Struct("!I")
_MAX_COUNT = 31  # the 5-bit count field


class RtcpPacketType(IntEnum):
    """RTCP packet types (RFC 3550 §12.1 and later registrations)."""

    SR = 200
    RR = 201
    SDES = 202
    BYE = 203
    APP = 204
    RTPFB = 205  # RFC 4585
    PSFB = 206  # RFC 4585
    XR = 207  # RFC 3611


class SdesItemType(IntEnum):
    """SDES item types (RFC 3550 §6.5)."""

    END = 0
    CNAME = 1
    NAME = 2
    EMAIL = 3
    PHONE = 4
    LOC = 5
    TOOL = 6
    NOTE = 7
    PRIV = 8


def looks_like_rtcp(data: bytes) -> bool:
    """Whether a datagram on a muxed RTP/RTCP port is RTCP (RFC 5761 §4: PT 192–223)."""
    return len(data) >= 2 and 192 <= data[1] <= 223


# --- NTP time (§4) ---------------------------------------------------------------------


def ntp_timestamp(unix_time: float) -> int:
    """The 64-bit NTP timestamp of a wall-clock time in Unix seconds (wraps in 2036)."""
    seconds = int(unix_time // 1)
    fraction = int((unix_time - seconds) * (1 << 32))
    return (((seconds + NTP_UNIX_OFFSET) & 0xFFFF_FFFF) << 32) | fraction


def ntp_to_unix(ntp: int) -> float:
    """Unix seconds of a 64-bit NTP timestamp.

    The seconds field wraps in February 2036; as RFC 4330 §3 suggests, a
    value with the top bit clear is taken to be after the wrap (era 1).
    """
    seconds = ntp >> 32
    if not seconds & 0x8000_0000:
        seconds += 1 << 32
    return seconds - NTP_UNIX_OFFSET + (ntp & 0xFFFF_FFFF) / (1 << 32)


def ntp_short(ntp: int) -> int:
    """The middle 32 bits of a 64-bit NTP timestamp (16.16 fixed point), as in LSR (§6.4.1)."""
    return (ntp >> 16) & 0xFFFF_FFFF


# --- report blocks and sender info (§6.4) ----------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One reception report block (§6.4.1)::

        |                 SSRC_1 (SSRC of first source)                 |
        | fraction lost |       cumulative number of packets lost       |
        |           extended highest sequence number received           |
        |                      interarrival jitter                      |
        |                         last SR (LSR)                         |
        |                   delay since last SR (DLSR)                  |

    ``fraction_lost`` is in 1/256; ``cumulative_lost`` a signed 24-bit
    count; ``jitter`` in timestamp units; ``last_sr`` the middle 32 bits of
    the last SR's NTP timestamp; ``delay_since_last_sr`` in 1/65536 s.
    """

    ssrc: int
    fraction_lost: int = 0
    cumulative_lost: int = 0
    highest_sequence: int = 0
    jitter: int = 0
    last_sr: int = 0
    delay_since_last_sr: int = 0

    SIZE = 24

    def __post_init__(self) -> None:
        _check_u32("SSRC", self.ssrc)
        _check_range("fraction lost", self.fraction_lost, 0, 0xFF)
        _check_range("cumulative lost", self.cumulative_lost, -0x80_0000, 0x7F_FFFF)
        _check_u32("extended highest sequence number", self.highest_sequence)
        _check_u32("jitter", self.jitter)
        _check_u32("LSR", self.last_sr)
        _check_u32("DLSR", self.delay_since_last_sr)

    @classmethod
    def from_receiver(cls, receiver: RtpReceiver, now: float) -> ReportBlock | None:
        """The report block about the source ``receiver`` follows, or None before one.

        Takes the A.3 fraction lost, which starts a new interval: call it
        once per report actually sent.
        """
        source = receiver.source
        if source is None:
            return None
        return cls(
            ssrc=source.ssrc,
            fraction_lost=source.take_fraction_lost(),
            cumulative_lost=source.cumulative_lost,
            highest_sequence=source.extended_highest_sequence & 0xFFFF_FFFF,
            jitter=min(int(source.jitter), 0xFFFF_FFFF),
            last_sr=receiver.last_sender_report,
            delay_since_last_sr=receiver.delay_since_last_sender_report(now),
        )

    def __bytes__(self) -> bytes:
        return _REPORT_BLOCK.pack(
            self.ssrc,
            self.fraction_lost,
            (self.cumulative_lost & 0xFF_FFFF).to_bytes(3, "big"),
            self.highest_sequence,
            self.jitter,
            self.last_sr,
            self.delay_since_last_sr,
        )

    @classmethod
    def _unpack(cls, data: bytes, offset: int) -> ReportBlock:
        ssrc, fraction, lost, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, offset)
        cumulative = int.from_bytes(lost, "big")
        if cumulative & 0x80_0000:
            cumulative -= 1 << 24
        return cls(ssrc, fraction, cumulative, highest, jitter, lsr, dlsr)


@dataclass(frozen=True, slots=True)
class SenderInfo:
    """The sender information of an SR (§6.4.1): what was sent, stamped in both clocks."""

    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int

    def __post_init__(self) -> None:
        _check_range("NTP timestamp", self.ntp_timestamp, 0, (1 << 64) - 1)
        _check_u32("RTP timestamp", self.rtp_timestamp)
        _check_u32("packet count", self.packet_count)
        _check_u32("octet count", self.octet_count)

    @classmethod
    def from_sender(cls, sender: RtpSender, ntp_time: int, now: float) -> SenderInfo:
        """Sender info for ``sender`` at ``now`` (its packetize clock), ``ntp_time`` on the wall.

        The counts wrap at 2^32 as §6.4.1 says they do.
        """
        return cls(
            ntp_timestamp=ntp_time,
            rtp_timestamp=sender.timestamp_at(now),
            packet_count=sender.packet_count & 0xFFFF_FFFF,
            octet_count=sender.octet_count & 0xFFFF_FFFF,
        )


# --- the packet types --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SenderReport:
    """SR (§6.4.1): sender info and up to 31 report blocks; ``extension`` is profile-specific."""

    ssrc: int
    sender_info: SenderInfo
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    def __post_init__(self) -> None:
        _check_u32("SSRC", self.ssrc)
        _check_count("report blocks", len(self.reports))
        _check_words("SR extension", self.extension)

    def __bytes__(self) -> bytes:
        info = self.sender_info
        body = b"".join(
            [
                _SSRC.pack(self.ssrc),
                _SENDER_INFO.pack(
                    info.ntp_timestamp, info.rtp_timestamp, info.packet_count, info.octet_count
                ),
                *(bytes(block) for block in self.reports),
                self.extension,
            ]
        )
        return _packet(RtcpPacketType.SR, len(self.reports), body)

    @classmethod
    def _parse_body(cls, count: int, body: bytes) -> SenderReport:
        needed = _SSRC.size + _SENDER_INFO.size + count * ReportBlock.SIZE
        if len(body) < needed:
            raise MediaPacketError(
                f"SR with {count} report blocks needs {needed} octets, has {len(body)}"
            )
        (ssrc,) = _SSRC.unpack_from(body)
        info = SenderInfo(*_SENDER_INFO.unpack_from(body, _SSRC.size))
        start = _SSRC.size + _SENDER_INFO.size
        return cls(ssrc, info, _report_blocks(body, start, count), bytes(body[needed:]))


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """RR (§6.4.2): up to 31 report blocks; ``extension`` is profile-specific."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    def __post_init__(self) -> None:
        _check_u32("SSRC", self.ssrc)
        _check_count("report blocks", len(self.reports))
        _check_words("RR extension", self.extension)

    def __bytes__(self) -> bytes:
        body = b"".join(
            [_SSRC.pack(self.ssrc), *(bytes(block) for block in self.reports), self.extension]
        )
        return _packet(RtcpPacketType.RR, len(self.reports), body)

    @classmethod
    def _parse_body(cls, count: int, body: bytes) -> ReceiverReport:
        needed = _SSRC.size + count * ReportBlock.SIZE
        if len(body) < needed:
            raise MediaPacketError(
                f"RR with {count} report blocks needs {needed} octets, has {len(body)}"
            )
        (ssrc,) = _SSRC.unpack_from(body)
        return cls(ssrc, _report_blocks(body, _SSRC.size, count), bytes(body[needed:]))


@dataclass(frozen=True, slots=True)
class SdesItem:
    """One SDES item (§6.5): a type and UTF-8 text of at most 255 octets.

    Text that is not valid UTF-8 is decoded with replacement characters.  A
    PRIV item (§6.5.8) keeps its prefix-length octet and prefix in ``text``.
    The length is checked when the item is serialised (a parsed item whose
    replacement characters made it longer must not fail to parse).
    """

    item_type: int
    text: str

    def __post_init__(self) -> None:
        _check_range("SDES item type", self.item_type, 1, 0xFF)

    def __bytes__(self) -> bytes:
        value = self.text.encode("utf-8")
        if len(value) > 0xFF:
            raise LocalProtocolError(f"SDES item text over 255 octets: {self.text[:40]!r}…")
        return bytes((self.item_type, len(value))) + value


@dataclass(frozen=True, slots=True)
class SdesChunk:
    """The items describing one SSRC or CSRC (§6.5)."""

    ssrc: int
    items: tuple[SdesItem, ...] = ()

    def __post_init__(self) -> None:
        _check_u32("SSRC", self.ssrc)

    @property
    def cname(self) -> str | None:
        """The CNAME item's text (§6.5.1), or None."""
        for item in self.items:
            if item.item_type == SdesItemType.CNAME:
                return item.text
        return None

    def __bytes__(self) -> bytes:
        encoded = _SSRC.pack(self.ssrc) + b"".join(bytes(item) for item in self.items)
        # The item list ends with a null octet, and more pad to the next 32-bit boundary.
        return encoded + bytes(4 - len(encoded) % 4)


@dataclass(frozen=True, slots=True)
class SourceDescription:
    """SDES (§6.5): up to 31 chunks."""

    chunks: tuple[SdesChunk, ...] = ()

    def __post_init__(self) -> None:
        _check_count("SDES chunks", len(self.chunks))

    @property
    def cname(self) -> str | None:
        """The first chunk's CNAME."""
        return self.chunks[0].cname if self.chunks else None

    def __bytes__(self) -> bytes:
        body = b"".join(bytes(chunk) for chunk in self.chunks)
        return _packet(RtcpPacketType.SDES, len(self.chunks), body)

    @classmethod
    def _parse_body(cls, count: int, body: bytes) -> SourceDescription:
        chunks: list[SdesChunk] = []
        offset = 0
        for _ in range(count):
            if offset + _SSRC.size > len(body):
                raise MediaPacketError(f"SDES announces {count} chunks, the body holds fewer")
            (ssrc,) = _SSRC.unpack_from(body, offset)
            offset += _SSRC.size
            items: list[SdesItem] = []
            while True:
                if offset >= len(body):
                    raise MediaPacketError(f"SDES chunk of {ssrc:#010x} has no end of items")
                item_type = body[offset]
                if item_type == SdesItemType.END:
                    # The null octet and padding to a word; the body is whole words, so
                    # this never passes its end.
                    offset = (offset + 4) & ~3
                    break
                if offset + 2 > len(body):
                    raise MediaPacketError("SDES item header overruns the packet")
                length = body[offset + 1]
                end = offset + 2 + length
                if end > len(body):
                    raise MediaPacketError(
                        f"SDES item of type {item_type} and {length} octets overruns the packet"
                    )
                text = bytes(body[offset + 2 : end]).decode("utf-8", errors="replace")
                items.append(SdesItem(item_type, text))
                offset = end
            chunks.append(SdesChunk(ssrc, tuple(items)))
        if offset != len(body):
            raise MediaPacketError(f"{len(body) - offset} octets after the last SDES chunk")
        return cls(tuple(chunks))


@dataclass(frozen=True, slots=True)
class Goodbye:
    """BYE (§6.6): the sources leaving and an optional reason (UTF-8, ≤ 255 octets).

    As for SDES text, a reason that is not UTF-8 is decoded with replacement
    characters and the length is checked when serialising.
    """

    ssrcs: tuple[int, ...]
    reason: str | None = None

    def __post_init__(self) -> None:
        _check_count("BYE sources", len(self.ssrcs))
        for ssrc in self.ssrcs:
            _check_u32("SSRC", ssrc)

    def __bytes__(self) -> bytes:
        body = b"".join(_SSRC.pack(ssrc) for ssrc in self.ssrcs)
        if self.reason is not None:
            reason = self.reason.encode("utf-8")
            if len(reason) > 0xFF:
                raise LocalProtocolError("BYE reason over 255 octets")
            body += bytes((len(reason),)) + reason
            body += bytes(-len(body) % 4)
        return _packet(RtcpPacketType.BYE, len(self.ssrcs), body)

    @classmethod
    def _parse_body(cls, count: int, body: bytes) -> Goodbye:
        end = count * _SSRC.size
        if end > len(body):
            raise MediaPacketError(f"BYE announces {count} sources, the body holds fewer")
        ssrcs = tuple(_SSRC.unpack_from(body, offset)[0] for offset in range(0, end, 4))
        reason: str | None = None
        if end < len(body):
            length = body[end]
            if end + 1 + length > len(body):
                raise MediaPacketError(f"BYE reason of {length} octets overruns the packet")
            reason = bytes(body[end + 1 : end + 1 + length]).decode("utf-8", errors="replace")
        return cls(ssrcs, reason)


@dataclass(frozen=True, slots=True)
class UnknownRtcpPacket:
    """A packet of a type this phone does not interpret (APP, feedback, XR, …): kept raw.

    ``count`` is the 5-bit field after the P bit (a subtype for APP and feedback).
    """

    packet_type: int
    count: int
    body: bytes

    def __post_init__(self) -> None:
        _check_range("packet type", self.packet_type, 0, 0xFF)
        _check_count("count field", self.count)
        _check_words("packet body", self.body)

    def __bytes__(self) -> bytes:
        return _packet(self.packet_type, self.count, self.body)


RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Goodbye | UnknownRtcpPacket

_PARSERS: dict[int, Callable[[int, bytes], RtcpPacket]] = {
    RtcpPacketType.SR: SenderReport._parse_body,
    RtcpPacketType.RR: ReceiverReport._parse_body,
    RtcpPacketType.SDES: SourceDescription._parse_body,
    RtcpPacketType.BYE: Goodbye._parse_body,
}


@dataclass(frozen=True, slots=True)
class RtcpCompound:
    """A compound RTCP packet: the packets of one datagram, in order (§6.1)."""

    packets: tuple[RtcpPacket, ...]

    def __iter__(self) -> Iterator[RtcpPacket]:
        return iter(self.packets)

    @property
    def cname(self) -> str | None:
        """The CNAME of the first SDES packet that has one."""
        for packet in self.packets:
            if isinstance(packet, SourceDescription):
                for chunk in packet.chunks:
                    if chunk.cname is not None:
                        return chunk.cname
        return None

    def report_blocks_about(self, ssrc: int) -> list[ReportBlock]:
        """Report blocks (in SRs and RRs) about source ``ssrc`` — ours, to learn RTT and loss."""
        return [
            block
            for packet in self.packets
            if isinstance(packet, SenderReport | ReceiverReport)
            for block in packet.reports
            if block.ssrc == ssrc
        ]

    def __bytes__(self) -> bytes:
        """The datagram; :class:`LocalProtocolError` unless it starts with SR/RR and has a CNAME."""
        if not self.packets or not isinstance(self.packets[0], SenderReport | ReceiverReport):
            raise LocalProtocolError("a compound RTCP packet must start with an SR or RR (§6.1)")
        if self.cname is None:
            raise LocalProtocolError("a compound RTCP packet must carry an SDES CNAME (§6.1)")
        return b"".join(bytes(packet) for packet in self.packets)

    @classmethod
    def parse(cls, data: bytes) -> RtcpCompound:
        """Parse one datagram of RTCP; :class:`MediaPacketError` if malformed (A.2)."""
        if len(data) < _HEADER.size:
            raise MediaPacketError(f"RTCP datagram of {len(data)} octets")
        packets: list[RtcpPacket] = []
        offset = 0
        while offset < len(data):
            if len(data) - offset < _HEADER.size:
                raise MediaPacketError(f"{len(data) - offset} stray octets after RTCP packets")
            first, packet_type, words = _HEADER.unpack_from(data, offset)
            if first >> 6 != 2:
                raise MediaPacketError(f"RTCP version {first >> 6}, not 2")
            end = offset + 4 * (words + 1)
            if end > len(data):
                raise MediaPacketError(
                    f"RTCP packet type {packet_type} of {4 * (words + 1)} octets overruns "
                    f"the {len(data)}-octet datagram"
                )
            body_end = end
            if first & 0x20:
                if end != len(data):
                    raise MediaPacketError("padding on an RTCP packet that is not the last")
                padding = data[end - 1]
                # §6.4.1: the count includes itself "and will be a multiple of four".
                if padding == 0 or padding % 4 or padding > end - offset - _HEADER.size:
                    raise MediaPacketError(f"bad RTCP padding count {padding}")
                body_end = end - padding
            count = first & 0x1F
            body = bytes(data[offset + _HEADER.size : body_end])
            parser = _PARSERS.get(packet_type)
            if parser is None:
                packets.append(UnknownRtcpPacket(packet_type, count, body))
            else:
                packets.append(parser(count, body))
            offset = end
        return cls(tuple(packets))


def make_compound(
    ssrc: int,
    cname: str,
    *,
    sender_info: SenderInfo | None = None,
    reports: Sequence[ReportBlock] = (),
    goodbye: bool = False,
    reason: str | None = None,
) -> RtcpCompound:
    """The compound a participant sends (§6.1): SR (with ``sender_info``) or RR, SDES CNAME.

    Pass ``sender_info`` when we sent RTP since the last report (§6.4).
    ``goodbye=True`` appends a BYE for ``ssrc`` with ``reason`` (§6.6).
    """
    first: RtcpPacket
    if sender_info is not None:
        first = SenderReport(ssrc, sender_info, tuple(reports))
    else:
        first = ReceiverReport(ssrc, tuple(reports))
    packets: list[RtcpPacket] = [
        first,
        SourceDescription((SdesChunk(ssrc, (SdesItem(SdesItemType.CNAME, cname),)),)),
    ]
    if goodbye:
        packets.append(Goodbye((ssrc,), reason))
    return RtcpCompound(tuple(packets))


def round_trip_time(block: ReportBlock, arrival_ntp: int) -> float | None:
    """Round-trip time in seconds from a report block about us (§6.4.1, Figure 2).

    ``arrival_ntp`` is the 64-bit NTP time the block arrived, on the clock
    our SRs were stamped with.  None when the peer has not received an SR
    yet (LSR 0) or the result would be negative (clocks that jumped).
    """
    if block.last_sr == 0:
        return None
    rtt = (ntp_short(arrival_ntp) - block.last_sr - block.delay_since_last_sr) & 0xFFFF_FFFF
    if rtt & 0x8000_0000:
        return None
    return rtt / 65536.0


# --- transmission interval (§6.3, A.7) -------------------------------------------------


class RtcpScheduler:
    """When to send the next compound: a deadline on the caller's clock (see the module doc).

    ``session_bandwidth`` is in bits per second (the SDP ``b=AS`` or the
    codec's rate with headers), ``None`` for "low enough that the 5 s
    minimum applies".  ``rng`` draws the [0.5, 1.5] factor.
    """

    __slots__ = (
        "_rng",
        "average_packet_size",
        "minimum_interval",
        "next_deadline",
        "session_bandwidth",
    )

    MINIMUM_INTERVAL = 5.0
    """§6.2: the recommended minimum between reports, in seconds."""
    RTCP_FRACTION = 0.05
    """§6.2: RTCP gets 5 % of the session bandwidth."""
    MEMBERS = 2
    IP_UDP_OVERHEAD = 28
    """§6.3.3: the average counts lower-layer headers; IPv4 and UDP take 28 octets."""

    def __init__(
        self,
        now: float,
        rng: random.Random,
        *,
        session_bandwidth: float | None = None,
        minimum_interval: float = MINIMUM_INTERVAL,
        initial_packet_size: int = 100,
    ) -> None:
        if minimum_interval <= 0:
            raise LocalProtocolError(f"minimum interval must be positive: {minimum_interval}")
        if session_bandwidth is not None and session_bandwidth <= 0:
            raise LocalProtocolError(f"session bandwidth must be positive: {session_bandwidth}")
        self._rng = rng
        self.session_bandwidth = session_bandwidth
        self.minimum_interval = minimum_interval
        self.average_packet_size = float(initial_packet_size + self.IP_UDP_OVERHEAD)
        """avg_rtcp_size of §6.3.3, in octets including IP and UDP headers."""
        self.next_deadline = now + self._randomised(self.deterministic_interval(initial=True))
        """When the next compound is due, on the caller's clock."""

    def deterministic_interval(self, *, initial: bool = False) -> float:
        """``Td`` of §6.3.1 for two members, before randomisation."""
        minimum = self.minimum_interval / 2 if initial else self.minimum_interval
        if self.session_bandwidth is None:
            return minimum
        rtcp_bandwidth = self.session_bandwidth * self.RTCP_FRACTION / 8  # octets per second
        return max(minimum, self.average_packet_size * self.MEMBERS / rtcp_bandwidth)

    def _randomised(self, interval: float) -> float:
        return interval * self._rng.uniform(0.5, 1.5)

    def due(self, now: float) -> bool:
        """Whether a compound should be sent at ``now``."""
        return now >= self.next_deadline

    def sent(self, now: float, size: int) -> None:
        """A compound of ``size`` octets (UDP payload) went out at ``now``: schedule the next."""
        self.note_packet_size(size)
        self.next_deadline = now + self._randomised(self.deterministic_interval())

    def received(self, size: int) -> None:
        """A compound of ``size`` octets arrived: it counts in the average size (§6.3.3)."""
        self.note_packet_size(size)

    def note_packet_size(self, size: int) -> None:
        """§6.3.3: ``avg_rtcp_size = 1/16 * packet_size + 15/16 * avg_rtcp_size``."""
        self.average_packet_size += (size + self.IP_UDP_OVERHEAD - self.average_packet_size) / 16


# --- internals ---------------------------------------------------------------------------


def _packet(packet_type: int, count: int, body: bytes) -> bytes:
    """Header and ``body`` (a whole number of words) of one RTCP packet, without padding."""
    return _HEADER.pack(0x80 | count, packet_type, len(body) // 4) + body


def _report_blocks(body: bytes, start: int, count: int) -> tuple[ReportBlock, ...]:
    return tuple(
        ReportBlock._unpack(body, start + index * ReportBlock.SIZE) for index in range(count)
    )


def _check_range(name: str, value: int, minimum: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise LocalProtocolError(f"{name} must be an integer in {minimum}..{maximum}: {value!r}")


def _check_u32(name: str, value: int) -> None:
    _check_range(name, value, 0, 0xFFFF_FFFF)


def _check_count(name: str, count: int) -> None:
    if count > _MAX_COUNT:
        raise LocalProtocolError(f"at most 31 {name} fit one RTCP packet, not {count}")


def _check_words(name: str, data: bytes) -> None:
    if len(data) % 4:
        raise LocalProtocolError(f"{name} must be whole 32-bit words, not {len(data)} octets")
