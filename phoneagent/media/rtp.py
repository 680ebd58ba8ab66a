"""RTP packets, the sending side and the receiving side's per-source state (RFC 3550), sans-IO.

Theory of operation
-------------------
**Wire format** (RFC 3550 §5.1, §5.3.1).  :class:`RtpPacket` is one packet with
``parse()`` and ``__bytes__``::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P|X|  CC   |M|     PT      |       sequence number         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                           timestamp                           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |           synchronization source (SSRC) identifier            |
    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
    |            contributing source (CSRC) identifiers             |
    |                             ....  (CC of them)                |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |      defined by profile       |           length              |  } when X is set
    |                        header extension  (length words)       |  }
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |   payload ...                 |  padding (P set): ... | count |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

``header_length`` is everything up to the payload — fixed header, CSRCs and
extension — which is exactly what SRTP leaves unencrypted (RFC 3711 §3.1).
CSRCs and extensions are parsed and carried, never interpreted.  ``padding``
is the number of padding octets *including* the final count octet (so ``1``
is the smallest padding); 0 means the P bit is clear.

**Sending** (§5.1): :class:`RtpSender` starts sequence number and timestamp
at random values, adds 1 to the sequence number per packet (65535 wraps to
0) and the sample count to the timestamp (wrapping at 2^32), sets the marker
bit on the first packet of a talkspurt (RFC 3551 §4.1) and counts the packets
and payload octets a sender report needs (§6.4.1).  ``skip()`` advances the
timestamp over silence that is not sent.

**Receiving** (§6.4.1 and Appendix A).  :class:`RtpSource` is the state of
one synchronisation source: the sequence-number bookkeeping of A.1
(``update_seq``: ``MIN_SEQUENTIAL`` packets in a row before a new source is
valid, gaps up to ``MAX_DROPOUT`` accepted, packets up to ``MAX_MISORDER``
behind taken as reordered, a larger jump believed only when the next packet
follows it — the peer restarted), the loss figures of A.3 and the
interarrival jitter of A.8, with the arrival time converted from ``now``
seconds into timestamp units.  A 128-packet bitmap of received sequence
numbers (wider than ``MAX_MISORDER``) recognises duplicates, which A.1 does
not.

:class:`RtpReceiver` follows *one* far-end source, the one a phone plays,
and decides what to pass on to the jitter buffer:

* the packets of a new source are *held* while it is on probation and passed
  on together, oldest first, once it is valid — nothing is lost to probation
  and the held packets count as received (A.1 would drop and not count them);
* a packet from another SSRC while a source is current starts a *candidate*
  source on probation.  Once the candidate has sent ``MIN_SEQUENTIAL``
  packets in sequence with no packet from the current source in between, it
  replaces the current source at once and its held packets are passed on:
  the new stream is followed without a gap (one packet waits one packet
  interval, which the jitter buffer absorbs).  A packet from the current
  source while a candidate is on probation drops the candidate, so two
  interleaved streams (forked early media, a misrouted stream) never make
  the receiver flip between them, and a stray packet of an old source does
  not take over.  Each replacement counts in ``ssrc_changes``.  (Reordering
  across a switch can cost the new source's first packet; two stragglers of
  the old source in a row would switch back once.)
* duplicates, packets more than ``MAX_MISORDER`` behind, unconfirmed big jumps
  and undecodable datagrams are dropped, counted and logged at debug level.
  As §6.4.1 defines it, the A.1 ``received`` count (and hence the cumulative
  loss, which may go negative) includes duplicates and reordered packets.

Errors (DESIGN.md principle 5, media): :meth:`RtpPacket.parse` raises
:class:`MediaPacketError` — a ``RemoteProtocolError`` without a status hint,
as there is nobody to answer — and nothing else, whatever the bytes; a fuzz
test holds that.  :meth:`RtpReceiver.receive_datagram` catches it, counts the
datagram as malformed and drops it, so bad packets never reach the loop.
Building a packet with out-of-range fields is our own bug and raises
``LocalProtocolError``.
"""

from __future__ import annotations

import logging
import random
import struct
from dataclasses import dataclass
from enum import Enum

from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "MAX_DROPOUT",
    "MAX_MISORDER",
    "MIN_SEQUENTIAL",
    "RTP_HEADER_SIZE",
    "RTP_VERSION",
    "SEQUENCE_MODULO",
    "TIMESTAMP_MODULO",
    "MediaPacketError",
    "ReceiveResult",
    "RtpExtension",
    "RtpPacket",
    "RtpReceiver",
    "RtpSender",
    "RtpSource",
    "RtpVerdict",
    "seq_delta",
    "seq_newer",
    "timestamp_delta",
    "timestamp_newer",
]

log = logging.getLogger(__name__)

RTP_VERSION = 2
RTP_HEADER_SIZE = 12
"""The fixed part of the header (§5.1), before CSRCs and extension."""
SEQUENCE_MODULO = 1 << 16
TIMESTAMP_MODULO = 1 << 32

# RFC 3550 Appendix A.1.
MAX_DROPOUT = 3000
MAX_MISORDER = 100
MIN_SEQUENTIAL = 2

_FIXED_HEADER = struct.Struct("!BBHII")  # V/P/X/CC, M/PT, sequence, timestamp, SSRC
_EXTENSION_HEADER = struct.Struct("!HH")  # defined by profile, length in 32-bit words
_MAX_CSRCS = 15
_SEEN_WINDOW = 128  # duplicate-detection bitmap, wider than MAX_MISORDER
_SEEN_MASK = (1 << _SEEN_WINDOW) - 1


class MediaPacketError(RemoteProtocolError):
    """An RTP or RTCP packet that is malformed; it is dropped and counted, never answered."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, status_hint=None)


# --- sequence number and timestamp arithmetic (§5.1: both wrap) --------------------------


def seq_delta(a: int, b: int) -> int:
    """``a - b`` for 16-bit sequence numbers, as the shortest signed distance (-32768…32767)."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def seq_newer(a: int, b: int) -> bool:
    """Whether sequence number ``a`` comes after ``b`` (modulo 2^16)."""
    return seq_delta(a, b) > 0


def timestamp_delta(a: int, b: int) -> int:
    """``a - b`` for 32-bit RTP timestamps, as the shortest signed distance."""
    return ((a - b + 0x8000_0000) & 0xFFFF_FFFF) - 0x8000_0000


def timestamp_newer(a: int, b: int) -> bool:
    """Whether RTP timestamp ``a`` comes after ``b`` (modulo 2^32)."""
    return timestamp_delta(a, b) > 0


# --- wire format ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RtpExtension:
    """An RTP header extension (§5.3.1): a 16-bit profile value and whole 32-bit words.

    ``data`` is kept as it came (an RFC 8285 one- or two-byte element list
    included); nothing here interprets it.
    """

    profile: int
    data: bytes = b""

    def __post_init__(self) -> None:
        _check_range("extension profile", self.profile, 0xFFFF)
        if len(self.data) % 4 or len(self.data) > 0xFFFF * 4:
            raise LocalProtocolError(
                f"an RTP header extension is up to 65535 whole 32-bit words, "
                f"not {len(self.data)} octets"
            )

    def __bytes__(self) -> bytes:
        return _EXTENSION_HEADER.pack(self.profile, len(self.data) // 4) + self.data


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet (RFC 3550 §5.1); see the module docstring for the layout.

    ``padding`` counts the padding octets including the final count octet
    (0: no padding, P bit clear).
    """

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: RtpExtension | None = None
    padding: int = 0

    def __post_init__(self) -> None:
        _check_range("payload type", self.payload_type, 0x7F)
        _check_range("sequence number", self.sequence, 0xFFFF)
        _check_range("timestamp", self.timestamp, 0xFFFF_FFFF)
        _check_range("SSRC", self.ssrc, 0xFFFF_FFFF)
        _check_range("padding", self.padding, 0xFF)
        if len(self.csrcs) > _MAX_CSRCS:
            raise LocalProtocolError(f"at most 15 CSRCs, not {len(self.csrcs)}")
        for csrc in self.csrcs:
            _check_range("CSRC", csrc, 0xFFFF_FFFF)

    @property
    def header_length(self) -> int:
        """Octets before the payload: fixed header, CSRC list and header extension."""
        length = RTP_HEADER_SIZE + 4 * len(self.csrcs)
        if self.extension is not None:
            length += _EXTENSION_HEADER.size + len(self.extension.data)
        return length

    def __len__(self) -> int:
        return self.header_length + len(self.payload) + self.padding

    def __bytes__(self) -> bytes:
        first = (
            (RTP_VERSION << 6)
            | (0x20 if self.padding else 0)
            | (0x10 if self.extension is not None else 0)
            | len(self.csrcs)
        )
        second = (0x80 if self.marker else 0) | self.payload_type
        parts = [_FIXED_HEADER.pack(first, second, self.sequence, self.timestamp, self.ssrc)]
        parts.extend(csrc.to_bytes(4, "big") for csrc in self.csrcs)
        if self.extension is not None:
            parts.append(bytes(self.extension))
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes((self.padding,)))
        return b"".join(parts)

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one RTP packet, a whole datagram; :class:`MediaPacketError` if malformed.

        Applies the header checks of A.1 that do not need session state:
        version 2, a CSRC list and extension that fit, and, with P set, a
        padding count of at least 1 that does not reach into the header.
        (A.1 also wants the payload non-empty; padding-only packets, which
        real senders use as bandwidth probes, are accepted with an empty
        payload.)  Whether the payload type is known is the session's
        business.
        """
        size = len(data)
        if size < RTP_HEADER_SIZE:
            raise MediaPacketError(f"RTP packet of {size} octets is shorter than its header")
        first, second, sequence, timestamp, ssrc = _FIXED_HEADER.unpack_from(data)
        version = first >> 6
        if version != RTP_VERSION:
            raise MediaPacketError(f"RTP version {version}, not 2")
        csrc_count = first & 0x0F
        offset = RTP_HEADER_SIZE + 4 * csrc_count
        if offset > size:
            raise MediaPacketError(
                f"CSRC count {csrc_count} needs {offset} octets, the packet has {size}"
            )
        csrcs = tuple(
            int.from_bytes(data[start : start + 4], "big")
            for start in range(RTP_HEADER_SIZE, offset, 4)
        )
        extension: RtpExtension | None = None
        if first & 0x10:
            if offset + _EXTENSION_HEADER.size > size:
                raise MediaPacketError("X bit set but no room for the header extension header")
            profile, words = _EXTENSION_HEADER.unpack_from(data, offset)
            start = offset + _EXTENSION_HEADER.size
            offset = start + 4 * words
            if offset > size:
                raise MediaPacketError(
                    f"header extension of {words} words overruns the {size}-octet packet"
                )
            extension = RtpExtension(profile, bytes(data[start:offset]))
        padding = 0
        end = size
        if first & 0x20:
            padding = data[-1]
            if padding == 0:
                raise MediaPacketError("P bit set but the padding count is 0")
            if padding > size - offset:
                raise MediaPacketError(
                    f"padding count {padding} exceeds the {size - offset} octets after the header"
                )
            end = size - padding
        return cls(
            payload_type=second & 0x7F,
            sequence=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=bytes(data[offset:end]),
            marker=bool(second & 0x80),
            csrcs=csrcs,
            extension=extension,
            padding=padding,
        )


def _check_range(name: str, value: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise LocalProtocolError(f"{name} must be an integer in 0..{maximum}, not {value!r}")


# --- sending -------------------------------------------------------------------------------


class RtpSender:
    """The sending side of one RTP stream (RFC 3550 §5.1, §6.4.1).

    ``rng`` draws the initial sequence number and timestamp (§5.1 wants
    them unpredictable; pass ``random.SystemRandom()`` in production, a
    seeded ``random.Random`` in tests).  ``clock_rate`` is the RTP clock of
    the payload format (8000 for PCMU, PCMA and G.722).

    Every ``packetize()`` uses the current sequence number and timestamp,
    then adds 1 and ``samples``.  The marker bit is set automatically on the
    first packet and on the first packet after ``start_talkspurt()``;
    ``marker=True``/``False`` overrides that for one packet.  ``skip()``
    advances the timestamp over silence that is not sent (DTX, hold).

    RFC 4733 telephone events share the stream: pass their ``payload_type``
    and ``timestamp`` (the event's start, constant across the event) and
    ``samples=0`` per update packet — the running timestamp is not touched by
    the override — and ``skip()`` the time the event replaced audio.

    ``now`` (seconds on the caller's clock) anchors the media clock:
    :meth:`timestamp_at` maps a time to the RTP timestamp of that instant,
    as a sender report (§6.4.1) and DTMF events need.
    """

    __slots__ = (
        "_anchor",
        "_talkspurt_pending",
        "clock_rate",
        "octet_count",
        "packet_count",
        "payload_type",
        "sequence",
        "ssrc",
        "timestamp",
    )

    def __init__(self, ssrc: int, payload_type: int, clock_rate: int, rng: random.Random) -> None:
        _check_range("SSRC", ssrc, 0xFFFF_FFFF)
        _check_range("payload type", payload_type, 0x7F)
        if clock_rate <= 0:
            raise LocalProtocolError(f"clock rate must be positive, not {clock_rate}")
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.sequence = rng.randrange(SEQUENCE_MODULO)
        """Sequence number of the next packet."""
        self.timestamp = rng.randrange(TIMESTAMP_MODULO)
        """RTP timestamp of the next packet's first sample."""
        self.packet_count = 0
        """Packets sent (§6.4.1 sender's packet count, not yet wrapped to 32 bits)."""
        self.octet_count = 0
        """Payload octets sent, without headers and padding (§6.4.1)."""
        self._talkspurt_pending = True
        self._anchor: tuple[float, int] | None = None

    def start_talkspurt(self) -> None:
        """Mark the next packet as the first of a talkspurt (after silence not sent)."""
        self._talkspurt_pending = True

    def packetize(
        self,
        payload: bytes,
        samples: int,
        marker: bool | None = None,
        *,
        payload_type: int | None = None,
        timestamp: int | None = None,
        now: float | None = None,
        padding: int = 0,
    ) -> RtpPacket:
        """The next packet for ``payload``, which holds ``samples`` timestamp units of media."""
        if samples < 0:
            raise LocalProtocolError(f"samples must not be negative, not {samples}")
        if marker is None:
            marker = self._talkspurt_pending
        packet_timestamp = self.timestamp if timestamp is None else timestamp
        packet = RtpPacket(
            payload_type=self.payload_type if payload_type is None else payload_type,
            sequence=self.sequence,
            timestamp=packet_timestamp,
            ssrc=self.ssrc,
            payload=payload,
            marker=marker,
            padding=padding,
        )
        self._talkspurt_pending = False
        if now is not None and timestamp is None:
            self._anchor = (now, self.timestamp)
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + samples) & 0xFFFF_FFFF
        self.packet_count += 1
        self.octet_count += len(payload)
        return packet

    def skip(self, samples: int) -> None:
        """Advance the timestamp over ``samples`` units not sent; a talkspurt starts next."""
        if samples < 0:
            raise LocalProtocolError(f"samples must not be negative, not {samples}")
        self.timestamp = (self.timestamp + samples) & 0xFFFF_FFFF
        self._talkspurt_pending = True

    def timestamp_at(self, when: float) -> int:
        """The RTP timestamp of the instant ``when`` on the clock of ``packetize(now=…)``.

        Extrapolated from the last packet sent with a ``now``; before any,
        the timestamp of the next packet.
        """
        if self._anchor is None:
            return self.timestamp
        anchor_time, anchor_timestamp = self._anchor
        elapsed = round((when - anchor_time) * self.clock_rate)
        return (anchor_timestamp + elapsed) & 0xFFFF_FFFF


# --- receiving -----------------------------------------------------------------------------


class RtpVerdict(Enum):
    """What became of one received packet."""

    ACCEPTED = "accepted"
    """In sequence, or after a gap of lost packets: passed on."""
    REORDERED = "reordered"
    """Behind the highest sequence number by at most MAX_MISORDER, first copy: passed on."""
    RESTARTED = "restarted"
    """Confirmed a big sequence jump: the source restarted, its state was reset; passed on."""
    VALIDATED = "validated"
    """Ended the probation of the first source: passed on with the packets held."""
    SOURCE_CHANGED = "source changed"
    """Validated a new SSRC, which replaced the current source: passed on with the held ones."""
    PROBATION = "probation"
    """From a source on probation: held until the source is valid."""
    DUPLICATE = "duplicate"
    """Already received: dropped."""
    TOO_OLD = "too old"
    """More than MAX_MISORDER behind: dropped (a second in a row would mean a restart)."""
    BAD_SEQUENCE = "bad sequence"
    """More than MAX_DROPOUT ahead: dropped unless the next packet follows it."""
    MALFORMED = "malformed"
    """Not a valid RTP packet: dropped."""

    @property
    def passes(self) -> bool:
        """Whether packets are passed on with this verdict."""
        return self.name in _PASSING


_PASSING = frozenset({"ACCEPTED", "REORDERED", "RESTARTED", "VALIDATED", "SOURCE_CHANGED"})


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    """The verdict on one received packet and the packets to pass on, oldest first.

    ``packets`` is empty when the packet was dropped or held, and holds more
    than one when a source became valid and its held packets go with it.
    """

    verdict: RtpVerdict
    packets: tuple[RtpPacket, ...] = ()


class RtpSource:
    """Per-source reception state: RFC 3550 A.1 (sequence), A.3 (loss) and A.8 (jitter).

    A new source starts on probation, as A.1 prescribes: ``MIN_SEQUENTIAL``
    packets with consecutive sequence numbers make it valid.  ``update_seq``
    implements A.1's ``update_seq()`` (with the wrap of ``max_seq + 1`` done
    modulo 2^16, which the C original gets wrong for sequence number 0) and
    returns a verdict instead of a boolean.
    """

    __slots__ = (
        "_arrival_prior",
        "_bad_sequence",
        "_base",
        "_seen",
        "_timestamp_prior",
        "cycles",
        "expected_prior",
        "jitter",
        "last_fraction_lost",
        "max_sequence",
        "probation",
        "received",
        "received_prior",
        "ssrc",
    )

    def __init__(self, ssrc: int, sequence: int) -> None:
        self.ssrc = ssrc
        self._init_sequence(sequence)
        # A.1, a new source: "s->max_seq = seq - 1; s->probation = MIN_SEQUENTIAL".
        self.max_sequence = (sequence - 1) & 0xFFFF
        self.probation = MIN_SEQUENTIAL
        self.jitter = 0.0
        """Interarrival jitter estimate in timestamp units (A.8)."""
        self.last_fraction_lost = 0
        """The fraction lost of the last :meth:`take_fraction_lost`, in 1/256."""
        self._arrival_prior: float | None = None
        self._timestamp_prior = 0

    def _init_sequence(self, sequence: int) -> None:
        """A.1 ``init_seq()``."""
        self._base = sequence  # extended: may go below 0 when held packets are added
        self.max_sequence = sequence
        self._bad_sequence = SEQUENCE_MODULO + 1  # so that sequence == bad_sequence is false
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0
        self._seen = 1

    @property
    def valid(self) -> bool:
        """Whether the source has left probation."""
        return self.probation == 0

    @property
    def extended_highest_sequence(self) -> int:
        """Cycles count and highest sequence number received (A.3 ``extended_max``)."""
        return self.cycles + self.max_sequence

    @property
    def base_sequence(self) -> int:
        """Extended sequence number of the first packet counted (A.1 ``base_seq``)."""
        return self._base

    @property
    def expected(self) -> int:
        """Packets expected since the source became valid (A.3)."""
        return self.extended_highest_sequence - self._base + 1

    @property
    def cumulative_lost(self) -> int:
        """Expected minus received, clamped to the signed 24 bits of a report block (A.3)."""
        return max(-0x80_0000, min(0x7F_FFFF, self.expected - self.received))

    def update_seq(self, sequence: int) -> RtpVerdict:
        """A.1 ``update_seq()``; duplicates are told apart with a bitmap of recent packets."""
        udelta = (sequence - self.max_sequence) & 0xFFFF
        if self.probation:
            if sequence == (self.max_sequence + 1) & 0xFFFF:
                self.probation -= 1
                self.max_sequence = sequence
                if self.probation == 0:
                    self._init_sequence(sequence)
                    self.received += 1
                    return RtpVerdict.VALIDATED
            else:
                self.probation = MIN_SEQUENTIAL - 1
                self.max_sequence = sequence
            return RtpVerdict.PROBATION
        if udelta == 0:
            self.received += 1  # §6.4.1: duplicates count as received
            return RtpVerdict.DUPLICATE
        if udelta < MAX_DROPOUT:
            if sequence < self.max_sequence:
                self.cycles += SEQUENCE_MODULO  # the sequence number wrapped
            self.max_sequence = sequence
            self._seen = ((self._seen << udelta) | 1) & _SEEN_MASK
            self.received += 1
            return RtpVerdict.ACCEPTED
        if udelta <= SEQUENCE_MODULO - MAX_MISORDER:
            if sequence == self._bad_sequence:
                # Two sequential packets: the other side restarted without telling us.
                self._init_sequence(sequence)
                self.received += 1
                return RtpVerdict.RESTARTED
            self._bad_sequence = (sequence + 1) & 0xFFFF
            return RtpVerdict.TOO_OLD if udelta >= 0x8000 else RtpVerdict.BAD_SEQUENCE
        behind = SEQUENCE_MODULO - udelta  # 1 … MAX_MISORDER - 1
        self.received += 1
        if (self._seen >> behind) & 1:
            return RtpVerdict.DUPLICATE
        self._seen |= 1 << behind
        return RtpVerdict.REORDERED

    def count_held(self, count: int) -> None:
        """Count ``count`` packets held in probation just before the validating one.

        They had consecutive sequence numbers ending right below the one that
        validated the source; the base moves back to the first of them.
        """
        self._base -= count
        self.received += count
        self._seen |= ((1 << (count + 1)) - 1) & _SEEN_MASK

    def update_jitter(self, arrival: float, timestamp: int) -> None:
        """A.8: ``J += (|D(i-1, i)| - J) / 16`` with arrival in timestamp units.

        ``D`` is computed from the difference of arrival times and the
        (wrapping) difference of timestamps.  A packet with the same
        timestamp as the previous sample (RFC 4733 event updates, video
        frames split over packets) was not sampled later and is left out.
        """
        if self._arrival_prior is not None:
            if timestamp == self._timestamp_prior:
                return
            difference = (arrival - self._arrival_prior) - timestamp_delta(
                timestamp, self._timestamp_prior
            )
            self.jitter += (abs(difference) - self.jitter) / 16.0
        self._arrival_prior = arrival
        self._timestamp_prior = timestamp

    def reset_jitter_reference(self) -> None:
        """Forget the previous transit time (after a restart the timestamps jump)."""
        self._arrival_prior = None

    def take_fraction_lost(self) -> int:
        """A.3: the fraction lost since the last call, in 1/256, for a reception report."""
        expected = self.expected
        expected_interval = expected - self.expected_prior
        self.expected_prior = expected
        received_interval = self.received - self.received_prior
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        if expected_interval <= 0 or lost_interval <= 0:
            fraction = 0
        else:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        self.last_fraction_lost = fraction
        return fraction


class RtpReceiver:
    """The receiving side of an RTP session: one followed source (see the module docstring).

    ``clock_rate`` converts ``now`` (seconds) into timestamp units for the
    jitter of A.8.  Feed it with :meth:`receive_datagram` (raw bytes) or
    :meth:`receive` (a packet already parsed, say after SRTP) and pass the
    result's ``packets`` to the jitter buffer.
    """

    __slots__ = (
        "_candidate",
        "_held",
        "_last_sr",
        "_lost_retired",
        "bad_sequence",
        "clock_rate",
        "duplicates",
        "malformed",
        "octets_received",
        "packets_delivered",
        "packets_received",
        "probation_dropped",
        "reordered",
        "restarts",
        "source",
        "ssrc_changes",
        "too_old",
    )

    def __init__(self, clock_rate: int) -> None:
        if clock_rate <= 0:
            raise LocalProtocolError(f"clock rate must be positive, not {clock_rate}")
        self.clock_rate = clock_rate
        self.source: RtpSource | None = None
        """The validated source being followed, or None before the first one."""
        self._candidate: RtpSource | None = None
        self._held: list[tuple[RtpPacket, float]] = []
        self._last_sr: tuple[int, float] | None = None
        self._lost_retired = 0
        self.packets_received = 0
        """Well-formed packets of any source, dropped ones included."""
        self.octets_received = 0
        """Payload octets of those packets."""
        self.packets_delivered = 0
        self.duplicates = 0
        self.too_old = 0
        self.bad_sequence = 0
        self.reordered = 0
        self.restarts = 0
        self.ssrc_changes = 0
        self.malformed = 0
        self.probation_dropped = 0
        """Packets held for a source that never became valid (or was dropped)."""

    # -- input ------------------------------------------------------------------------------

    def receive_datagram(self, data: bytes, now: float) -> ReceiveResult:
        """Parse ``data`` and :meth:`receive` it; a malformed one is counted and dropped."""
        try:
            packet = RtpPacket.parse(data)
        except MediaPacketError as error:
            self.malformed += 1
            log.debug("dropped a malformed RTP packet (%d octets): %s", len(data), error.reason)
            return ReceiveResult(RtpVerdict.MALFORMED)
        return self.receive(packet, now)

    def receive(self, packet: RtpPacket, now: float) -> ReceiveResult:
        """Account for ``packet``, which arrived at ``now``; say what to pass on."""
        self.packets_received += 1
        self.octets_received += len(packet.payload)
        arrival = now * self.clock_rate
        source = self.source
        if source is not None and packet.ssrc == source.ssrc:
            if self._candidate is not None:
                self._drop_candidate(self._candidate, "the current source is still sending")
            return self._receive_from_current(source, packet, arrival)
        return self._receive_from_candidate(packet, now)

    def _receive_from_current(
        self, source: RtpSource, packet: RtpPacket, arrival: float
    ) -> ReceiveResult:
        verdict = source.update_seq(packet.sequence)
        if verdict is RtpVerdict.RESTARTED:
            self.restarts += 1
            source.reset_jitter_reference()
            log.info(
                "RTP source %#010x restarted at sequence number %d", source.ssrc, packet.sequence
            )
        elif verdict is RtpVerdict.REORDERED:
            self.reordered += 1
        elif not verdict.passes:
            self._count_drop(verdict, packet)
            return ReceiveResult(verdict)
        source.update_jitter(arrival, packet.timestamp)
        self.packets_delivered += 1
        return ReceiveResult(verdict, (packet,))

    def _receive_from_candidate(self, packet: RtpPacket, now: float) -> ReceiveResult:
        candidate = self._candidate
        if candidate is None or candidate.ssrc != packet.ssrc:
            if candidate is not None:
                self._drop_candidate(candidate, f"SSRC {packet.ssrc:#010x} came instead")
            candidate = self._candidate = RtpSource(packet.ssrc, packet.sequence)
        held = self._held
        if held and packet.sequence != (held[-1][0].sequence + 1) & 0xFFFF:
            self.probation_dropped += len(held)  # the run broke: A.1 restarts probation
            held.clear()
        verdict = candidate.update_seq(packet.sequence)
        if verdict is RtpVerdict.PROBATION:
            held.append((packet, now))
            return ReceiveResult(verdict)
        # Probation over: the candidate becomes the followed source.
        candidate.count_held(len(held))
        released = [*held, (packet, now)]
        held.clear()
        self._candidate = None
        for released_packet, arrival_time in released:
            candidate.update_jitter(arrival_time * self.clock_rate, released_packet.timestamp)
        previous = self.source
        if previous is not None:
            self._lost_retired += previous.cumulative_lost
            self.ssrc_changes += 1
            verdict = RtpVerdict.SOURCE_CHANGED
            log.info("RTP source changed from %#010x to %#010x", previous.ssrc, candidate.ssrc)
        self.source = candidate
        self._last_sr = None
        self.packets_delivered += len(released)
        return ReceiveResult(verdict, tuple(released_packet for released_packet, _ in released))

    def _drop_candidate(self, candidate: RtpSource, why: str) -> None:
        log.debug(
            "dropped candidate RTP source %#010x and %d held packets: %s",
            candidate.ssrc,
            len(self._held),
            why,
        )
        self.probation_dropped += len(self._held)
        self._held.clear()
        self._candidate = None

    def _count_drop(self, verdict: RtpVerdict, packet: RtpPacket) -> None:
        if verdict is RtpVerdict.DUPLICATE:
            self.duplicates += 1
        elif verdict is RtpVerdict.TOO_OLD:
            self.too_old += 1
        else:
            self.bad_sequence += 1
        log.debug(
            "dropped RTP packet %d of SSRC %#010x: %s",
            packet.sequence,
            packet.ssrc,
            verdict.value,
        )

    # -- figures for reception reports and statistics ----------------------------------------

    @property
    def ssrc(self) -> int | None:
        """SSRC of the followed source."""
        return None if self.source is None else self.source.ssrc

    @property
    def jitter(self) -> float:
        """Interarrival jitter of the followed source in timestamp units (A.8)."""
        return 0.0 if self.source is None else self.source.jitter

    @property
    def total_lost(self) -> int:
        """Packets lost over the call: retired sources' final figures plus the current one's."""
        current = 0 if self.source is None else self.source.cumulative_lost
        return self._lost_retired + current

    def note_sender_report(self, ssrc: int, ntp_timestamp: int, now: float) -> None:
        """Remember a sender report of the followed source for LSR/DLSR (§6.4.1).

        ``ntp_timestamp`` is the report's 64-bit NTP timestamp; a report from
        another SSRC is ignored.
        """
        if self.source is not None and ssrc == self.source.ssrc:
            self._last_sr = ((ntp_timestamp >> 16) & 0xFFFF_FFFF, now)

    @property
    def last_sender_report(self) -> int:
        """LSR: the middle 32 bits of the last SR's NTP timestamp, 0 when none (§6.4.1)."""
        return 0 if self._last_sr is None else self._last_sr[0]

    def delay_since_last_sender_report(self, now: float) -> int:
        """DLSR in units of 1/65536 s, 0 when no SR was received (§6.4.1)."""
        if self._last_sr is None:
            return 0
        delay = max(0.0, now - self._last_sr[1])
        return min(0xFFFF_FFFF, int(delay * 65536))
