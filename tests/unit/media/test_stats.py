"""Per-call statistics fed by the sender, the receiver, the jitter buffer and the peer's RTCP."""

from __future__ import annotations

import random

import pytest

from phoneagent.media.jitter import JitterBuffer
from phoneagent.media.rtcp import ReportBlock, RtcpCompound, ntp_timestamp
from phoneagent.media.rtp import RtpPacket, RtpReceiver, RtpSender
from phoneagent.media.stats import CallStatistics, SenderReportSummary
from tests.unit.media.test_rtcp import BARESIP_SR_1, BARESIP_SR_1_ARRIVAL, BARESIP_SSRC


def test_statistics_from_a_short_call() -> None:
    stats = CallStatistics()
    assert stats.round_trip_time_ms is None and stats.last_sender_report is None

    sender = RtpSender(0x11223344, 0, 8000, random.Random(1))
    for _ in range(5):
        sender.packetize(b"x" * 160, 160)
    stats.update_from_sender(sender)
    assert (stats.packets_sent, stats.octets_sent) == (5, 800)

    receiver = RtpReceiver(8000)
    buffer = JitterBuffer(8000, 160)
    arrivals = [(1, 0.0), (2, 0.02), (3, 0.04), (5, 0.08), (5, 0.081), (4, 0.2), (6, 0.1)]
    for sequence, now in arrivals:
        result = receiver.receive(RtpPacket(0, sequence, sequence * 160, 0xAB, b"y" * 160), now)
        for packet in result.packets:
            buffer.put(packet, now)
        if now >= 0.06:
            buffer.get(now)
    ReportBlock.from_receiver(receiver, 0.2)  # a report went out: sets the fraction lost
    stats.update_from_receiver(receiver)
    stats.update_from_jitter_buffer(buffer)
    assert stats.packets_received == 7
    assert stats.octets_received == 7 * 160
    assert stats.duplicates == 1 and stats.out_of_order == 1
    # Expected 6 (1..6); received 7 with the duplicate, as §6.4.1 counts.
    assert stats.packets_lost == -1
    assert stats.fraction_lost == 0.0
    assert stats.jitter_ms == pytest.approx(receiver.jitter / 8)
    assert stats.late == buffer.late
    assert stats.ssrc_changes == 0 and stats.malformed == 0 and stats.too_old == 0

    compound = RtcpCompound.parse(BARESIP_SR_1)
    stats.record_rtcp(
        compound,
        local_ssrc=0x11223344,
        local_clock_rate=8000,
        arrival_ntp=ntp_timestamp(BARESIP_SR_1_ARRIVAL),
        now=12.5,
    )
    assert stats.round_trip_time_ms == pytest.approx(63 / 65.536)
    assert stats.remote_fraction_lost == 5 / 256
    assert stats.remote_packets_lost == 5
    assert stats.remote_jitter_ms == 9 / 8
    assert stats.last_sender_report == SenderReportSummary(
        ssrc=BARESIP_SSRC,
        ntp_timestamp=0xEEAF3DC5E038B04A,
        rtp_timestamp=76235,
        packet_count=250,
        octet_count=40000,
        received_at=12.5,
    )


def test_rtcp_about_someone_else_changes_nothing() -> None:
    stats = CallStatistics()
    stats.record_rtcp(
        RtcpCompound.parse(BARESIP_SR_1),
        local_ssrc=0x99,
        local_clock_rate=8000,
        arrival_ntp=0,
        now=1.0,
    )
    assert stats.round_trip_time_ms is None and stats.remote_packets_lost is None
    assert stats.last_sender_report is not None  # the peer's SR is still its SR
