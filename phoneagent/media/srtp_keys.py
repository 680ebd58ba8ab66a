"""SRTP suites, master keys and session key derivation (RFC 3711 §4.3, RFC 6188, RFC 7714).

Theory of operation
-------------------
An SRTP *crypto suite* names a cipher, an authentication and their key
lengths.  :data:`SUITES` is the registry of the ones this phone speaks, by their
SDES names (RFC 4568 §6.2, RFC 6188, RFC 7714 §14.1):

====================================  ======  ======  ===========  =============
suite                                 key     salt    RTP tag      RTCP tag
====================================  ======  ======  ===========  =============
``AES_CM_128_HMAC_SHA1_80``           16      14      10 (SHA1)    10
``AES_CM_128_HMAC_SHA1_32``           16      14      4  (SHA1)    10
``AES_192_CM_HMAC_SHA1_80`` / ``_32`` 24      14      10 / 4       10
``AES_256_CM_HMAC_SHA1_80`` / ``_32`` 32      14      10 / 4       10
``AEAD_AES_128_GCM``                  16      12      16 (GCM)     16
``AEAD_AES_256_GCM``                  32      12      16 (GCM)     16
====================================  ======  ======  ===========  =============

The ``_32`` suites shorten the SRTP tag only: SRTCP keeps 80 bits (RFC 4568
§6.2, RFC 5764 §4.1.2), as libsrtp does.

An :class:`SrtpPolicy` is a suite plus one *master key* and *master salt* — for
SDES, one direction's ``a=crypto`` ``inline:`` key (RFC 4568 §6.1: base64 of
``key || salt``).  Each direction of a call has its own master key, so a phone
holds two policies: its own for what it sends, the peer's for what it receives.

From the master key the *session keys* are derived with the AES-CM PRF of
RFC 3711 §4.3.1/§4.3.3 (RFC 6188 for AES-192/256; RFC 7714 §11 reuses it for
GCM with a 96-bit salt, zero-padded on the right to 112 bits): for label
``l`` and key derivation rate 0, ``x = (l << 48) XOR master_salt`` (right
aligned) and the key is the AES-CTR keystream of the master key from IV
``x * 2^16``.  Labels 0/1/2 give the SRTP cipher key, authentication key and
salt, 3/4/5 the SRTCP ones (§4.3.2).

Deliberate limits:

* key derivation rate 0 only (RFC 3711's default; libsrtp supports nothing
  else): the session derives once.  :func:`derive_session_key` takes a rate for
  the RFC's own test vector; the SDP layer must decline a ``KDR=`` other than 0;
* no MKI (RFC 3711 §3.1, RFC 4568 ``|1:4``) and one master key per
  ``a=crypto`` line: :meth:`SrtpPolicy.from_sdes_inline` refuses both with
  :class:`SrtpPolicyError` (a phone that offers one key never needs them);
* no AES-f8 or NULL cipher suites (:func:`suite_by_name` refuses them) and no
  ``UNAUTHENTICATED_SRTP``; ``UNENCRYPTED_SRTP``/``UNENCRYPTED_SRTCP`` are
  supported (``encrypt_rtp``/``encrypt_rtcp``), which is what libsrtp's
  NULL-cipher vectors exercise.

The key lifetime of an SDES key (``|2^31``) is parsed and kept on the policy
(the SDP layer may re-key before it), not enforced: the session refuses only at
the hard limits, 2^48 SRTP and 2^31 SRTCP packets (RFC 3711 §3.2.1).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "DTLS_SRTP_PROFILES",
    "SUITES",
    "SessionKeys",
    "SrtpCipher",
    "SrtpPolicy",
    "SrtpPolicyError",
    "SrtpSuite",
    "derive_session_key",
    "derive_session_keys",
    "suite_by_name",
]


class SrtpPolicyError(ValueError):
    """Key material or a suite we cannot use (bad length, bad base64, MKI, unknown suite).

    Raised while a policy is built, typically from the peer's ``a=crypto`` line:
    the SDP layer then declines that crypto attribute.
    """


class SrtpCipher(Enum):
    """How a suite encrypts and authenticates."""

    #: AES in counter mode (RFC 3711 §4.1.1) with HMAC-SHA1 (§4.2.1).
    AES_CM_HMAC_SHA1 = "AES-CM + HMAC-SHA1"
    #: AES-GCM authenticated encryption (RFC 7714).
    AES_GCM = "AEAD AES-GCM"


@dataclass(frozen=True, slots=True)
class SrtpSuite:
    """One crypto suite: its SDES name, cipher and lengths in octets."""

    name: str
    cipher: SrtpCipher
    master_key_length: int
    #: also the session salt length: 14 for AES-CM, 12 for GCM (RFC 7714 §8.1)
    master_salt_length: int
    rtp_tag_length: int
    rtcp_tag_length: int
    #: HMAC-SHA1 session authentication key (n_a = 160 bits); 0 for AEAD suites
    auth_key_length: int


def _cm(name: str, key_length: int, rtp_tag_length: int) -> SrtpSuite:
    return SrtpSuite(
        name=name,
        cipher=SrtpCipher.AES_CM_HMAC_SHA1,
        master_key_length=key_length,
        master_salt_length=14,
        rtp_tag_length=rtp_tag_length,
        rtcp_tag_length=10,
        auth_key_length=20,
    )


def _gcm(name: str, key_length: int) -> SrtpSuite:
    return SrtpSuite(
        name=name,
        cipher=SrtpCipher.AES_GCM,
        master_key_length=key_length,
        master_salt_length=12,
        rtp_tag_length=16,
        rtcp_tag_length=16,
        auth_key_length=0,
    )


#: The suites by SDES name (RFC 4568 §6.2, RFC 6188, RFC 7714 §14.1).
SUITES: Mapping[str, SrtpSuite] = MappingProxyType(
    {
        suite.name: suite
        for suite in (
            _cm("AES_CM_128_HMAC_SHA1_80", 16, 10),
            _cm("AES_CM_128_HMAC_SHA1_32", 16, 4),
            _cm("AES_192_CM_HMAC_SHA1_80", 24, 10),
            _cm("AES_192_CM_HMAC_SHA1_32", 24, 4),
            _cm("AES_256_CM_HMAC_SHA1_80", 32, 10),
            _cm("AES_256_CM_HMAC_SHA1_32", 32, 4),
            _gcm("AEAD_AES_128_GCM", 16),
            _gcm("AEAD_AES_256_GCM", 32),
        )
    }
)

#: DTLS-SRTP protection profiles (OpenSSL's names for RFC 5764 §4.1.2 and RFC 7714 §14.2)
#: and the SRTP suites of ``srtp_keys.SUITES`` they mean.  The ``_32`` profile keeps an
#: 80-bit SRTCP tag (RFC 5764 §4.1.2), as our suite of that name does.
DTLS_SRTP_PROFILES: Mapping[str, str] = MappingProxyType(
    {
        "SRTP_AES128_CM_SHA1_80": "AES_CM_128_HMAC_SHA1_80",
        "SRTP_AES128_CM_SHA1_32": "AES_CM_128_HMAC_SHA1_32",
        "SRTP_AEAD_AES_128_GCM": "AEAD_AES_128_GCM",
        "SRTP_AEAD_AES_256_GCM": "AEAD_AES_256_GCM",
    }
)


def suite_by_name(name: str) -> SrtpSuite:
    """The suite called ``name`` (ABNF literals, hence case-insensitive: RFC 5234 §2.3)."""
    suite = SUITES.get(name) or SUITES.get(name.upper())
    if suite is None:
        raise SrtpPolicyError(f"unsupported SRTP crypto suite {name!r}")
    return suite


# RFC 4568 §9.1/§9.2:  key-params = key-method ":" key-info;  key-method = "inline"
#   key-info = key-salt ["|" lifetime] ["|" mki]
#   lifetime = ["2^"] 1*(DIGIT);  mki = mki-value ":" mki-length
_LIFETIME = re.compile(r"(?:2\^([0-9]{1,2})|([0-9]{1,15}))")
_MAX_SRTP_PACKETS = 1 << 48


@dataclass(frozen=True)
class SrtpPolicy:
    """A suite and one master key and salt: what one direction of a call is protected with.

    ``encrypt_rtp``/``encrypt_rtcp`` false are RFC 4568 §6.3.2's
    ``UNENCRYPTED_SRTP``/``UNENCRYPTED_SRTCP`` session parameters (packets still
    authenticated).  ``lifetime`` is the SDES key lifetime in packets, when given.
    The key material never appears in ``repr()``.
    """

    suite: SrtpSuite
    master_key: bytes = field(repr=False)
    master_salt: bytes = field(repr=False)
    encrypt_rtp: bool = True
    encrypt_rtcp: bool = True
    lifetime: int | None = None

    def __post_init__(self) -> None:
        suite = self.suite
        if len(self.master_key) != suite.master_key_length:
            raise SrtpPolicyError(
                f"{suite.name} needs a {suite.master_key_length}-octet master key, "
                f"not {len(self.master_key)}"
            )
        if len(self.master_salt) != suite.master_salt_length:
            raise SrtpPolicyError(
                f"{suite.name} needs a {suite.master_salt_length}-octet master salt, "
                f"not {len(self.master_salt)}"
            )
        if self.lifetime is not None and not 1 <= self.lifetime <= _MAX_SRTP_PACKETS:
            raise SrtpPolicyError(f"SRTP key lifetime {self.lifetime} is outside 1..2^48")

    @classmethod
    def from_sdes_inline(
        cls,
        suite: str | SrtpSuite,
        key_params: str,
        *,
        encrypt_rtp: bool = True,
        encrypt_rtcp: bool = True,
    ) -> SrtpPolicy:
        """The policy of an SDES key (RFC 4568 §6.1): ``inline:<base64 key||salt>[|lifetime]``.

        The ``inline:`` prefix is optional.  A lifetime (``2^20`` or decimal) is
        kept; an MKI (``|1:4``) or a second key (``;inline:…``) is refused with
        :class:`SrtpPolicyError`, as is anything that is not exactly the suite's
        key and salt.  Missing base64 padding is tolerated.
        """
        if isinstance(suite, str):
            suite = suite_by_name(suite)
        text = key_params.strip()
        if ";" in text:
            raise SrtpPolicyError("several SDES keys on one line need MKIs, which we refuse")
        if text[:7].lower() == "inline:":
            text = text[7:]
        key_salt_b64, *extras = text.split("|")
        if len(extras) > 2:
            raise SrtpPolicyError(f"malformed SDES key parameters {key_params!r}")
        lifetime: int | None = None
        for extra in extras:
            if ":" in extra:
                raise SrtpPolicyError(f"SDES key with an MKI ({extra!r}) is not supported")
            match = _LIFETIME.fullmatch(extra)
            if match is None or lifetime is not None:
                raise SrtpPolicyError(f"malformed SDES key lifetime {extra!r}")
            exponent, decimal = match.groups()
            lifetime = 1 << int(exponent) if exponent is not None else int(decimal)
        if not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", key_salt_b64):
            raise SrtpPolicyError("SDES key is not base64")
        if "=" not in key_salt_b64:  # tolerate a peer that drops the padding
            key_salt_b64 += "=" * (-len(key_salt_b64) % 4)
        elif len(key_salt_b64) % 4:
            raise SrtpPolicyError("SDES key has wrong base64 padding")
        try:
            key_salt = binascii.a2b_base64(key_salt_b64, strict_mode=True)
        except binascii.Error:
            raise SrtpPolicyError("SDES key is not valid base64") from None
        expected = suite.master_key_length + suite.master_salt_length
        if len(key_salt) != expected:
            raise SrtpPolicyError(
                f"{suite.name} SDES key must decode to {expected} octets, not {len(key_salt)}"
            )
        return cls(
            suite,
            key_salt[: suite.master_key_length],
            key_salt[suite.master_key_length :],
            encrypt_rtp=encrypt_rtp,
            encrypt_rtcp=encrypt_rtcp,
            lifetime=lifetime,
        )

    @classmethod
    def generate(cls, suite: str | SrtpSuite) -> SrtpPolicy:
        """A fresh random master key and salt for ``suite`` (for our own offer or answer)."""
        if isinstance(suite, str):
            suite = suite_by_name(suite)
        return cls(
            suite,
            secrets.token_bytes(suite.master_key_length),
            secrets.token_bytes(suite.master_salt_length),
        )

    def to_sdes_inline(self) -> str:
        """The ``inline:`` key parameters of RFC 4568 §6.1 for an ``a=crypto`` line."""
        text = "inline:" + base64.b64encode(self.master_key + self.master_salt).decode("ascii")
        if self.lifetime is not None:
            lifetime = self.lifetime
            power = lifetime.bit_length() - 1
            text += f"|2^{power}" if lifetime == 1 << power else f"|{lifetime}"
        return text


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """The session keys of one direction for SRTP or for SRTCP (RFC 3711 §4.3)."""

    cipher_key: bytes = field(repr=False)
    cipher_salt: bytes = field(repr=False)
    #: empty for AEAD suites
    auth_key: bytes = field(repr=False)


# RFC 3711 §4.3.2: the labels of the six session keys.
_SRTP_LABELS = (0x00, 0x01, 0x02)
_SRTCP_LABELS = (0x03, 0x04, 0x05)


def derive_session_key(
    master_key: bytes,
    master_salt: bytes,
    label: int,
    length: int,
    *,
    index: int = 0,
    key_derivation_rate: int = 0,
) -> bytes:
    """One session key: the AES-CM PRF of RFC 3711 §4.3.1/§4.3.3 (RFC 6188 §3, RFC 7714 §11).

    ``r = index DIV key_derivation_rate`` (0 when the rate is 0);
    ``key_id = label || r`` (8 + 48 bits); ``x = key_id XOR master_salt``
    right-aligned in 112 bits (a 96-bit GCM salt is zero-padded on the right);
    the key is the first ``length`` octets of AES-CTR under the master key from
    counter ``x * 2^16``.
    """
    if len(master_salt) > 14:
        raise SrtpPolicyError("the SRTP master salt is at most 112 bits")
    if key_derivation_rate and (
        key_derivation_rate & (key_derivation_rate - 1) or key_derivation_rate > 1 << 24
    ):
        raise SrtpPolicyError("the key derivation rate is 0 or a power of 2 up to 2^24")
    r = index // key_derivation_rate if key_derivation_rate else 0
    key_id = (label << 48) | (r & 0xFFFF_FFFF_FFFF)
    x = key_id ^ int.from_bytes(master_salt.ljust(14, b"\x00"))
    cipher = Cipher(algorithms.AES(master_key), modes.CTR(x.to_bytes(14) + b"\x00\x00"))
    return cipher.encryptor().update(bytes(length))


def derive_session_keys(policy: SrtpPolicy, *, rtcp: bool) -> SessionKeys:
    """The SRTP (``rtcp=False``) or SRTCP session keys of ``policy``, rate 0."""
    suite = policy.suite
    cipher_label, auth_label, salt_label = _SRTCP_LABELS if rtcp else _SRTP_LABELS

    def derive(label: int, length: int) -> bytes:
        if length == 0:
            return b""
        return derive_session_key(policy.master_key, policy.master_salt, label, length)

    return SessionKeys(
        cipher_key=derive(cipher_label, suite.master_key_length),
        cipher_salt=derive(salt_label, suite.master_salt_length),
        auth_key=derive(auth_label, suite.auth_key_length),
    )
