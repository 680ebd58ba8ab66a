"""A fixed-delay jitter buffer for RTP audio frames, sans-IO.

Theory of operation
-------------------
Packets arrive with network jitter, reordered, duplicated or not at all; the
sound card wants one frame every packet interval.  The buffer sits between
them.  Its clock is the *caller's playout tick*: :meth:`JitterBuffer.get` is
called once per frame period (20 ms, paced by the sound card, DESIGN.md
principle 8) and each call moves the playout point on by one frame of RTP
timestamp units.  ``now`` is only used to time the initial buffering.

``clock_rate`` and ``frame_samples`` are in RTP timestamp units (G.722's RTP
clock is 8000 Hz although it samples at 16 kHz: 160 units per 20 ms).  Every
packet is expected to carry one frame; the session sets ``frame_samples``
from the negotiated ptime.

The *delay* of a buffered packet is its timestamp minus the playout point:
how long it waits before it starts to play.

States::

    BUFFERING --(target delay elapsed since the first packet,
                 or packets buffered that span the target delay)--> PLAYING
    PLAYING --(nothing buffered for a target delay's worth of ticks)--> BUFFERING
    any --(SSRC change, timestamp jump)--> BUFFERING (buffer cleared: a resync)

* **BUFFERING**: ``get()`` returns ``None`` (play silence or comfort noise).
  Playout starts at the earliest buffered timestamp once the target delay
  has passed since the first packet, or as soon as the newest packet
  buffered starts a target delay after the earliest.
* **PLAYING**: ``get()`` returns the frame whose timestamp is due — a packet
  whose timestamp lies in ``[playout, playout + frame_samples)``; the
  playout point then continues from that packet, so a sender whose
  timestamps shift by part of a frame is followed — or, when it has not
  arrived, a ``missing=True`` frame for the decoder to conceal (RFC 3550
  leaves concealment to the receiver).  When the buffer has been empty for
  as many ticks as the target delay holds frames, the stream has stopped
  (silence suppression, hold, an outage): the buffer goes back to
  BUFFERING and ``get()`` returns ``None`` until the next talkspurt has been
  buffered, which re-anchors the delay.

What ``put()`` does with a packet, ``delta`` being its timestamp minus the
playout point (after BUFFERING following playout: minus the last timestamp
played):

* another SSRC than the packets so far: resync, then buffer it;
* a timestamp already buffered or recently played: a **duplicate**, dropped;
* ``-max_delay <= delta < 0``: **late**, its frame was played or concealed;
  dropped;
* ``delta > max_delay`` while the stream is continuous (the newest
  buffered packet is within ``max_delay`` of it): the buffer **overflowed**
  (a burst, or a sender clock faster than ours): the playout point jumps so
  that this packet's delay is the target delay, and the frames skipped are
  dropped;
* otherwise further away than ``max_delay`` either way: a **timestamp
  jump** (a restarted or switched stream — the buffer trusts its input to
  have passed :class:`~phoneagent.media.rtp.RtpReceiver`'s sequence checks,
  so this is not a stray): resync, then buffer it;
* otherwise it is buffered, in timestamp order whatever the arrival order.

Memory is bounded: at most ``max_packets`` packets (the oldest goes first)
and a memory of as many played timestamps for duplicate detection.

``target_delay_ms`` can be changed while running (an adaptive policy will
steer it); it takes effect at the next buffering and the next overflow.
Every dropped packet is counted and logged at debug level; nothing raises on
network input.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from enum import Enum

from phoneagent.media.rtp import RtpPacket, timestamp_delta
from phoneagent.sip.errors import LocalProtocolError

__all__ = ["JitterBuffer", "JitterFrame", "PlayoutState"]

log = logging.getLogger(__name__)


class PlayoutState(Enum):
    BUFFERING = "buffering"
    PLAYING = "playing"


@dataclass(frozen=True, slots=True)
class JitterFrame:
    """One frame due for playout: a packet's payload, or ``missing`` (conceal it).

    ``timestamp`` is the RTP timestamp of the frame; ``payload_type``,
    ``sequence`` and ``marker`` are the packet's (``None``/``False`` when missing).
    """

    timestamp: int
    payload: bytes = b""
    missing: bool = False
    payload_type: int | None = None
    sequence: int | None = None
    marker: bool = False


class JitterBuffer:
    """Reorders RTP audio packets and hands out one frame per playout tick (see the module doc)."""

    __slots__ = (
        "_buffering_since",
        "_dry_ticks",
        "_last_played",
        "_packets",
        "_playout",
        "_recent",
        "_ssrc",
        "_target_delay_ms",
        "clock_rate",
        "duplicates",
        "frame_samples",
        "frames_missing",
        "frames_played",
        "late",
        "max_delay_ms",
        "max_packets",
        "overflow_dropped",
        "packets_buffered",
        "resyncs",
        "underruns",
    )

    def __init__(
        self,
        clock_rate: int,
        frame_samples: int,
        target_delay_ms: float = 60,
        max_delay_ms: float = 200,
        max_packets: int = 50,
    ) -> None:
        if clock_rate <= 0 or frame_samples <= 0:
            raise LocalProtocolError("clock rate and frame size must be positive")
        if max_packets < 1:
            raise LocalProtocolError(f"max_packets must be at least 1, not {max_packets}")
        if max_delay_ms * clock_rate / 1000 < frame_samples:
            raise LocalProtocolError(f"max delay {max_delay_ms} ms is shorter than a frame")
        self.clock_rate = clock_rate
        self.frame_samples = frame_samples
        self.max_delay_ms = max_delay_ms
        self.max_packets = max_packets
        self._target_delay_ms = 0.0
        self.target_delay_ms = target_delay_ms
        self._packets: dict[int, RtpPacket] = {}  # by timestamp
        self._recent: deque[int] = deque(maxlen=max_packets)  # timestamps played
        self._ssrc: int | None = None
        self._playout: int | None = None  # timestamp due at the next tick; None: BUFFERING
        self._last_played: int | None = None
        self._buffering_since: float | None = None
        self._dry_ticks = 0
        self.packets_buffered = 0
        self.late = 0
        self.duplicates = 0
        self.overflow_dropped = 0
        self.resyncs = 0
        self.frames_played = 0
        self.frames_missing = 0
        self.underruns = 0

    # -- configuration ------------------------------------------------------------------------

    @property
    def target_delay_ms(self) -> float:
        """The delay to build up before playing, in milliseconds (0 < target ≤ max delay)."""
        return self._target_delay_ms

    @target_delay_ms.setter
    def target_delay_ms(self, value: float) -> None:
        if not 0 < value <= self.max_delay_ms:
            raise LocalProtocolError(
                f"target delay {value} ms must be positive and at most {self.max_delay_ms} ms"
            )
        self._target_delay_ms = float(value)

    @property
    def _target_samples(self) -> int:
        return max(1, round(self._target_delay_ms * self.clock_rate / 1000))

    @property
    def _max_samples(self) -> int:
        return round(self.max_delay_ms * self.clock_rate / 1000)

    @property
    def _dry_limit(self) -> int:
        """Empty ticks before the stream counts as stopped: the target delay in frames."""
        return max(1, -(-self._target_samples // self.frame_samples))

    # -- state --------------------------------------------------------------------------------

    @property
    def state(self) -> PlayoutState:
        """BUFFERING or PLAYING (see the module docstring)."""
        return PlayoutState.BUFFERING if self._playout is None else PlayoutState.PLAYING

    def __len__(self) -> int:
        """Packets buffered."""
        return len(self._packets)

    @property
    def depth_ms(self) -> float:
        """Audio buffered ahead of the playout point (BUFFERING: the span buffered), in ms."""
        if not self._packets:
            return 0.0
        start = self._playout if self._playout is not None else self._earliest()
        end = max(timestamp_delta(ts, start) for ts in self._packets) + self.frame_samples
        return max(0, end) * 1000 / self.clock_rate

    # -- input --------------------------------------------------------------------------------

    def put(self, packet: RtpPacket, now: float) -> bool:
        """Offer ``packet``, arrived at ``now``; True if it was buffered (see the module doc)."""
        if self._ssrc is not None and packet.ssrc != self._ssrc:
            self._resync(f"SSRC changed from {self._ssrc:#010x} to {packet.ssrc:#010x}")
        self._ssrc = packet.ssrc
        timestamp = packet.timestamp
        if timestamp in self._packets or timestamp in self._recent:
            self.duplicates += 1
            log.debug("jitter buffer: dropped duplicate of timestamp %d", timestamp)
            return False
        max_samples = self._max_samples
        if self._playout is not None:  # PLAYING
            delta = timestamp_delta(timestamp, self._playout)
            if -max_samples <= delta < 0:
                return self._drop_late(timestamp, -delta)
            if delta < -max_samples:
                self._resync(f"timestamp jumped back by {-delta}")
            elif delta > max_samples:
                newest = self._newest()
                if newest is not None and timestamp_delta(timestamp, newest) <= max_samples:
                    self._skip_ahead(timestamp)
                else:
                    self._resync(f"timestamp jumped ahead by {delta}")
        else:
            if self._last_played is not None:
                delta = timestamp_delta(timestamp, self._last_played)
                if -max_samples <= delta < 0:
                    return self._drop_late(timestamp, -delta)
                if delta < -max_samples:
                    self._resync(f"timestamp jumped back by {-delta}")
            if self._packets:
                earliest = self._earliest()
                span = timestamp_delta(timestamp, earliest)
                if span > max_samples or span < -max_samples:
                    self._resync(f"timestamp jumped by {span} while buffering")
        self._packets[timestamp] = packet
        self.packets_buffered += 1
        if self._playout is None and self._buffering_since is None:
            self._buffering_since = now
        if len(self._packets) > self.max_packets:
            oldest = self._earliest()
            del self._packets[oldest]
            self.overflow_dropped += 1
            log.debug("jitter buffer: full, dropped timestamp %d", oldest)
        return True

    def _drop_late(self, timestamp: int, by: int) -> bool:
        self.late += 1
        log.debug("jitter buffer: dropped timestamp %d, %d units late", timestamp, by)
        return False

    def _skip_ahead(self, timestamp: int) -> None:
        """Overflow: move the playout point so that ``timestamp`` waits the target delay."""
        # Only called when the packet would wait more than the maximum, so this moves forward.
        playout = (timestamp - self._target_samples) & 0xFFFF_FFFF
        skipped = [ts for ts in self._packets if timestamp_delta(ts, playout) < 0]
        for ts in skipped:
            del self._packets[ts]
        self.overflow_dropped += len(skipped)
        log.debug(
            "jitter buffer: overflow, playout jumps to %d (%d frames dropped)",
            playout,
            len(skipped),
        )
        self._playout = playout

    def _resync(self, why: str) -> None:
        log.debug("jitter buffer: resync: %s", why)
        self.resyncs += 1
        self._packets.clear()
        self._recent.clear()
        self._playout = None
        self._last_played = None
        self._buffering_since = None
        self._dry_ticks = 0

    # -- output -------------------------------------------------------------------------------

    def get(self, now: float) -> JitterFrame | None:
        """The frame due at this playout tick, or None while buffering (see the module doc)."""
        playout = self._playout
        if playout is None:  # BUFFERING
            if not self._ready(now):
                return None
            playout = self._playout = self._earliest()
            self._dry_ticks = 0
        stale = [ts for ts in self._packets if timestamp_delta(ts, playout) < 0]
        for ts in stale:  # inside a frame already played (timestamps off the frame grid)
            del self._packets[ts]
            self._drop_late(ts, -timestamp_delta(ts, playout))
        due = [ts for ts in self._packets if timestamp_delta(ts, playout) < self.frame_samples]
        if due:
            timestamp = min(due, key=lambda ts: timestamp_delta(ts, playout))
            packet = self._packets.pop(timestamp)
            self._playout = (timestamp + self.frame_samples) & 0xFFFF_FFFF
            self._last_played = timestamp
            self._recent.append(timestamp)
            self._dry_ticks = 0
            self.frames_played += 1
            return JitterFrame(
                timestamp=timestamp,
                payload=packet.payload,
                payload_type=packet.payload_type,
                sequence=packet.sequence,
                marker=packet.marker,
            )
        if not self._packets:
            self._dry_ticks += 1
            if self._dry_ticks > self._dry_limit:
                log.debug("jitter buffer: ran dry, buffering again")
                self.underruns += 1
                self._playout = None
                self._buffering_since = None
                return None
        self._playout = (playout + self.frame_samples) & 0xFFFF_FFFF
        self.frames_missing += 1
        return JitterFrame(timestamp=playout, missing=True)

    def _ready(self, now: float) -> bool:
        if not self._packets or self._buffering_since is None:
            return False
        if now - self._buffering_since >= self._target_delay_ms / 1000 - 1e-9:
            return True
        newest = self._newest()
        span = 0 if newest is None else timestamp_delta(newest, self._earliest())
        return span >= self._target_samples

    def _earliest(self) -> int:
        reference = next(iter(self._packets))
        return min(self._packets, key=lambda ts: timestamp_delta(ts, reference))

    def _newest(self) -> int | None:
        if not self._packets:
            return None
        reference = next(iter(self._packets))
        return max(self._packets, key=lambda ts: timestamp_delta(ts, reference))
