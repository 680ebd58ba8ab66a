"""The account's SRTP policy and the SDES / DTLS-SRTP answers built from it."""

from __future__ import annotations

import logging

import pytest

from phoneagent.call_security import MediaSecurity
from phoneagent.config import parse_config
from phoneagent.media.dtls_srtp import make_certificate
from phoneagent.sdp.dtls import SetupRole, remote_dtls_parameters, with_dtls_offer
from phoneagent.sdp.model import SessionDescription
from phoneagent.sdp.offer_answer import MediaPolicy, answer_offer, build_offer
from phoneagent.sdp.sdes import with_crypto_offer
from phoneagent.sip.errors import RemoteProtocolError


def security(transport: str, srtp: str, keying: str = "sdes", lab: bool = False) -> MediaSecurity:
    config = parse_config(
        f'[account]\nuri = "sip:a@example.org"\npassword = "x"\ntransport = "{transport}"\n'
        f'srtp = "{srtp}"\n[media]\nsrtp_keying = "{keying}"\n'
        f"srtp_without_tls = {'true' if lab else 'false'}\n"
        'srtp_suites = ["AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"]\n'
    )
    return MediaSecurity(config.account, config.media)


@pytest.mark.parametrize(
    ("transport", "srtp", "keying", "lab", "mode"),
    [
        ("tls", "optional", "sdes", False, "optional"),
        ("tls", "mandatory", "sdes", False, "mandatory"),
        ("udp", "optional", "sdes", False, "off"),  # SDES keys never go out in clear
        ("udp", "mandatory", "sdes", False, "refuse"),
        ("udp", "mandatory", "sdes", True, "mandatory"),  # the lab switch
        ("udp", "mandatory", "dtls", False, "mandatory"),  # no keys in SDP with DTLS
        ("tcp", "off", "dtls", False, "off"),
    ],
)
def test_mode(transport: str, srtp: str, keying: str, lab: bool, mode: str) -> None:
    assert security(transport, srtp, keying, lab).mode == mode


def test_sdes_mandatory_without_tls_says_why_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        security("udp", "mandatory")
    assert [record.message for record in caplog.records if "mandatory" in record.message]


def their_offer(kind: str) -> SessionDescription:
    offer = build_offer(MediaPolicy(), "127.0.0.1", 40000, 7, 1)
    if kind == "dtls":
        return with_dtls_offer(offer, make_certificate().fingerprint)
    if kind == "sdes":
        return with_crypto_offer(offer, ("AES_CM_128_HMAC_SHA1_80",))[0]
    return offer


def our_answer(offer: SessionDescription):  # type: ignore[no-untyped-def]
    answer, negotiated = answer_offer(offer, MediaPolicy(), "127.0.0.1", 50000, 9, 1)
    assert negotiated is not None
    return answer, negotiated


def test_answering_a_dtls_offer_we_are_active_with_our_fingerprint() -> None:
    policy = security("tls", "mandatory", "dtls")
    offer = their_offer("dtls")
    answer, negotiated = our_answer(offer)
    answer, role, fingerprints = policy.answer_dtls(offer, answer, negotiated)
    assert role == "active"  # RFC 5763 §5: the answerer to actpass is the DTLS client
    params = remote_dtls_parameters(answer, answer.media[0])
    assert params is not None and params.setup is SetupRole.ACTIVE
    assert params.fingerprints == (policy.fingerprint,)
    assert answer.media[0].proto == "UDP/TLS/RTP/SAVP"
    assert fingerprints == remote_dtls_parameters(offer, offer.media[0]).fingerprints  # type: ignore[union-attr]


def test_a_dtls_offer_without_fingerprint_or_with_srtp_off_is_488() -> None:
    offer = their_offer("dtls")
    answer, negotiated = our_answer(offer)
    with pytest.raises(RemoteProtocolError) as error:
        security("tls", "off", "dtls").answer_dtls(offer, answer, negotiated)
    assert error.value.status_hint == 488
    bare = SessionDescription.parse(
        bytes(offer).replace(b"a=fingerprint:", b"a=x-fingerprint:")
    )
    answer, negotiated = our_answer(bare)
    with pytest.raises(RemoteProtocolError) as error:
        security("tls", "mandatory", "dtls").answer_dtls(bare, answer, negotiated)
    assert error.value.status_hint == 488


def test_their_answer_to_our_dtls_offer_decides_our_role() -> None:
    policy = security("tls", "mandatory", "dtls")
    ours = with_dtls_offer(build_offer(MediaPolicy(), "127.0.0.1", 40000, 7, 1), policy.fingerprint)
    far = security("tls", "mandatory", "dtls")
    answer, negotiated = our_answer(ours)
    answer, _, _ = far.answer_dtls(ours, answer, negotiated)
    role, fingerprints = policy.dtls_of_answer(answer, negotiated)
    assert role == "passive" and fingerprints == (far.fingerprint,)


def test_sdes_answer_and_refusals() -> None:
    offer = their_offer("sdes")
    answer, negotiated = our_answer(offer)
    sdes_answer, keys = security("tls", "optional").answer_sdes(answer, negotiated)
    assert keys is not None and keys.suite == "AES_CM_128_HMAC_SHA1_80"
    assert b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" in bytes(sdes_answer)
    plain = their_offer("plain")
    answer, negotiated = our_answer(plain)
    assert security("tls", "optional").answer_sdes(answer, negotiated)[1] is None
    with pytest.raises(RemoteProtocolError):
        security("tls", "mandatory").answer_sdes(answer, negotiated)
