"""The jitter buffer: buffering, reordering, loss, late and duplicate packets, resync, bounds.

The clock is stepped by hand: ``get()`` once per 20 ms tick, as the sound card would.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoneagent.media.jitter import JitterBuffer, JitterFrame, PlayoutState
from phoneagent.media.rtp import RtpPacket
from phoneagent.sip.errors import LocalProtocolError

FRAME = 160  # 20 ms at 8 kHz
TICK = 0.02


def rtp(index: int, *, ssrc: int = 0xA, base: int = 1000, sequence_base: int = 500) -> RtpPacket:
    """Packet number ``index`` of a stream: timestamp ``base + index * FRAME``."""
    return RtpPacket(
        0,
        (sequence_base + index) & 0xFFFF,
        (base + index * FRAME) & 0xFFFF_FFFF,
        ssrc,
        bytes([index & 0xFF]) * 4,
    )


def frames(buffer: JitterBuffer, start: float, count: int) -> list[JitterFrame | None]:
    return [buffer.get(start + tick * TICK) for tick in range(count)]


def describe(frame: JitterFrame | None) -> str:
    if frame is None:
        return "-"
    return "?" if frame.missing else str(frame.payload[0])


def test_buffers_the_target_delay_then_plays_in_order() -> None:
    buffer = JitterBuffer(8000, FRAME)  # target 60 ms
    assert buffer.target_delay_ms == 60
    buffer.put(rtp(0), 0.000)
    assert buffer.state is PlayoutState.BUFFERING
    assert buffer.get(0.001) is None
    buffer.put(rtp(1), 0.021)
    assert buffer.get(0.021) is None
    buffer.put(rtp(2), 0.041)
    assert buffer.get(0.041) is None
    first = buffer.get(0.061)  # 60 ms after the first packet
    assert first == JitterFrame(1000, b"\x00" * 4, payload_type=0, sequence=500)
    assert buffer.state is PlayoutState.PLAYING
    buffer.put(rtp(3), 0.062)
    assert [describe(f) for f in frames(buffer, 0.081, 3)] == ["1", "2", "3"]
    assert buffer.frames_played == 4 and buffer.frames_missing == 0


def test_starts_at_once_when_a_burst_fills_the_target() -> None:
    buffer = JitterBuffer(8000, FRAME)
    for index in range(3):
        buffer.put(rtp(index), 0.0)
    assert buffer.depth_ms == 60
    assert buffer.get(0.0) is None  # the newest would wait only 40 ms
    buffer.put(rtp(3), 0.0)
    assert describe(buffer.get(0.0)) == "0"


def test_reorders_within_the_window() -> None:
    buffer = JitterBuffer(8000, FRAME)
    for index in (1, 0, 3, 2, 5, 4):
        buffer.put(rtp(index), 0.0)
    assert [describe(f) for f in frames(buffer, 0.06, 6)] == ["0", "1", "2", "3", "4", "5"]


def test_lost_packet_becomes_a_missing_frame() -> None:
    buffer = JitterBuffer(8000, FRAME)
    for index in (0, 1, 3, 4):
        buffer.put(rtp(index), 0.0)
    played = frames(buffer, 0.06, 4)
    assert [describe(f) for f in played] == ["0", "1", "?", "3"]
    missing = played[2]
    assert missing == JitterFrame(1000 + 2 * FRAME, missing=True)
    assert buffer.frames_missing == 1


def test_late_packet_is_dropped_and_counted() -> None:
    buffer = JitterBuffer(8000, FRAME)
    for index in (0, 1, 3):
        buffer.put(rtp(index), 0.0)
    assert [describe(f) for f in frames(buffer, 0.06, 3)] == ["0", "1", "?"]
    assert buffer.put(rtp(2), 0.12) is False  # its frame was concealed already
    assert buffer.late == 1
    assert describe(buffer.get(0.12)) == "3"


def test_duplicates_are_dropped_and_counted() -> None:
    buffer = JitterBuffer(8000, FRAME)
    assert buffer.put(rtp(0), 0.0)
    assert buffer.put(rtp(1), 0.0)
    assert not buffer.put(rtp(1), 0.001)  # buffered already
    assert buffer.put(rtp(2), 0.0)
    frames(buffer, 0.06, 2)
    assert not buffer.put(rtp(0), 0.1)  # played already
    assert buffer.duplicates == 2 and buffer.late == 0
    assert buffer.packets_buffered == 3


def test_ssrc_change_resyncs() -> None:
    buffer = JitterBuffer(8000, FRAME)
    for index in range(4):
        buffer.put(rtp(index), 0.0)
    assert [describe(f) for f in frames(buffer, 0.06, 2)] == ["0", "1"]
    other = rtp(0, ssrc=0xB, base=777_777)
    assert buffer.put(other, 0.1)
    assert buffer.resyncs == 1
    assert buffer.state is PlayoutState.BUFFERING and len(buffer) == 1
    assert buffer.get(0.1) is None
    buffer.put(rtp(1, ssrc=0xB, base=777_777), 0.12)
    assert buffer.get(0.14) is None
    assert buffer.get(0.16) == JitterFrame(777_777, other.payload, payload_type=0, sequence=500)


@pytest.mark.parametrize("jump", [10 * 8000, -10 * 8000, 1 << 31, 2000])
def test_timestamp_jump_resyncs(jump: int) -> None:
    buffer = JitterBuffer(8000, FRAME)
    for index in range(4):
        buffer.put(rtp(index), 0.0)
    frames(buffer, 0.06, 2)
    jumped = rtp(4, base=1000 + jump)
    assert buffer.put(jumped, 0.1)
    assert buffer.resyncs == 1 and buffer.state is PlayoutState.BUFFERING
    assert buffer.get(0.16) is not None and buffer.frames_played == 3


def test_timestamp_jump_while_buffering_resyncs() -> None:
    buffer = JitterBuffer(8000, FRAME)
    buffer.put(rtp(0), 0.0)
    buffer.put(rtp(0, base=50_000), 0.01)
    assert buffer.resyncs == 1 and len(buffer) == 1


def test_overflow_skips_ahead_to_the_target_delay() -> None:
    buffer = JitterBuffer(8000, FRAME)  # max 200 ms
    for index in range(3):
        buffer.put(rtp(index), 0.0)
    frames(buffer, 0.06, 1)  # playing; next due: frame 1
    for index in range(3, 12):  # a burst up to frame 11, which waits 10 frames = 200 ms
        buffer.put(rtp(index), 0.08)
    assert buffer.overflow_dropped == 0
    assert buffer.depth_ms == 220
    buffer.put(rtp(12), 0.08)  # would wait 220 ms: skip so that it waits 60 ms
    assert buffer.overflow_dropped == 8  # frames 1 to 8
    assert buffer.resyncs == 0 and buffer.state is PlayoutState.PLAYING
    assert buffer.depth_ms == 80
    assert [describe(f) for f in frames(buffer, 0.1, 4)] == ["9", "10", "11", "12"]


def test_stream_that_stops_goes_back_to_buffering() -> None:
    buffer = JitterBuffer(8000, FRAME)
    for index in range(3):
        buffer.put(rtp(index), 0.0)
    played = [describe(f) for f in frames(buffer, 0.06, 7)]
    # Three packets, then concealment for a target delay's worth of frames, then silence.
    assert played == ["0", "1", "2", "?", "?", "?", "-"]
    assert buffer.underruns == 1 and buffer.state is PlayoutState.BUFFERING
    # The next talkspurt (silence suppression kept the timestamps running) rebuffers.
    buffer.put(rtp(50), 1.0)
    assert buffer.get(1.02) is None
    assert describe(buffer.get(1.06)) == "50"
    # Late packets of the old talkspurt are still recognised.
    assert not buffer.put(rtp(2), 1.07)
    assert buffer.duplicates == 1


def test_late_packet_after_the_buffer_ran_dry() -> None:
    buffer = JitterBuffer(8000, FRAME)
    for index in range(3):
        buffer.put(rtp(index), 0.0)
    frames(buffer, 0.06, 7)  # ran dry: buffering again
    assert not buffer.put(rtp(1, sequence_base=9), 0.3)  # same timestamp as a played one
    buffer.put(rtp(3), 0.3)  # after the last played: fine
    assert not buffer.put(rtp(0, base=1000 - FRAME), 0.3)  # before it: late
    assert buffer.late == 1


def test_bounded_number_of_packets() -> None:
    buffer = JitterBuffer(8000, FRAME, max_packets=5)
    for index in range(8):
        buffer.put(rtp(index), 0.0)
    assert len(buffer) == 5
    assert buffer.overflow_dropped == 3
    assert describe(buffer.get(0.0)) == "3"


def test_target_delay_can_change() -> None:
    buffer = JitterBuffer(8000, FRAME, target_delay_ms=40, max_delay_ms=120)
    buffer.put(rtp(0), 0.0)
    assert buffer.get(0.02) is None
    assert buffer.get(0.04) is not None
    buffer.target_delay_ms = 100
    assert buffer.target_delay_ms == 100
    for bad in (0, -5, 121):
        with pytest.raises(LocalProtocolError):
            buffer.target_delay_ms = bad


def test_timestamps_wrap() -> None:
    buffer = JitterBuffer(8000, FRAME)
    base = (1 << 32) - 2 * FRAME
    for index in (1, 0, 3, 2, 4):
        buffer.put(rtp(index, base=base), 0.0)
    played = frames(buffer, 0.06, 5)
    assert [describe(f) for f in played] == ["0", "1", "2", "3", "4"]
    assert [f.timestamp for f in played if f] == [base, base + FRAME, 0, FRAME, 2 * FRAME]


def test_wideband_clock() -> None:
    buffer = JitterBuffer(16000, 320, target_delay_ms=40)
    for index in range(3):
        buffer.put(RtpPacket(9, index, index * 320, 1, b"x"), 0.0)
    assert buffer.depth_ms == 60
    assert buffer.get(0.0) is not None


def test_follows_a_timestamp_offset_that_is_not_a_whole_frame() -> None:
    buffer = JitterBuffer(8000, FRAME)
    for index in range(3):
        buffer.put(rtp(index), 0.0)
    frames(buffer, 0.06, 3)  # played 0, 1, 2; due: 1480
    buffer.put(rtp(3, base=1000 + 40), 0.1)  # the sender's timestamps moved by 40 units
    buffer.put(rtp(4, base=1000 + 40), 0.1)
    played = frames(buffer, 0.12, 3)
    assert [describe(f) for f in played] == ["3", "4", "?"]
    assert [f.timestamp for f in played if f] == [1520, 1680, 1840]


def test_rejects_bad_configuration() -> None:
    with pytest.raises(LocalProtocolError):
        JitterBuffer(0, FRAME)
    with pytest.raises(LocalProtocolError):
        JitterBuffer(8000, 0)
    with pytest.raises(LocalProtocolError):
        JitterBuffer(8000, FRAME, max_packets=0)
    with pytest.raises(LocalProtocolError):
        JitterBuffer(8000, FRAME, target_delay_ms=300)
    with pytest.raises(LocalProtocolError):
        JitterBuffer(8000, FRAME, target_delay_ms=10, max_delay_ms=10)


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    loss=st.floats(0, 0.3),
    duplicate=st.floats(0, 0.2),
    jitter_ms=st.floats(0, 120),
)
def test_random_network_keeps_the_invariants(
    seed: int, loss: float, duplicate: float, jitter_ms: float
) -> None:
    rng = random.Random(seed)
    buffer = JitterBuffer(8000, FRAME, max_packets=12)
    base = rng.randrange(1 << 32)
    arrivals: list[tuple[float, RtpPacket]] = []
    for index in range(150):
        if rng.random() < loss:
            continue
        packet = rtp(index, base=base)
        sent = index * TICK
        arrivals.append((sent + rng.uniform(0, jitter_ms / 1000), packet))
        if rng.random() < duplicate:
            arrivals.append((sent + rng.uniform(0, jitter_ms / 1000), packet))
    arrivals.sort(key=lambda item: item[0])
    played: list[int] = []
    previous: int | None = None
    position = 0
    for tick in range(200):
        now = 0.005 + tick * TICK
        while position < len(arrivals) and arrivals[position][0] <= now:
            buffer.put(arrivals[position][1], arrivals[position][0])
            position += 1
            assert len(buffer) <= 12
        frame = buffer.get(now)
        if frame is None:
            previous = None
            continue
        if previous is not None:  # one frame further each tick while playing
            assert (frame.timestamp - previous) % (1 << 32) == FRAME
        previous = frame.timestamp
        if not frame.missing:
            played.append(frame.sequence or 0)
    assert len(played) == len(set(played))  # nothing played twice
    assert played == sorted(played)  # never out of order


def test_packet_inside_a_frame_already_played_is_dropped_late() -> None:
    buffer = JitterBuffer(8000, FRAME)
    for index in range(4):
        buffer.put(rtp(index), 0.0)
    buffer.put(rtp(1, base=1000 + 40), 0.0)  # overlaps frames 1 and 2
    played = frames(buffer, 0.0, 4)
    assert [f.timestamp for f in played if f] == [1000, 1160, 1320, 1480]
    assert buffer.late == 1  # 1200 was overtaken when 1160 played


def test_empty_buffer_has_no_depth() -> None:
    buffer = JitterBuffer(8000, FRAME)
    assert buffer.depth_ms == 0.0 and len(buffer) == 0
    assert buffer.get(10.0) is None  # nothing ever arrived


def test_jump_back_after_the_buffer_ran_dry_resyncs() -> None:
    buffer = JitterBuffer(8000, FRAME)
    for index in range(3):
        buffer.put(rtp(index), 0.0)
    frames(buffer, 0.06, 7)  # ran dry
    assert buffer.put(rtp(0, base=1000 - 8000), 1.0)  # a second back: a restarted stream
    assert buffer.resyncs == 1 and len(buffer) == 1


def test_far_ahead_packet_while_the_buffer_is_empty_resyncs() -> None:
    buffer = JitterBuffer(8000, FRAME)
    for index in range(3):
        buffer.put(rtp(index), 0.0)
    frames(buffer, 0.06, 4)  # played all three, concealing one: still playing, empty
    assert buffer.state is PlayoutState.PLAYING
    assert buffer.put(rtp(30), 0.15)  # 600 ms ahead and nothing to be continuous with
    assert buffer.resyncs == 1 and buffer.overflow_dropped == 0
