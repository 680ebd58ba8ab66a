"""SDES: SRTP keys in SDP ``a=crypto`` lines (RFC 4568), for offers and answers.

    a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]

The offerer lists one line per suite it accepts, in preference order, each with
its own tag and a fresh key (``os.urandom`` through ``SrtpPolicy.generate``); the
answerer picks the first line whose suite it supports and whose key it can use,
and answers with *one* line carrying the same tag and suite and its own key.
Each side sends with its own key and receives with the other's (§6.1).
Session parameters (KDR, UNENCRYPTED_SRTP …) are not supported: a line that
carries any is declined, as is a key with an MKI or several keys (§6.1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from phoneagent.media.srtp_keys import SrtpPolicy, SrtpPolicyError, suite_by_name
from phoneagent.sdp.model import Attribute, MediaDescription, SessionDescription
from phoneagent.sip.errors import RemoteProtocolError

log = logging.getLogger(__name__)

SECURE_PROFILE = "RTP/SAVP"
PLAIN_PROFILE = "RTP/AVP"


@dataclass(frozen=True)
class CryptoLine:
    tag: int
    suite: str
    key_params: str

    @classmethod
    def parse(cls, value: str) -> CryptoLine:
        parts = value.split()
        if len(parts) < 3 or not parts[0].isdigit() or len(parts[0]) > 9:
            raise RemoteProtocolError(f"malformed a=crypto: {value[:80]!r}", 488)
        if len(parts) > 3:
            raise RemoteProtocolError(f"unsupported SDES session parameters: {parts[3:]}", 488)
        return cls(int(parts[0]), parts[1], parts[2])

    def __str__(self) -> str:
        return f"{self.tag} {self.suite} {self.key_params}"


@dataclass(frozen=True)
class SrtpKeys:
    """What a call encrypts with: our policy for sending, theirs for receiving."""

    suite: str
    outbound: SrtpPolicy
    inbound: SrtpPolicy


def with_crypto_offer(
    description: SessionDescription, suites: tuple[str, ...], *, secure_profile: bool = True
) -> tuple[SessionDescription, dict[int, SrtpPolicy]]:
    """Our offer with one ``a=crypto`` per suite on the audio line (RTP/SAVP by default)."""
    policies: dict[int, SrtpPolicy] = {}
    attributes: list[Attribute] = []
    for tag, suite in enumerate(suites, start=1):
        policy = SrtpPolicy.generate(suite)
        policies[tag] = policy
        attributes.append(Attribute("crypto", str(CryptoLine(tag, suite, policy.to_sdes_inline()))))
    media = [
        replace(
            line,
            proto=SECURE_PROFILE if secure_profile else line.proto,
            attributes=(*line.attributes, *attributes),
        )
        if line.media == "audio" and line.port != 0
        else line
        for line in description.media
    ]
    return replace(description, media=tuple(media)), policies


def answer_crypto(
    offered_lines: tuple[str, ...], suites: tuple[str, ...]
) -> tuple[CryptoLine, SrtpKeys] | None:
    """Pick the first offered line we support (offer order, §6.1); None when none fits."""
    for value in offered_lines:
        try:
            line = CryptoLine.parse(value)
            if line.suite.upper() not in {suite.upper() for suite in suites}:
                continue
            inbound = SrtpPolicy.from_sdes_inline(line.suite, line.key_params)
        except (RemoteProtocolError, SrtpPolicyError) as error:
            log.info("declining a=crypto %r: %s", value[:60], error)
            continue
        outbound = SrtpPolicy.generate(suite_by_name(line.suite))
        answer = CryptoLine(line.tag, line.suite, outbound.to_sdes_inline())
        return answer, SrtpKeys(line.suite, outbound, inbound)
    return None


def with_crypto_answer(description: SessionDescription, line: CryptoLine) -> SessionDescription:
    """Our answer with the one ``a=crypto`` line on the accepted audio stream."""
    media: list[MediaDescription] = []
    for entry in description.media:
        if entry.media == "audio" and entry.port != 0:
            crypto = Attribute("crypto", str(line))
            media.append(replace(entry, attributes=(*entry.attributes, crypto)))
        else:
            media.append(entry)
    return replace(description, media=tuple(media))


def keys_from_answer(
    answer_lines: tuple[str, ...], offered: dict[int, SrtpPolicy]
) -> SrtpKeys | None:
    """The keys once the far end answered our crypto offer; None when it declined SRTP."""
    for value in answer_lines:
        line = CryptoLine.parse(value)
        ours = offered.get(line.tag)
        if ours is None:
            raise RemoteProtocolError(f"a=crypto answer with a tag not offered: {line.tag}", 488)
        try:
            inbound = SrtpPolicy.from_sdes_inline(line.suite, line.key_params)
        except SrtpPolicyError as error:
            raise RemoteProtocolError(f"unusable a=crypto answer: {error}", 488) from None
        return SrtpKeys(line.suite, ours, inbound)
    return None
