"""Tests for phoneagent.sip.stun: RFC 5389 Binding for RFC 5626 keep-alives.

The sample messages are the test vectors of RFC 5769 §2 (their MESSAGE-INTEGRITY
values are carried along, not checked).
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from phoneagent.sip.stun import (
    BINDING_METHOD,
    BINDING_REQUEST,
    BINDING_SUCCESS_RESPONSE,
    MAGIC_COOKIE,
    StunClass,
    StunError,
    StunMessage,
    is_stun,
    make_binding_request,
    make_binding_response,
    parse_stun,
)

RFC5769_TRANSACTION_ID = bytes.fromhex("b7e7a701bc34d686fa87dfae")

# The vectors are written as RFC 5769 lays them out: one 32-bit word per group.

# RFC 5769 §2.1 Sample Request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
# MESSAGE-INTEGRITY, FINGERPRINT).
RFC5769_REQUEST = bytes.fromhex(
    "00010058 2112a442"  # Binding request, length 88; magic cookie
    " b7e7a701 bc34d686 fa87dfae"  # transaction id
    " 80220010 5354554e 20746573 7420636c 69656e74"  # SOFTWARE "STUN test client"
    " 00240004 6e0001ff"  # PRIORITY
    " 80290008 932ff9b1 51263b36"  # ICE-CONTROLLED
    " 00060009 6576746a 3a683676 59202020"  # USERNAME "evtj:h6vY" + padding
    " 00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2"  # MESSAGE-INTEGRITY
    " 80280004 e57a3bcf"  # FINGERPRINT
)

# RFC 5769 §2.2 Sample IPv4 Response: XOR-MAPPED-ADDRESS 192.0.2.1 port 32853.
RFC5769_IPV4_RESPONSE = bytes.fromhex(
    "0101003c 2112a442"
    " b7e7a701 bc34d686 fa87dfae"
    " 8022000b 74657374 20766563 746f7220"  # SOFTWARE "test vector" + padding
    " 00200008 0001a147 e112a643"  # XOR-MAPPED-ADDRESS
    " 00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7"  # MESSAGE-INTEGRITY
    " 80280004 c07d4c96"  # FINGERPRINT
)

# RFC 5769 §2.3 Sample IPv6 Response:
# XOR-MAPPED-ADDRESS 2001:db8:1234:5678:11:2233:4455:6677 port 32853.
RFC5769_IPV6_RESPONSE = bytes.fromhex(
    "01010048 2112a442"
    " b7e7a701 bc34d686 fa87dfae"
    " 8022000b 74657374 20766563 746f7220"  # SOFTWARE
    " 00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9"  # XOR-MAPPED-ADDRESS
    " 00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41"  # MESSAGE-INTEGRITY
    " 80280004 c8fb0b4c"  # FINGERPRINT
)

# RFC 5769 §2.4 Sample Request with Long-Term Authentication (no FINGERPRINT).
RFC5769_LONG_TERM_REQUEST = bytes.fromhex(
    "00010060 2112a442"
    " 78ad3433 c6ad72c0 29da412e"
    " 00060012 e3839ee3 8388e383 aae38383 e382afe3 82b90000"  # USERNAME + padding
    " 0015001c 662f2f34 39396b39 35346436 4f4c3334 6f4c3946 53547679 36347341"  # NONCE
    " 0014000b 6578616d 706c652e 6f726700"  # REALM "example.org" + padding
    " 00080014 f6702465 6dd64a3e 02b8e071 2e85c9a2 8ca89666"  # MESSAGE-INTEGRITY
)

VECTORS = [RFC5769_REQUEST, RFC5769_IPV4_RESPONSE, RFC5769_IPV6_RESPONSE, RFC5769_LONG_TERM_REQUEST]


def _fix_fingerprint(data: bytearray) -> bytes:
    """Recompute the trailing FINGERPRINT of a message edited by a test."""
    from zlib import crc32

    crc = (crc32(bytes(data[:-8])) ^ 0x5354554E) & 0xFFFFFFFF
    data[-4:] = crc.to_bytes(4, "big")
    return bytes(data)


# --- the RFC 5769 vectors ------------------------------------------------------


def test_rfc5769_vectors_have_the_documented_lengths() -> None:
    assert [len(v) for v in VECTORS] == [108, 80, 92, 116]


def test_sample_request() -> None:
    message = parse_stun(RFC5769_REQUEST)
    assert message == StunMessage(BINDING_REQUEST, RFC5769_TRANSACTION_ID, None)
    assert message.is_binding_request
    assert message.method == BINDING_METHOD
    assert message.message_class is StunClass.REQUEST


def test_sample_ipv4_response() -> None:
    message = parse_stun(RFC5769_IPV4_RESPONSE)
    assert message == StunMessage(
        BINDING_SUCCESS_RESPONSE, RFC5769_TRANSACTION_ID, ("192.0.2.1", 32853)
    )
    assert message.is_binding_success
    assert message.message_class is StunClass.SUCCESS_RESPONSE


def test_sample_ipv6_response() -> None:
    message = parse_stun(RFC5769_IPV6_RESPONSE)
    assert message is not None
    assert message.mapped_address == ("2001:db8:1234:5678:11:2233:4455:6677", 32853)


def test_sample_request_with_long_term_authentication() -> None:
    message = parse_stun(RFC5769_LONG_TERM_REQUEST)
    assert message == StunMessage(BINDING_REQUEST, bytes.fromhex("78ad3433c6ad72c029da412e"))


@pytest.mark.parametrize("vector", VECTORS[:3])
def test_a_corrupted_fingerprint_is_rejected(vector: bytes) -> None:
    data = bytearray(vector)
    data[-1] ^= 0x01
    with pytest.raises(StunError, match="FINGERPRINT"):
        parse_stun(bytes(data))


@pytest.mark.parametrize("vector", VECTORS[:3])
def test_a_bit_flip_under_the_fingerprint_is_caught(vector: bytes) -> None:
    data = bytearray(vector)
    data[30] ^= 0x40  # inside the SOFTWARE attribute
    with pytest.raises(StunError, match="FINGERPRINT"):
        parse_stun(bytes(data))


def test_stun_error_is_a_remote_protocol_error_to_be_dropped() -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_stun(RFC5769_IPV4_RESPONSE[:-4] + b"\0\0\0\0")
    assert caught.value.status_hint is None


# --- building messages ---------------------------------------------------------


def test_binding_request_is_header_and_fingerprint() -> None:
    transaction_id = bytes(range(12))
    data = make_binding_request(transaction_id)
    assert len(data) == 28
    assert data[:20] == (struct.pack("!HHI", BINDING_REQUEST, 8, MAGIC_COOKIE) + transaction_id)
    assert data[20:24] == b"\x80\x28\x00\x04"
    assert parse_stun(data) == StunMessage(BINDING_REQUEST, transaction_id, None)


def test_binding_request_fingerprint_matches_an_independent_crc() -> None:
    # CRC-32 over the 24 octets before the CRC value, XOR "STUN".
    from zlib import crc32

    data = make_binding_request(bytes(12))
    assert int.from_bytes(data[24:], "big") == crc32(data[:20]) ^ 0x5354554E


def test_binding_response_reproduces_the_rfc5769_xor_mapped_address() -> None:
    request = StunMessage(BINDING_REQUEST, RFC5769_TRANSACTION_ID)
    for address, attribute in [
        (("192.0.2.1", 32853), "00200008 0001a147 e112a643"),
        (
            ("2001:db8:1234:5678:11:2233:4455:6677", 32853),
            "00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9",
        ),
    ]:
        data = make_binding_response(request, address)
        assert data[20:-8] == bytes.fromhex(attribute)
        parsed = parse_stun(data)
        assert parsed == StunMessage(BINDING_SUCCESS_RESPONSE, RFC5769_TRANSACTION_ID, address)


def test_binding_response_answers_a_parsed_request() -> None:
    request = parse_stun(make_binding_request(b"0123456789ab"))
    assert request is not None
    response = parse_stun(make_binding_response(request, ("::1", 5060)))
    assert response is not None
    assert response.transaction_id == b"0123456789ab"
    assert response.mapped_address == ("::1", 5060)


@pytest.mark.parametrize("transaction_id", [b"", bytes(11), bytes(13), "0123456789ab"])
def test_transaction_id_must_be_twelve_bytes(transaction_id: object) -> None:
    with pytest.raises(LocalProtocolError):
        make_binding_request(transaction_id)  # type: ignore[arg-type]


def test_binding_response_rejects_bad_arguments() -> None:
    request = StunMessage(BINDING_REQUEST, bytes(12))
    response = StunMessage(BINDING_SUCCESS_RESPONSE, bytes(12))
    with pytest.raises(LocalProtocolError, match="not a Binding request"):
        make_binding_response(response, ("192.0.2.1", 5060))
    with pytest.raises(LocalProtocolError, match="not an IP address"):
        make_binding_response(request, ("example.com", 5060))
    with pytest.raises(LocalProtocolError, match="port"):
        make_binding_response(request, ("192.0.2.1", 65536))


# --- demultiplexing --------------------------------------------------------------


def test_is_stun_tells_stun_from_sip() -> None:
    assert all(is_stun(v) for v in VECTORS)
    assert is_stun(make_binding_request(bytes(12)))
    assert not is_stun(b"OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n\r\n")
    assert not is_stun(b"SIP/2.0 200 OK\r\n\r\n")
    assert not is_stun(b"\r\n\r\n")
    assert not is_stun(b"")


def test_is_stun_needs_zero_leading_bits_the_cookie_and_a_whole_header() -> None:
    data = make_binding_request(bytes(12))
    assert not is_stun(b"\x40" + data[1:])
    assert not is_stun(data[:4] + b"\x21\x12\xa4\x43" + data[8:])
    assert not is_stun(data[:19])
    # RFC 3489 (classic STUN) has no magic cookie: not ours.
    assert not is_stun(b"\x00\x01\x00\x00" + bytes(16))


def test_parse_returns_none_for_non_stun() -> None:
    assert parse_stun(b"INVITE sip:bob@example.com SIP/2.0\r\n\r\n") is None
    assert parse_stun(b"") is None


# --- malformed STUN ----------------------------------------------------------------


def _message(attributes: bytes, length: int | None = None, message_type: int = 0x0101) -> bytes:
    size = len(attributes) if length is None else length
    return struct.pack("!HHI", message_type, size, MAGIC_COOKIE) + bytes(12) + attributes


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_message(b"\0\0\0\0", length=2), "multiple of 4"),
        (_message(b"", length=4), "does not match"),
        (_message(b"\0\0\0\0", length=0), "does not match"),
        (_message(b"\x00\x20\x00\x08\x00\x01\x00\x00"), "overruns"),
        (_message(b"\x00\x20\x00\x05\x00\x01\x00\x00\x00\x00\x00\x00"), "octets for family"),
        (_message(b"\x00\x20\x00\x02\x00\x01\x00\x00"), "address attribute of 2"),
        (_message(b"\x00\x20\x00\x08\x00\x03\x00\x00\x00\x00\x00\x00"), "family"),
        (_message(b"\x00\x01\x00\x14\x00\x01" + bytes(18)), "octets for family"),
        (_message(b"\x80\x28\x00\x04\0\0\0\0\x80\x22\x00\x00"), "not the last"),
        (_message(b"\x80\x28\x00\x00"), "FINGERPRINT of 0"),
    ],
)
def test_malformed_stun_is_rejected(data: bytes, reason: str) -> None:
    assert is_stun(data)
    with pytest.raises(StunError, match=reason):
        parse_stun(data)


def test_truncated_attribute_header_cannot_happen_with_aligned_lengths() -> None:
    # A length that is a multiple of 4 leaves either 0 or >= 4 octets for a header.
    data = _message(b"\x00\x00\x00\x00")
    assert parse_stun(data) == StunMessage(0x0101, bytes(12))


def test_mapped_address_is_used_when_there_is_no_xor_mapped_address() -> None:
    data = _message(b"\x00\x01\x00\x08\x00\x01\x13\xc4\xc0\x00\x02\x01")
    assert parse_stun(data) == StunMessage(0x0101, bytes(12), ("192.0.2.1", 5060))


def test_xor_mapped_address_wins_over_mapped_address_and_first_occurrence_counts() -> None:
    request = StunMessage(BINDING_REQUEST, bytes(12))
    response = make_binding_response(request, ("198.51.100.7", 40000))
    xor_attribute = response[20:-8]
    second = make_binding_response(request, ("203.0.113.9", 1))[20:-8]
    mapped = b"\x00\x01\x00\x08\x00\x01\x13\xc4\xc0\x00\x02\x01"
    data = _message(mapped + xor_attribute + second)
    message = parse_stun(data)
    assert message is not None
    assert message.mapped_address == ("198.51.100.7", 40000)


def test_attributes_after_message_integrity_are_ignored_except_fingerprint() -> None:
    request = StunMessage(BINDING_REQUEST, bytes(12))
    xor_attribute = make_binding_response(request, ("198.51.100.7", 40000))[20:-8]
    integrity = b"\x00\x08\x00\x14" + bytes(20)
    data = bytearray(_message(integrity + xor_attribute + b"\x80\x28\x00\x04" + bytes(4)))
    message = parse_stun(_fix_fingerprint(data))
    assert message == StunMessage(0x0101, bytes(12), None)


def test_unknown_attributes_are_skipped_with_their_padding() -> None:
    data = _message(b"\x7f\xff\x00\x01\xaa\x00\x00\x00" + b"\xc0\x01\x00\x03abc\x00")
    assert parse_stun(data) == StunMessage(0x0101, bytes(12))


def test_message_type_bits() -> None:
    # Binding error response 0x0111, indication 0x0011; method 0xFFF spreads over all bits.
    assert StunMessage(0x0111, bytes(12)).message_class is StunClass.ERROR_RESPONSE
    assert StunMessage(0x0011, bytes(12)).message_class is StunClass.INDICATION
    everything = StunMessage(0x3FFF, bytes(12))
    assert everything.method == 0xFFF
    assert everything.message_class is StunClass.ERROR_RESPONSE


# --- fuzz: parse_stun returns or raises StunError, nothing else ------------------


def _parse_or_stun_error(data: bytes) -> None:
    try:
        message = parse_stun(data)
    except StunError:
        return
    if message is not None:
        assert len(message.transaction_id) == 12
        assert is_stun(data)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _parse_or_stun_error(data)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=120))
def test_fuzz_bytes_behind_a_valid_header(attributes: bytes) -> None:
    _parse_or_stun_error(_message(attributes))
    _parse_or_stun_error(_message(attributes, length=len(attributes) & ~3))


@settings(max_examples=1000, deadline=None)
@given(
    st.sampled_from(VECTORS),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=6),
    st.integers(0, 120),
    st.booleans(),
)
def test_fuzz_mutated_vectors(
    vector: bytes, edits: list[tuple[int, int]], cut: int, fix_fingerprint: bool
) -> None:
    data = bytearray(vector)
    for position, value in edits:
        data[position % len(data)] = value
    data = data[: max(cut, 20)] if cut < len(data) else data
    if fix_fingerprint and len(data) >= 28:
        _fix_fingerprint(data)
    _parse_or_stun_error(bytes(data))
