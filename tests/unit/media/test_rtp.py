"""RTP (RFC 3550 §5, Appendix A.1/A.3/A.8): wire format, sender, per-source reception state.

Byte-exact headers are written out field by field.  The real packets are the
SIPp RFC 2833 captures of ``shared/corpus/media/rfc2833-dtmf-pcaps-sipp``.
The loss and jitter trace is computed by hand in the comments.
"""

from __future__ import annotations

import json
import random
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoneagent.media.rtp import (
    MAX_DROPOUT,
    MAX_MISORDER,
    MediaPacketError,
    RtpExtension,
    RtpPacket,
    RtpReceiver,
    RtpSender,
    RtpSource,
    RtpVerdict,
    seq_delta,
    seq_newer,
    timestamp_delta,
    timestamp_newer,
)
from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from tests.helpers import corpus_file


def packet(sequence: int, timestamp: int = 0, ssrc: int = 0xABC, **fields: Any) -> RtpPacket:
    return RtpPacket(0, sequence, timestamp, ssrc, fields.pop("payload", b"\xff" * 160), **fields)


# --- wire format -----------------------------------------------------------------------------


def test_minimal_header_byte_exact() -> None:
    rtp = RtpPacket(0, 0x1234, 0xDEADBEEF, 0x11223344, b"\xff\xfe")
    wire = bytes.fromhex(
        "80 00 1234"  # V=2 P=0 X=0 CC=0 | M=0 PT=0 | sequence
        " deadbeef"  # timestamp
        " 11223344"  # SSRC
        " fffe"  # payload
    )
    assert bytes(rtp) == wire
    assert RtpPacket.parse(wire) == rtp
    assert rtp.header_length == 12
    assert len(rtp) == 14


def test_header_with_csrcs_extension_and_padding_byte_exact() -> None:
    rtp = RtpPacket(
        payload_type=96,
        sequence=1,
        timestamp=0x100,
        ssrc=0xCAFEBABE,
        payload=b"\x01\x02",
        marker=True,
        csrcs=(0x01020304, 0x05060708),
        extension=RtpExtension(0xBEDE, bytes.fromhex("10ab0000 00000000")),
        padding=4,
    )
    wire = bytes.fromhex(
        "b2"  # V=2 P=1 X=1 CC=2
        " e0"  # M=1 PT=96
        " 0001 00000100 cafebabe"  # sequence, timestamp, SSRC
        " 01020304 05060708"  # CSRC list
        " bede 0002"  # extension: profile 0xBEDE (RFC 8285 one-byte), 2 words
        " 10ab0000 00000000"  # element id 1, one octet 0xab; padding
        " 0102"  # payload
        " 000000 04"  # padding, count 4 including itself
    )
    assert bytes(rtp) == wire
    assert rtp.header_length == 12 + 8 + 4 + 8
    parsed = RtpPacket.parse(wire)
    assert parsed == rtp
    assert wire[parsed.header_length : parsed.header_length + 2] == b"\x01\x02"


def test_padding_only_packet_is_accepted_with_an_empty_payload() -> None:
    wire = bytes.fromhex("a0 6f 0001 00000000 00000001") + bytes(254) + b"\xff"
    parsed = RtpPacket.parse(wire)
    assert parsed.payload == b"" and parsed.padding == 255
    assert bytes(parsed) == wire


def test_extension_of_zero_words() -> None:
    wire = bytes.fromhex("90 00 0001 00000000 00000001 1000 0000 aa")
    parsed = RtpPacket.parse(wire)
    assert parsed.extension == RtpExtension(0x1000, b"")
    assert parsed.header_length == 16
    assert parsed.payload == b"\xaa"
    assert bytes(parsed) == wire


@cache
def dtmf_captures() -> dict[str, Any]:
    with corpus_file("media", "rfc2833-dtmf-pcaps-sipp", "decoded.json").open() as file:
        decoded: dict[str, Any] = json.load(file)
    return decoded


def test_real_packets_from_the_sipp_captures() -> None:
    count = 0
    for capture in dtmf_captures()["files"].values():
        for entry in capture["packets"]:
            wire = bytes.fromhex(entry["rtp_hex"])
            rtp = RtpPacket.parse(wire)
            assert rtp.payload_type == entry["PT"]
            assert rtp.sequence == entry["seq"]
            assert rtp.timestamp == entry["ts"]
            assert rtp.ssrc == int(entry["ssrc"], 16)
            assert rtp.marker == bool(entry["M"])
            assert len(rtp.payload) == 4
            assert bytes(rtp) == wire
            count += 1
    assert count == 120


@pytest.mark.parametrize(
    ("wire", "complaint"),
    [
        ("", "shorter than its header"),
        ("80 00 0001 00000000 000000", "shorter than its header"),
        ("40 00 0001 00000000 00000001", "version 1"),
        ("00 00 0001 00000000 00000001", "version 0"),
        ("c0 00 0001 00000000 00000001", "version 3"),
        ("81 00 0001 00000000 00000001", "CSRC count 1"),
        ("8f 00 0001 00000000 00000001" + " 00000000" * 14, "CSRC count 15"),
        ("90 00 0001 00000000 00000001 bede", "no room for the header extension"),
        ("90 00 0001 00000000 00000001 bede 0001", "overruns"),
        ("92 00 0001 00000000 00000001 00000002 00000003 bede 0002 00000000", "overruns"),
        ("a0 00 0001 00000000 00000001 ff 00", "padding count is 0"),
        ("a0 00 0001 00000000 00000001 ff 03", "padding count 3"),
        ("b0 00 0001 00000000 00000001 bede 0000 05", "padding count 5"),
    ],
)
def test_malformed_packets_are_rejected(wire: str, complaint: str) -> None:
    with pytest.raises(MediaPacketError, match=complaint) as caught:
        RtpPacket.parse(bytes.fromhex(wire))
    assert isinstance(caught.value, RemoteProtocolError)
    assert caught.value.status_hint is None


@pytest.mark.parametrize(
    "fields",
    [
        {"payload_type": 128},
        {"sequence": 65536},
        {"sequence": -1},
        {"timestamp": 1 << 32},
        {"ssrc": 1 << 32},
        {"padding": 256},
        {"csrcs": tuple(range(16))},
        {"csrcs": (1 << 32,)},
        {"marker": True, "sequence": True},
    ],
)
def test_building_out_of_range_fields_is_our_bug(fields: dict[str, Any]) -> None:
    base: dict[str, Any] = {
        "payload_type": 0,
        "sequence": 0,
        "timestamp": 0,
        "ssrc": 0,
        "payload": b"",
    }
    with pytest.raises(LocalProtocolError):
        RtpPacket(**(base | fields))


def test_extension_must_be_whole_words() -> None:
    with pytest.raises(LocalProtocolError):
        RtpExtension(0xBEDE, b"\x00\x01\x02")
    with pytest.raises(LocalProtocolError):
        RtpExtension(0x10000, b"")


@settings(max_examples=2000)
@given(st.binary(max_size=120))
def test_fuzz_parse_raises_only_media_packet_error(data: bytes) -> None:
    try:
        rtp = RtpPacket.parse(data)
    except MediaPacketError:
        return
    assert rtp.header_length + len(rtp.payload) + rtp.padding == len(data)
    if not rtp.padding:
        assert bytes(rtp) == data  # padding octets other than the count are not kept


@settings(max_examples=300)
@given(
    payload_type=st.integers(0, 127),
    sequence=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFF_FFFF),
    ssrc=st.integers(0, 0xFFFF_FFFF),
    payload=st.binary(max_size=64),
    marker=st.booleans(),
    csrcs=st.lists(st.integers(0, 0xFFFF_FFFF), max_size=15).map(tuple),
    extension=st.none()
    | st.builds(
        RtpExtension,
        st.integers(0, 0xFFFF),
        st.binary(max_size=16).map(lambda data: data[: len(data) // 4 * 4]),
    ),
    padding=st.integers(0, 255),
)
def test_build_then_parse_round_trips(**fields: Any) -> None:
    rtp = RtpPacket(**fields)
    assert RtpPacket.parse(bytes(rtp)) == rtp


# --- sequence and timestamp arithmetic --------------------------------------------------------


def test_sequence_arithmetic_wraps() -> None:
    assert seq_delta(0, 65535) == 1
    assert seq_delta(65535, 0) == -1
    assert seq_delta(10, 65530) == 16
    assert seq_delta(32767, 0) == 32767
    assert seq_delta(32768, 0) == -32768
    assert seq_newer(0, 65535)
    assert not seq_newer(65535, 0)
    assert not seq_newer(7, 7)


def test_timestamp_arithmetic_wraps() -> None:
    assert timestamp_delta(0, 0xFFFF_FFFF) == 1
    assert timestamp_delta(80, 0xFFFF_FFB0) == 160
    assert timestamp_delta(0xFFFF_FFB0, 80) == -160
    assert timestamp_newer(80, 0xFFFF_FFB0)
    assert not timestamp_newer(0xFFFF_FFB0, 80)


# --- sender ----------------------------------------------------------------------------------


def test_sender_starts_at_random_sequence_and_timestamp() -> None:
    expected = random.Random(7)
    sequence, timestamp = expected.randrange(65536), expected.randrange(1 << 32)
    sender = RtpSender(0x1234, 0, 8000, random.Random(7))
    first = sender.packetize(b"a" * 160, 160)
    assert (first.sequence, first.timestamp) == (sequence, timestamp)
    assert first.ssrc == 0x1234 and first.payload_type == 0
    others = {RtpSender(1, 0, 8000, random.Random(seed)).sequence for seed in range(20)}
    assert len(others) > 15


def test_sender_advances_and_wraps_sequence_and_timestamp() -> None:
    sender = RtpSender(1, 8, 8000, random.Random(1))
    sender.sequence = 65534
    sender.timestamp = (1 << 32) - 240
    packets = [sender.packetize(bytes(160), 160) for _ in range(4)]
    assert [p.sequence for p in packets] == [65534, 65535, 0, 1]
    assert [p.timestamp for p in packets] == [(1 << 32) - 240, (1 << 32) - 80, 80, 240]
    assert sender.packet_count == 4 and sender.octet_count == 640


def test_sender_marks_talkspurts() -> None:
    sender = RtpSender(1, 0, 8000, random.Random(1))
    markers = [sender.packetize(b"x", 160).marker for _ in range(3)]
    assert markers == [True, False, False]
    start = sender.timestamp
    sender.skip(800)  # 100 ms of silence not sent
    after_silence = sender.packetize(b"x", 160)
    assert after_silence.marker
    assert after_silence.timestamp == start + 800
    sender.start_talkspurt()
    assert sender.packetize(b"x", 160).marker
    sender.start_talkspurt()
    assert not sender.packetize(b"x", 160, marker=False).marker
    assert sender.packetize(b"x", 160, marker=True).marker


def test_sender_timestamp_override_for_telephone_events() -> None:
    sender = RtpSender(1, 0, 8000, random.Random(3))
    sender.sequence, sender.timestamp = 100, 1000
    sender.packetize(b"audio", 160, now=10.0)
    event_start = sender.timestamp_at(10.02)
    assert event_start == 1160
    first = sender.packetize(b"\x05\x0a\x00\xa0", 0, True, payload_type=101, timestamp=event_start)
    update = sender.packetize(b"\x05\x0a\x01\x40", 0, payload_type=101, timestamp=event_start)
    assert (first.payload_type, first.timestamp, first.marker, first.sequence) == (
        101,
        1160,
        True,
        101,
    )
    assert (update.timestamp, update.marker, update.sequence) == (1160, False, 102)
    assert sender.timestamp == 1160  # the override does not move the media clock
    assert sender.timestamp_at(10.5) == 1000 + 4000


def test_sender_timestamp_at_before_any_packet_is_the_next_timestamp() -> None:
    sender = RtpSender(1, 0, 16000, random.Random(3))
    assert sender.timestamp_at(123.0) == sender.timestamp


def test_sender_rejects_bad_arguments() -> None:
    with pytest.raises(LocalProtocolError):
        RtpSender(1 << 32, 0, 8000, random.Random())
    with pytest.raises(LocalProtocolError):
        RtpSender(1, 0, 0, random.Random())
    sender = RtpSender(1, 0, 8000, random.Random())
    with pytest.raises(LocalProtocolError):
        sender.packetize(b"", -1)
    with pytest.raises(LocalProtocolError):
        sender.skip(-160)


# --- A.1 per-source sequence state -------------------------------------------------------------


def valid_source(first: int) -> RtpSource:
    source = RtpSource(0xABC, first)
    assert source.update_seq(first) is RtpVerdict.PROBATION
    assert source.update_seq((first + 1) & 0xFFFF) is RtpVerdict.VALIDATED
    return source


def test_probation_needs_two_sequential_packets() -> None:
    source = RtpSource(0xABC, 100)
    assert not source.valid
    assert source.update_seq(100) is RtpVerdict.PROBATION
    assert source.update_seq(102) is RtpVerdict.PROBATION  # out of sequence: probation restarts
    assert source.probation == 1
    assert source.update_seq(103) is RtpVerdict.VALIDATED
    assert source.valid
    # A.1's init_seq(): counting starts at the validating packet.
    assert (source.base_sequence, source.received, source.expected) == (103, 1, 1)


def test_probation_starting_at_sequence_zero() -> None:
    # A.1 in C compares seq with max_seq + 1 without wrapping: 65535 + 1 != 0.
    source = RtpSource(0xABC, 0)
    assert source.update_seq(0) is RtpVerdict.PROBATION
    assert source.probation == 1
    assert source.update_seq(1) is RtpVerdict.VALIDATED


def test_probation_across_the_wrap() -> None:
    source = RtpSource(0xABC, 65535)
    assert source.update_seq(65535) is RtpVerdict.PROBATION
    assert source.update_seq(0) is RtpVerdict.VALIDATED


def test_sequence_wrap_counts_cycles() -> None:
    source = valid_source(65533)  # valid at 65534
    assert [source.update_seq(s) for s in (65535, 0, 1)] == [RtpVerdict.ACCEPTED] * 3
    assert source.cycles == 65536
    assert source.extended_highest_sequence == 65536 + 1
    assert source.expected == 4 and source.cumulative_lost == 0
    assert source.update_seq(65535) is RtpVerdict.DUPLICATE  # behind, across the wrap
    assert source.update_seq(65530) is RtpVerdict.REORDERED


def test_misorder_and_duplicates() -> None:
    source = valid_source(9)  # valid at 10
    assert source.update_seq(11) is RtpVerdict.ACCEPTED
    assert source.update_seq(13) is RtpVerdict.ACCEPTED  # 12 missing
    assert source.update_seq(12) is RtpVerdict.REORDERED
    assert source.update_seq(12) is RtpVerdict.DUPLICATE
    assert source.update_seq(13) is RtpVerdict.DUPLICATE
    assert source.update_seq(10) is RtpVerdict.DUPLICATE
    # A.1 counts all of them as received (§6.4.1): the cumulative loss goes negative.
    assert source.received == 7 and source.expected == 4
    assert source.cumulative_lost == -3


def test_max_misorder_boundary() -> None:
    source = valid_source(499)  # valid at 500
    for sequence in range(501, 701, 2):  # every other packet up to 699
        source.update_seq(sequence)
    assert source.max_sequence == 699
    assert source.update_seq(699 - (MAX_MISORDER - 1)) is RtpVerdict.REORDERED  # 99 behind
    assert source.update_seq(699 - MAX_MISORDER) is RtpVerdict.TOO_OLD  # 100 behind


def test_dropout_boundary_and_restart() -> None:
    source = valid_source(999)  # valid at 1000
    assert source.update_seq(1000 + MAX_DROPOUT - 1) is RtpVerdict.ACCEPTED  # gap accepted
    base = source.max_sequence
    assert source.update_seq(base + MAX_DROPOUT) is RtpVerdict.BAD_SEQUENCE
    assert source.max_sequence == base  # not believed
    assert source.update_seq(base + 1) is RtpVerdict.ACCEPTED
    # A jump confirmed by the next packet in sequence: the sender restarted.
    assert source.update_seq(30000) is RtpVerdict.BAD_SEQUENCE
    assert source.update_seq(30001) is RtpVerdict.RESTARTED
    assert (source.base_sequence, source.max_sequence, source.received) == (30001, 30001, 1)
    assert source.update_seq(30002) is RtpVerdict.ACCEPTED


def test_restart_backwards() -> None:
    source = valid_source(5000)
    assert source.update_seq(10) is RtpVerdict.TOO_OLD
    assert source.update_seq(11) is RtpVerdict.RESTARTED
    assert source.extended_highest_sequence == 11


# --- the receiver: loss (A.3) and jitter (A.8) on a hand-computed trace ------------------------


def test_loss_and_jitter_trace() -> None:
    receiver = RtpReceiver(8000)
    # (sequence, timestamp, arrival s).  Arrival in timestamp units is s * 8000.
    # A.8: D = (R_i - R_j) - (S_i - S_j) between consecutive arrivals; J += (|D| - J) / 16.
    trace = [
        (1000, 0, 0.000, RtpVerdict.PROBATION, 0.0),  # held; first jitter sample
        (1001, 160, 0.020, RtpVerdict.VALIDATED, 0.0),  # D = 160 - 160 = 0
        (1002, 320, 0.045, RtpVerdict.ACCEPTED, 2.5),  # D = 200 - 160 = 40: 40/16
        # 1003 lost
        (1005, 800, 0.100, RtpVerdict.ACCEPTED, 4.84375),  # D = 440 - 480 = -40
        (1004, 640, 0.105, RtpVerdict.REORDERED, 17.041015625),  # D = 40 + 160 = 200
        (1006, 960, 0.120, RtpVerdict.ACCEPTED, 28.4759521484375),  # D = 120 - 320
        (1006, 960, 0.121, RtpVerdict.DUPLICATE, 28.4759521484375),  # dropped: no sample
        # 1007 lost
        (1008, 1280, 0.160, RtpVerdict.ACCEPTED, 26.696205139160156),  # D = 0: J * 15/16
    ]
    delivered: list[int] = []
    for sequence, timestamp, arrival, verdict, jitter in trace:
        result = receiver.receive(packet(sequence, timestamp), arrival)
        assert result.verdict is verdict, sequence
        assert receiver.jitter == pytest.approx(jitter, abs=1e-6), sequence
        delivered.extend(p.sequence for p in result.packets)
    assert delivered == [1000, 1001, 1002, 1005, 1004, 1006, 1008]
    source = receiver.source
    assert source is not None
    # The packet held in probation counts: base 1000, highest 1008 -> 9 expected;
    # received 8 (7 delivered and the duplicate, which §6.4.1 counts): 1 lost.
    assert source.base_sequence == 1000
    assert source.extended_highest_sequence == 1008
    assert (source.expected, source.received, source.cumulative_lost) == (9, 8, 1)
    assert source.take_fraction_lost() == (1 << 8) // 9 == 28
    receiver.receive(packet(1009, 1440), 0.180)
    assert source.take_fraction_lost() == 0  # interval: 1 expected, 1 received
    assert source.last_fraction_lost == 0
    assert receiver.duplicates == 1 and receiver.reordered == 1
    assert receiver.packets_received == 9 and receiver.packets_delivered == 8
    assert receiver.octets_received == 9 * 160
    assert receiver.total_lost == 1


def test_fraction_lost_clamps_and_cumulative_lost_is_24_bit() -> None:
    source = valid_source(0)  # valid at 1
    source.update_seq(2001)  # 1999 lost
    assert source.take_fraction_lost() == (1999 << 8) // 2001
    source.received -= 10_000_000  # absurd, to hit the clamp
    assert source.cumulative_lost == 0x7F_FFFF
    source.received += 30_000_000
    assert source.cumulative_lost == -0x80_0000


def test_jitter_ignores_repeated_timestamps_and_handles_wrap() -> None:
    source = valid_source(0)
    source.update_jitter(1000.0, 0xFFFF_FF60)
    source.update_jitter(1160.0, 0)  # timestamp wrapped: +160 in 160 units of time
    assert source.jitter == 0.0
    source.update_jitter(1320.0, 0)  # same timestamp (an RFC 4733 update): no sample
    source.update_jitter(1480.0, 320)  # from the last sample: D = 320 - 320
    assert source.jitter == 0.0


def test_receiver_delivers_sequence_wrap() -> None:
    receiver = RtpReceiver(8000)
    sequences = [65533, 65534, 65535, 0, 1]
    delivered = []
    for index, sequence in enumerate(sequences):
        result = receiver.receive(packet(sequence, (index * 160 - 320) % (1 << 32)), index * 0.02)
        delivered.extend(p.sequence for p in result.packets)
    assert delivered == sequences
    assert receiver.source is not None
    assert receiver.source.extended_highest_sequence == 65536 + 1
    assert receiver.source.cumulative_lost == 0
    assert receiver.jitter == 0.0


def test_receiver_drops_and_counts() -> None:
    receiver = RtpReceiver(8000)
    for sequence in range(300, 310):
        receiver.receive(packet(sequence, sequence * 160), sequence * 0.02)
    assert receiver.receive(packet(305), 7.0).verdict is RtpVerdict.DUPLICATE
    assert receiver.receive(packet(100), 7.0).verdict is RtpVerdict.TOO_OLD
    assert receiver.receive(packet(5309), 7.0).verdict is RtpVerdict.BAD_SEQUENCE
    assert receiver.receive_datagram(b"\x80\x00", 7.0).verdict is RtpVerdict.MALFORMED
    assert (receiver.duplicates, receiver.too_old, receiver.bad_sequence, receiver.malformed) == (
        1,
        1,
        1,
        1,
    )
    restarted = receiver.receive(packet(5310, 5), 7.02)
    assert restarted.verdict is RtpVerdict.RESTARTED and restarted.packets
    assert receiver.restarts == 1


def test_receive_datagram_parses() -> None:
    receiver = RtpReceiver(8000)
    wire = bytes(RtpPacket(0, 7, 0, 0x99, b"x", csrcs=(5,), extension=RtpExtension(1, bytes(4))))
    assert receiver.receive_datagram(wire, 0.0).verdict is RtpVerdict.PROBATION
    wire = bytes(RtpPacket(0, 8, 160, 0x99, b"y"))
    result = receiver.receive_datagram(wire, 0.02)
    assert result.verdict is RtpVerdict.VALIDATED
    assert [p.payload for p in result.packets] == [b"x", b"y"]
    assert result.packets[0].csrcs == (5,)  # carried along, not interpreted


def test_verdict_passes() -> None:
    assert RtpVerdict.ACCEPTED.passes and RtpVerdict.SOURCE_CHANGED.passes
    assert not RtpVerdict.DUPLICATE.passes and not RtpVerdict.PROBATION.passes


# --- the receiver: SSRC changes ----------------------------------------------------------------


def feed(receiver: RtpReceiver, ssrc: int, sequences: list[int], start: float) -> list[int]:
    delivered = []
    for index, sequence in enumerate(sequences):
        now = start + 0.02 * index
        result = receiver.receive(packet(sequence, sequence * 160, ssrc), now)
        delivered.extend(p.sequence for p in result.packets)
    return delivered


def test_ssrc_change_is_followed_without_a_gap() -> None:
    receiver = RtpReceiver(8000)
    assert feed(receiver, 0xA, [10, 11, 12, 14], 0.0) == [10, 11, 12, 14]  # 13 lost
    assert receiver.ssrc == 0xA and receiver.ssrc_changes == 0
    first = receiver.receive(packet(7000, 0, 0xB), 0.10)
    assert first.verdict is RtpVerdict.PROBATION and first.packets == ()
    assert receiver.ssrc == 0xA
    second = receiver.receive(packet(7001, 160, 0xB), 0.12)
    assert second.verdict is RtpVerdict.SOURCE_CHANGED
    assert [(p.ssrc, p.sequence) for p in second.packets] == [(0xB, 7000), (0xB, 7001)]
    assert receiver.ssrc == 0xB and receiver.ssrc_changes == 1
    assert receiver.source is not None
    assert (receiver.source.expected, receiver.source.received) == (2, 2)
    assert receiver.total_lost == 1  # the old source's loss is kept
    assert feed(receiver, 0xB, [7002, 7003], 0.14) == [7002, 7003]


def test_a_straggler_of_the_old_source_does_not_take_over() -> None:
    receiver = RtpReceiver(8000)
    feed(receiver, 0xA, [10, 11, 12], 0.0)
    feed(receiver, 0xB, [500, 501], 0.06)
    assert receiver.ssrc == 0xB
    assert receiver.receive(packet(13, 0, 0xA), 0.10).verdict is RtpVerdict.PROBATION
    after = receiver.receive(packet(502, 0, 0xB), 0.11)
    assert after.verdict is RtpVerdict.ACCEPTED
    assert receiver.ssrc == 0xB and receiver.ssrc_changes == 1
    assert receiver.probation_dropped == 1


def test_interleaved_sources_do_not_make_the_receiver_flip() -> None:
    receiver = RtpReceiver(8000)
    feed(receiver, 0xA, [10, 11], 0.0)
    delivered_b = []
    for index in range(10):
        receiver.receive(packet(12 + index, 0, 0xA), 0.04 + index * 0.02)
        result = receiver.receive(packet(900 + index, 0, 0xB), 0.05 + index * 0.02)
        delivered_b.extend(result.packets)
    assert receiver.ssrc == 0xA and receiver.ssrc_changes == 0
    assert delivered_b == []
    assert receiver.probation_dropped == 9  # each B packet held, then dropped by the next A


def test_first_source_validation_is_not_a_change() -> None:
    receiver = RtpReceiver(8000)
    assert receiver.ssrc is None and receiver.jitter == 0.0 and receiver.total_lost == 0
    assert receiver.receive(packet(1, 0, 0xA), 0.0).verdict is RtpVerdict.PROBATION
    # Another SSRC before the first was valid replaces the candidate.
    assert receiver.receive(packet(50, 0, 0xB), 0.01).verdict is RtpVerdict.PROBATION
    assert receiver.receive(packet(51, 160, 0xB), 0.03).verdict is RtpVerdict.VALIDATED
    assert receiver.ssrc == 0xB and receiver.ssrc_changes == 0
    assert receiver.probation_dropped == 1


def test_broken_run_in_probation_drops_held_packets() -> None:
    receiver = RtpReceiver(8000)
    receiver.receive(packet(1), 0.0)
    receiver.receive(packet(5), 0.02)  # not sequential: packet 1 is dropped, 5 held
    result = receiver.receive(packet(6), 0.04)
    assert result.verdict is RtpVerdict.VALIDATED
    assert [p.sequence for p in result.packets] == [5, 6]
    assert receiver.probation_dropped == 1


# --- LSR / DLSR bookkeeping ----------------------------------------------------------------------


def test_last_sender_report_and_delay() -> None:
    receiver = RtpReceiver(8000)
    assert receiver.last_sender_report == 0
    assert receiver.delay_since_last_sender_report(5.0) == 0
    receiver.note_sender_report(0xA, 0x0123_4567_89AB_CDEF, 1.0)  # no source yet: ignored
    assert receiver.last_sender_report == 0
    feed(receiver, 0xA, [1, 2], 0.0)
    receiver.note_sender_report(0xB, 0x0123_4567_89AB_CDEF, 1.0)  # not the followed source
    assert receiver.last_sender_report == 0
    receiver.note_sender_report(0xA, 0x0123_4567_89AB_CDEF, 1.0)
    assert receiver.last_sender_report == 0x4567_89AB
    assert receiver.delay_since_last_sender_report(2.25) == int(1.25 * 65536)
    assert receiver.delay_since_last_sender_report(0.5) == 0  # clock went back: no negative


def test_held_packet_before_the_wrap_is_counted() -> None:
    receiver = RtpReceiver(8000)
    assert receiver.receive(packet(65535, 0), 0.0).verdict is RtpVerdict.PROBATION
    result = receiver.receive(packet(0, 160), 0.02)
    assert [p.sequence for p in result.packets] == [65535, 0]
    source = receiver.source
    assert source is not None
    assert (source.expected, source.received, source.cumulative_lost) == (2, 2, 0)
    assert receiver.receive(packet(65535, 0), 0.03).verdict is RtpVerdict.DUPLICATE
    receiver.receive(packet(2, 480), 0.06)
    assert (source.expected, source.cumulative_lost) == (4, 0)  # the duplicate counts (§6.4.1)
