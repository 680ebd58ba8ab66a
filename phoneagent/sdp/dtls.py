"""DTLS-SRTP in SDP: ``a=fingerprint`` (RFC 8122), ``a=setup`` (RFC 4145) and their offer/answer.

Theory of operation
-------------------
With DTLS-SRTP (RFC 5763) no key travels in SDP.  Each side puts the fingerprint of its
(self-signed) certificate in ``a=fingerprint`` and says with ``a=setup`` who opens the
DTLS handshake; the keys come out of the handshake (``phoneagent.media.dtls_srtp``),
and each side accepts only the certificate whose fingerprint the signalling carried.

* Profile: ``UDP/TLS/RTP/SAVP`` (RFC 5764 §8) on the audio m= line.  We offer that one
  (we do no RTCP feedback, so not ``…/SAVPF``); either is recognised as DTLS-SRTP.
  baresip 1.0 (``mediaenc=dtls_srtp``) offers ``UDP/TLS/RTP/SAVPF`` and accepts
  ``RTP/SAVP``, ``RTP/SAVPF``, ``UDP/TLS/RTP/SAVP`` and ``UDP/TLS/RTP/SAVPF``, answering
  with the offered one (its ``sdp_media_set_alt_protos``; tested in
  ``tests/interop/test_dtls_srtp_baresip.py``).
* Offer (RFC 5763 §5): ``a=setup:actpass`` — the answerer picks the role — and our
  fingerprint.
* Answer: RFC 5763 §5 says the answerer SHOULD be ``active`` (it then starts the
  handshake at once and the offerer need not wait for the answer to be routed back):
  ``actpass`` and ``passive`` offers are answered ``active``, an ``active`` offer is
  answered ``passive``; ``holdconn`` is refused (488).
* Roles: ``active`` is the DTLS client, ``passive`` the server (RFC 4145 §4, RFC 5763
  §5).  An answer without ``a=setup`` is taken as ``active`` (RFC 4145 §4's default);
  an answer saying ``actpass`` breaks RFC 4145 §4.1 and is refused.
* Where: the media level first, else the session level — baresip 1.0 writes both
  attributes at the session level (RFC 8122 §5 allows it for the fingerprint).
* Several fingerprints (RFC 8122 §5): we use those of our most preferred hash function
  among the ones offered, SHA-512 first; SHA-1, MD5 and MD2 are not accepted.

Wire forms (RFC 8122 §5, RFC 4145 §4)::

    fingerprint-attribute = "fingerprint" ":" hash-func SP fingerprint
    hash-func   = "sha-1" / "sha-224" / "sha-256" / "sha-384" / "sha-512" / "md5" / "md2"
                  / token
    fingerprint = 2UHEX *(":" 2UHEX)          ; UHEX = DIGIT / %x41-46 (upper case)
    setup-attr  = "a=setup:" role
    role        = "active" / "passive" / "actpass" / "holdconn"

Parsing is case-insensitive for the hash name and the hex digits (early baresip wrote
lower case) and for the role; we always write the canonical forms.  Malformed values from
the peer raise ``RemoteProtocolError`` with status hint 488, like SDES (``sdes.py``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal, NamedTuple

from phoneagent.sdp.grammar import TOKEN_RE, show
from phoneagent.sdp.model import Attribute, MediaDescription, SessionDescription
from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "DTLS_PROTO",
    "DTLS_PROTOS",
    "HASH_LENGTHS",
    "SUPPORTED_HASHES",
    "DtlsParameters",
    "DtlsRole",
    "Fingerprint",
    "SetupRole",
    "answer_setup",
    "is_dtls_srtp",
    "local_role",
    "remote_dtls_parameters",
    "select_fingerprints",
    "with_dtls_answer",
    "with_dtls_offer",
]

#: The profile we offer (RFC 5764 §8).
DTLS_PROTO = "UDP/TLS/RTP/SAVP"
#: The profiles that mean DTLS-SRTP (RFC 5764 §8, and RFC 5764 §8 with AVPF, which
#: baresip offers); compared case-insensitively.
DTLS_PROTOS = frozenset({"UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF"})

#: Digest length in octets of the hash functions of RFC 8122 §5 / the IANA registry.
HASH_LENGTHS = {
    "md2": 16,
    "md5": 16,
    "sha-1": 20,
    "sha-224": 28,
    "sha-256": 32,
    "sha-384": 48,
    "sha-512": 64,
}
#: The hash functions we verify a certificate with, most preferred first (RFC 8122 §5).
SUPPORTED_HASHES = ("sha-512", "sha-384", "sha-256", "sha-224")
_HASHLIB_NAMES = {
    "sha-224": "sha224",
    "sha-256": "sha256",
    "sha-384": "sha384",
    "sha-512": "sha512",
}

_HEX_PAIRS_RE = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})*")

#: How a DTLS endpoint of ``phoneagent.media.dtls_srtp`` plays: client or server.
DtlsRole = Literal["active", "passive"]


def _not_acceptable(reason: str) -> RemoteProtocolError:
    return RemoteProtocolError(reason, status_hint=488)


class Fingerprint(NamedTuple):
    """A certificate fingerprint: the hash function's name (lower case) and the digest.

    A tuple ``(algorithm, value)``, so it can be handed on wherever one is expected.
    ``str()`` is the attribute value, ``sha-256 AB:CD:…`` (RFC 8122 §5).
    """

    algorithm: str
    value: bytes

    @classmethod
    def parse(cls, text: str) -> Fingerprint:
        """The value of an ``a=fingerprint`` line; ``RemoteProtocolError`` (488) if malformed."""
        parts = text.strip(" ").split(" ")
        if len(parts) != 2 or TOKEN_RE.fullmatch(parts[0]) is None:
            raise _not_acceptable(f"malformed a=fingerprint: {show(text)}")
        algorithm, digits = parts[0].lower(), parts[1]
        if _HEX_PAIRS_RE.fullmatch(digits) is None:
            raise _not_acceptable(f"a=fingerprint is not colon-separated hex: {show(text)}")
        value = bytes.fromhex(digits.replace(":", ""))
        expected = HASH_LENGTHS.get(algorithm)
        if expected is not None and len(value) != expected:
            raise _not_acceptable(
                f"a=fingerprint {algorithm} has {len(value)} octets, not {expected}"
            )
        return cls(algorithm, value)

    @classmethod
    def of_certificate(cls, der: bytes, algorithm: str = "sha-256") -> Fingerprint:
        """The fingerprint of a DER-encoded certificate (RFC 8122 §5: over the DER form)."""
        name = _HASHLIB_NAMES.get(algorithm.lower())
        if name is None:
            raise LocalProtocolError(f"unsupported fingerprint hash function {algorithm!r}")
        return cls(algorithm.lower(), hashlib.new(name, der).digest())

    @property
    def is_supported(self) -> bool:
        """Whether we verify certificates with this hash function."""
        return self.algorithm in _HASHLIB_NAMES

    def __str__(self) -> str:
        return f"{self.algorithm} {self.value.hex(':').upper()}"


class SetupRole(StrEnum):
    """RFC 4145 §4's roles: who opens the connection (for DTLS: who sends ClientHello)."""

    ACTIVE = "active"
    PASSIVE = "passive"
    ACTPASS = "actpass"
    HOLDCONN = "holdconn"

    @classmethod
    def parse(cls, text: str) -> SetupRole:
        try:
            return cls(text.strip(" ").lower())
        except ValueError:
            raise _not_acceptable(f"malformed a=setup: {show(text)}") from None


@dataclass(frozen=True)
class DtlsParameters:
    """The far end's DTLS-SRTP attributes for one m= line.

    ``setup`` is ``None`` when no ``a=setup`` was given (its meaning depends on whether
    the description is an offer or an answer: RFC 4145 §4).
    """

    setup: SetupRole | None
    fingerprints: tuple[Fingerprint, ...]


def is_dtls_srtp(media: MediaDescription) -> bool:
    """Whether the m= line's profile is a DTLS-SRTP one (``UDP/TLS/RTP/SAVP[F]``)."""
    return media.proto.upper() in DTLS_PROTOS


def _attribute_values(
    description: SessionDescription, media: MediaDescription, name: str
) -> tuple[str, ...]:
    """The media-level values of ``a=<name>``, else the session-level ones."""
    values = media.attribute_values(name) or description.attribute_values(name)
    if any(value is None for value in values):
        raise _not_acceptable(f"a={name} without a value")
    return tuple(value for value in values if value is not None)


def remote_dtls_parameters(
    description: SessionDescription, media: MediaDescription
) -> DtlsParameters | None:
    """The far end's ``a=setup`` and ``a=fingerprint`` for ``media``; ``None`` without any
    fingerprint (no DTLS-SRTP there).  ``RemoteProtocolError`` (488) if malformed."""
    fingerprints = tuple(
        Fingerprint.parse(value) for value in _attribute_values(description, media, "fingerprint")
    )
    if not fingerprints:
        return None
    setups = _attribute_values(description, media, "setup")
    if len(setups) > 1:
        raise _not_acceptable("more than one a=setup")
    return DtlsParameters(SetupRole.parse(setups[0]) if setups else None, fingerprints)


def select_fingerprints(fingerprints: Iterable[Fingerprint]) -> tuple[Fingerprint, ...]:
    """RFC 8122 §5: those of our most preferred hash function the peer used.

    The certificate must then match one of them.  ``RemoteProtocolError`` (488) when
    none uses a hash function we support.
    """
    given = tuple(fingerprints)
    for algorithm in SUPPORTED_HASHES:
        chosen = tuple(item for item in given if item.algorithm == algorithm)
        if chosen:
            return chosen
    names = ", ".join(sorted({item.algorithm for item in given})) or "none"
    raise _not_acceptable(f"no a=fingerprint with a hash function we accept (got {names})")


def answer_setup(offered: SetupRole | None) -> SetupRole:
    """Our ``a=setup`` in an answer to an offer that said ``offered`` (RFC 5763 §5).

    An offer without ``a=setup`` means ``active`` (RFC 4145 §4), so we answer passive.
    """
    if offered in (SetupRole.ACTPASS, SetupRole.PASSIVE):
        return SetupRole.ACTIVE
    if offered in (SetupRole.ACTIVE, None):
        return SetupRole.PASSIVE
    raise _not_acceptable("a=setup:holdconn: the offerer does not want the DTLS handshake now")


def local_role(ours: SetupRole, theirs: SetupRole | None, *, we_offered: bool) -> DtlsRole:
    """Our DTLS role once offer and answer are known.

    ``ours``/``theirs`` are the ``a=setup`` values each side sent.  As the offerer
    (``ours`` actpass normally) the answer decides: ``active`` there makes us passive,
    ``passive`` makes us active; no ``a=setup`` means active (RFC 4145 §4).  As the
    answerer our own answer decides.
    """
    if not we_offered:
        if ours not in (SetupRole.ACTIVE, SetupRole.PASSIVE):
            raise LocalProtocolError(f"an answer's a=setup must be active or passive, not {ours}")
        return "active" if ours is SetupRole.ACTIVE else "passive"
    answered = SetupRole.ACTIVE if theirs is None else theirs
    if answered is SetupRole.ACTPASS:
        raise _not_acceptable("a=setup:actpass in an answer (RFC 4145 §4.1)")
    if answered is SetupRole.HOLDCONN:
        raise _not_acceptable("a=setup:holdconn in the answer: no DTLS handshake")
    if ours is SetupRole.ACTPASS:
        return "passive" if answered is SetupRole.ACTIVE else "active"
    if ours is answered:
        raise _not_acceptable(f"both ends said a=setup:{ours}")
    return "active" if ours is SetupRole.ACTIVE else "passive"


def _with_dtls(
    description: SessionDescription,
    fingerprint: Fingerprint,
    setup: SetupRole,
    proto: str | None,
) -> SessionDescription:
    attributes = (Attribute("setup", str(setup)), Attribute("fingerprint", str(fingerprint)))
    media = tuple(
        replace(
            line,
            proto=proto or line.proto,
            attributes=(
                *(a for a in line.attributes if a.name not in ("setup", "fingerprint")),
                *attributes,
            ),
        )
        if line.media == "audio" and line.port != 0
        else line
        for line in description.media
    )
    return replace(description, media=media)


def with_dtls_offer(
    description: SessionDescription,
    fingerprint: Fingerprint,
    *,
    setup: SetupRole = SetupRole.ACTPASS,
    proto: str = DTLS_PROTO,
) -> SessionDescription:
    """Our offer with DTLS-SRTP on its audio line: the profile, ``a=setup``, our fingerprint."""
    if setup is SetupRole.HOLDCONN:
        raise LocalProtocolError("we never offer a=setup:holdconn")
    return _with_dtls(description, fingerprint, setup, proto)


def with_dtls_answer(
    description: SessionDescription, fingerprint: Fingerprint, setup: SetupRole
) -> SessionDescription:
    """Our answer with ``a=setup`` (from :func:`answer_setup`) and our fingerprint added to
    the accepted audio line; its profile stays the offer's (RFC 3264 §6)."""
    if setup not in (SetupRole.ACTIVE, SetupRole.PASSIVE):
        raise LocalProtocolError(f"an answer's a=setup must be active or passive, not {setup}")
    return _with_dtls(description, fingerprint, setup, None)
