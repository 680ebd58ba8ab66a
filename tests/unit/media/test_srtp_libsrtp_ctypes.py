"""Every suite of our SRTP registry against libsrtp itself (Debian's libsrtp2, via ctypes).

pylibsrtp (``test_srtp.py``) reaches four suites; ``tests/libsrtp_ctypes.py`` reaches all
of ours, RFC 6188's AES-192/256-CM included.  For each suite, in both directions:

* SRTP across the rollover (sequence numbers 65530 → 5, ROC 0 → 1), packets with CSRCs
  and a header extension among plain ones: what we protect is byte-identical to what
  libsrtp protects, and each side unprotects the other's;
* SRTCP both ways (libsrtp numbers from 1, we from 0, so our second packet must equal
  libsrtp's first byte for byte);
* a flipped bit anywhere (header, CSRC, extension, payload, index, tag) is rejected by
  libsrtp (``srtp_err_status_auth_fail``) and by us (``SrtpAuthenticationError``).

AES-192 and libsrtp 2.5: its key derivation is not RFC 6188's.  For a 38-octet key+salt
``srtp_stream_init_keys`` picks the AES-256 PRF and keys it with ``master key || first 8
octets of the salt`` (cisco/libsrtp issue #763, fixed by PR #765/#770 in 2025, after
bookworm's 2.5.0).  Our derivation follows RFC 6188 (the corpus's RFC 6188 §7.4 vector in
``test_srtp.py``), so our AES-192 packets do not authenticate in libsrtp 2.5 —
``test_libsrtp_2_5_aes_192_key_derivation_is_not_rfc_6188`` pins exactly that.  The
cross-checks below then give our session the session keys libsrtp 2.5 derives, so that
everything after the KDF (IV, ROC, tag, SRTCP index) is still compared with libsrtp.
The binding is only ever run on a version it was checked on (``VERIFIED_VERSIONS``); a
fixed libsrtp needs a new entry there, and this workaround then goes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from phoneagent.media.srtp import (
    SUITES,
    SrtpAuthenticationError,
    SrtpPolicy,
    SrtpSession,
    rtp_header_length,
    suite_by_name,
)
from phoneagent.media.srtp_keys import SessionKeys, SrtpCipher, derive_session_key
from phoneagent.media.srtp_transform import make_transform
from tests import libsrtp_ctypes
from tests.libsrtp_ctypes import STATUS_AUTH_FAIL, LibsrtpError, LibsrtpSession
from tests.unit.media.test_srtp import SSRC, flip, rtcp_sender_report, rtp

ALL_SUITES = sorted(SUITES)
#: 65530 … 65535, 0 … 5: the ROC steps from 0 to 1 in the middle.
WRAP_SEQUENCE = [*range(65530, 65536), *range(6)]


def libsrtp_has_aes_192_kdf_bug() -> bool:
    """libsrtp 2.5 (the only verified version) derives AES-192 keys with AES-256 (#763)."""
    match = re.search(r"(\d+)\.(\d+)", libsrtp_ctypes.version())
    assert match is not None
    return (int(match[1]), int(match[2])) <= (2, 5)


def libsrtp_2_5_session_keys(policy: SrtpPolicy, *, rtcp: bool) -> SessionKeys:
    """AES-192 session keys as libsrtp 2.5 derives them (cisco/libsrtp #763).

    ``tmp_key`` is key || salt zero-padded to 46 octets and handed to the AES-256 KDF,
    which takes its first 32 octets as the PRF key and the next 14 as the salt.
    """
    padded = (policy.master_key + policy.master_salt).ljust(46, b"\x00")
    prf_key, prf_salt = padded[:32], padded[32:]
    cipher_label, auth_label, salt_label = (3, 4, 5) if rtcp else (0, 1, 2)
    suite = policy.suite
    return SessionKeys(
        derive_session_key(prf_key, prf_salt, cipher_label, suite.master_key_length),
        derive_session_key(prf_key, prf_salt, salt_label, suite.master_salt_length),
        derive_session_key(prf_key, prf_salt, auth_label, suite.auth_key_length),
    )


def our_session(policy: SrtpPolicy) -> SrtpSession:
    """An SrtpSession; for AES-192 on libsrtp 2.5 keyed as libsrtp keys it (see above)."""
    session = SrtpSession(policy)
    if policy.suite.master_key_length == 24 and libsrtp_has_aes_192_kdf_bug():
        for rtcp in (False, True):
            transform = make_transform(
                policy.suite, libsrtp_2_5_session_keys(policy, rtcp=rtcp), rtcp=rtcp, encrypt=True
            )
            if rtcp:
                session._rtcp = transform
            else:
                session._rtp = transform
    return session


@dataclass
class Peers:
    policy: SrtpPolicy
    our_sender: SrtpSession
    our_receiver: SrtpSession
    lib_sender: LibsrtpSession
    lib_receiver: LibsrtpSession


@pytest.fixture(params=ALL_SUITES)
def peers(request: pytest.FixtureRequest) -> Iterator[Peers]:
    policy = SrtpPolicy.generate(request.param)
    key, salt = policy.master_key, policy.master_salt
    with (
        LibsrtpSession(policy.suite.name, key, salt, outbound=True) as lib_sender,
        LibsrtpSession(policy.suite.name, key, salt, outbound=False) as lib_receiver,
    ):
        yield Peers(policy, our_session(policy), our_session(policy), lib_sender, lib_receiver)


def wrap_packets() -> list[bytes]:
    """RTP packets across the ROC wrap; every other one has 2 CSRCs and a header extension."""
    packets = []
    for n, seq in enumerate(WRAP_SEQUENCE):
        if n % 2:
            packets.append(rtp(seq, payload=bytes([n]) * 160))
        else:
            packets.append(
                rtp(
                    seq,
                    payload=bytes([n]) * 160,
                    csrcs=(0xC0FFEE00, n),
                    extension=b"\x10\xaa\x21\xbb\xcc\x00\x00\x00",  # RFC 8285 one-byte form
                )
            )
    return packets


# -- the binding itself -----------------------------------------------------------------------


def test_binding_is_pinned_to_the_runtime_version() -> None:
    text = libsrtp_ctypes.version()
    match = re.search(r"(\d+)\.(\d+)", text)
    assert match is not None, text
    assert (int(match[1]), int(match[2])) in libsrtp_ctypes.VERIFIED_VERSIONS


def test_every_registry_suite_has_a_libsrtp_policy() -> None:
    """A suite added to our registry must be added to the cross-check too."""
    assert set(libsrtp_ctypes.CRYPTO_POLICY_SETTERS) == set(SUITES)


def test_libsrtp_refuses_a_key_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="38 octets"):
        LibsrtpSession("AES_192_CM_HMAC_SHA1_80", bytes(16), bytes(14), outbound=True)


# -- RTP --------------------------------------------------------------------------------------


def test_srtp_both_ways_across_the_rollover(peers: Peers) -> None:
    for packet in wrap_packets():
        ours = peers.our_sender.protect_rtp(packet)
        theirs = peers.lib_sender.protect(packet)
        assert ours == theirs, f"seq {int.from_bytes(packet[2:4])}"
        assert len(ours) == len(packet) + peers.policy.suite.rtp_tag_length
        assert peers.lib_receiver.unprotect(ours) == packet
        assert peers.our_receiver.unprotect_rtp(theirs) == packet
    assert peers.our_sender.rollover_counter(SSRC, inbound=False) == 1
    assert peers.our_receiver.rollover_counter(SSRC, inbound=True) == 1


def test_srtp_csrcs_and_extension_stay_in_clear(peers: Peers) -> None:
    packet = wrap_packets()[0]
    header_length = rtp_header_length(packet)
    assert header_length == 12 + 8 + 4 + 8
    theirs = peers.lib_sender.protect(packet)
    assert theirs[:header_length] == packet[:header_length]
    assert theirs[header_length : len(packet)] != packet[header_length:]


def test_tampered_srtp_is_rejected_both_ways(peers: Peers) -> None:
    for n, packet in enumerate(wrap_packets()[:4]):
        ours = peers.our_sender.protect_rtp(packet)
        theirs = peers.lib_sender.protect(packet)
        header_length = rtp_header_length(packet)
        positions = {1, 3, 7, 11, header_length + 3, len(ours) - 1}
        if packet[0] & 0x0F:
            positions |= {15, header_length - 2}  # a CSRC, the extension
        for position in sorted(positions):
            with pytest.raises(LibsrtpError) as error:
                peers.lib_receiver.unprotect(flip(ours, position, 0x04))
            assert error.value.status == STATUS_AUTH_FAIL, (n, position)
            with pytest.raises(SrtpAuthenticationError):
                peers.our_receiver.unprotect_rtp(flip(theirs, position, 0x04))
        # Truncated by one octet: the tag no longer verifies either.
        with pytest.raises(LibsrtpError):
            peers.lib_receiver.unprotect(ours[:-1])
        with pytest.raises(SrtpAuthenticationError):
            peers.our_receiver.unprotect_rtp(theirs[:-1])
        # The untouched packets still go through: failures left no state behind.
        assert peers.lib_receiver.unprotect(ours) == packet
        assert peers.our_receiver.unprotect_rtp(theirs) == packet


# -- RTCP -------------------------------------------------------------------------------------


def test_srtcp_both_ways(peers: Peers) -> None:
    suite = peers.policy.suite
    # Our index 0 first: libsrtp has no packet with it to compare.
    first = peers.our_sender.protect_rtcp(rtcp_sender_report(packets=0))
    assert peers.lib_receiver.unprotect_rtcp(first) == rtcp_sender_report(packets=0)
    for n in range(1, 6):
        report = rtcp_sender_report(packets=n)
        ours = peers.our_sender.protect_rtcp(report)
        theirs = peers.lib_sender.protect_rtcp(report)  # libsrtp's index n, as ours
        assert ours == theirs, n
        assert len(ours) == len(report) + 4 + suite.rtcp_tag_length
        assert peers.lib_receiver.unprotect_rtcp(ours) == report
        assert peers.our_receiver.unprotect_rtcp(theirs) == report
    # A compound packet (SR + SDES), and another SSRC with its own index.
    sdes = bytes.fromhex("81ca0003") + SSRC.to_bytes(4) + b"\x01\x04abcd\x00\x00"
    compound = rtcp_sender_report(packets=9) + sdes
    assert peers.our_receiver.unprotect_rtcp(peers.lib_sender.protect_rtcp(compound)) == compound
    other = rtcp_sender_report(ssrc=0xABCDEF01)
    assert peers.lib_receiver.unprotect_rtcp(peers.our_sender.protect_rtcp(other)) == other


def test_tampered_srtcp_is_rejected_both_ways(peers: Peers) -> None:
    suite = peers.policy.suite
    tag = suite.rtcp_tag_length
    report = rtcp_sender_report(packets=3)
    peers.our_sender.protect_rtcp(report)  # so that our index matches libsrtp's first (1)
    ours = peers.our_sender.protect_rtcp(report)
    theirs = peers.lib_sender.protect_rtcp(report)
    gcm = suite.cipher is SrtpCipher.AES_GCM
    word = len(ours) - 4 if gcm else len(ours) - 4 - tag  # E flag + SRTCP index
    for position in (1, 5, 9, 27, word, word + 3, len(ours) - 1):
        with pytest.raises(LibsrtpError) as error:
            peers.lib_receiver.unprotect_rtcp(flip(ours, position))
        assert error.value.status == STATUS_AUTH_FAIL, position
        with pytest.raises(SrtpAuthenticationError):
            peers.our_receiver.unprotect_rtcp(flip(theirs, position))
    with pytest.raises(LibsrtpError):  # E flag cleared: authenticated too
        peers.lib_receiver.unprotect_rtcp(flip(ours, word, 0x80))
    with pytest.raises(SrtpAuthenticationError):
        peers.our_receiver.unprotect_rtcp(flip(theirs, word, 0x80))
    assert peers.lib_receiver.unprotect_rtcp(ours) == report
    assert peers.our_receiver.unprotect_rtcp(theirs) == report


# -- libsrtp 2.5's AES-192 ----------------------------------------------------------------------


def test_libsrtp_2_5_aes_192_key_derivation_is_not_rfc_6188() -> None:
    """cisco/libsrtp #763, with RFC 6188 §7.4's master key: libsrtp 2.5 derives another key."""
    assert libsrtp_has_aes_192_kdf_bug(), "a fixed libsrtp: drop the AES-192 workaround above"
    policy = SrtpPolicy(
        suite_by_name("AES_192_CM_HMAC_SHA1_80"),
        bytes.fromhex("73edc66c4fa15776fb57f9505c17136550ffda71f3e8e5f1"),
        bytes.fromhex("c8522f3acd4ce86d5add78edbb11"),
    )
    # RFC 6188 §7.4 (as quoted in the issue): the session cipher key starts 31874736…
    rfc = derive_session_key(policy.master_key, policy.master_salt, 0x00, 24)
    assert rfc.hex().startswith("31874736a8f1143870c26e4857d8a5b2")
    # What the issue reports libsrtp derives — and what our emulation of it gives.
    libsrtp_keys = libsrtp_2_5_session_keys(policy, rtcp=False)
    assert libsrtp_keys.cipher_key.hex() == "7af9f9f2cb705d213cce5fa377b290a0183389701878e7d7"
    assert libsrtp_keys.cipher_salt.hex() == "2166ce644b08c8f855708bc2189e"
    # libsrtp's packets are exactly those of that emulation ...
    packet = rtp(100, csrcs=(7,), extension=bytes(4))
    with LibsrtpSession(
        policy.suite.name, policy.master_key, policy.master_salt, outbound=True
    ) as lib_sender:
        assert lib_sender.protect(packet) == our_session(policy).protect_rtp(packet)
    # ... and an RFC 6188 packet does not authenticate in libsrtp 2.5: no AES-192 interop.
    for suite in ("AES_192_CM_HMAC_SHA1_80", "AES_192_CM_HMAC_SHA1_32"):
        rfc_policy = SrtpPolicy.generate(suite)
        with LibsrtpSession(
            suite, rfc_policy.master_key, rfc_policy.master_salt, outbound=False
        ) as lib_receiver:
            with pytest.raises(LibsrtpError) as error:
                lib_receiver.unprotect(SrtpSession(rfc_policy).protect_rtp(packet))
            assert error.value.status == STATUS_AUTH_FAIL
