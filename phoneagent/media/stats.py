"""Per-call media statistics, gathered from the RTP, RTCP and jitter-buffer objects.

Theory of operation
-------------------
:class:`CallStatistics` is a plain record the session refreshes from the
objects that keep the counts — it holds no state of its own that they do not
also hold, so refreshing twice is harmless:

* :meth:`~CallStatistics.update_from_sender` — packets and payload octets
  sent (RFC 3550 §6.4.1 sender counts);
* :meth:`~CallStatistics.update_from_receiver` — packets and octets
  received, loss (A.3: cumulative over the call including sources replaced
  since, and the fraction of the last reception report), interarrival
  jitter (A.8) in milliseconds, duplicates, reordered, too-old and
  malformed packets, SSRC changes;
* :meth:`~CallStatistics.update_from_jitter_buffer` — packets that came too
  late for playout, frames concealed, resyncs;
* :meth:`~CallStatistics.record_rtcp` — from a compound RTCP packet of the
  peer: its last sender report, and from report blocks about *our* SSRC the
  round-trip time (§6.4.1) and how the peer receives us.

Times are milliseconds; fractions are 0.0–1.0.
"""

from __future__ import annotations

from dataclasses import dataclass

from phoneagent.media.jitter import JitterBuffer
from phoneagent.media.rtcp import RtcpCompound, SenderReport, round_trip_time
from phoneagent.media.rtp import RtpReceiver, RtpSender

__all__ = ["CallStatistics", "SenderReportSummary"]


@dataclass(frozen=True, slots=True)
class SenderReportSummary:
    """The last sender report of the peer (§6.4.1) and when it arrived (caller's clock)."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    received_at: float


@dataclass(slots=True)
class CallStatistics:
    """Media statistics of one call (see the module docstring for where each comes from)."""

    packets_sent: int = 0
    octets_sent: int = 0
    packets_received: int = 0
    octets_received: int = 0
    packets_lost: int = 0
    """Expected minus received over the call (§6.4.1: may be negative with duplicates)."""
    fraction_lost: float = 0.0
    """Of the interval of the last reception report we built."""
    jitter_ms: float = 0.0
    round_trip_time_ms: float | None = None
    duplicates: int = 0
    late: int = 0
    """Arrived after their playout time (jitter buffer)."""
    out_of_order: int = 0
    too_old: int = 0
    """More than MAX_MISORDER behind (RTP receiver, A.1)."""
    malformed: int = 0
    ssrc_changes: int = 0
    frames_concealed: int = 0
    jitter_buffer_resyncs: int = 0
    remote_fraction_lost: float | None = None
    """How the peer receives us, from its last report block about our SSRC."""
    remote_packets_lost: int | None = None
    remote_jitter_ms: float | None = None
    last_sender_report: SenderReportSummary | None = None

    def update_from_sender(self, sender: RtpSender) -> None:
        """Refresh the sending counts."""
        self.packets_sent = sender.packet_count
        self.octets_sent = sender.octet_count

    def update_from_receiver(self, receiver: RtpReceiver) -> None:
        """Refresh the receiving counts, loss and jitter."""
        self.packets_received = receiver.packets_received
        self.octets_received = receiver.octets_received
        self.packets_lost = receiver.total_lost
        source = receiver.source
        self.fraction_lost = 0.0 if source is None else source.last_fraction_lost / 256
        self.jitter_ms = receiver.jitter * 1000 / receiver.clock_rate
        self.duplicates = receiver.duplicates
        self.out_of_order = receiver.reordered
        self.too_old = receiver.too_old
        self.malformed = receiver.malformed
        self.ssrc_changes = receiver.ssrc_changes

    def update_from_jitter_buffer(self, buffer: JitterBuffer) -> None:
        """Refresh the playout counts (duplicates the receiver let through add to its own)."""
        self.late = buffer.late
        self.frames_concealed = buffer.frames_missing
        self.jitter_buffer_resyncs = buffer.resyncs

    def record_rtcp(
        self,
        compound: RtcpCompound,
        *,
        local_ssrc: int,
        local_clock_rate: int,
        arrival_ntp: int,
        now: float,
    ) -> None:
        """Take what a compound from the peer says.

        ``local_ssrc``/``local_clock_rate``: our stream, which the peer's report
        blocks describe (jitter comes in our timestamp units).  ``arrival_ntp``:
        the 64-bit NTP time of arrival on the clock our SRs carry, for the RTT;
        ``now``: the arrival on the caller's clock, kept with the SR.
        """
        for packet in compound.packets:
            if isinstance(packet, SenderReport) and packet.ssrc != local_ssrc:
                info = packet.sender_info
                self.last_sender_report = SenderReportSummary(
                    ssrc=packet.ssrc,
                    ntp_timestamp=info.ntp_timestamp,
                    rtp_timestamp=info.rtp_timestamp,
                    packet_count=info.packet_count,
                    octet_count=info.octet_count,
                    received_at=now,
                )
        for block in compound.report_blocks_about(local_ssrc):
            self.remote_fraction_lost = block.fraction_lost / 256
            self.remote_packets_lost = block.cumulative_lost
            self.remote_jitter_ms = block.jitter * 1000 / local_clock_rate
            rtt = round_trip_time(block, arrival_ntp)
            if rtt is not None:
                self.round_trip_time_ms = rtt * 1000
