"""SRTP/SRTCP: RFC 3711, RFC 6188 and RFC 7714 vectors, libsrtp's packets, and behaviour.

Vectors come from ``shared/corpus/srtp/`` (see its README); where a corpus entry
is quirky (RFC 7714 §16.x.2/.4 input packets cut short by the RFC's line wrap)
the test says so.  The cross-check with libsrtp uses ``pylibsrtp``, a test-only
dependency (the ``test`` extra): a missing one fails the run, it is never skipped.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import struct
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from phoneagent.media.srtp import (
    SUITES,
    ReplayWindow,
    SrtpAuthenticationError,
    SrtpCipher,
    SrtpError,
    SrtpLimitError,
    SrtpMalformedError,
    SrtpPolicy,
    SrtpPolicyError,
    SrtpReplayError,
    SrtpSession,
    estimate_index,
    rtp_header_length,
    suite_by_name,
)
from phoneagent.media.srtp_keys import SessionKeys, derive_session_key, derive_session_keys
from phoneagent.media.srtp_transform import AesCmHmacSha1Transform, AesGcmTransform
from tests.helpers import corpus_file

ALL_SUITES = sorted(SUITES)
SSRC = 0x1234_5678


@cache
def corpus(name: str) -> Any:
    return json.loads(corpus_file("srtp", name).read_text())


def rtp(
    seq: int,
    *,
    ssrc: int = SSRC,
    payload: bytes = bytes(range(160)),
    csrcs: tuple[int, ...] = (),
    extension: bytes | None = None,
) -> bytes:
    """An RTP packet (RFC 3550 §5.1); ``extension`` is the body, a multiple of 4 octets."""
    first = 0x80 | len(csrcs) | (0x10 if extension is not None else 0)
    header = struct.pack("!BBHII", first, 0, seq & 0xFFFF, seq * 160 & 0xFFFF_FFFF, ssrc)
    header += b"".join(csrc.to_bytes(4) for csrc in csrcs)
    if extension is not None:
        header += struct.pack("!HH", 0xBEDE, len(extension) // 4) + extension
    return header + payload


def rtcp_sender_report(ssrc: int = SSRC, packets: int = 0) -> bytes:
    """A 28-octet RTCP SR without report blocks (RFC 3550 §6.4.1)."""
    return struct.pack("!BBHIQIII", 0x80, 200, 6, ssrc, 0x0123_4567_89AB_CDEF, 160, packets, 0)


def pair(suite: str, **policy_options: bool) -> tuple[SrtpSession, SrtpSession, SrtpPolicy]:
    """A sender and a receiver session sharing one (random) policy."""
    base = SrtpPolicy.generate(suite)
    policy = SrtpPolicy(base.suite, base.master_key, base.master_salt, **policy_options)
    return SrtpSession(policy), SrtpSession(policy), policy


def flip(packet: bytes, position: int, bit: int = 0x01) -> bytes:
    data = bytearray(packet)
    data[position] ^= bit
    return bytes(data)


# -- RFC 3711 Appendix B ----------------------------------------------------------------------


def test_rfc3711_b3_key_derivation() -> None:
    vector = corpus("rfc3711-appendix-B.json")["B.3_key_derivation"]
    master_key = bytes.fromhex(vector["master_key"])
    master_salt = bytes.fromhex(vector["master_salt"])
    cipher_key = derive_session_key(master_key, master_salt, 0x00, 16)
    cipher_salt = derive_session_key(master_key, master_salt, 0x02, 14)
    auth_key_94 = derive_session_key(master_key, master_salt, 0x01, 94)
    assert cipher_key.hex() == vector["cipher_key"]["value"]
    assert cipher_salt.hex() == vector["cipher_salt"]["value"]
    assert auth_key_94.hex() == vector["auth_key"]["value_94_octets_as_printed"]
    # The same through a policy: HMAC-SHA1 uses the first 160 bits of the auth key.
    policy = SrtpPolicy(suite_by_name("AES_CM_128_HMAC_SHA1_80"), master_key, master_salt)
    keys = derive_session_keys(policy, rtcp=False)
    assert (keys.cipher_key, keys.cipher_salt, keys.auth_key) == (
        cipher_key,
        cipher_salt,
        auth_key_94[:20],
    )
    # The rate enters as index DIV rate; rate 0 and index 0 give the same keys.
    assert derive_session_key(master_key, master_salt, 0, 16, key_derivation_rate=2**16) == (
        cipher_key
    )


@pytest.mark.parametrize("rate", [3, 2**25, 100])
def test_key_derivation_rate_must_be_a_power_of_two_up_to_2_24(rate: int) -> None:
    with pytest.raises(SrtpPolicyError):
        derive_session_key(bytes(16), bytes(14), 0, 16, key_derivation_rate=rate)


def test_rfc3711_b2_aes_cm_keystream() -> None:
    """Encrypting a zero payload with SSRC 0, index 0 exposes the keystream (§4.1.1, B.2)."""
    vector = corpus("rfc3711-appendix-B.json")["B.2_AES_CM"]
    offset = bytes.fromhex(vector["offset"])  # the session salt, already shifted by 16 bits
    assert offset[14:] == b"\x00\x00"
    keys = SessionKeys(bytes.fromhex(vector["session_key"]), offset[:14], bytes(20))
    transform = AesCmHmacSha1Transform(keys, 10)
    length = vector["keystream_segment_length_octets"]
    header = rtp(0, ssrc=0, payload=b"")
    protected = transform.protect_rtp(header + bytes(length), 12, 0, 0)
    keystream = protected[12 : 12 + length]
    first_counter = int.from_bytes(offset)
    for pair_ in vector["counter_keystream_pairs"]:
        block = int.from_bytes(bytes.fromhex(pair_["counter"])) - first_counter
        assert keystream[16 * block : 16 * block + 16].hex() == pair_["keystream"]
    assert len(keystream) // 16 - 1 == 0xFF01  # the last printed counter is ...ff01


def test_rfc3711_b1_aes_f8_is_refused_cleanly() -> None:
    # AES-f8 (RFC 3711 B.1) is not implemented: no SDES suite in use offers it, so an
    # offer of it must be declined with the policy error the SDP layer handles.
    assert corpus("rfc3711-appendix-B.json")["B.1_AES_f8"]
    with pytest.raises(SrtpPolicyError):
        suite_by_name("F8_128_HMAC_SHA1_80")


# -- RFC 7714 §16/§17 (session keys given; the transform alone) ----------------------------------


def _rfc7714_cases() -> list[Any]:
    return [
        pytest.param(case, id=case["section"]) for case in corpus("rfc7714-aes-gcm.json")["cases"]
    ]


@pytest.mark.parametrize("case", _rfc7714_cases())
def test_rfc7714_vectors(case: dict[str, Any]) -> None:
    section, operation = case["section"], case["operation"]
    keys = SessionKeys(bytes.fromhex(case["key"]), bytes.fromhex(case["salt"]), b"")
    assert len(keys.cipher_key) * 8 == case["key_bits"]
    authenticate_only = operation in ("tagging", "verifying")
    transform = AesGcmTransform(keys, encrypt=not authenticate_only)
    aad = bytes.fromhex(case["aad"])
    with_tag = bytes.fromhex(case.get("ciphertext_with_tag") or case["cipher_with_tag"])
    tampered = flip(with_tag, len(with_tag) - 1)
    if section.startswith("16."):
        # The §16 input packets are cut short in the corpus (the RFC's line wrap eats their
        # last octets): rebuild each from the printed AAD, plaintext and ciphertext+tag.
        header = aad[:12]
        ssrc = int.from_bytes(header[8:12])
        index = int.from_bytes(header[2:4])  # ROC 0
        if operation in ("encrypting", "tagging"):
            packet = aad + bytes.fromhex(case.get("plaintext", ""))
            assert packet.startswith(bytes.fromhex(case["input_packet"]))
            assert transform.protect_rtp(packet, 12, ssrc, index).hex() == case["output_packet"]
            return
        body = with_tag if operation == "decrypting" else aad[12:] + with_tag
        assert (header + body).startswith(bytes.fromhex(case["input_packet"]))
        plain = transform.unprotect_rtp(header + body, 12, ssrc, index)
        expected = header + bytes.fromhex(case["output_packet"]) if "output_packet" in case else aad
        assert plain == expected
        tampered_body = body[: -len(with_tag)] + tampered
        assert transform.unprotect_rtp(header + tampered_body, 12, ssrc, index) is None
        return
    packet = bytes.fromhex(case["input_packet"])
    ssrc = int.from_bytes(packet[4:8])
    index = 0x5D4
    if operation in ("encrypting", "tagging"):
        protected = transform.protect_rtcp(packet, ssrc, index)
        assert protected.hex() == case["output_packet"]
        assert protected[-4:] == (b"\x80\x00\x05\xd4" if operation == "encrypting" else aad[-4:])
        return
    encrypted = operation == "decrypting"
    assert transform.unprotect_rtcp(packet, ssrc, index, encrypted).hex() == case["output_packet"]
    word = packet[-4:]
    broken = packet[: -4 - len(with_tag)] + tampered + word
    assert transform.unprotect_rtcp(broken, ssrc, index, encrypted) is None


# -- libsrtp srtp_driver.c full-packet vectors (through SrtpSession) ---------------------------

LIBSRTP_SUITES = {
    "srtp_validate": ("AES_CM_128_HMAC_SHA1_80", True),
    "srtp_validate_null_sha1_80": ("AES_CM_128_HMAC_SHA1_80", False),  # = UNENCRYPTED_SRTP/SRTCP
    "srtp_validate_gcm": ("AEAD_AES_128_GCM", True),
    "srtp_validate_aes_256": ("AES_256_CM_HMAC_SHA1_80", True),
    "srtp_validate_aes_192": ("AES_192_CM_HMAC_SHA1_80", True),
}


def _libsrtp_cases() -> list[Any]:
    cases = corpus("libsrtp-srtp_driver-vectors.json")["cases"]
    return [
        pytest.param(case, id=case["libsrtp_function"])
        for case in cases
        if case["libsrtp_function"] in LIBSRTP_SUITES
    ]


@pytest.mark.parametrize("case", _libsrtp_cases())
def test_libsrtp_vectors(case: dict[str, Any]) -> None:
    suite, encrypt = LIBSRTP_SUITES[case["libsrtp_function"]]
    policy = SrtpPolicy(
        suite_by_name(suite),
        bytes.fromhex(case["master_key"]),
        bytes.fromhex(case["master_salt"]),
        encrypt_rtp=encrypt,
        encrypt_rtcp=encrypt,
    )
    rtp_plain = bytes.fromhex(case["rtp_plaintext"])
    srtp_packet = bytes.fromhex(case["srtp_protected"])
    sender, receiver = SrtpSession(policy), SrtpSession(policy)
    assert sender.protect_rtp(rtp_plain) == srtp_packet
    assert receiver.unprotect_rtp(srtp_packet) == rtp_plain
    if "rtcp_plaintext" not in case:
        return
    rtcp_plain = bytes.fromhex(case["rtcp_plaintext"])
    srtcp_packet = bytes.fromhex(case["srtcp_protected"])
    # We number SRTCP from 0 (RFC 3711 §3.4); libsrtp's first packet has index 1.
    assert case["srtcp_index"] == 1
    first = sender.protect_rtcp(rtcp_plain)
    assert sender.protect_rtcp(rtcp_plain) == srtcp_packet
    assert receiver.unprotect_rtcp(srtcp_packet) == rtcp_plain
    assert receiver.unprotect_rtcp(first) == rtcp_plain  # index 0, inside the window
    assert receiver.stats.rtcp_unprotected == 2


def test_libsrtp_mki_vector_is_refused_cleanly() -> None:
    """MKI is not supported: SDES keys with one are refused, MKI packets fail to authenticate."""
    case = next(
        case
        for case in corpus("libsrtp-srtp_driver-vectors.json")["cases"]
        if case["libsrtp_function"] == "srtp_validate_mki"
    )
    key_salt = bytes.fromhex(case["master_key"] + case["master_salt"])
    inline = "inline:" + base64.b64encode(key_salt).decode() + "|2^20|1:4"
    with pytest.raises(SrtpPolicyError, match="MKI"):
        SrtpPolicy.from_sdes_inline("AES_CM_128_HMAC_SHA1_80", inline)
    policy = SrtpPolicy.from_sdes_inline("AES_CM_128_HMAC_SHA1_80", inline.rsplit("|", 1)[0])
    session = SrtpSession(policy)
    with pytest.raises(SrtpAuthenticationError):
        session.unprotect_rtp(bytes.fromhex(case["srtp_protected"]))
    with pytest.raises(SrtpAuthenticationError):
        session.unprotect_rtcp(bytes.fromhex(case["srtcp_protected"]))
    assert session.stats.auth_failures == 2
    assert session.rollover_counter(0xCAFEBABE, inbound=True) is None


# -- suites, policies, SDES -------------------------------------------------------------------


def test_suite_registry() -> None:
    assert set(SUITES) == {
        "AES_CM_128_HMAC_SHA1_80",
        "AES_CM_128_HMAC_SHA1_32",
        "AES_192_CM_HMAC_SHA1_80",
        "AES_192_CM_HMAC_SHA1_32",
        "AES_256_CM_HMAC_SHA1_80",
        "AES_256_CM_HMAC_SHA1_32",
        "AEAD_AES_128_GCM",
        "AEAD_AES_256_GCM",
    }
    short = suite_by_name("AES_CM_128_HMAC_SHA1_32")
    assert (short.rtp_tag_length, short.rtcp_tag_length) == (4, 10)
    gcm = suite_by_name("AEAD_AES_256_GCM")
    assert (gcm.cipher, gcm.master_key_length, gcm.master_salt_length) == (
        SrtpCipher.AES_GCM,
        32,
        12,
    )
    assert suite_by_name("aead_aes_128_gcm") is SUITES["AEAD_AES_128_GCM"]
    with pytest.raises(SrtpPolicyError, match="F8_128_HMAC_SHA1_80"):
        suite_by_name("F8_128_HMAC_SHA1_80")


@pytest.mark.parametrize("suite", ALL_SUITES)
def test_sdes_inline_round_trip(suite: str) -> None:
    policy = SrtpPolicy.generate(suite)
    inline = policy.to_sdes_inline()
    assert inline.startswith("inline:")
    assert SrtpPolicy.from_sdes_inline(suite, inline) == policy
    # Without the prefix and without base64 padding (some peers drop it).
    bare = inline.removeprefix("inline:").rstrip("=")
    assert SrtpPolicy.from_sdes_inline(suite_by_name(suite), bare) == policy


def test_sdes_inline_rfc4568_example_with_lifetime() -> None:
    # RFC 4568 §4's example key, with its lifetime and without its MKI.
    policy = SrtpPolicy.from_sdes_inline(
        "AES_CM_128_HMAC_SHA1_80", "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20"
    )
    raw = base64.b64decode("PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR")
    assert (policy.master_key, policy.master_salt) == (raw[:16], raw[16:])
    assert policy.lifetime == 2**20
    assert policy.to_sdes_inline().endswith("|2^20")
    decimal = SrtpPolicy.from_sdes_inline(
        "AES_CM_128_HMAC_SHA1_80", "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1000"
    )
    assert decimal.lifetime == 1000
    assert decimal.to_sdes_inline().endswith("|1000")


@pytest.mark.parametrize(
    ("key_params", "message"),
    [
        ("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4", "MKI"),
        ("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1:4", "MKI"),
        (
            "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4;"
            "inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4",
            "several",
        ),
        ("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^x", "lifetime"),
        ("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|2^20", "lifetime"),
        ("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^49", "lifetime"),
        ("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1|2|3", "malformed"),
        ("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaV", "30 octets"),
        ("inline:" + base64.b64encode(bytes(46)).decode(), "30 octets"),
        ("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVB!", "base64"),
        ("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR=", "base64"),
        ("inline:", "base64"),
    ],
)
def test_sdes_inline_refused(key_params: str, message: str) -> None:
    with pytest.raises(SrtpPolicyError, match=message):
        SrtpPolicy.from_sdes_inline("AES_CM_128_HMAC_SHA1_80", key_params)


def test_policy_validates_lengths_and_hides_keys() -> None:
    suite = suite_by_name("AEAD_AES_128_GCM")
    with pytest.raises(SrtpPolicyError, match="master key"):
        SrtpPolicy(suite, bytes(15), bytes(12))
    with pytest.raises(SrtpPolicyError, match="master salt"):
        SrtpPolicy(suite, bytes(16), bytes(14))
    policy = SrtpPolicy(suite, b"K" * 16, b"S" * 12)
    assert "KKKK" not in repr(policy) and "SSSS" not in repr(policy)
    assert "KKKK" not in repr(derive_session_keys(policy, rtcp=False))


def test_session_parameters_are_validated() -> None:
    policy = SrtpPolicy.generate("AES_CM_128_HMAC_SHA1_80")
    for window in (0, 63, 2**15 + 1):
        with pytest.raises(ValueError, match="replay window"):
            SrtpSession(policy, replay_window=window)
    with pytest.raises(ValueError, match="max_streams"):
        SrtpSession(policy, max_streams=0)


def test_prepared_hmac_equals_hmac_sha1() -> None:
    keys = SessionKeys(bytes(16), bytes(14), bytes(range(20)))
    transform = AesCmHmacSha1Transform(keys, 10, encrypt=False)
    packet = rtp(7)
    expected = hmac.new(bytes(range(20)), packet + bytes(4), hashlib.sha1).digest()[:10]
    assert transform.protect_rtp(packet, 12, SSRC, 7) == packet + expected


# -- index estimation and the replay window ----------------------------------------------------


@pytest.mark.parametrize(
    ("highest", "seq", "expected"),
    [
        (-1, 5, 5),  # first packet: ROC 0
        (-1, 65535, 65535),
        (100, 101, 101),
        (100, 50, 50),
        (65535, 0, 65536),  # wrap forward
        (65530, 3, 65539),
        ((1 << 16) | 2, 65534, 65534),  # late packet from before the wrap: ROC - 1
        ((1 << 16) | 40000, 100, (2 << 16) | 100),  # s_l >= 2^15 and SEQ far below: ROC + 1
        (10, 65530, -1),  # before the stream's ROC 0
        ((5 << 16) | 32768, 0, (5 << 16) | 0),  # exactly 2^15 apart stays in this ROC
        ((5 << 16) | 0, 32768, (5 << 16) | 32768),
        ((5 << 16) | 0, 32769, (4 << 16) | 32769),
    ],
)
def test_estimate_index(highest: int, seq: int, expected: int) -> None:
    assert estimate_index(highest, seq) == expected


def test_replay_window_bitmap() -> None:
    window = ReplayWindow(64)
    assert window.accepts(0)
    window.mark(10)
    assert window.accepts(9) and window.accepts(11) and not window.accepts(10)
    window.mark(9)
    assert not window.accepts(9)
    window.mark(73)  # 10 is now at the edge: 73 - 63
    assert not window.accepts(10) and window.accepts(11) and not window.accepts(9)
    window.mark(1 << 40)  # a huge jump clears the bitmap without a huge shift
    assert window.highest == 1 << 40 and not window.accepts((1 << 40) - 64)
    assert window.accepts((1 << 40) - 63) and not window.accepts(1 << 40)


# -- SRTP behaviour through the session --------------------------------------------------------


@pytest.mark.parametrize("suite", ALL_SUITES)
@pytest.mark.parametrize("encrypt", [True, False], ids=["encrypted", "authenticated-only"])
def test_round_trip(suite: str, encrypt: bool) -> None:
    sender, receiver, _ = pair(suite, encrypt_rtp=encrypt, encrypt_rtcp=encrypt)
    packet = rtp(1000)
    protected = sender.protect_rtp(packet)
    tag_length = suite_by_name(suite).rtp_tag_length
    assert len(protected) == len(packet) + tag_length
    assert protected[:12] == packet[:12]
    assert (protected[12:-tag_length] == packet[12:]) is not encrypt
    assert receiver.unprotect_rtp(protected) == packet
    report = rtcp_sender_report()
    srtcp = sender.protect_rtcp(report)
    assert receiver.unprotect_rtcp(srtcp) == report
    assert (sender.stats.rtp_protected, sender.stats.rtcp_protected) == (1, 1)
    assert (receiver.stats.rtp_unprotected, receiver.stats.rtcp_unprotected) == (1, 1)


def test_one_session_both_directions_keeps_state_apart() -> None:
    session = SrtpSession(SrtpPolicy.generate("AES_CM_128_HMAC_SHA1_80"))
    for seq in (1, 2, 3):
        packet = rtp(seq)
        assert session.unprotect_rtp(session.protect_rtp(packet)) == packet
    assert session.rollover_counter(SSRC, inbound=False) == 0
    assert session.rollover_counter(SSRC, inbound=True) == 0
    assert session.rollover_counter(SSRC + 1, inbound=True) is None


@pytest.mark.parametrize("suite", ALL_SUITES)
def test_roc_wraps_in_order(suite: str) -> None:
    sender, receiver, _ = pair(suite)
    seqs = [*range(65530, 65536), *range(6)]
    for n, seq in enumerate(seqs):
        packet = rtp(seq, payload=bytes([n]) * 160)
        assert receiver.unprotect_rtp(sender.protect_rtp(packet)) == packet
    assert sender.rollover_counter(SSRC, inbound=False) == 1
    assert receiver.rollover_counter(SSRC, inbound=True) == 1


@pytest.mark.parametrize("suite", ["AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"])
def test_roc_wrap_with_reordering(suite: str) -> None:
    sender, receiver, _ = pair(suite)
    sent = {seq: sender.protect_rtp(rtp(seq)) for seq in [*range(65528, 65536), *range(8)]}
    order = [65528, 65530, 65529, 0, 65533, 65531, 2, 65535, 1, 65534, 4, 3, 65532, 7, 5, 6]
    for seq in order:
        assert receiver.unprotect_rtp(sent[seq]) == rtp(seq), seq
    assert receiver.rollover_counter(SSRC, inbound=True) == 1
    for seq in order:  # every one of them again is a replay, on both sides of the wrap
        with pytest.raises(SrtpReplayError):
            receiver.unprotect_rtp(sent[seq])
    assert receiver.stats.replays == len(order)
    assert receiver.stats.rtp_unprotected == len(order)


def test_late_packet_from_before_the_wrap() -> None:
    sender, receiver, policy = pair("AES_CM_128_HMAC_SHA1_80")
    # A packet "before" the first one received, across a wrap, would need ROC -1.
    receiver.unprotect_rtp(sender.protect_rtp(rtp(10)))
    with pytest.raises(SrtpReplayError, match="older"):
        receiver.unprotect_rtp(SrtpSession(policy).protect_rtp(rtp(65530)))
    # A receiver that has seen the stream before the wrap takes a late packet (ROC - 1).
    sender, receiver, _ = pair("AES_CM_128_HMAC_SHA1_80")
    before = sender.protect_rtp(rtp(65534))
    late = sender.protect_rtp(rtp(65535))
    after = [sender.protect_rtp(rtp(seq)) for seq in range(20)]
    for packet in [before, *after, late]:
        receiver.unprotect_rtp(packet)
    assert receiver.rollover_counter(SSRC, inbound=True) == 1
    assert receiver.stats.rtp_unprotected == 22


def test_roc_moves_only_after_authentication() -> None:
    sender, receiver, _ = pair("AES_CM_128_HMAC_SHA1_80")
    for seq in range(65000, 65010):
        receiver.unprotect_rtp(sender.protect_rtp(rtp(seq)))
    # A forged packet whose SEQ implies a wrap (ROC 1) must not move ROC or the window.
    forged = rtp(5) + bytes(10)
    with pytest.raises(SrtpAuthenticationError):
        receiver.unprotect_rtp(forged)
    assert receiver.rollover_counter(SSRC, inbound=True) == 0
    assert receiver.unprotect_rtp(sender.protect_rtp(rtp(65010))) == rtp(65010)
    # And the real wrap still works afterwards.
    for seq in [*range(65011, 65536), *range(10)]:
        sender_packet = sender.protect_rtp(rtp(seq))
        if seq in (65535, 0, 5):
            assert receiver.unprotect_rtp(sender_packet) == rtp(seq)
    assert receiver.rollover_counter(SSRC, inbound=True) == 1
    assert receiver.stats.auth_failures == 1


def test_forged_packet_creates_no_stream() -> None:
    _, receiver, _ = pair("AEAD_AES_128_GCM")
    with pytest.raises(SrtpAuthenticationError):
        receiver.unprotect_rtp(rtp(1, ssrc=0xDEAD) + bytes(16))
    assert receiver.rollover_counter(0xDEAD, inbound=True) is None
    with pytest.raises(SrtpAuthenticationError):
        receiver.unprotect_rtcp(rtcp_sender_report(0xDEAD) + bytes(16) + b"\x80\x00\x00\x01")
    assert receiver.stats.auth_failures == 2


@pytest.mark.parametrize("window_size", [64, 128, 1024])
def test_replay_window(window_size: int) -> None:
    sender, _, policy = pair("AES_CM_128_HMAC_SHA1_80")
    receiver = SrtpSession(policy, replay_window=window_size)
    packets = {seq: sender.protect_rtp(rtp(seq)) for seq in range(2000)}
    newest = 1500
    receiver.unprotect_rtp(packets[newest])
    with pytest.raises(SrtpReplayError, match="already received"):
        receiver.unprotect_rtp(packets[newest])
    with pytest.raises(SrtpReplayError, match="older than the replay window"):
        receiver.unprotect_rtp(packets[newest - window_size])
    assert receiver.unprotect_rtp(packets[newest - window_size + 1]) == rtp(
        newest - window_size + 1
    )
    assert receiver.unprotect_rtp(packets[newest + 1]) == rtp(newest + 1)
    assert receiver.stats.replays == 2


def test_sender_refuses_to_reuse_an_index() -> None:
    sender, _, _ = pair("AEAD_AES_128_GCM")
    sender.protect_rtp(rtp(10))
    with pytest.raises(SrtpReplayError, match="reuse keystream"):
        sender.protect_rtp(rtp(10, payload=b"other"))
    sender.protect_rtp(rtp(11))


@pytest.mark.parametrize("suite", ALL_SUITES)
def test_tampering_is_detected(suite: str) -> None:
    sender, receiver, _ = pair(suite)
    packet = rtp(42, csrcs=(1, 2), extension=b"\x10\xaa\x00\x00")
    protected = sender.protect_rtp(packet)
    header_length = rtp_header_length(packet)
    positions = {
        "marker/payload type": 1,
        "sequence number": 3,
        "timestamp": 4,
        "ssrc": 11,
        "csrc": 15,
        "extension": header_length - 2,
        "payload": header_length + 5,
        "tag": len(protected) - 1,
    }
    for where, position in positions.items():
        for bit in (0x01, 0x80):
            with pytest.raises(SrtpAuthenticationError):
                receiver.unprotect_rtp(flip(protected, position, bit))
            assert receiver.rollover_counter(SSRC, inbound=True) is None, where
    with pytest.raises(SrtpAuthenticationError):
        receiver.unprotect_rtp(protected[:-1] + b"\x00" + protected[-1:])  # length changed
    assert receiver.stats.auth_failures == 2 * len(positions) + 1
    assert receiver.unprotect_rtp(protected) == packet


@pytest.mark.parametrize("suite", ALL_SUITES)
def test_srtcp_tampering_is_detected(suite: str) -> None:
    sender, receiver, _ = pair(suite)
    protected = sender.protect_rtcp(rtcp_sender_report())
    gcm = suite_by_name(suite).cipher is SrtpCipher.AES_GCM
    word = len(protected) - (4 if gcm else 4 + 10)
    for position in (1, 5, 9, 27, word, word + 3, len(protected) - 5, len(protected) - 1):
        with pytest.raises(SrtpAuthenticationError):
            receiver.unprotect_rtcp(flip(protected, position))
    with pytest.raises(SrtpAuthenticationError):  # E flag cleared: authenticated too
        receiver.unprotect_rtcp(flip(protected, word, 0x80))
    assert receiver.unprotect_rtcp(protected) == rtcp_sender_report()


@pytest.mark.parametrize("suite", ALL_SUITES)
def test_csrcs_and_header_extension_are_authenticated_not_encrypted(suite: str) -> None:
    """RFC 3711 §3.1: encryption starts after the CSRC list and header extension."""
    sender, receiver, policy = pair(suite)
    payload = b"hello, payload!" * 10
    packet = rtp(7, payload=payload, csrcs=(0xA1A2A3A4, 0xB1B2B3B4), extension=bytes(range(8)))
    header_length = 12 + 8 + 4 + 8
    assert rtp_header_length(packet) == header_length
    protected = sender.protect_rtp(packet)
    assert protected[:header_length] == packet[:header_length]
    # An independent computation of the encrypted payload from the derived session keys.
    keys = derive_session_keys(policy, rtcp=False)
    if policy.suite.cipher is SrtpCipher.AES_GCM:
        nonce = ((SSRC << 48 | 7) ^ int.from_bytes(keys.cipher_salt)).to_bytes(12)
        expected = AESGCM(keys.cipher_key).encrypt(nonce, payload, packet[:header_length])
        assert protected[header_length:] == expected
    else:
        iv = (SSRC << 64) ^ (7 << 16) ^ (int.from_bytes(keys.cipher_salt) << 16)
        encryptor = Cipher(algorithms.AES(keys.cipher_key), modes.CTR(iv.to_bytes(16))).encryptor()
        tag_length = policy.suite.rtp_tag_length
        assert protected[header_length:-tag_length] == encryptor.update(payload)
        mac = hmac.new(keys.auth_key, protected[:-tag_length] + bytes(4), hashlib.sha1)
        assert protected[-tag_length:] == mac.digest()[:tag_length]
    assert receiver.unprotect_rtp(protected) == packet


def test_header_only_packet() -> None:
    sender, receiver, _ = pair("AES_CM_128_HMAC_SHA1_32")
    packet = rtp(1, payload=b"", extension=b"")
    assert receiver.unprotect_rtp(sender.protect_rtp(packet)) == packet


# -- SRTCP ------------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", ALL_SUITES)
def test_srtcp_index_and_e_flag(suite: str) -> None:
    gcm = suite_by_name(suite).cipher is SrtpCipher.AES_GCM
    for encrypt in (True, False):
        sender, receiver, _ = pair(suite, encrypt_rtcp=encrypt)
        tag_length = suite_by_name(suite).rtcp_tag_length
        for expected_index in range(3):
            report = rtcp_sender_report(packets=expected_index)
            protected = sender.protect_rtcp(report)
            assert len(protected) == len(report) + 4 + tag_length
            word = protected[-4:] if gcm else protected[-4 - tag_length : -tag_length]
            assert int.from_bytes(word) == (0x8000_0000 if encrypt else 0) | expected_index
            assert protected[:8] == report[:8]
            assert (protected[8 : len(report)] == report[8:]) is not encrypt
            assert receiver.unprotect_rtcp(protected) == report


def test_srtcp_e_flag_decides_on_receipt() -> None:
    """The E flag is authenticated, so the receiver follows it whatever its own policy says."""
    base = SrtpPolicy.generate("AES_CM_128_HMAC_SHA1_80")
    clear_sender = SrtpSession(
        SrtpPolicy(base.suite, base.master_key, base.master_salt, encrypt_rtcp=False)
    )
    receiver = SrtpSession(base)
    assert receiver.unprotect_rtcp(clear_sender.protect_rtcp(rtcp_sender_report())) == (
        rtcp_sender_report()
    )


def test_srtcp_replay() -> None:
    sender, _, policy = pair("AEAD_AES_256_GCM")
    receiver = SrtpSession(policy, replay_window=64)
    packets = [sender.protect_rtcp(rtcp_sender_report(packets=n)) for n in range(100)]
    receiver.unprotect_rtcp(packets[99])
    with pytest.raises(SrtpReplayError, match="already received"):
        receiver.unprotect_rtcp(packets[99])
    with pytest.raises(SrtpReplayError, match="older"):
        receiver.unprotect_rtcp(packets[99 - 64])
    receiver.unprotect_rtcp(packets[99 - 63])
    assert receiver.stats.replays == 2


def test_srtcp_compound_packet_and_ssrc_streams() -> None:
    sender, receiver, _ = pair("AES_256_CM_HMAC_SHA1_32")
    sdes = struct.pack("!BBHI", 0x81, 202, 3, SSRC) + b"\x01\x04abcd\x00\x00"
    compound = rtcp_sender_report() + sdes
    other = rtcp_sender_report(ssrc=0xABCDEF01)
    for _ in range(3):
        assert receiver.unprotect_rtcp(sender.protect_rtcp(compound)) == compound
    first_other = sender.protect_rtcp(other)
    assert int.from_bytes(first_other[-14:-10]) == 0x8000_0000  # its own index from 0
    assert receiver.unprotect_rtcp(first_other) == other


# -- limits and malformed input ---------------------------------------------------------------


def test_srtp_index_space_exhausted() -> None:
    sender, receiver, _ = pair("AES_CM_128_HMAC_SHA1_80")
    receiver.unprotect_rtp(sender.protect_rtp(rtp(65535)))
    last = (1 << 48) - 1
    sender._outbound_rtp[SSRC].highest = last
    receiver._inbound_rtp[SSRC].highest = last
    with pytest.raises(SrtpLimitError, match="re-key"):
        sender.protect_rtp(rtp(0))
    with pytest.raises(SrtpLimitError):
        receiver.unprotect_rtp(rtp(0) + bytes(10))
    assert sender.stats.limit_errors == receiver.stats.limit_errors == 1


def test_srtcp_index_space_exhausted() -> None:
    sender, _, _ = pair("AEAD_AES_128_GCM")
    sender.protect_rtcp(rtcp_sender_report())
    sender._outbound_rtcp[SSRC] = (1 << 31) - 1
    protected = sender.protect_rtcp(rtcp_sender_report())
    assert protected[-4:] == b"\xff\xff\xff\xff"
    with pytest.raises(SrtpLimitError):
        sender.protect_rtcp(rtcp_sender_report())


def test_stream_limit() -> None:
    sender, _, policy = pair("AES_CM_128_HMAC_SHA1_80")
    receiver = SrtpSession(policy, max_streams=2)
    for ssrc in (1, 2):
        receiver.unprotect_rtp(sender.protect_rtp(rtp(1, ssrc=ssrc)))
        receiver.unprotect_rtcp(sender.protect_rtcp(rtcp_sender_report(ssrc)))
        receiver.protect_rtcp(rtcp_sender_report(ssrc))
    with pytest.raises(SrtpLimitError, match="streams"):
        receiver.unprotect_rtp(sender.protect_rtp(rtp(1, ssrc=3)))
    with pytest.raises(SrtpLimitError, match="streams"):
        receiver.unprotect_rtcp(sender.protect_rtcp(rtcp_sender_report(3)))
    with pytest.raises(SrtpLimitError, match="streams"):
        receiver.protect_rtcp(rtcp_sender_report(3))
    receiver.unprotect_rtp(sender.protect_rtp(rtp(2, ssrc=2)))  # known streams go on


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        b"\x80" * 11,
        b"\x40" + rtp(1)[1:],  # version 1
        b"\x8f" + rtp(1)[1:12] + bytes(40),  # 15 CSRCs announced, 52 octets present
        b"\x90" + rtp(1)[1:12] + b"\xbe\xde",  # extension header cut short
        b"\x90" + rtp(1)[1:12] + b"\xbe\xde\x00\x10" + bytes(20),  # extension longer than packet
    ],
    ids=["empty", "short", "version1", "csrc-overrun", "ext-cut", "ext-overrun"],
)
def test_malformed_rtp(packet: bytes) -> None:
    sender, receiver, _ = pair("AES_CM_128_HMAC_SHA1_80")
    with pytest.raises(SrtpMalformedError):
        receiver.unprotect_rtp(packet)
    with pytest.raises(SrtpMalformedError):
        sender.protect_rtp(packet)
    assert receiver.stats.malformed == sender.stats.malformed == 1


@pytest.mark.parametrize("suite", ALL_SUITES)
def test_too_short_for_the_tag(suite: str) -> None:
    _, receiver, _ = pair(suite)
    tag_length = suite_by_name(suite).rtp_tag_length
    with pytest.raises(SrtpMalformedError):
        receiver.unprotect_rtp(rtp(1, payload=bytes(tag_length - 1)))
    rtcp_overhead = suite_by_name(suite).rtcp_tag_length + 4
    with pytest.raises(SrtpMalformedError):
        receiver.unprotect_rtcp(rtcp_sender_report()[:8] + bytes(rtcp_overhead - 1))
    with pytest.raises(SrtpMalformedError):
        receiver.unprotect_rtcp(b"\x00" + rtcp_sender_report()[1:] + bytes(rtcp_overhead))
    with pytest.raises(SrtpMalformedError):
        receiver.protect_rtcp(rtcp_sender_report()[:7])
    assert receiver.stats.malformed == 4


# -- fuzz: unprotect raises SrtpError and nothing else -----------------------------------------


_header_like = st.builds(
    lambda first, rest, body: bytes([first]) + rest + body,
    st.sampled_from([0x80, 0x81, 0x8F, 0x90, 0x9F, 0xA0, 0xC8]),
    st.binary(min_size=11, max_size=11),
    st.binary(max_size=200),
)


@settings(max_examples=300, deadline=None)
@given(suite=st.sampled_from(ALL_SUITES), data=st.one_of(st.binary(max_size=300), _header_like))
def test_fuzz_unprotect_raises_only_srtp_error(suite: str, data: bytes) -> None:
    session = _fuzz_session(suite)
    for operation in (session.unprotect_rtp, session.unprotect_rtcp):
        try:
            operation(data)
        except SrtpError:
            pass
        else:  # pragma: no cover - would need a forged tag
            pytest.fail("random bytes authenticated")


@settings(max_examples=200, deadline=None)
@given(
    suite=st.sampled_from(ALL_SUITES),
    seq=st.integers(0, 65535),
    position=st.integers(0, 400),
    bit=st.sampled_from([1, 2, 4, 8, 16, 32, 64, 128]),
    truncate=st.integers(0, 30),
)
def test_fuzz_mutated_packets(suite: str, seq: int, position: int, bit: int, truncate: int) -> None:
    sender, receiver, _ = pair(suite)
    packet = rtp(seq, csrcs=(9,), extension=bytes(4))
    for protected in (sender.protect_rtp(packet), sender.protect_rtcp(rtcp_sender_report())):
        mutated = flip(protected, position % len(protected), bit)
        mutated = mutated[: len(mutated) - truncate]
        for operation in (receiver.unprotect_rtp, receiver.unprotect_rtcp):
            with pytest.raises(SrtpError):
                operation(mutated)


@settings(max_examples=200, deadline=None)
@given(suite=st.sampled_from(ALL_SUITES), data=st.one_of(st.binary(max_size=300), _header_like))
def test_fuzz_protect_returns_or_raises_srtp_error(suite: str, data: bytes) -> None:
    session = SrtpSession(SrtpPolicy.generate(suite))
    for operation in (session.protect_rtp, session.protect_rtcp):
        with contextlib.suppress(SrtpError):
            operation(data)


@cache
def _fuzz_policy(suite: str) -> SrtpPolicy:
    return SrtpPolicy.generate(suite)


def _fuzz_session(suite: str) -> SrtpSession:
    return SrtpSession(_fuzz_policy(suite))


# -- cross-check with libsrtp (pylibsrtp) ---------------------------------------------------------


def _libsrtp_profiles() -> dict[str, int]:
    import pylibsrtp

    policy = pylibsrtp.Policy
    return {
        "AES_CM_128_HMAC_SHA1_80": policy.SRTP_PROFILE_AES128_CM_SHA1_80,
        "AES_CM_128_HMAC_SHA1_32": policy.SRTP_PROFILE_AES128_CM_SHA1_32,
        "AEAD_AES_128_GCM": policy.SRTP_PROFILE_AEAD_AES_128_GCM,
        "AEAD_AES_256_GCM": policy.SRTP_PROFILE_AEAD_AES_256_GCM,
    }


@pytest.mark.parametrize(
    "suite",
    ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM", "AEAD_AES_256_GCM"],
)
def test_cross_check_with_libsrtp(suite: str) -> None:
    profile = _libsrtp_profiles()[suite]
    import pylibsrtp

    policy = SrtpPolicy.generate(suite)
    key = policy.master_key + policy.master_salt
    lib_policy = pylibsrtp.Policy
    lib_sender = pylibsrtp.Session(
        lib_policy(key=key, ssrc_type=lib_policy.SSRC_ANY_OUTBOUND, srtp_profile=profile)
    )
    lib_receiver = pylibsrtp.Session(
        lib_policy(key=key, ssrc_type=lib_policy.SSRC_ANY_INBOUND, srtp_profile=profile)
    )
    our_sender, our_receiver = SrtpSession(policy), SrtpSession(policy)
    # Across the ROC wrap, with plain packets and CSRC + header extension packets.
    for n, seq in enumerate([*range(65500, 65536), *range(40)]):
        extras: dict[str, Any] = (
            {"csrcs": (0xC0FFEE, n), "extension": b"\x10\x01\x02\x03"} if n % 3 == 0 else {}
        )
        packet = rtp(seq, payload=bytes([n]) * 160, **extras)
        ours = our_sender.protect_rtp(packet)
        theirs = lib_sender.protect(packet)
        assert ours == theirs, seq  # byte-identical: same keys, same index
        assert lib_receiver.unprotect(ours) == packet
        assert our_receiver.unprotect_rtp(theirs) == packet
    assert our_receiver.rollover_counter(SSRC, inbound=True) == 1
    for n in range(5):  # SRTCP both ways (libsrtp numbers from 1, we from 0)
        report = rtcp_sender_report(packets=n)
        assert lib_receiver.unprotect_rtcp(our_sender.protect_rtcp(report)) == report
        assert our_receiver.unprotect_rtcp(lib_sender.protect_rtcp(report)) == report
