"""DTMF out of band: RFC 4733 telephone-events over RTP and SIP INFO dtmf-relay.

Theory of operation
-------------------
**Payload** (RFC 4733 §2.3, Figure 1): every packet carries one or more
4-octet reports ``event(8) | E(1) R(1) volume(6) | duration(16)``.  The RTP
timestamp of the packet is the instant the event (or, for a long event, the
segment) *began*; the duration grows with every update packet and counts
timestamp units from that instant (§2.5.1.2).  :class:`TelephoneEvent` is one
report, with ``parse()`` and ``__bytes__``.

**Sending** (:class:`DtmfSender`, §2.5.1): a key press becomes an event that
starts at the press (or, when digits are queued, after the previous digit
and an inter-digit gap).  One update goes out per packet interval, the
first one interval after the start, as in the §5 Table 5 example: its
duration is that interval, and it carries the RTP marker bit (§2.5.1.2).
The packet at or after the end of the digit carries the E bit and the final
duration, and is sent three times in all, one interval apart (§2.5.1.4).
A digit longer than 65,535 timestamp units (8.19 s at 8 kHz) is split into
segments (§2.5.1.3): a segment's final report carries duration 65,535 and no
E bit, is also sent three times, and the next segment starts at the previous
segment's timestamp plus 65,535 with durations counted from there; only the
very first packet of the event has the marker bit, and only the final
segment's final report has the E bit.

The sender does no I/O and knows no RTP header.  :meth:`DtmfSender.packets_due`
returns :class:`DtmfPacket` objects: the report to put in the payload, the
marker bit, and the RTP timestamp as ``event_start`` (a time on the caller's
clock) plus ``timestamp_offset`` (timestamp units, non-zero for later
segments).  The RTP sender turns ``event_start`` into a timestamp on its own
media clock *once per event* — ``start = rtp.timestamp_at(packet.event_start)``
when ``packet.marker`` is set (or on the first packet of a new
``event_start``), kept while ``event_start`` stays the same — and sends
``packet.rtp_timestamp(start)``, so the timestamp is constant across the
event as §2.5.1.2 requires even if the media clock is re-anchored meanwhile.
Sequence numbers, SSRC and the choice to pause audio while
:attr:`DtmfSender.busy` are the RTP sender's.

**Receiving** (:class:`DtmfReceiver`, §2.5.2): reports are folded into one
event per (RTP timestamp, event code).  A digit is reported *once*, with
:class:`DigitStarted`, on the first report seen for it — whichever packet
that is, so a lost first packet (no marker bit seen) changes nothing and the
latency is one packet.  :class:`DigitEnded` follows with the total duration
when the E bit arrives, when a report with another timestamp shows a new
event began, or when no report came for three packet intervals (all end
packets lost; the interval is learnt from how much the duration grows per
update).  Retransmitted end reports, duplicates and late packets of a
finished event are dropped by a small memory of finished events.  A report
whose timestamp is the current segment's plus at least its duration (at most
65,535), same event code and no marker bit, continues a long event (§2.5.1.3).

Real-world input breaks the rules (see the SIPp captures in the shared
corpus): the first packet has duration 0, which §2.3.5 reserves for "state"
events and says to ignore — here it is read as "the digit has just started",
because DTMF is never a state and ignoring it would only delay the digit; the
three end packets repeat one RTP sequence number, which this layer never
looks at.  Several reports in one packet (§2.5.1.5) are taken in order, each
starting where the previous one's duration ends.

**SIP INFO** (:class:`DtmfRelay`): the widespread non-standard
``application/dtmf-relay`` body ``Signal=5\\r\\nDuration=160\\r\\n`` (duration
in milliseconds), parsed leniently (any line ending, case-insensitive keys,
extra keys ignored) and built canonically.

Errors: ``parse`` functions raise :class:`DtmfError` (a
``RemoteProtocolError``) and nothing else; misuse such as an unknown digit to
send raises ``LocalProtocolError``.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, replace

from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "DTMF_EVENT_CODES",
    "EVENT_CODE_DIGITS",
    "FLASH",
    "MAX_DURATION",
    "DigitEnded",
    "DigitStarted",
    "DtmfError",
    "DtmfEvent",
    "DtmfPacket",
    "DtmfReceiver",
    "DtmfRelay",
    "DtmfSender",
    "TelephoneEvent",
    "digit_of_event",
    "event_of_digit",
]

logger = logging.getLogger(__name__)

#: The digit string used for a hook flash (event 16 of the IANA telephone-event registry).
FLASH = "!"

#: RFC 4733 §3.2 Table 3 (DTMF digits) plus event 16, hook flash.
DTMF_EVENT_CODES: dict[str, int] = {
    **{str(number): number for number in range(10)},
    "*": 10,
    "#": 11,
    "A": 12,
    "B": 13,
    "C": 14,
    "D": 15,
    FLASH: 16,
}
EVENT_CODE_DIGITS: dict[int, str] = {code: digit for digit, code in DTMF_EVENT_CODES.items()}

#: The largest duration the 16-bit field can carry (§2.5.1.3: longer events are segmented).
MAX_DURATION = 0xFFFF
_TIMESTAMP_MASK = 0xFFFFFFFF
_END_COPIES = 3  # §2.5.1.4: the final report is sent three times
_TIME_EPSILON = 1e-9  # float schedule times computed two ways must compare equal


class DtmfError(RemoteProtocolError):
    """A telephone-event payload or a dtmf-relay body the peer sent is malformed.

    On RTP the packet is dropped (no status); for a SIP INFO body the hint is 400.
    """

    def __init__(self, reason: str, status_hint: int | None = None) -> None:
        super().__init__(reason, status_hint)


def event_of_digit(digit: str) -> int:
    """The RFC 4733 event code of ``digit`` (``0-9 * # A-D`` or :data:`FLASH`)."""
    code = DTMF_EVENT_CODES.get(digit.upper())
    if code is None:
        raise LocalProtocolError(f"not a DTMF digit: {digit!r}")
    return code


def digit_of_event(code: int) -> str | None:
    """The digit of an event code, or ``None`` for a non-DTMF event."""
    return EVENT_CODE_DIGITS.get(code)


# --------------------------------------------------------------------------- payload


@dataclass(frozen=True)
class TelephoneEvent:
    """One named-event report (RFC 4733 §2.3, Figure 1).

    ::

         0                   1                   2                   3
         0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |     event     |E|R| volume    |          duration             |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

    ``volume`` is the power level in -dBm0 (0..63); the R bit is sent as 0
    and ignored on receipt (§2.3.3).
    """

    event: int
    end: bool
    volume: int
    duration: int

    SIZE = 4

    def __post_init__(self) -> None:
        if not 0 <= self.event <= 255:
            raise LocalProtocolError(f"event code {self.event} is not 0..255")
        if not 0 <= self.volume <= 63:
            raise LocalProtocolError(f"volume {self.volume} is not 0..63")
        if not 0 <= self.duration <= MAX_DURATION:
            raise LocalProtocolError(f"duration {self.duration} is not 0..65535")

    @property
    def digit(self) -> str | None:
        """The DTMF digit of this event, or ``None`` for another event."""
        return digit_of_event(self.event)

    @classmethod
    def parse(cls, data: bytes) -> TelephoneEvent:
        """Exactly one 4-octet report."""
        if len(data) != cls.SIZE:
            raise DtmfError(f"a telephone-event report is 4 octets, not {len(data)}")
        return cls(
            event=data[0],
            end=bool(data[1] & 0x80),
            volume=data[1] & 0x3F,
            duration=(data[2] << 8) | data[3],
        )

    @classmethod
    def parse_all(cls, payload: bytes) -> list[TelephoneEvent]:
        """Every report of an RTP payload (§2.5.1.5 allows several)."""
        if not payload or len(payload) % cls.SIZE:
            raise DtmfError(
                f"a telephone-event payload is a non-zero multiple of 4 octets, not {len(payload)}"
            )
        return [cls.parse(payload[i : i + cls.SIZE]) for i in range(0, len(payload), cls.SIZE)]

    def __bytes__(self) -> bytes:
        flags = (0x80 if self.end else 0) | self.volume
        return bytes((self.event, flags, self.duration >> 8, self.duration & 0xFF))


# --------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class DtmfPacket:
    """One telephone-event packet for the RTP sender to send now.

    The RTP timestamp is that of ``event_start`` on the media clock plus
    ``timestamp_offset`` (see :meth:`rtp_timestamp`); ``marker`` is the RTP M
    bit.  ``send_time`` is when the packet was scheduled (at most ``now``).
    """

    event: TelephoneEvent
    marker: bool
    event_start: float
    timestamp_offset: int
    send_time: float

    @property
    def payload(self) -> bytes:
        return bytes(self.event)

    def rtp_timestamp(self, event_start_timestamp: int) -> int:
        """The packet's RTP timestamp, given the media clock's timestamp at ``event_start``."""
        return (event_start_timestamp + self.timestamp_offset) & _TIMESTAMP_MASK


@dataclass(frozen=True)
class _Press:
    code: int
    duration: int  # timestamp units
    pressed_at: float


class DtmfSender:
    """Schedules the telephone-event packets of key presses (RFC 4733 §2.5.1).

    Drive it from the media clock: call :meth:`press` on a key press and
    :meth:`packets_due` at every packet tick (or at :meth:`get_timer`).  If a
    call comes late, superseded updates are dropped and only the newest one
    is sent (carrying the marker bit if the first update was among those
    dropped); the final reports are always sent.
    """

    def __init__(
        self,
        payload_type: int,
        clock_rate: int = 8000,
        packet_interval_ms: int = 20,
        min_duration_ms: int = 100,
        *,
        volume: int = 10,
        inter_digit_gap_ms: int = 50,
    ) -> None:
        if not 0 <= payload_type <= 127:
            raise LocalProtocolError(f"payload type {payload_type} is not 0..127")
        if packet_interval_ms <= 0 or (clock_rate * packet_interval_ms) % 1000:
            raise LocalProtocolError(
                f"a {packet_interval_ms} ms interval is not a whole number of "
                f"timestamp units at {clock_rate} Hz"
            )
        if min_duration_ms <= 0 or inter_digit_gap_ms < 0 or not 0 <= volume <= 63:
            raise LocalProtocolError("bad DTMF sender settings")
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.packet_interval_ms = packet_interval_ms
        self.min_duration_ms = min_duration_ms
        self.volume = volume
        self.inter_digit_gap_ms = inter_digit_gap_ms
        self._queue: deque[_Press] = deque()
        self._plan: deque[DtmfPacket] = deque()  # packets of the current event, in order
        self._earliest_next_start = float("-inf")

    @property
    def busy(self) -> bool:
        """True while an event is being sent or digits wait (the RTP sender may mute audio)."""
        return bool(self._plan or self._queue)

    def press(self, digit: str, now: float, duration_ms: int | None = None) -> None:
        """Queue ``digit`` for ``duration_ms`` (at least ``min_duration_ms``)."""
        code = event_of_digit(digit)
        length_ms = max(self.min_duration_ms, duration_ms or 0)
        duration = round(length_ms * self.clock_rate / 1000)
        self._queue.append(_Press(code, duration, now))
        if not self._plan:
            self._start_next()

    def get_timer(self) -> float | None:
        """When :meth:`packets_due` next has something to send, or ``None``."""
        return self._plan[0].send_time if self._plan else None

    def packets_due(self, now: float) -> list[DtmfPacket]:
        """The packets to send at ``now``, oldest first."""
        due: list[DtmfPacket] = []
        while self._plan and self._plan[0].send_time <= now + _TIME_EPSILON:
            due.append(self._plan.popleft())
            if not self._plan:
                self._start_next()
        return _coalesce(due)

    def _start_next(self) -> None:
        """Plan the packets of the next queued press, if any."""
        if not self._queue:
            return
        press = self._queue.popleft()
        start = max(press.pressed_at, self._earliest_next_start)
        plan = self._plan_event(press.code, press.duration, start)
        self._plan.extend(plan)
        end_time = start + press.duration / self.clock_rate
        self._earliest_next_start = max(
            end_time + self.inter_digit_gap_ms / 1000, plan[-1].send_time
        )

    def _plan_event(self, code: int, total: int, start: float) -> list[DtmfPacket]:
        """Every packet of one event, with its send time (§2.5.1.2-§2.5.1.4)."""
        step = self.clock_rate * self.packet_interval_ms // 1000
        interval = self.packet_interval_ms / 1000
        packets: list[DtmfPacket] = []

        def add(tick: int, duration: int, end: bool, segment_start: int) -> None:
            report = TelephoneEvent(code, end, self.volume, duration)
            marker = not packets
            packets.append(
                DtmfPacket(report, marker, start, segment_start, start + tick * interval)
            )

        tick = 0
        segment_start = 0  # timestamp units from the event start to this segment's start
        while True:
            tick += 1
            elapsed = tick * step
            if elapsed >= total and total - segment_start <= MAX_DURATION:
                for copy in range(_END_COPIES):
                    add(tick + copy, total - segment_start, True, segment_start)
                return packets
            if elapsed - segment_start >= MAX_DURATION:
                for copy in range(_END_COPIES):
                    add(tick + copy, MAX_DURATION, False, segment_start)
                tick += _END_COPIES - 1
                segment_start += MAX_DURATION
                continue
            add(tick, elapsed - segment_start, False, segment_start)


def _coalesce(due: list[DtmfPacket]) -> list[DtmfPacket]:
    """Drop updates made stale by a newer report of the same segment in ``due``."""
    kept: list[DtmfPacket] = []
    carry_marker = False
    for index, packet in enumerate(due):
        superseded = any(
            later.event_start == packet.event_start
            and later.timestamp_offset == packet.timestamp_offset
            and later.event.duration > packet.event.duration
            for later in due[index + 1 :]
        )
        if superseded:
            carry_marker = carry_marker or packet.marker
            continue
        if carry_marker and not packet.marker:
            kept.append(replace(packet, marker=True))
        else:
            kept.append(packet)
        carry_marker = False
    return kept


# --------------------------------------------------------------------------- receiving


@dataclass(frozen=True)
class DtmfEvent:
    """Base of the events the DTMF receiver reports."""


@dataclass(frozen=True)
class DigitStarted(DtmfEvent):
    """A digit was received (reported once, on its first report)."""

    digit: str
    timestamp: int  # RTP timestamp of the event start
    volume: int  # -dBm0


@dataclass(frozen=True)
class DigitEnded(DtmfEvent):
    """The digit reported by the matching :class:`DigitStarted` is over."""

    digit: str
    timestamp: int
    duration: int  # timestamp units, all segments together
    duration_ms: float
    end_received: bool  # False: ended by a timeout or by a newer event


@dataclass
class _Active:
    code: int
    timestamp: int  # event start
    segment_timestamp: int
    segment_duration: int  # longest duration reported for the current segment
    completed: int  # duration of the finished segments
    last_update: float
    interval: float  # seconds between updates, as learnt


class DtmfReceiver:
    """Turns telephone-event reports into one digit event each (RFC 4733 §2.5.2).

    Feed every telephone-event packet to :meth:`receive` (duplicates and
    reordering are fine), read :meth:`next_event` until ``None``, and call
    :meth:`handle_timer` at :meth:`get_timer` to end a digit whose end
    packets were lost.
    """

    def __init__(
        self, clock_rate: int = 8000, packet_interval_ms: int = 50, *, timeout_intervals: int = 3
    ) -> None:
        if clock_rate <= 0 or packet_interval_ms <= 0 or timeout_intervals <= 0:
            raise LocalProtocolError("bad DTMF receiver settings")
        self.clock_rate = clock_rate
        self.default_interval = packet_interval_ms / 1000
        self.timeout_intervals = timeout_intervals
        self._active: _Active | None = None
        self._finished: deque[tuple[int, int]] = deque(maxlen=32)  # (timestamp, code)
        self._events: deque[DtmfEvent] = deque()
        #: Packets dropped as malformed, and reports of events that are not DTMF.
        self.malformed = 0
        self.ignored = 0

    def next_event(self) -> DtmfEvent | None:
        """The oldest unread event, or ``None``."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When the current digit times out for lack of updates, or ``None``."""
        active = self._active
        if active is None:
            return None
        return active.last_update + self.timeout_intervals * active.interval

    def handle_timer(self, now: float) -> None:
        """End the current digit if it has had no update for too long."""
        deadline = self.get_timer()
        if deadline is not None and now >= deadline - _TIME_EPSILON:
            self._finish(end_received=False)

    def receive(self, payload: bytes, *, timestamp: int, marker: bool, now: float) -> bool:
        """One telephone-event RTP packet; False when it was dropped as malformed."""
        self.handle_timer(now)
        try:
            reports = TelephoneEvent.parse_all(payload)
        except DtmfError as error:
            self.malformed += 1
            logger.debug("telephone-event packet dropped: %s", error)
            return False
        start = timestamp & _TIMESTAMP_MASK
        for index, report in enumerate(reports):
            self._report(report, start, marker and index == 0, now)
            start = (start + report.duration) & _TIMESTAMP_MASK
        return True

    def _report(self, report: TelephoneEvent, timestamp: int, marker: bool, now: float) -> None:
        if report.digit is None:
            self.ignored += 1
            return
        if (timestamp, report.event) in self._finished:
            return  # a retransmitted end report or a late packet of a finished event
        active = self._active
        if active is not None and active.code == report.event:
            if timestamp == active.segment_timestamp:
                self._update(active, report, now)
                return
            offset = (timestamp - active.segment_timestamp) & _TIMESTAMP_MASK
            if not marker and active.segment_duration <= offset <= MAX_DURATION and offset:
                # The next segment of a long event (§2.5.1.3).
                self._finished.append((active.segment_timestamp, active.code))
                active.completed += offset
                active.segment_timestamp = timestamp
                active.segment_duration = 0
                self._update(active, report, now)
                return
        if active is not None:
            self._finish(end_received=False)  # a new event began: the old one is over
        digit = EVENT_CODE_DIGITS[report.event]
        self._active = _Active(
            code=report.event,
            timestamp=timestamp,
            segment_timestamp=timestamp,
            segment_duration=0,
            completed=0,
            last_update=now,
            interval=self.default_interval,
        )
        self._events.append(DigitStarted(digit, timestamp, report.volume))
        self._update(self._active, report, now)

    def _update(self, active: _Active, report: TelephoneEvent, now: float) -> None:
        growth = report.duration - active.segment_duration
        if growth > 0:
            if active.segment_duration:  # learn the sender's update interval
                active.interval = min(max(growth / self.clock_rate, 0.01), 0.2)
            active.segment_duration = report.duration
        active.last_update = max(active.last_update, now)
        if report.end:
            self._finish(end_received=True)

    def _finish(self, *, end_received: bool) -> None:
        active = self._active
        if active is None:
            return
        self._active = None
        self._finished.append((active.segment_timestamp, active.code))
        self._finished.append((active.timestamp, active.code))
        duration = active.completed + active.segment_duration
        self._events.append(
            DigitEnded(
                digit=EVENT_CODE_DIGITS[active.code],
                timestamp=active.timestamp,
                duration=duration,
                duration_ms=duration * 1000 / self.clock_rate,
                end_received=end_received,
            )
        )


# --------------------------------------------------------------------------- SIP INFO


@dataclass(frozen=True)
class DtmfRelay:
    """A SIP INFO ``application/dtmf-relay`` body: ``Signal=5`` and ``Duration=160`` (ms).

    Not standardised by an RFC; this is the common (Cisco-originated) form.
    ``Signal`` is a digit ``0-9 * # A-D``, or an event code ``10``-``16``
    (``16`` = hook flash, also accepted as ``!``).
    """

    digit: str
    duration_ms: int | None = None

    CONTENT_TYPE = "application/dtmf-relay"

    def __post_init__(self) -> None:
        event_of_digit(self.digit)
        if self.duration_ms is not None and self.duration_ms < 0:
            raise LocalProtocolError(f"negative duration {self.duration_ms}")

    @classmethod
    def parse(cls, body: bytes | str) -> DtmfRelay:
        """Parse a body; raises :class:`DtmfError` (status hint 400)."""
        if isinstance(body, bytes):
            try:
                body = body.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DtmfError("dtmf-relay body is not UTF-8", 400) from error
        values: dict[str, str] = {}
        for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            if not line.strip():
                continue
            key, equals, value = line.partition("=")
            if not equals or not key.strip():
                raise DtmfError(f"dtmf-relay line is not key=value: {line!r}", 400)
            values[key.strip().lower()] = value.strip()
        signal = values.pop("signal", None)
        if signal is None:
            raise DtmfError("dtmf-relay body has no Signal", 400)
        digit = _relay_signal_digit(signal)
        duration_text = values.pop("duration", None)
        duration: int | None = None
        if duration_text is not None:
            if not duration_text.isascii() or not duration_text.isdigit():
                raise DtmfError(f"dtmf-relay Duration is not a number: {duration_text!r}", 400)
            duration = int(duration_text)
        return cls(digit, duration)

    def __bytes__(self) -> bytes:
        signal = "16" if self.digit == FLASH else self.digit.upper()
        text = f"Signal={signal}\r\n"
        if self.duration_ms is not None:
            text += f"Duration={self.duration_ms}\r\n"
        return text.encode("ascii")


def _relay_signal_digit(signal: str) -> str:
    if signal.upper() in DTMF_EVENT_CODES:
        return signal.upper()
    if signal.isascii() and signal.isdigit() and int(signal) in EVENT_CODE_DIGITS:
        return EVENT_CODE_DIGITS[int(signal)]
    raise DtmfError(f"dtmf-relay Signal is not a DTMF digit: {signal!r}", 400)
