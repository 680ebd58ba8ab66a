"""RTCP (RFC 3550 §6, A.2, A.7): packets byte-exact, a real capture, RTT, NTP time, scheduling.

The real compounds were captured on loopback from baresip 1.0.0 (Debian 12)
calling a scripted peer that sent it PCMU with one packet in fifty dropped
and a sender report every two seconds (SSRC 0x11223344, whose LSR baresip
echoes).  Arrival times are the capture's wall clock.
"""

from __future__ import annotations

import contextlib
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoneagent.media.rtcp import (
    NTP_UNIX_OFFSET,
    Goodbye,
    ReceiverReport,
    ReportBlock,
    RtcpCompound,
    RtcpPacketType,
    RtcpScheduler,
    SdesChunk,
    SdesItem,
    SdesItemType,
    SenderInfo,
    SenderReport,
    SourceDescription,
    UnknownRtcpPacket,
    looks_like_rtcp,
    make_compound,
    ntp_short,
    ntp_timestamp,
    ntp_to_unix,
    round_trip_time,
)
from phoneagent.media.rtp import MediaPacketError, RtpPacket, RtpReceiver, RtpSender
from phoneagent.sip.errors import LocalProtocolError

# --- baresip 1.0.0, captured (see the module docstring) -------------------------------------

BARESIP_SSRC = 0x1943C52A
BARESIP_CNAME_SDES = bytes.fromhex(
    "81ca0007 1943c52a"  # SDES, one chunk, 8 words; SSRC
    " 0113 7369703a616c696365403132372e302e302e31"  # CNAME, 19 octets "sip:alice@127.0.0.1"
    " 000000"  # end of items, padded to the word
)
# At the start of the call: an APP packet "PING" (name) "PONG" (data), alone.
BARESIP_APP_PING = bytes.fromhex("80cc0003 1943c52a 50494e47 504f4e47")
# Every five seconds: SR with a report block about us, and SDES CNAME.
BARESIP_SR_1 = (
    bytes.fromhex(
        "81c8000c 1943c52a"  # SR, RC=1, 13 words; SSRC
        " eeaf3dc5 e038b04a"  # NTP timestamp
        " 000129cb"  # RTP timestamp 76235
        " 000000fa 00009c40"  # 250 packets, 40000 octets
        " 11223344"  # report block about us
        " 05 000005"  # fraction lost 5/256, cumulative 5
        " 000004e1"  # extended highest sequence number 1249
        " 00000009"  # jitter 9
        " 3dc4e1cc"  # LSR
        " 0000fe35"  # DLSR 65077/65536 s
    )
    + BARESIP_CNAME_SDES
)
BARESIP_SR_1_ARRIVAL = 1795473221.875984
BARESIP_SR_2 = (
    bytes.fromhex(
        "81c8000c 1943c52a eeaf3dca e03efae7 0001c62b 000001f4 00013880"
        " 11223344 05 00000a 000005db 00000006 3dc8e294 0001fd70"
    )
    + BARESIP_CNAME_SDES
)
BARESIP_SR_2_ARRIVAL = 1795473226.8760352
# At hang-up: BYE with the reason "Adjo", then SDES CNAME (no report first).
BARESIP_BYE = bytes.fromhex("81cb0003 1943c52a 04 41646a6f 000000") + BARESIP_CNAME_SDES


def test_parse_baresip_sender_report_compound() -> None:
    compound = RtcpCompound.parse(BARESIP_SR_1)
    sr, sdes = compound.packets
    assert isinstance(sr, SenderReport) and isinstance(sdes, SourceDescription)
    assert sr.ssrc == BARESIP_SSRC
    assert sr.sender_info == SenderInfo(0xEEAF3DC5E038B04A, 76235, 250, 40000)
    assert int(ntp_to_unix(sr.sender_info.ntp_timestamp)) == 1795473221
    assert sr.reports == (
        ReportBlock(
            ssrc=0x11223344,
            fraction_lost=5,
            cumulative_lost=5,
            highest_sequence=1249,
            jitter=9,
            last_sr=0x3DC4E1CC,
            delay_since_last_sr=0xFE35,
        ),
    )
    assert sr.extension == b""
    assert compound.cname == sdes.cname == "sip:alice@127.0.0.1"
    assert bytes(compound) == BARESIP_SR_1
    assert RtcpCompound.parse(BARESIP_SR_2).report_blocks_about(0x11223344)[0].cumulative_lost == 10


def test_round_trip_time_from_the_baresip_reports() -> None:
    for wire, arrival in (
        (BARESIP_SR_1, BARESIP_SR_1_ARRIVAL),
        (BARESIP_SR_2, BARESIP_SR_2_ARRIVAL),
    ):
        (block,) = RtcpCompound.parse(wire).report_blocks_about(0x11223344)
        rtt = round_trip_time(block, ntp_timestamp(arrival))
        assert rtt == 63 / 65536  # loopback: just under a millisecond


def test_parse_baresip_app_and_bye_which_do_not_start_with_a_report() -> None:
    (app,) = RtcpCompound.parse(BARESIP_APP_PING).packets
    assert app == UnknownRtcpPacket(RtcpPacketType.APP, 0, bytes.fromhex("1943c52a") + b"PINGPONG")
    assert bytes(app) == BARESIP_APP_PING
    bye, sdes = RtcpCompound.parse(BARESIP_BYE).packets
    assert bye == Goodbye((BARESIP_SSRC,), "Adjo")
    assert bytes(bye) + bytes(sdes) == BARESIP_BYE
    with pytest.raises(LocalProtocolError, match="start with an SR or RR"):
        bytes(RtcpCompound.parse(BARESIP_BYE))


# --- byte-exact packets ---------------------------------------------------------------------

SR = SenderReport(
    ssrc=0x11223344,
    sender_info=SenderInfo(0xE0F12345_80000000, 0xA000, 50, 8000),
    reports=(ReportBlock(0x55667788, 0x19, 3, 0x0001_0010, 0x2A, 0x2345_8000, 0x0001_8000),),
)
SR_WIRE = bytes.fromhex(
    "81 c8 000c"  # V=2 P=0 RC=1, SR, 13 words
    " 11223344"  # SSRC of sender
    " e0f12345 80000000"  # NTP timestamp
    " 0000a000"  # RTP timestamp
    " 00000032 00001f40"  # 50 packets, 8000 octets
    " 55667788 19 000003 00010010 0000002a 23458000 00018000"  # report block
)


def test_sender_report_byte_exact() -> None:
    assert bytes(SR) == SR_WIRE
    (parsed,) = RtcpCompound.parse(SR_WIRE).packets
    assert parsed == SR


def test_receiver_report_byte_exact_with_negative_cumulative_loss() -> None:
    rr = ReceiverReport(0x11223344, (ReportBlock(0x55667788, 0, -1, 0xFFFF),))
    wire = bytes.fromhex(
        "81 c9 0007 11223344"
        " 55667788 00 ffffff 0000ffff 00000000 00000000 00000000"  # lost -1 in 24 bits
    )
    assert bytes(rr) == wire
    assert RtcpCompound.parse(wire).packets == (rr,)
    empty = ReceiverReport(0x11223344)
    assert bytes(empty) == bytes.fromhex("80 c9 0001 11223344")


def test_report_extension_is_kept() -> None:
    rr = ReceiverReport(1, (), b"\x01\x02\x03\x04")
    assert bytes(rr) == bytes.fromhex("80 c9 0002 00000001 01020304")
    assert RtcpCompound.parse(bytes(rr)).packets == (rr,)
    with pytest.raises(LocalProtocolError):
        ReceiverReport(1, (), b"\x01")


@pytest.mark.parametrize(
    ("cname", "wire"),
    [
        ("a", "81 ca 0002 11223344 0101 61 00"),  # 7 octets + one null
        ("ab", "81 ca 0003 11223344 0102 6162 00000000"),  # ends on a word: four nulls
        ("abc", "81 ca 0003 11223344 0103 616263 000000"),
    ],
)
def test_sdes_cname_byte_exact(cname: str, wire: str) -> None:
    sdes = SourceDescription((SdesChunk(0x11223344, (SdesItem(SdesItemType.CNAME, cname),)),))
    assert bytes(sdes) == bytes.fromhex(wire)
    assert RtcpCompound.parse(bytes.fromhex(wire)).packets == (sdes,)


def test_sdes_several_chunks_and_items() -> None:
    sdes = SourceDescription(
        (
            SdesChunk(
                1, (SdesItem(SdesItemType.CNAME, "alice@pi"), SdesItem(SdesItemType.TOOL, "ü"))
            ),
            SdesChunk(2),  # no items: four null octets
            SdesChunk(3, (SdesItem(SdesItemType.PRIV, "\x03abcvalue"),)),
        )
    )
    wire = bytes(sdes)
    assert wire[:4] == bytes.fromhex("83 ca 000b")  # 20 + 8 + 16 octets of chunks
    assert RtcpCompound.parse(wire).packets == (sdes,)
    assert sdes.cname == "alice@pi"
    assert sdes.chunks[1].cname is None
    assert SourceDescription().cname is None


def test_bye_byte_exact() -> None:
    assert bytes(Goodbye((0x11223344,))) == bytes.fromhex("81 cb 0001 11223344")
    assert bytes(Goodbye((0x11223344,), "bye")) == bytes.fromhex("81 cb 0002 11223344 03 627965")
    hangup = Goodbye((1, 2), "hangup")
    wire = bytes.fromhex("82 cb 0004 00000001 00000002 06 68616e677570 00")
    assert bytes(hangup) == wire
    assert RtcpCompound.parse(wire).packets == (hangup,)
    assert RtcpCompound.parse(bytes.fromhex("80 cb 0000")).packets == (Goodbye(()),)


def test_text_that_is_not_utf8_is_replaced_not_rejected() -> None:
    wire = bytes.fromhex("81 ca 0003 00000001 0102 fffe 00000000") + bytes.fromhex(
        "81 cb 0002 00000001 02 c328 00"
    )
    sdes, bye = RtcpCompound.parse(wire).packets
    assert isinstance(sdes, SourceDescription) and isinstance(bye, Goodbye)
    assert sdes.cname == "\ufffd\ufffd"
    assert bye.reason == "\ufffd("


def test_build_checks_lengths_and_counts() -> None:
    with pytest.raises(LocalProtocolError):
        bytes(SdesItem(SdesItemType.CNAME, "x" * 256))
    with pytest.raises(LocalProtocolError):
        bytes(Goodbye((1,), "é" * 128))
    with pytest.raises(LocalProtocolError):
        Goodbye(tuple(range(32)))
    with pytest.raises(LocalProtocolError):
        ReceiverReport(1, tuple(ReportBlock(n) for n in range(32)))
    with pytest.raises(LocalProtocolError):
        ReportBlock(1, cumulative_lost=0x80_0000)
    with pytest.raises(LocalProtocolError):
        ReportBlock(1, fraction_lost=256)
    with pytest.raises(LocalProtocolError):
        SenderInfo(1 << 64, 0, 0, 0)
    with pytest.raises(LocalProtocolError):
        SdesItem(SdesItemType.END, "")


# --- compounds ----------------------------------------------------------------------------


def test_make_compound_sender_and_receiver() -> None:
    block = ReportBlock(0x55667788, 1, 2, 3, 4, 5, 6)
    info = SenderInfo(ntp_timestamp(1_700_000_000.25), 1234, 10, 1600)
    compound = make_compound(0x11223344, "alice@pi", sender_info=info, reports=[block])
    first, sdes = compound.packets
    assert first == SenderReport(0x11223344, info, (block,))
    assert sdes == SourceDescription((SdesChunk(0x11223344, (SdesItem(1, "alice@pi"),)),))
    wire = bytes(compound)
    assert RtcpCompound.parse(wire) == compound
    assert list(RtcpCompound.parse(wire)) == list(compound.packets)

    receiver_only = make_compound(7, "bob@pi", goodbye=True, reason="hung up")
    assert [type(p) for p in receiver_only.packets] == [ReceiverReport, SourceDescription, Goodbye]
    assert RtcpCompound.parse(bytes(receiver_only)) == receiver_only
    assert receiver_only.packets[2] == Goodbye((7,), "hung up")


def test_compound_must_start_with_a_report_and_carry_a_cname() -> None:
    sdes = SourceDescription((SdesChunk(1, (SdesItem(SdesItemType.CNAME, "a"),)),))
    with pytest.raises(LocalProtocolError, match="start with an SR or RR"):
        bytes(RtcpCompound((sdes, ReceiverReport(1))))
    with pytest.raises(LocalProtocolError, match="start with an SR or RR"):
        bytes(RtcpCompound(()))
    with pytest.raises(LocalProtocolError, match="CNAME"):
        bytes(RtcpCompound((ReceiverReport(1), SourceDescription((SdesChunk(1),)))))
    with pytest.raises(LocalProtocolError, match="CNAME"):
        bytes(RtcpCompound((ReceiverReport(1),)))


def test_unknown_packet_types_are_kept_and_skipped() -> None:
    rtpfb = bytes.fromhex("81 cd 0003 11223344 55667788 0005 0000")  # generic NACK
    xr = bytes.fromhex("80 cf 0004 11223344 04000002 e0f12345 80000000")  # RRT block
    wire = bytes(ReceiverReport(0x11223344)) + rtpfb + BARESIP_CNAME_SDES + xr
    compound = RtcpCompound.parse(wire)
    kinds = [type(p).__name__ for p in compound.packets]
    assert kinds == [
        "ReceiverReport",
        "UnknownRtcpPacket",
        "SourceDescription",
        "UnknownRtcpPacket",
    ]
    unknown = compound.packets[1]
    assert isinstance(unknown, UnknownRtcpPacket)
    assert (unknown.packet_type, unknown.count) == (RtcpPacketType.RTPFB, 1)
    assert bytes(compound) == wire


def test_padding_on_the_last_packet() -> None:
    rr = bytes.fromhex("a0 c9 0002 11223344 00000004")  # four octets of padding
    (parsed,) = RtcpCompound.parse(rr).packets
    assert parsed == ReceiverReport(0x11223344)
    app = bytes.fromhex("a0 cc 0003 11223344 6e616d65 00000004")
    (unknown,) = RtcpCompound.parse(app).packets
    assert unknown == UnknownRtcpPacket(204, 0, bytes.fromhex("11223344 6e616d65"))


@pytest.mark.parametrize(
    ("wire", "complaint"),
    [
        ("", "datagram of 0 octets"),
        ("80 c9", "datagram of 2 octets"),
        ("40 c9 0001 11223344", "version 1"),
        ("80 c9 0001 11223344 00", "stray octets"),
        ("80 c9 0002 11223344", "overruns"),
        ("81 c9 0001 11223344", "needs 28 octets"),
        ("80 c8 0001 11223344", "needs 24 octets"),
        ("a0 c9 0001 11223344 80 ca 0000", "padding on an RTCP packet that is not the last"),
        ("a0 c9 0001 11223300", "bad RTCP padding count 0"),
        ("a0 c9 0001 11223302", "bad RTCP padding count 2"),
        ("a0 c9 0001 11223308", "bad RTCP padding count 8"),
        ("81 ca 0000", "holds fewer"),
        ("81 ca 0001 11223344", "no end of items"),
        ("81 ca 0002 11223344 0109 6100", "overruns the packet"),
        ("81 ca 0002 11223344 01", "holds fewer|overruns"),
        ("81 ca 0003 11223344 00000000 00000000", "after the last SDES chunk"),
        ("82 ca 0002 11223344 00000000", "holds fewer"),
        ("82 cb 0001 11223344", "holds fewer"),
        ("81 cb 0002 11223344 05 616263", "overruns"),
    ],
)
def test_malformed_compounds_are_rejected(wire: str, complaint: str) -> None:
    with pytest.raises(MediaPacketError, match=complaint):
        RtcpCompound.parse(bytes.fromhex(wire))


def test_sdes_item_header_overrun() -> None:
    with pytest.raises(MediaPacketError, match="item header overruns"):
        RtcpCompound.parse(bytes.fromhex("81 ca 0002 11223344 0101 61 01"))


def test_looks_like_rtcp() -> None:
    assert looks_like_rtcp(BARESIP_SR_1)
    assert looks_like_rtcp(BARESIP_APP_PING)
    assert not looks_like_rtcp(bytes(RtpPacket(0, 1, 2, 3, b"")))
    assert not looks_like_rtcp(bytes(RtpPacket(96, 1, 2, 3, b"", marker=True)))
    assert not looks_like_rtcp(b"\x80")


@settings(max_examples=3000)
@given(st.binary(max_size=120))
def test_fuzz_parse_raises_only_media_packet_error(data: bytes) -> None:
    with_header = b"\x80\xc9" + data  # also go past the first header checks
    for candidate in (data, with_header):
        try:
            compound = RtcpCompound.parse(candidate)
        except MediaPacketError:
            continue
        assert isinstance(compound, RtcpCompound)


@settings(max_examples=2000)
@given(st.sampled_from([BARESIP_SR_1, BARESIP_BYE, SR_WIRE]), st.data())
def test_fuzz_mutated_real_compounds(wire: bytes, data: st.DataObject) -> None:
    mutated = bytearray(wire)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    for candidate in (bytes(mutated), bytes(mutated[:cut])):
        with contextlib.suppress(MediaPacketError):
            RtcpCompound.parse(candidate)


@settings(max_examples=200)
@given(
    ssrc=st.integers(0, 0xFFFF_FFFF),
    blocks=st.lists(
        st.builds(
            ReportBlock,
            st.integers(0, 0xFFFF_FFFF),
            st.integers(0, 255),
            st.integers(-0x80_0000, 0x7F_FFFF),
            st.integers(0, 0xFFFF_FFFF),
            st.integers(0, 0xFFFF_FFFF),
            st.integers(0, 0xFFFF_FFFF),
            st.integers(0, 0xFFFF_FFFF),
        ),
        max_size=3,
    ),
    cname=st.text(max_size=60),
    reason=st.none() | st.text(max_size=60),
    sender=st.booleans(),
)
def test_build_then_parse_round_trips(**fields: Any) -> None:
    info = SenderInfo(12345678901234, 5, 6, 7) if fields["sender"] else None
    compound = make_compound(
        fields["ssrc"],
        fields["cname"] or "x",
        sender_info=info,
        reports=fields["blocks"],
        goodbye=fields["reason"] is not None,
        reason=fields["reason"],
    )
    assert RtcpCompound.parse(bytes(compound)) == compound


# --- round-trip time and NTP time ------------------------------------------------------------


def test_round_trip_time_rfc3550_example() -> None:
    # §6.4.1 Figure 2: A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000 (46853.125 s),
    # DLSR = 0x0005:4000 (5.250 s): RTT = 6.125 s.
    block = ReportBlock(1, last_sr=0xB705_2000, delay_since_last_sr=0x0005_4000)
    arrival = 0xB710_8000 << 16
    assert round_trip_time(block, arrival) == 6.125


def test_round_trip_time_unknown_or_negative() -> None:
    assert round_trip_time(ReportBlock(1), 1 << 40) is None  # LSR 0: no SR received yet
    block = ReportBlock(1, last_sr=0x0001_0000, delay_since_last_sr=0x0002_0000)
    assert round_trip_time(block, 0x0002_0000 << 16) is None  # A - LSR - DLSR < 0
    wrapped = ReportBlock(1, last_sr=0xFFFF_0000, delay_since_last_sr=0x0000_8000)
    assert round_trip_time(wrapped, 0x0000_8000 << 16) == 1.0  # 1.5 s across the wrap, less 0.5


def test_ntp_timestamp() -> None:
    assert ntp_timestamp(0.0) == NTP_UNIX_OFFSET << 32
    assert ntp_timestamp(1.5) == ((NTP_UNIX_OFFSET + 1) << 32) | 0x8000_0000
    assert ntp_to_unix(ntp_timestamp(1_700_000_000.25)) == 1_700_000_000.25
    assert ntp_short(0x0123_4567_89AB_CDEF) == 0x4567_89AB
    # February 2036: the seconds field wraps (era 1).
    era_1 = (1 << 32) - NTP_UNIX_OFFSET
    assert ntp_timestamp(era_1 + 10.0) == 10 << 32
    assert ntp_to_unix(10 << 32) == era_1 + 10.0


# --- report blocks from the RTP objects ------------------------------------------------------


def test_report_block_from_receiver() -> None:
    receiver = RtpReceiver(8000)
    assert ReportBlock.from_receiver(receiver, 0.0) is None
    for sequence, arrival in ((100, 0.0), (101, 0.02), (102, 0.04), (104, 0.08)):
        receiver.receive(RtpPacket(0, sequence, sequence * 160, 0xAB, b"x"), arrival)
    receiver.note_sender_report(0xAB, 0xE0F1_2345_6789_0000, 0.5)
    block = ReportBlock.from_receiver(receiver, 1.5)
    assert block == ReportBlock(
        ssrc=0xAB,
        fraction_lost=256 // 5,  # 1 of 5 expected
        cumulative_lost=1,
        highest_sequence=104,
        jitter=0,
        last_sr=0x2345_6789,
        delay_since_last_sr=65536,
    )
    again = ReportBlock.from_receiver(receiver, 1.5)
    assert again is not None and again.fraction_lost == 0  # a new interval


def test_sender_info_from_sender() -> None:
    sender = RtpSender(0x77, 0, 8000, random.Random(5))
    sender.timestamp = 1000
    for index in range(3):
        sender.packetize(b"x" * 160, 160, now=20.0 + index * 0.02)
    info = SenderInfo.from_sender(sender, ntp_timestamp(1_700_000_000.0), 20.1)
    # The last packet (timestamp 1320) went out at 20.04; 0.06 s later is 480 units on.
    assert info == SenderInfo(ntp_timestamp(1_700_000_000.0), 1800, 3, 480)
    sender.packet_count = (1 << 32) + 2
    assert SenderInfo.from_sender(sender, 0, 20.1).packet_count == 2  # wraps on the wire


# --- scheduling ------------------------------------------------------------------------------


class FixedRandom(random.Random):
    """``uniform(a, b)`` always returns the point ``fraction`` of the way from a to b."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


@pytest.mark.parametrize(("fraction", "factor"), [(0.0, 0.5), (0.5, 1.0), (1.0, 1.5)])
def test_scheduler_interval_bounds(fraction: float, factor: float) -> None:
    scheduler = RtcpScheduler(100.0, FixedRandom(fraction))
    assert scheduler.next_deadline == pytest.approx(100.0 + 2.5 * factor)  # initial: half
    scheduler.sent(scheduler.next_deadline, 80)
    previous = scheduler.next_deadline
    scheduler.sent(previous, 80)
    assert scheduler.next_deadline - previous == pytest.approx(5.0 * factor)


def test_scheduler_random_intervals_stay_within_bounds() -> None:
    rng = random.Random(20261123)
    scheduler = RtcpScheduler(0.0, rng)
    assert 1.25 <= scheduler.next_deadline <= 3.75
    now = scheduler.next_deadline
    intervals = []
    for _ in range(500):
        assert scheduler.due(now)
        scheduler.sent(now, 100)
        assert not scheduler.due(now)
        intervals.append(scheduler.next_deadline - now)
        now = scheduler.next_deadline
    assert min(intervals) >= 2.5 and max(intervals) <= 7.5
    assert min(intervals) < 3.0 and max(intervals) > 7.0  # really randomised
    assert not scheduler.due(now - 0.001)


def test_scheduler_bandwidth_term() -> None:
    # 1 kbit/s session: RTCP gets 6.25 octets/s; average 128 octets * 2 members -> 40.96 s.
    scheduler = RtcpScheduler(0.0, FixedRandom(0.5), session_bandwidth=1000)
    assert scheduler.average_packet_size == 128
    assert scheduler.deterministic_interval() == pytest.approx(40.96)
    scheduler.sent(0.0, 100)
    assert scheduler.next_deadline == pytest.approx(40.96)
    # 64 kbit/s: the 5 s minimum wins.
    fast = RtcpScheduler(0.0, FixedRandom(0.5), session_bandwidth=64_000)
    assert fast.deterministic_interval() == 5.0


def test_scheduler_average_size() -> None:
    scheduler = RtcpScheduler(0.0, FixedRandom(0.5), initial_packet_size=100)
    scheduler.received(372)  # 400 with IP and UDP: 128 + (400 - 128) / 16
    assert scheduler.average_packet_size == 145.0
    with pytest.raises(LocalProtocolError):
        RtcpScheduler(0.0, random.Random(), minimum_interval=0)
    with pytest.raises(LocalProtocolError):
        RtcpScheduler(0.0, random.Random(), session_bandwidth=0)
