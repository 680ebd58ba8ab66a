"""Tests for phoneagent.sip.framing: SIP over TCP/TLS framing and keep-alives."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from phoneagent.sip.framing import (
    KEEPALIVE_PING,
    KEEPALIVE_PONG,
    KeepAlivePing,
    KeepAlivePong,
    MessageFramed,
    StreamDecoder,
    StreamEvent,
)

SDP = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.10\r\n"
    b"t=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0 8 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-15\r\n"
    b"a=sendrecv\r\n"
)

INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK74bf9;alias\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:alice@192.0.2.10;transport=tcp>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n"
    b"\r\n" + SDP
)

OK_200 = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK74bf9;alias;received=192.0.2.10\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r\n"
    b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:bob@192.0.2.4;transport=tcp>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"l: " + str(len(SDP)).encode() + b"\r\n"
    b"\r\n" + SDP
)

BYE = (
    b"BYE sip:alice@192.0.2.10;transport=tcp SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP 192.0.2.4:5060;branch=z9hG4bKnashds10\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r\n"
    b"To: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    b"CSeq: 1 BYE\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def message(headers: bytes, body: bytes = b"") -> bytes:
    """An OPTIONS request with extra header lines and ``body``."""
    return (
        b"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/TCP 192.0.2.10;branch=z9hG4bKopt\r\n"
        b"CSeq: 7 OPTIONS\r\n" + headers + b"\r\n" + body
    )


def with_body(body: bytes, length_header: bytes = b"Content-Length") -> bytes:
    return message(length_header + b": " + str(len(body)).encode() + b"\r\n", body)


def drain(decoder: StreamDecoder) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    while (event := decoder.next_event()) is not None:
        events.append(event)
    return events


def feed(
    chunks: list[bytes], max_message_size: int = 65536, *, eof: bool = False
) -> list[StreamEvent]:
    """Feed each non-empty chunk and drain after it, as a read loop does.

    With ``eof`` the stream is then closed (``b""``) and drained once more.
    """
    decoder = StreamDecoder(max_message_size)
    events: list[StreamEvent] = []
    for chunk in [*(chunk for chunk in chunks if chunk), *([b""] if eof else [])]:
        decoder.receive_data(chunk)
        events += drain(decoder)
    assert decoder.buffered == 0
    return events


def decode_error(data: bytes, max_message_size: int = 65536) -> RemoteProtocolError:
    decoder = StreamDecoder(max_message_size)
    decoder.receive_data(data)
    with pytest.raises(RemoteProtocolError) as caught:
        drain(decoder)
    return caught.value


# --- whole messages ---------------------------------------------------------


def test_invite_and_200_in_one_chunk() -> None:
    assert feed([INVITE + OK_200]) == [MessageFramed(INVITE), MessageFramed(OK_200)]


@pytest.mark.parametrize("data", [INVITE, OK_200], ids=["INVITE", "200"])
def test_split_at_every_byte_boundary(data: bytes) -> None:
    for split in range(len(data) + 1):
        assert feed([data[:split], data[split:]]) == [MessageFramed(data)], split


def test_pair_split_at_every_byte_boundary() -> None:
    stream = INVITE + OK_200
    expected = [MessageFramed(INVITE), MessageFramed(OK_200)]
    for split in range(len(stream) + 1):
        assert feed([stream[:split], stream[split:]]) == expected, split


def test_one_byte_at_a_time() -> None:
    stream = INVITE + KEEPALIVE_PONG + OK_200 + BYE + KEEPALIVE_PING
    chunks = [stream[i : i + 1] for i in range(len(stream))]
    assert feed(chunks) == [
        MessageFramed(INVITE),
        KeepAlivePong(),
        MessageFramed(OK_200),
        MessageFramed(BYE),
        # The documented trade-off: a ping fed in halves reads as two pongs.
        KeepAlivePong(),
        KeepAlivePong(),
    ]


def test_pipelined_messages_in_one_chunk() -> None:
    stream = BYE + OK_200 + INVITE + BYE
    decoder = StreamDecoder()
    decoder.receive_data(stream)
    assert decoder.buffered == len(stream)
    assert drain(decoder) == [
        MessageFramed(BYE),
        MessageFramed(OK_200),
        MessageFramed(INVITE),
        MessageFramed(BYE),
    ]
    assert decoder.buffered == 0


def test_partial_message_is_kept_and_counted() -> None:
    decoder = StreamDecoder()
    decoder.receive_data(BYE + INVITE[:100])
    assert drain(decoder) == [MessageFramed(BYE)]
    assert decoder.buffered == 100
    decoder.receive_data(INVITE[100:])
    assert drain(decoder) == [MessageFramed(INVITE)]
    assert decoder.buffered == 0


def test_body_with_blank_line_and_binary_octets() -> None:
    body = b"\r\n\r\nSIP/2.0 200 OK\r\n\r\n\x00\xff\x00\r\n\r\n\x80binary\x00"
    data = with_body(body, b"Content-Length")
    stream = data + BYE + data
    for split in range(len(stream) + 1):
        events = feed([stream[:split], stream[split:]])
        assert events == [MessageFramed(data), MessageFramed(BYE), MessageFramed(data)]


def test_zero_length_body() -> None:
    assert feed([BYE]) == [MessageFramed(BYE)]


@pytest.mark.parametrize(
    "header",
    [
        b"Content-Length: 5",
        b"content-length: 5",
        b"CONTENT-LENGTH: 5",
        b"l: 5",
        b"L: 5",
        b"Content-Length : 5",
        b"Content-Length\t:\t5",
        b"Content-Length:5",
        b"l:5   ",
        b"Content-Length:\r\n 5",
        b"Content-Length:\r\n\t5",
        b"Content-Length: 005",
        b"Content-Length: 5\r\nl: 5",
        b"Content-Length: 5\r\nContent-Length: 05",
    ],
)
def test_content_length_spellings(header: bytes) -> None:
    data = message(header + b"\r\n", b"hello")
    assert feed([data + BYE]) == [MessageFramed(data), MessageFramed(BYE)]


def test_folded_content_length_before_other_headers() -> None:
    data = message(b"Content-Length:\r\n   \r\n 5\r\nSubject: folded\r\n  twice\r\n", b"hello")
    assert feed([data]) == [MessageFramed(data)]


def test_header_named_like_l_is_not_content_length() -> None:
    data = message(b"Lang: 99\r\nContent-Length: 2\r\nX-l: 7\r\n", b"ok")
    assert feed([data]) == [MessageFramed(data)]


# --- keep-alives ------------------------------------------------------------


@pytest.mark.parametrize(
    ("crlf_count", "expected"),
    [
        (1, [KeepAlivePong()]),
        (2, [KeepAlivePing()]),
        (3, [KeepAlivePing(), KeepAlivePong()]),
        (4, [KeepAlivePing(), KeepAlivePing()]),
        (5, [KeepAlivePing(), KeepAlivePing(), KeepAlivePong()]),
    ],
)
def test_crlf_runs_between_and_before_messages(
    crlf_count: int, expected: list[StreamEvent]
) -> None:
    run = b"\r\n" * crlf_count
    assert feed([run + BYE + run + INVITE + run]) == [
        *expected,
        MessageFramed(BYE),
        *expected,
        MessageFramed(INVITE),
        *expected,
    ]


def test_keepalive_constants() -> None:
    assert KEEPALIVE_PING == b"\r\n\r\n"
    assert KEEPALIVE_PONG == b"\r\n"


def test_ping_alone_and_pong_alone() -> None:
    assert feed([KEEPALIVE_PING]) == [KeepAlivePing()]
    assert feed([KEEPALIVE_PONG]) == [KeepAlivePong()]


def test_ping_split_after_three_bytes_waits() -> None:
    decoder = StreamDecoder()
    decoder.receive_data(b"\r\n\r")
    assert decoder.next_event() is None
    assert decoder.buffered == 3
    decoder.receive_data(b"\n")
    assert drain(decoder) == [KeepAlivePing()]


def test_lone_cr_waits() -> None:
    decoder = StreamDecoder()
    decoder.receive_data(b"\r")
    assert decoder.next_event() is None
    decoder.receive_data(b"\n\r\n")
    assert drain(decoder) == [KeepAlivePing()]


def test_ping_split_in_half_reads_as_two_pongs() -> None:
    # The documented trade-off: exactly one CRLF buffered is reported at once.
    assert feed([b"\r\n", b"\r\n"]) == [KeepAlivePong(), KeepAlivePong()]


def test_pong_then_message_in_one_chunk() -> None:
    assert feed([b"\r\n" + BYE]) == [KeepAlivePong(), MessageFramed(BYE)]


def test_crlf_then_stray_cr_is_pong_then_message_bytes() -> None:
    # CRLF CR x: a pong, then a "message" starting with CR that the message
    # parser will reject; framing still finds its end by Content-Length.
    data = b"\rX" + BYE
    assert feed([b"\r\n" + data]) == [KeepAlivePong(), MessageFramed(data)]


def test_crlf_inside_a_message_is_not_a_keepalive() -> None:
    # A message split right after its start line's CRLF, then a header.
    head, _, rest = BYE.partition(b"\r\n")
    assert feed([head + b"\r\n", rest]) == [MessageFramed(BYE)]


# --- bad Content-Length -----------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        b"",
        b"Subject: no length\r\n",
        b"Content-Lengths: 5\r\n",
        b"Content-Type: text/plain\r\n",
        b"Content-Length 5\r\n",
    ],
)
def test_missing_content_length(headers: bytes) -> None:
    error = decode_error(message(headers, b"hello"))
    assert error.status_hint == 400
    assert "missing" in error.reason


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"-5",
        b"+5",
        b"-0",
        b"5.0",
        b"0x5",
        b"5 5",
        b"five",
        b"5;x=1",
        b"5, 5",
        "\u0665".encode(),  # ARABIC-INDIC DIGIT FIVE
        "\uff15".encode(),  # FULLWIDTH DIGIT FIVE
        b"\x00",
        b"5\rX",
    ],
)
def test_bad_content_length(value: bytes) -> None:
    error = decode_error(message(b"Content-Length: " + value + b"\r\n", b"hello"))
    assert error.status_hint == 400


def test_folded_value_that_splits_digits_is_bad() -> None:
    error = decode_error(message(b"Content-Length: 1\r\n 0\r\n", b"hello"))
    assert error.status_hint == 400


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: 5\r\nContent-Length: 6\r\n",
        b"Content-Length: 5\r\nl: 0\r\n",
        b"l: 5\r\nCONTENT-LENGTH: 50\r\n",
        b"Content-Length: 5\r\nContent-Length: -5\r\n",
    ],
)
def test_conflicting_content_lengths(headers: bytes) -> None:
    error = decode_error(message(headers, b"hello"))
    assert error.status_hint == 400


def test_huge_digit_string_is_too_large_not_a_crash() -> None:
    error = decode_error(message(b"Content-Length: " + b"9" * 5000 + b"\r\n"), 1 << 20)
    assert error.status_hint == 513


def test_leading_zeros_do_not_count_as_size() -> None:
    data = message(b"Content-Length: " + b"0" * 100 + b"2\r\n", b"ok")
    assert feed([data]) == [MessageFramed(data)]


# --- size bound -------------------------------------------------------------


def test_message_of_exactly_the_cap_is_accepted() -> None:
    data = with_body(b"x" * 100)
    assert feed([data], max_message_size=len(data)) == [MessageFramed(data)]
    error = decode_error(data, max_message_size=len(data) - 1)
    assert error.status_hint == 513


def test_header_section_of_exactly_the_cap_is_accepted() -> None:
    data = message(b"Content-Length: 0\r\n")
    assert feed([data], max_message_size=len(data)) == [MessageFramed(data)]
    error = decode_error(data, max_message_size=len(data) - 1)
    assert error.status_hint == 513


def test_endless_headers_raise_513_within_one_chunk_of_the_cap() -> None:
    cap = 4096
    chunk = b"X-Filler: " + b"a" * 500 + b"\r\n"
    decoder = StreamDecoder(cap)
    decoder.receive_data(b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n")
    with pytest.raises(RemoteProtocolError) as caught:
        for _ in range(1000):
            decoder.receive_data(chunk)
            assert decoder.buffered <= cap + len(chunk)
            assert decoder.next_event() is None
    assert caught.value.status_hint == 513
    assert decoder.buffered <= cap + len(chunk)


def test_endless_headers_fed_byte_by_byte_raise_at_the_cap() -> None:
    cap = 1000
    decoder = StreamDecoder(cap)
    stream = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" + b"X-Filler: a\r\n" * 200
    with pytest.raises(RemoteProtocolError) as caught:
        for i in range(len(stream)):
            decoder.receive_data(stream[i : i + 1])
            assert decoder.next_event() is None
    assert caught.value.status_hint == 513
    assert decoder.buffered == cap


def test_huge_content_length_raises_513_before_the_body_arrives() -> None:
    decoder = StreamDecoder(4096)
    decoder.receive_data(message(b"Content-Length: 1000000000\r\n", b"first bytes"))
    with pytest.raises(RemoteProtocolError) as caught:
        decoder.next_event()
    assert caught.value.status_hint == 513


def test_header_section_too_long_even_with_blank_line() -> None:
    data = message(b"X-Filler: " + b"a" * 200 + b"\r\nContent-Length: 0\r\n")
    error = decode_error(data, max_message_size=100)
    assert error.status_hint == 513


def test_cap_applies_per_message_not_per_chunk() -> None:
    stream = BYE * 20
    assert len(stream) > 2 * len(BYE)
    assert feed([stream], max_message_size=len(BYE)) == [MessageFramed(BYE)] * 20


@pytest.mark.parametrize("size", [0, -1, True])
def test_bad_cap_is_our_bug(size: int) -> None:
    with pytest.raises(LocalProtocolError):
        StreamDecoder(size)


# --- end of file and dead decoder ------------------------------------------


def test_clean_eof() -> None:
    decoder = StreamDecoder()
    decoder.receive_data(BYE)
    decoder.receive_data(b"")
    assert drain(decoder) == [MessageFramed(BYE)]
    assert decoder.next_event() is None
    decoder.receive_data(b"")  # repeating end of file is harmless
    assert decoder.next_event() is None


def test_eof_after_single_crlf_is_a_pong() -> None:
    assert feed([b"\r\n"], eof=True) == [KeepAlivePong()]


@pytest.mark.parametrize("cut", [1, 20, len(BYE) - 1, len(BYE) - 2])
def test_eof_mid_message(cut: int) -> None:
    decoder = StreamDecoder()
    decoder.receive_data(BYE[:cut])
    assert decoder.next_event() is None
    decoder.receive_data(b"")
    with pytest.raises(RemoteProtocolError) as caught:
        decoder.next_event()
    assert caught.value.status_hint == 400
    assert caught.value.reason == "connection closed mid-message"
    with pytest.raises(LocalProtocolError):
        decoder.next_event()


def test_eof_mid_body() -> None:
    data = with_body(b"0123456789")
    decoder = StreamDecoder()
    decoder.receive_data(BYE + data[:-1])
    decoder.receive_data(b"")
    assert decoder.next_event() == MessageFramed(BYE)
    with pytest.raises(RemoteProtocolError):
        decoder.next_event()


@pytest.mark.parametrize("partial", [b"\r", b"\r\n\r"])
def test_eof_in_a_partial_keepalive(partial: bytes) -> None:
    decoder = StreamDecoder()
    decoder.receive_data(partial)
    decoder.receive_data(b"")
    with pytest.raises(RemoteProtocolError):
        drain(decoder)


def test_data_after_eof_is_our_bug() -> None:
    decoder = StreamDecoder()
    decoder.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        decoder.receive_data(BYE)


def test_dead_decoder_raises_local_errors() -> None:
    decoder = StreamDecoder()
    decoder.receive_data(message(b"Content-Length: -1\r\n") + BYE)
    with pytest.raises(RemoteProtocolError):
        decoder.next_event()
    with pytest.raises(LocalProtocolError):
        decoder.next_event()
    with pytest.raises(LocalProtocolError):
        decoder.receive_data(BYE)
    with pytest.raises(LocalProtocolError):
        decoder.receive_data(b"")


def test_dead_after_513() -> None:
    decoder = StreamDecoder(64)
    decoder.receive_data(INVITE)
    with pytest.raises(RemoteProtocolError):
        decoder.next_event()
    with pytest.raises(LocalProtocolError):
        decoder.next_event()


# --- efficiency -------------------------------------------------------------


def test_byte_by_byte_search_resumes_where_it_stopped() -> None:
    # White-box: the blank-line search never restarts from the front, so a
    # one-byte-at-a-time feed scans each byte a bounded number of times.
    data = message(b"X-Filler: " + b"a" * 4000 + b"\r\nContent-Length: 0\r\n")
    decoder = StreamDecoder()
    for i in range(len(data) - 1):
        decoder.receive_data(data[i : i + 1])
        assert decoder.next_event() is None
        assert decoder._search_from >= decoder.buffered - 3
    decoder.receive_data(data[-1:])
    assert decoder.next_event() == MessageFramed(data)


# --- property: any chunking gives the same events ---------------------------

_messages = st.sampled_from([INVITE, OK_200, BYE, with_body(b"\r\n\r\n\x00"), with_body(b"")])
_items = st.lists(
    st.one_of(_messages, st.sampled_from([KEEPALIVE_PING, KEEPALIVE_PONG])), max_size=12
)


def _expected_events(items: list[bytes]) -> list[StreamEvent]:
    """A run of k CRLFs at a boundary is k // 2 pings then k % 2 pong."""
    events: list[StreamEvent] = []
    run = 0

    def flush() -> None:
        nonlocal run
        events.extend([KeepAlivePing()] * (run // 2) + [KeepAlivePong()] * (run % 2))
        run = 0

    for item in items:
        if item in (KEEPALIVE_PING, KEEPALIVE_PONG):
            run += len(item) // 2
        else:
            flush()
            events.append(MessageFramed(item))
    flush()
    return events


def _crlf_count(events: list[StreamEvent]) -> int:
    return sum({KeepAlivePing: 2, KeepAlivePong: 1}.get(type(event), 0) for event in events)


def _split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(stream), *cuts})
    return [stream[a:b] for a, b in itertools.pairwise(points)]


def _inside_crlf_runs(items: list[bytes]) -> set[int]:
    """Offsets strictly inside a run of keep-alive CRLFs."""
    inside: set[int] = set()
    offset = 0
    run_start: int | None = None
    for item in items:
        is_keepalive = item in (KEEPALIVE_PING, KEEPALIVE_PONG)
        if is_keepalive and run_start is None:
            run_start = offset
        if not is_keepalive and run_start is not None:
            inside.update(range(run_start + 1, offset))
            run_start = None
        offset += len(item)
    if run_start is not None:
        inside.update(range(run_start + 1, offset))
    return inside


@settings(max_examples=300, deadline=None)
@given(items=_items, data=st.data())
def test_property_chunking_outside_keepalive_runs(items: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(items)
    forbidden = _inside_crlf_runs(items)
    allowed = [i for i in range(1, len(stream)) if i not in forbidden]
    cuts = data.draw(st.lists(st.sampled_from(allowed), max_size=20)) if allowed else []
    chunks = _split(stream, cuts)
    assert feed(chunks, eof=True) == _expected_events(items)


@settings(max_examples=300, deadline=None)
@given(items=_items, cuts=st.lists(st.integers(min_value=0, max_value=20000), max_size=20))
def test_property_any_chunking_keeps_messages_and_crlf_count(
    items: list[bytes], cuts: list[int]
) -> None:
    # Split anywhere, even inside a CRLF run: a ping may then read as two
    # pongs (the documented trade-off), but the messages are the same and
    # every keep-alive CRLF is accounted for.
    stream = b"".join(items)
    chunks = _split(stream, [cut for cut in cuts if cut < len(stream)])
    events = feed(chunks, eof=True)
    expected = _expected_events(items)
    messages = [event for event in events if isinstance(event, MessageFramed)]
    assert messages == [event for event in expected if isinstance(event, MessageFramed)]

    assert _crlf_count(events) == _crlf_count(expected)
