"""RFC 4733 telephone-events: payload, sender schedule, receiver, SIP INFO dtmf-relay.

Reference material: ``shared/corpus/media/rfc4733-telephone-event-examples.json``
(RFC 4733 §5 Table 5 and Figure 3; verbatim text in ``rfc4733-examples.txt``)
and ``rfc2833-dtmf-pcaps-sipp/`` — twelve real captures SIPp plays, with their
packets decoded in ``decoded.json``.  The captures break RFC 4733 rules (first
packet with duration 0, three end packets with one sequence number); the
receiver must still find exactly one digit in each.
"""

from __future__ import annotations

import contextlib
import json
import random
import struct
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoneagent.media.dtmf import (
    FLASH,
    MAX_DURATION,
    DigitEnded,
    DigitStarted,
    DtmfError,
    DtmfEvent,
    DtmfPacket,
    DtmfReceiver,
    DtmfRelay,
    DtmfSender,
    TelephoneEvent,
    digit_of_event,
    event_of_digit,
)
from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from tests.helpers import corpus_file

CAPTURES = ("media", "rfc2833-dtmf-pcaps-sipp")


@cache
def rfc_examples() -> dict[str, Any]:
    path = corpus_file("media", "rfc4733-telephone-event-examples.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@cache
def captures() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(corpus_file(*CAPTURES, "decoded.json").read_text())
    return data["files"]


CAPTURE_DIGITS = {
    **{f"dtmf_2833_{n}.pcap": str(n) for n in range(10)},
    "dtmf_2833_star.pcap": "*",
    "dtmf_2833_pound.pcap": "#",
}


@dataclass(frozen=True)
class Rtp:
    """The fields of an RTP packet these tests need (RFC 3550 §5.1, no CSRC/extension)."""

    marker: bool
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes

    @classmethod
    def parse(cls, data: bytes) -> Rtp:
        first, second, sequence, timestamp, ssrc = struct.unpack("!BBHII", data[:12])
        assert first == 0x80, "V=2, no padding, extension or CSRC in these captures"
        return cls(bool(second & 0x80), second & 0x7F, sequence, timestamp, ssrc, data[12:])


def pcap_udp_payloads(data: bytes) -> list[bytes]:
    """UDP payloads of a little-endian, microsecond, Ethernet/IPv4 pcap file."""
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", data[:24])
    assert (magic, linktype) == (0xA1B2C3D4, 1)
    payloads, offset = [], 24
    while offset < len(data):
        _, _, captured, _ = struct.unpack("<IIII", data[offset : offset + 16])
        frame = data[offset + 16 : offset + 16 + captured]
        offset += 16 + captured
        assert frame[12:14] == b"\x08\x00"  # IPv4
        header_length = (frame[14] & 0x0F) * 4
        assert frame[14 + 9] == 17  # UDP
        udp = frame[14 + header_length :]
        udp_length = struct.unpack("!H", udp[4:6])[0]
        payloads.append(udp[8:udp_length])
    return payloads


def drain(receiver: DtmfReceiver) -> list[DtmfEvent]:
    events = []
    while (event := receiver.next_event()) is not None:
        events.append(event)
    return events


def digits_of(events: list[DtmfEvent]) -> str:
    return "".join(e.digit for e in events if isinstance(e, DigitStarted))


# --------------------------------------------------------------------------- payload


def test_figure_3_payload() -> None:
    figure = rfc_examples()["figure3_event_packet_fields"]
    payload = bytes.fromhex(rfc_examples()["figure3_payload_hex_DERIVED"])
    event = TelephoneEvent.parse(payload)
    assert event == TelephoneEvent(
        figure["event"], bool(figure["E"]), figure["volume"], figure["duration"]
    )
    assert event.digit == "1"
    assert bytes(event) == payload
    rtp = Rtp.parse(bytes.fromhex(rfc_examples()["figure3_packet_hex_DERIVED"]))
    assert (rtp.payload_type, rtp.sequence, rtp.timestamp, rtp.ssrc) == (100, 18, 11200, 0x5234A8)
    assert rtp.payload == payload


def test_reserved_bit_is_ignored_on_receipt_and_zero_when_sent() -> None:
    event = TelephoneEvent.parse(bytes([11, 0x80 | 0x40 | 7, 0x01, 0x00]))
    assert event == TelephoneEvent(11, True, 7, 256)
    assert bytes(event) == bytes([11, 0x87, 0x01, 0x00])


@pytest.mark.parametrize("size", [0, 1, 3, 5, 8])
def test_a_report_is_four_octets(size: int) -> None:
    with pytest.raises(DtmfError) as info:
        TelephoneEvent.parse(bytes(size))
    assert isinstance(info.value, RemoteProtocolError) and info.value.status_hint is None


@pytest.mark.parametrize("size", [0, 3, 5, 7])
def test_a_payload_is_a_multiple_of_four_octets(size: int) -> None:
    with pytest.raises(DtmfError):
        TelephoneEvent.parse_all(bytes(size))


def test_several_reports_in_one_payload() -> None:
    first, second = TelephoneEvent(1, True, 10, 800), TelephoneEvent(2, False, 10, 160)
    assert TelephoneEvent.parse_all(bytes(first) + bytes(second)) == [first, second]


@pytest.mark.parametrize(
    ("event", "volume", "duration"), [(256, 0, 0), (-1, 0, 0), (0, 64, 0), (0, 0, 65536)]
)
def test_building_an_impossible_report_is_our_bug(event: int, volume: int, duration: int) -> None:
    with pytest.raises(LocalProtocolError):
        TelephoneEvent(event, False, volume, duration)


@given(st.binary(min_size=4, max_size=4))
def test_any_four_octets_parse_and_rebuild_without_the_r_bit(data: bytes) -> None:
    event = TelephoneEvent.parse(data)
    assert bytes(event) == data[:1] + bytes([data[1] & 0xBF]) + data[2:]


@given(st.binary(max_size=64))
def test_parse_all_raises_only_dtmf_error(data: bytes) -> None:
    try:
        reports = TelephoneEvent.parse_all(data)
    except DtmfError:
        assert len(data) % 4 or not data
    else:
        assert b"".join(bytes(r) for r in reports) == bytes(
            b & 0xBF if i % 4 == 1 else b for i, b in enumerate(data)
        )


def test_digit_codes() -> None:
    assert [event_of_digit(d) for d in "0123456789*#ABCD"] == list(range(16))
    assert event_of_digit("a") == 12 and event_of_digit(FLASH) == 16
    assert digit_of_event(16) == FLASH and digit_of_event(17) is None
    with pytest.raises(LocalProtocolError):
        event_of_digit("E")


# --------------------------------------------------------------------------- captures


@pytest.mark.parametrize("name", sorted(CAPTURE_DIGITS))
def test_capture_decoded_json_matches_the_pcap(name: str) -> None:
    packets = captures()[name]["packets"]
    payloads = pcap_udp_payloads(corpus_file(*CAPTURES, name).read_bytes())
    assert [bytes.fromhex(p["rtp_hex"]) for p in packets] == payloads
    for packet in packets:
        rtp = Rtp.parse(bytes.fromhex(packet["rtp_hex"]))
        assert (rtp.marker, rtp.payload_type, rtp.sequence, rtp.timestamp) == (
            bool(packet["M"]),
            packet["PT"],
            packet["seq"],
            packet["ts"],
        )
        event = TelephoneEvent.parse(rtp.payload)
        assert event == TelephoneEvent(
            packet["event"], bool(packet["E"]), packet["volume"], packet["duration"]
        )


def feed_capture(receiver: DtmfReceiver, name: str, start: float) -> float:
    now = start
    for packet in captures()[name]["packets"]:
        rtp = Rtp.parse(bytes.fromhex(packet["rtp_hex"]))
        assert receiver.receive(rtp.payload, timestamp=rtp.timestamp, marker=rtp.marker, now=now)
        now += 0.02
    return now


@pytest.mark.parametrize("name", sorted(CAPTURE_DIGITS))
def test_receiver_finds_one_digit_in_each_capture(name: str) -> None:
    receiver = DtmfReceiver()
    now = feed_capture(receiver, name, start=100.0)
    receiver.handle_timer(now + 10)
    timestamp = captures()[name]["packets"][0]["ts"]
    digit = CAPTURE_DIGITS[name]
    # Reported on the first packet (duration 0 read as "just started"), ended by the
    # first of the three end packets with one sequence number; the rest folded away.
    assert drain(receiver) == [
        DigitStarted(digit, timestamp, 10),
        DigitEnded(digit, timestamp, 2240, 280.0, end_received=True),
    ]
    assert receiver.get_timer() is None


def test_receiver_reports_on_the_first_packet() -> None:
    name = "dtmf_2833_7.pcap"
    rtp = Rtp.parse(bytes.fromhex(captures()[name]["packets"][0]["rtp_hex"]))
    receiver = DtmfReceiver()
    receiver.receive(rtp.payload, timestamp=rtp.timestamp, marker=rtp.marker, now=0.0)
    assert drain(receiver) == [DigitStarted("7", rtp.timestamp, 10)]


def test_all_captures_in_one_stream() -> None:
    receiver = DtmfReceiver()
    now = 0.0
    for name in CAPTURE_DIGITS:
        now = feed_capture(receiver, name, now) + 0.1
    receiver.handle_timer(now + 10)
    events = drain(receiver)
    assert digits_of(events) == "0123456789*#"
    assert all(e.end_received for e in events if isinstance(e, DigitEnded))


# --------------------------------------------------------------------------- sender


def sent_rows(sender: DtmfSender, until: float, tick: float = 0.01) -> list[DtmfPacket]:
    packets: list[DtmfPacket] = []
    for step in range(round(until / tick) + 1):
        packets.extend(sender.packets_due(step * tick))
    return packets


def test_100_ms_digit_packet_sequence_byte_exact() -> None:
    sender = DtmfSender(payload_type=101)
    sender.press("5", now=1.0)
    assert sender.busy and sender.get_timer() == pytest.approx(1.02)
    packets: list[DtmfPacket] = []
    for tick in range(1, 10):
        packets.extend(sender.packets_due(1.0 + tick * 0.02))
    assert [(round(p.send_time, 3), p.marker, p.payload.hex()) for p in packets] == [
        (1.02, True, "050a00a0"),  # duration 160: one 20 ms interval
        (1.04, False, "050a0140"),
        (1.06, False, "050a01e0"),
        (1.08, False, "050a0280"),
        (1.10, False, "058a0320"),  # E bit, final duration 800 (100 ms)
        (1.12, False, "058a0320"),  # §2.5.1.4: the final report three times
        (1.14, False, "058a0320"),
    ]
    assert {(p.event_start, p.timestamp_offset) for p in packets} == {(1.0, 0)}
    assert [p.rtp_timestamp(4000) for p in packets] == [4000] * 7
    assert not sender.busy and sender.get_timer() is None
    assert sender.packets_due(5.0) == []


def test_rfc_4733_table_5_timing() -> None:
    """Digits "911" at 50 ms packets; our rows equal Table 5's except where noted."""
    sender = DtmfSender(payload_type=100, packet_interval_ms=50, volume=20)
    sender.press("9", now=0.0, duration_ms=200)
    packets = sent_rows(sender, until=0.87)
    sender.press("1", now=0.88, duration_ms=250)
    packets += sent_rows_from(sender, 0.88, 1.39)
    sender.press("1", now=1.40, duration_ms=220)
    packets += sent_rows_from(sender, 1.40, 2.0)
    assert len(packets) == 20  # sequence numbers 1..20, as in the table
    for row in rfc_examples()["table5_event_reporting_rows"]:
        packet = packets[row["seq"] - 1]
        timestamp = packet.rtp_timestamp(round(packet.event_start * 8000))
        end = row["E"]
        if row["seq"] in (4, 11):
            # The RFC's gateway learns of the end only after sending this update; we
            # know a key press's length, so the E bit goes out one packet earlier.
            assert end == 0
            end = 1
        assert (
            round(packet.send_time * 1000),
            int(packet.marker),
            timestamp,
            packet.event.event,
            packet.event.duration,
            int(packet.event.end),
        ) == (row["time_ms"], row["M"], row["timestamp"], row["event_code"], row["duration"], end)
    figure = rfc_examples()["figure3_payload_hex_DERIVED"]
    assert packets[17].payload.hex() == figure  # "RTP packet 14", sequence number 18


def sent_rows_from(sender: DtmfSender, start: float, until: float) -> list[DtmfPacket]:
    packets: list[DtmfPacket] = []
    for step in range(round((until - start) / 0.01) + 1):
        packets.extend(sender.packets_due(start + step * 0.01))
    return packets


def test_duration_not_a_multiple_of_the_interval() -> None:
    sender = DtmfSender(payload_type=101)
    sender.press("#", now=0.0, duration_ms=110)
    packets = sent_rows(sender, until=1.0)
    assert [(p.event.duration, p.event.end) for p in packets] == [
        (160, False),
        (320, False),
        (480, False),
        (640, False),
        (800, False),
        (880, True),
        (880, True),
        (880, True),
    ]
    assert round(packets[5].send_time, 3) == 0.12


def test_minimum_duration() -> None:
    sender = DtmfSender(payload_type=101, min_duration_ms=100)
    sender.press("1", now=0.0, duration_ms=40)
    assert sent_rows(sender, until=1.0)[-1].event.duration == 800


def test_long_event_is_segmented() -> None:
    """§2.5.1.3: 10 s = 80,000 units > 65,535: two segments."""
    sender = DtmfSender(payload_type=101)
    sender.press("0", now=0.0, duration_ms=10_000)
    packets = sent_rows(sender, until=11.0, tick=0.02)
    assert [p.marker for p in packets].count(True) == 1 and packets[0].marker
    assert all(p.event.duration <= MAX_DURATION for p in packets)
    first = [p for p in packets if p.timestamp_offset == 0]
    second = [p for p in packets if p.timestamp_offset == MAX_DURATION]
    assert len(first) + len(second) == len(packets)
    # The first segment's final report: 65,535, no E bit, three times, at 410·20 ms.
    assert [(p.event.duration, p.event.end) for p in first[-3:]] == [(MAX_DURATION, False)] * 3
    assert round(first[-3].send_time, 2) == 8.2
    assert all(p.event.duration < MAX_DURATION for p in first[:-3])
    # The second segment counts from 65,535 units after the start; it ends the event.
    assert second[0].event.duration == 413 * 160 - MAX_DURATION
    assert not second[0].marker
    assert [(p.event.duration, p.event.end) for p in second[-3:]] == [
        (80_000 - MAX_DURATION, True)
    ] * 3
    assert [p.event.end for p in packets].count(True) == 3
    durations = [p.event.duration for p in second]
    assert durations == sorted(durations)


def test_three_segment_event() -> None:
    sender = DtmfSender(payload_type=101)
    sender.press("D", now=0.0, duration_ms=20_000)
    packets = sent_rows(sender, until=21.0, tick=0.02)
    offsets = sorted({p.timestamp_offset for p in packets})
    assert offsets == [0, MAX_DURATION, 2 * MAX_DURATION]
    assert packets[-1].event.duration == 160_000 - 2 * MAX_DURATION and packets[-1].event.end
    receiver = DtmfReceiver()
    for packet in packets:
        receiver.receive(
            packet.payload,
            timestamp=packet.rtp_timestamp(0xFFFF_0000),  # wraps during the event
            marker=packet.marker,
            now=packet.send_time,
        )
    events = drain(receiver)
    assert events == [
        DigitStarted("D", 0xFFFF_0000, 10),
        DigitEnded("D", 0xFFFF_0000, 160_000, 20_000.0, end_received=True),
    ]


def test_queued_digits_follow_each_other_with_a_gap() -> None:
    sender = DtmfSender(payload_type=101)
    for digit in "123":
        sender.press(digit, now=0.0)
    packets = sent_rows(sender, until=2.0)
    starts = sorted({p.event_start for p in packets})
    # 100 ms digit, 50 ms gap; the next starts after the last end copy (140 ms).
    assert starts == pytest.approx([0.0, 0.15, 0.30])
    firsts = [p for p in packets if p.marker]
    assert [p.event.event for p in firsts] == [1, 2, 3]
    assert [p.event.event for p in packets] == [1] * 7 + [2] * 7 + [3] * 7
    send_times = [p.send_time for p in packets]
    assert send_times == sorted(send_times)


def test_a_later_press_starts_no_earlier_than_itself() -> None:
    sender = DtmfSender(payload_type=101)
    sender.press("1", now=0.0)
    sent_rows(sender, until=1.0)
    sender.press("2", now=5.0)
    assert sender.get_timer() == pytest.approx(5.02)


def test_a_late_call_sends_only_the_newest_update() -> None:
    sender = DtmfSender(payload_type=101)
    sender.press("4", now=0.0)
    late = sender.packets_due(0.065)
    assert [(p.event.duration, p.marker) for p in late] == [(480, True)]
    # The 640 update is stale at 0.2 s; the three E copies all go, even late.
    later = sender.packets_due(0.2)
    assert [(p.event.duration, p.event.end, p.marker) for p in later] == [(800, True, False)] * 3


def test_a_very_late_call_keeps_the_marker_on_the_end_packet() -> None:
    sender = DtmfSender(payload_type=101)
    sender.press("4", now=0.0)
    packets = sender.packets_due(1.0)
    assert [(p.event.duration, p.event.end, p.marker) for p in packets] == [
        (800, True, True),
        (800, True, False),
        (800, True, False),
    ]


def test_flash_and_other_settings() -> None:
    sender = DtmfSender(payload_type=101, clock_rate=16000, packet_interval_ms=10, volume=0)
    sender.press(FLASH, now=0.0, duration_ms=500)
    packets = sent_rows(sender, until=1.0)
    assert packets[0].payload == bytes([16, 0, 0, 160])
    assert packets[-1].event == TelephoneEvent(16, True, 0, 8000)


def test_rtp_timestamp_wraps() -> None:
    packet = DtmfPacket(TelephoneEvent(1, False, 10, 160), False, 0.0, MAX_DURATION, 0.02)
    assert packet.rtp_timestamp(0xFFFF_FFFF) == MAX_DURATION - 1


@pytest.mark.parametrize(
    "settings_",
    [
        {"payload_type": 128},
        {"payload_type": 101, "packet_interval_ms": 0},
        {"payload_type": 101, "clock_rate": 11025, "packet_interval_ms": 20},
        {"payload_type": 101, "min_duration_ms": 0},
        {"payload_type": 101, "volume": 64},
    ],
)
def test_bad_sender_settings(settings_: dict[str, int]) -> None:
    with pytest.raises(LocalProtocolError):
        DtmfSender(**settings_)


def test_pressing_a_non_digit_is_our_bug() -> None:
    with pytest.raises(LocalProtocolError):
        DtmfSender(payload_type=101).press("x", now=0.0)


# --------------------------------------------------------------------------- receiver


def table_5_packets() -> list[tuple[TelephoneEvent, int, bool, float]]:
    """Table 5's rows, with the updates it elides ("...") filled in: one per 50 ms."""
    rows = rfc_examples()["table5_event_reporting_rows"]
    packets = []
    for row, following in zip(rows, [*rows[1:], None], strict=True):
        event = TelephoneEvent(row["event_code"], bool(row["E"]), 0, row["duration"])
        packets.append((event, row["timestamp"], bool(row["M"]), row["time_ms"] / 1000))
        if following is None or following["seq"] == row["seq"] + 1:
            continue
        for missing in range(1, following["seq"] - row["seq"]):  # the elided updates
            duration = row["duration"] + 400 * missing
            elided = TelephoneEvent(row["event_code"], False, 0, min(duration, 1760))
            packets.append(
                (elided, row["timestamp"], False, (row["time_ms"] + 50 * missing) / 1000)
            )
    return packets


def test_receiver_over_rfc_table_5() -> None:
    packets = table_5_packets()
    assert len(packets) == 20
    receiver = DtmfReceiver()
    for event, timestamp, marker, now in packets:
        receiver.receive(bytes(event), timestamp=timestamp, marker=marker, now=now)
    assert drain(receiver) == [
        DigitStarted("9", 0, 0),
        DigitEnded("9", 0, 1600, 200.0, end_received=True),
        DigitStarted("1", 7040, 0),
        DigitEnded("1", 7040, 2000, 250.0, end_received=True),
        DigitStarted("1", 11200, 0),
        DigitEnded("1", 11200, 1760, 220.0, end_received=True),
    ]


def send(digits: str, *, start: float = 0.0, duration_ms: int | None = None) -> list[DtmfPacket]:
    sender = DtmfSender(payload_type=101)
    for digit in digits:
        sender.press(digit, now=start, duration_ms=duration_ms)
    packets: list[DtmfPacket] = []
    now = start
    while sender.busy:
        now = sender.get_timer() or now
        packets.extend(sender.packets_due(now))
    return packets


def receive_all(
    packets: list[DtmfPacket], receiver: DtmfReceiver | None = None, *, base: int = 1000
) -> list[DtmfEvent]:
    receiver = receiver or DtmfReceiver()
    for packet in packets:
        timestamp = packet.rtp_timestamp(base + round(packet.event_start * 8000))
        receiver.receive(
            packet.payload, timestamp=timestamp, marker=packet.marker, now=packet.send_time
        )
    receiver.handle_timer(1e9)
    return drain(receiver)


def test_lost_first_packet() -> None:
    packets = send("3")
    events = receive_all(packets[1:])
    assert events == [
        DigitStarted("3", 1000, 10),
        DigitEnded("3", 1000, 800, 100.0, end_received=True),
    ]


def test_only_the_end_packets_arrive() -> None:
    events = receive_all(send("3")[-2:])
    assert events == [
        DigitStarted("3", 1000, 10),
        DigitEnded("3", 1000, 800, 100.0, end_received=True),
    ]


def test_lost_end_packets_time_out() -> None:
    packets = [p for p in send("8") if not p.event.end]
    receiver = DtmfReceiver()
    for packet in packets:
        receiver.receive(packet.payload, timestamp=5, marker=packet.marker, now=packet.send_time)
    last = packets[-1].send_time
    # The interval is learnt from the duration's growth (160 units = 20 ms): 3 × 20 ms.
    assert receiver.get_timer() == pytest.approx(last + 0.06)
    receiver.handle_timer(last + 0.059)
    assert drain(receiver) == [DigitStarted("8", 5, 10)]
    receiver.handle_timer(last + 0.06)
    assert drain(receiver) == [DigitEnded("8", 5, 640, 80.0, end_received=False)]
    assert receiver.get_timer() is None


def test_timeout_before_any_growth_uses_the_configured_interval() -> None:
    receiver = DtmfReceiver(packet_interval_ms=40)
    receiver.receive(bytes(TelephoneEvent(1, False, 10, 0)), timestamp=0, marker=True, now=2.0)
    assert receiver.get_timer() == pytest.approx(2.12)


def test_late_packets_of_a_timed_out_digit_are_ignored() -> None:
    packets = send("8")
    receiver = DtmfReceiver()
    early, late = packets[:2], packets[2:]
    receive_all(early, receiver)  # times out
    assert receive_all(late, receiver) == []


def test_duplicates_and_reordering_change_nothing() -> None:
    packets = send("159")
    shuffled = []
    for index in range(0, len(packets) - 1, 2):  # swap neighbours, send everything twice
        shuffled += [packets[index + 1], packets[index], packets[index + 1]]
    shuffled += packets[len(packets) - len(packets) % 2 :]
    events = receive_all(shuffled)
    assert digits_of(events) == "159"
    assert [e.duration for e in events if isinstance(e, DigitEnded)] == [800, 800, 800]


def test_a_new_timestamp_ends_the_unfinished_digit() -> None:
    packets = [p for p in send("12") if not (p.event.event == 1 and p.event.end)]
    events = receive_all(packets)
    assert [type(e).__name__ for e in events] == [
        "DigitStarted",
        "DigitEnded",
        "DigitStarted",
        "DigitEnded",
    ]
    first_end = events[1]
    assert isinstance(first_end, DigitEnded) and not first_end.end_received
    assert digits_of(events) == "12"


def test_same_digit_twice() -> None:
    assert digits_of(receive_all(send("55"))) == "55"


def test_late_end_retransmission_after_the_next_digit_started() -> None:
    packets = send("12")
    first_end = next(p for p in packets if p.event.event == 1 and p.event.end)
    second_start = next(i for i, p in enumerate(packets) if p.event.event == 2)
    reordered = [*packets[: second_start + 1], first_end, *packets[second_start + 1 :]]
    assert digits_of(receive_all(reordered)) == "12"


def test_long_event_is_one_digit() -> None:
    events = receive_all(send("*", duration_ms=10_000))
    assert events == [
        DigitStarted("*", 1000, 10),
        DigitEnded("*", 1000, 80_000, 10_000.0, end_received=True),
    ]


def test_long_event_with_lost_segment_end() -> None:
    """The next segment is recognised without the previous one's final report."""
    packets = [
        p
        for p in send("*", duration_ms=10_000)
        if not (p.timestamp_offset == 0 and p.event.duration == MAX_DURATION)
    ]
    # Four intervals without a packet: a longer timeout than 3 intervals keeps the digit.
    events = receive_all(packets, DtmfReceiver(timeout_intervals=5))
    assert digits_of(events) == "*"
    assert events[-1] == DigitEnded("*", 1000, 80_000, 10_000.0, end_received=True)
    # With the default timeout the gap ends the digit and the next segment reads as new.
    assert digits_of(receive_all(packets)) == "**"


def test_malformed_packets_are_dropped_and_counted() -> None:
    receiver = DtmfReceiver()
    assert not receiver.receive(b"\x01\x02\x03", timestamp=0, marker=True, now=0.0)
    assert not receiver.receive(b"", timestamp=0, marker=True, now=0.0)
    assert receiver.malformed == 2 and drain(receiver) == []


def test_non_dtmf_events_are_ignored() -> None:
    receiver = DtmfReceiver()
    receiver.receive(bytes(TelephoneEvent(32, False, 0, 160)), timestamp=0, marker=True, now=0.0)
    assert receiver.ignored == 1 and drain(receiver) == []


def test_several_events_in_one_packet() -> None:
    """§2.5.1.5: each report starts where the previous one's duration ends."""
    receiver = DtmfReceiver()
    payload = bytes(TelephoneEvent(1, True, 10, 800)) + bytes(TelephoneEvent(2, False, 10, 160))
    receiver.receive(payload, timestamp=4000, marker=True, now=0.0)
    assert drain(receiver) == [
        DigitStarted("1", 4000, 10),
        DigitEnded("1", 4000, 800, 100.0, end_received=True),
        DigitStarted("2", 4800, 10),
    ]


def test_bad_receiver_settings() -> None:
    with pytest.raises(LocalProtocolError):
        DtmfReceiver(packet_interval_ms=0)


@settings(max_examples=60, deadline=None)
@given(
    digits=st.text(alphabet="0123456789*#ABCD", min_size=1, max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_loss_duplication_and_jitter(digits: str, seed: int) -> None:
    chooser = random.Random(seed)
    packets = send(digits)
    by_event: dict[float, list[DtmfPacket]] = {}
    for packet in packets:
        by_event.setdefault(packet.event_start, []).append(packet)
    received: list[DtmfPacket] = []
    for group in by_event.values():
        kept = [p for p in group if chooser.random() > 0.3] or [chooser.choice(group)]
        kept = [p for p in kept for _ in range(chooser.choice((1, 1, 2)))]
        for index in range(len(kept) - 1):  # a little reordering within the digit
            if chooser.random() < 0.2:
                kept[index], kept[index + 1] = kept[index + 1], kept[index]
        received += kept
    events = receive_all(received)
    assert digits_of(events) == digits
    ends = [e for e in events if isinstance(e, DigitEnded)]
    assert len(ends) == len(digits)
    assert all(0 <= e.duration <= 800 for e in ends)


# --------------------------------------------------------------------------- SIP INFO


@pytest.mark.parametrize(
    ("body", "digit", "duration"),
    [
        (b"Signal=5\r\nDuration=160\r\n", "5", 160),
        (b"Signal=5\r\nDuration=160", "5", 160),
        (b"signal= 9\nduration= 250\n", "9", 250),
        (b"Signal=*\r\n", "*", None),
        (b"Signal=#\r\nDuration=100\r\n", "#", 100),
        (b"Signal=10\r\n", "*", None),
        (b"Signal=11\r\n", "#", None),
        (b"Signal=a\r\n", "A", None),
        (b"Signal=16\r\nDuration=500\r\n", FLASH, 500),
        (b"Signal=!\r\n", FLASH, None),
        (b"Duration=160\r\nSignal=0\r\nX-Other=1\r\n\r\n", "0", 160),
        ("Signal=3\r\nDuration=0", "3", 0),
    ],
)
def test_dtmf_relay_parse(body: bytes | str, digit: str, duration: int | None) -> None:
    assert DtmfRelay.parse(body) == DtmfRelay(digit, duration)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"Duration=160\r\n",
        b"Signal=E\r\n",
        b"Signal=17\r\n",
        b"Signal=\r\n",
        b"Signal=5\r\nDuration=abc\r\n",
        b"Signal=5\r\nDuration=-5\r\n",
        b"Signal=5\r\nDuration=\xd9\xa3\r\n",  # an Arabic-Indic digit is not a number here
        b"Signal 5\r\n",
        b"=5\r\n",
        b"Signal=\xff\r\n",
    ],
)
def test_dtmf_relay_rejects(body: bytes) -> None:
    with pytest.raises(DtmfError) as info:
        DtmfRelay.parse(body)
    assert info.value.status_hint == 400


def test_dtmf_relay_build() -> None:
    assert bytes(DtmfRelay("5", 160)) == b"Signal=5\r\nDuration=160\r\n"
    assert bytes(DtmfRelay("*")) == b"Signal=*\r\n"
    assert bytes(DtmfRelay(FLASH, 300)) == b"Signal=16\r\nDuration=300\r\n"
    assert DtmfRelay.CONTENT_TYPE == "application/dtmf-relay"
    for relay in (DtmfRelay("5", 160), DtmfRelay("#"), DtmfRelay(FLASH, 1)):
        assert DtmfRelay.parse(bytes(relay)) == relay
    with pytest.raises(LocalProtocolError):
        DtmfRelay("x")
    with pytest.raises(LocalProtocolError):
        DtmfRelay("1", -1)


@given(st.binary(max_size=60))
def test_dtmf_relay_parse_raises_only_dtmf_error(body: bytes) -> None:
    with contextlib.suppress(DtmfError):
        DtmfRelay.parse(body)
