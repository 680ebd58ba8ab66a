"""MediaSession on a fake clock: pacing, symmetric RTP, SSRC changes, DTMF in the stream."""

from __future__ import annotations

import itertools
import random

import pytest

from phoneagent.media.dtmf import TelephoneEvent
from phoneagent.media.rtcp import Goodbye, RtcpCompound, SenderReport
from phoneagent.media.rtp import RtpPacket
from phoneagent.media.session import MediaSession
from phoneagent.sdp.offer_answer import MediaPolicy, answer_offer, build_offer, process_answer

SDP_ADDRESS = ("127.0.0.1", 40000)  # where the far end's SDP says to send


def negotiated(mux: bool = False):  # type: ignore[no-untyped-def]
    policy = MediaPolicy(rtcp_mux=mux)
    offer = build_offer(policy, "127.0.0.1", 30000, 1, 1)
    answer, _ = answer_offer(offer, policy, SDP_ADDRESS[0], SDP_ADDRESS[1], 2, 1)
    return process_answer(offer, answer)


def session(heard: list[bytes] | None = None, now: float = 100.0) -> MediaSession:
    sink = heard.append if heard is not None else (lambda pcm: None)
    return MediaSession(
        negotiated(), lambda samples: b"\x01\x00" * samples, sink, now, random.Random(7)
    )


def far_end_packet(ssrc: int, sequence: int, timestamp: int, payload_type: int = 0) -> bytes:
    return bytes(RtpPacket(payload_type, sequence, timestamp, ssrc, b"\xff" * 160))


def test_frames_follow_an_absolute_schedule() -> None:
    media = session(now=100.0)
    sent = []
    now = 100.0
    for _ in range(50):
        now = media.next_deadline()
        sent += media.handle_timer(now + 0.003)  # every wake-up 3 ms late: no drift
    assert len(sent) == 50
    assert abs(media.next_deadline() - (100.0 + 50 * 0.020)) < 1e-9
    packets = [RtpPacket.parse(data) for data, _ in sent]
    assert [p.sequence for p in packets] == [(packets[0].sequence + i) % 65536 for i in range(50)]
    assert all((b.timestamp - a.timestamp) % 2**32 == 160 for a, b in itertools.pairwise(packets))
    assert packets[0].marker and not any(p.marker for p in packets[1:])


def test_a_late_wake_up_sends_the_owed_frames_at_once() -> None:
    media = session(now=0.0)
    media.handle_timer(0.0)
    assert len(media.handle_timer(0.065)) == 3  # frames due at 20, 40 and 60 ms


def test_symmetric_rtp_sends_where_the_media_comes_from() -> None:
    media = session()
    (_, destination), *_ = media.handle_timer(100.0)
    assert destination == SDP_ADDRESS
    behind_nat = ("127.0.0.1", 51234)
    for index in range(3):
        media.receive_rtp(
            far_end_packet(0x1234, 10 + index, 1000 + 160 * index), behind_nat, 100.01
        )
    assert media.handle_timer(100.02)[0][1] == behind_nat


def test_an_ssrc_change_is_followed_without_a_gap() -> None:
    heard: list[bytes] = []
    media = session(heard, now=100.0)
    silent_ticks_after_switch = []
    for tick in range(60):  # 1.2 s: source A for 0.6 s, then a B2BUA switches to source B
        now = 100.0 + 0.020 * tick
        if tick < 30:
            packet = far_end_packet(0xAAAA, 100 + tick, 160 * tick)
        else:
            packet = far_end_packet(0xBBBB, 7000 + tick, 9_000_000 + 160 * tick)
        media.receive_rtp(packet, SDP_ADDRESS, now)
        before = len(heard)
        media.handle_timer(now)
        if tick >= 30 and len(heard) == before:
            silent_ticks_after_switch.append(tick)
    assert len(heard) >= 50
    # At most the jitter buffer's re-buffering after the switch (60 ms = 3 frames).
    assert len(silent_ticks_after_switch) <= 3, silent_ticks_after_switch


def test_dtmf_replaces_audio_and_keeps_the_stream_ssrc() -> None:
    media = session()
    audio = RtpPacket.parse(media.handle_timer(100.0)[0][0])
    media.send_dtmf("5", 100.0)
    events = []
    now = 100.0
    for _ in range(20):
        now = media.next_deadline()
        for data, _ in media.handle_timer(now):
            packet = RtpPacket.parse(data)
            assert packet.ssrc == audio.ssrc
            if packet.payload_type == 101:
                events.append((packet, TelephoneEvent.parse(packet.payload)))
    assert events, "no telephone-event packets"
    assert events[0][0].marker
    assert {event.event for _, event in events} == {5}
    assert len({packet.timestamp for packet, _ in events}) == 1  # one event, one timestamp
    assert sum(event.end for _, event in events) == 3  # the end packet three times


def test_telephone_events_received_become_one_digit() -> None:
    media = session()
    for sequence, duration in enumerate((160, 320, 480, 640, 640, 640)):
        end = duration == 640
        payload = bytes(TelephoneEvent(9, end, 10, duration))
        packet = RtpPacket(101, 500 + sequence, 8000, 0x77, payload, marker=sequence == 0)
        media.receive_rtp(bytes(packet), SDP_ADDRESS, 100.0 + sequence * 0.02)
    assert media.next_event() is not None
    assert media.next_event() is None


def test_malformed_packets_are_dropped() -> None:
    media = session()
    media.receive_rtp(b"\x00" * 5, SDP_ADDRESS, 100.0)
    media.receive_rtp(b"\x80" + b"\x00" * 3, SDP_ADDRESS, 100.0)
    media.receive_rtcp(b"\x81\xc8\x00", SDP_ADDRESS, 100.0)
    assert media.receiver.malformed == 2
    assert media.jitter.depth_ms == 0


def test_rtcp_reports_and_goodbye() -> None:
    media = session(now=100.0)
    now = 100.0
    reports = []
    while now < 112.0:
        now = media.next_deadline()
        media.handle_timer(now)
        reports += media.rtcp_due(now)
    assert 1 <= len(reports) <= 5  # §6.2: at least 5 s apart, randomised 0.5-1.5
    compound = RtcpCompound.parse(reports[0][0])
    assert isinstance(compound.packets[0], SenderReport)  # we were sending
    assert reports[0][1] == ("127.0.0.1", SDP_ADDRESS[1] + 1)
    data, _ = media.goodbye(now, "hangup")
    assert any(isinstance(p, Goodbye) for p in RtcpCompound.parse(data).packets)
    statistics = media.call_statistics()
    assert statistics.packets_sent >= 500


def test_the_deadline_always_moves_on_even_if_rtcp_is_collected_late() -> None:
    # A caller that runs handle_timer at every deadline must never see a deadline in the
    # past (that would be a busy loop), whether or not it collects RTCP each time.
    media = session(now=0.0)
    now = 0.0
    for _ in range(1000):  # 20 s of frames
        now = media.next_deadline()
        media.handle_timer(now)
        assert media.next_deadline() > now
    assert len(media.rtcp_due(now)) <= 1  # only the newest compound is kept


def paced_session(backlog: list[int]) -> MediaSession:
    return MediaSession(
        negotiated(),
        lambda samples: b"\x01\x00" * samples,
        lambda pcm: None,
        0.0,
        random.Random(7),
        capture_backlog=lambda: backlog[0],
    )


def test_a_sound_card_behind_the_schedule_holds_the_frame_until_it_is_captured() -> None:
    backlog = [100]  # the card has 100 of the 160 samples of the first frame
    media = paced_session(backlog)
    assert media.handle_timer(0.0) == []
    # The schedule moved by the 60 missing samples (7.5 ms at 8 kHz).
    assert abs(media.next_deadline() - 0.0075) < 1e-9
    backlog[0] = 160
    assert len(media.handle_timer(0.0075)) == 1
    assert abs(media.next_deadline() - 0.0275) < 1e-9


def test_a_sound_card_ahead_of_the_schedule_gets_one_extra_frame() -> None:
    backlog = [160 * 4]  # four frames waiting, one due: the loop's clock runs slow
    media = paced_session(backlog)
    assert len(media.handle_timer(0.0)) == 2
    backlog[0] = 160 * 2
    assert len(media.handle_timer(media.next_deadline())) == 1  # within bounds: as scheduled


@pytest.mark.parametrize("card_rate", [1.005, 0.995])
def test_a_card_whose_clock_drifts_is_followed_over_a_long_call(card_rate: float) -> None:
    """The card's crystal 0.5 % fast or slow: over 1,000 frames sending keeps its pace."""
    captured = [0.0]
    read = [0]
    media = MediaSession(
        negotiated(),
        lambda samples: read.__setitem__(0, read[0] + samples) or b"\x00\x00" * samples,
        lambda pcm: None,
        0.0,
        random.Random(7),
        capture_backlog=lambda: int(captured[0]) - read[0],
    )
    now = 0.0
    sent = 0
    for _ in range(1000):
        now = max(media.next_deadline(), now)
        captured[0] = now * 8000 * card_rate + 160  # the card delivers a period ahead
        sent += len(media.handle_timer(now))
    backlog = int(captured[0]) - read[0]
    assert 0 <= backlog <= 160 * 4  # bounded: the card's buffer never overflows
    assert abs(sent - now * 50 * card_rate) <= 4  # frames followed the card's rate, not ours


def test_with_rtcp_mux_rtcp_goes_to_the_rtp_port_and_follows_symmetric_rtp() -> None:
    media = MediaSession(negotiated(mux=True), lambda n: b"\0\0" * n, lambda pcm: None, 0.0)
    assert media.rtcp_remote == media.remote == SDP_ADDRESS
    _, destination = media.goodbye(0.0)
    assert destination == SDP_ADDRESS  # RFC 5761: one port for both
    for sequence in (1, 2, 3):  # past the RFC 3550 A.1 probation of a new source
        media.receive_rtp(
            far_end_packet(0x1234, sequence, 160 * sequence), ("127.0.0.1", 41000), 0.01 * sequence
        )
    assert media.rtcp_remote == media.remote == ("127.0.0.1", 41000)
