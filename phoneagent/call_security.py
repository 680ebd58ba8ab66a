"""What keys a call's media: the account's SRTP policy and its offer/answer, SDES or DTLS.

``[account] srtp`` says whether SRTP is off, optional or mandatory; ``[media]
srtp_keying`` whether our offers carry SDES keys (``a=crypto``, RFC 4568) or a
DTLS-SRTP fingerprint (RFC 5763).  SDES keys travel in SDP, so without SIP over TLS
they are not sent (``mode`` becomes "off", or "refuse" when SRTP is mandatory)
unless ``[media] srtp_without_tls`` says so; DTLS-SRTP keys never travel, only its
fingerprints, which SIP over TLS protects (RFC 5763 §8).  Answers to the far
end's offers are built here; what goes wrong raises ``RemoteProtocolError`` (488).
"""

from __future__ import annotations

import logging

from phoneagent.config import AccountConfig, MediaConfig
from phoneagent.media.dtls_srtp import DtlsCertificate, make_certificate
from phoneagent.media.srtp_keys import SrtpPolicy, SrtpPolicyError
from phoneagent.sdp.dtls import (
    DtlsRole,
    Fingerprint,
    SetupRole,
    answer_setup,
    local_role,
    remote_dtls_parameters,
    select_fingerprints,
    with_dtls_answer,
)
from phoneagent.sdp.model import SessionDescription
from phoneagent.sdp.offer_answer import NegotiatedMedia
from phoneagent.sdp.sdes import (
    SECURE_PROFILE,
    CryptoLine,
    SrtpKeys,
    answer_crypto,
    with_crypto_answer,
)
from phoneagent.sip.errors import RemoteProtocolError

log = logging.getLogger(__name__)


class MediaSecurity:
    def __init__(self, account: AccountConfig, media: MediaConfig) -> None:
        self.account = account
        self.media = media
        self.keying = media.srtp_keying
        self._dtls_certificate: DtlsCertificate | None = None
        self.mode = self._mode()

    def _mode(self) -> str:
        """The account's SRTP mode, downgraded to "off" when the keys would travel in clear."""
        mode = self.account.srtp
        over_tls = self.account.transport == "tls"
        if mode != "off" and self.media.srtp_keying == "dtls":
            if not over_tls:  # no keys in SDP, but its fingerprints can be swapped on the path
                log.info("DTLS-SRTP without SIP over TLS: fingerprints unprotected (RFC 5763 §8)")
            return mode
        if mode != "off" and not over_tls and not self.media.srtp_without_tls:
            if mode == "mandatory":
                log.warning(
                    "SRTP is mandatory but signalling is not TLS: calls are refused rather "
                    'than sending keys in clear (set [account] transport = "tls", or '
                    "[media] srtp_without_tls = true in a lab)"
                )
                return "refuse"
            log.info(
                "SRTP off: its keys would travel in clear over %s", self.account.transport
            )
            return "off"
        return mode

    @property
    def dtls_certificate(self) -> DtlsCertificate:
        """One self-signed certificate per run (RFC 5763 §5: its fingerprint goes in SDP)."""
        if self._dtls_certificate is None:
            self._dtls_certificate = make_certificate()
        return self._dtls_certificate

    @property
    def fingerprint(self) -> Fingerprint:
        return self.dtls_certificate.fingerprint

    def answer_sdes(
        self, answer: SessionDescription, negotiated: NegotiatedMedia
    ) -> tuple[SessionDescription, SrtpKeys | None]:
        """Add our a=crypto to an answer, or refuse (488) what our policy cannot accept."""
        secure_offer = negotiated.proto.upper() == SECURE_PROFILE
        if self.mode in ("off", "refuse") or not negotiated.crypto:
            if secure_offer or self.mode in ("mandatory", "refuse"):
                raise RemoteProtocolError("no acceptable SRTP (RTP/SAVP or policy)", 488)
            return answer, None
        choice = answer_crypto(negotiated.crypto, self.media.srtp_suites)
        if choice is None:
            if secure_offer or self.mode == "mandatory":
                raise RemoteProtocolError("no a=crypto suite in common", 488)
            return answer, None
        line, keys = choice
        return with_crypto_answer(answer, line), keys

    def rekey_sdes(
        self, answer: SessionDescription, negotiated: NegotiatedMedia, current: SrtpKeys
    ) -> tuple[SessionDescription, SrtpKeys | None]:
        """A re-offer in an SRTP call (RFC 4568 §7.1.4): keep our key (a new SRTP context
        with the same key would reuse keystream), take the far end's if it changed."""
        for value in negotiated.crypto:
            line = CryptoLine.parse(value)
            if line.suite.upper() != current.suite.upper():
                continue
            ours = CryptoLine(line.tag, line.suite, current.outbound.to_sdes_inline())
            answer = with_crypto_answer(answer, ours)
            try:
                inbound = SrtpPolicy.from_sdes_inline(line.suite, line.key_params)
            except SrtpPolicyError:
                raise RemoteProtocolError("unusable key in the re-offer", 488) from None
            if inbound == current.inbound:
                return answer, None
            log.info("the far end changed its SRTP key")
            return answer, SrtpKeys(current.suite, current.outbound, inbound)
        raise RemoteProtocolError("re-offer without our SRTP suite", 488)

    def answer_dtls(
        self,
        offer: SessionDescription,
        answer: SessionDescription,
        negotiated: NegotiatedMedia,
    ) -> tuple[SessionDescription, DtlsRole, tuple[Fingerprint, ...]]:
        """Our answer to a DTLS-SRTP offer: ``a=setup`` (active, RFC 5763 §5) and our
        fingerprint; our role and the fingerprints the far end's certificate must match."""
        if self.mode in ("off", "refuse"):
            raise RemoteProtocolError("DTLS-SRTP offered, SRTP is off here", 488)
        params = remote_dtls_parameters(offer, offer.media[negotiated.media_index])
        if params is None:
            raise RemoteProtocolError("UDP/TLS/RTP/SAVP without a=fingerprint", 488)
        fingerprints = select_fingerprints(params.fingerprints)
        setup = answer_setup(params.setup)
        role = local_role(setup, params.setup, we_offered=False)
        return with_dtls_answer(answer, self.fingerprint, setup), role, fingerprints

    def dtls_of_answer(
        self, answer: SessionDescription, negotiated: NegotiatedMedia
    ) -> tuple[DtlsRole, tuple[Fingerprint, ...]]:
        """Our role and the far end's fingerprints from its answer to our DTLS offer."""
        params = remote_dtls_parameters(answer, answer.media[negotiated.media_index])
        if params is None:
            raise RemoteProtocolError("the answer has no a=fingerprint for DTLS-SRTP", 488)
        role = local_role(SetupRole.ACTPASS, params.setup, we_offered=True)
        return role, select_fingerprints(params.fingerprints)
