"""The per-packet cryptographic transforms of SRTP and SRTCP (RFC 3711 §3–4, RFC 7714).

Theory of operation
-------------------
A transform holds the session keys of one direction for SRTP *or* SRTCP and
turns one packet into its protected form and back, given the packet's SSRC and
index (the 48-bit ``ROC || SEQ`` for SRTP, the 31-bit SRTCP index for SRTCP).
It knows nothing of rollover counters, replay windows or streams: that is
:mod:`phoneagent.media.srtp`, which also checks lengths before calling in.
``unprotect_*`` returns ``None`` when the packet does not authenticate.

AES-CM with HMAC-SHA1 (RFC 3711)::

    SRTP   header | E(payload) | tag          tag = HMAC(header | E(payload) | ROC)   §4.2
    SRTCP  header+SSRC (8) | E(rest) | E-flag+index (4) | tag   tag over all before it  §3.4

The keystream IV is ``(salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16)``
(§4.1.1); the RTP header, CSRC list and header extension stay in clear but are
authenticated (§3.1).

AEAD AES-GCM (RFC 7714)::

    SRTP   header | GCM(payload, aad=header) (ciphertext | 16-octet tag)             §8
    SRTCP  header+SSRC (8) | GCM(rest, aad=first 8 | E+index) | E-flag+index (4)    §9

with the 12-octet IV ``(0x0000 | SSRC | ROC | SEQ) XOR salt`` (§8.1), or
``(0x0000 | SSRC | 0x0000 | 0 | SRTCP index) XOR salt`` (§9.1).  Without
encryption (``UNENCRYPTED_SRTP``/E-flag 0) the whole packet is AAD and only the
tag is added (the "tagging" cases of §16.x.3 and §17.3).

Cost (see PEERS.md): one AES-CTR context per key, re-keyed per packet with
``reset_nonce()`` (cryptography ≥ 43), and HMAC-SHA1 as two ``hashlib`` SHA-1
contexts (key XOR ipad, key XOR opad; RFC 2104) prepared once and ``copy()``-ed
per packet — cheaper than ``hmac.HMAC.copy()``.  One ``AESGCM`` object per key.
Tags are compared with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from phoneagent.media.srtp_keys import SessionKeys, SrtpCipher, SrtpSuite

__all__ = [
    "AesCmHmacSha1Transform",
    "AesGcmTransform",
    "SrtpTransform",
    "make_transform",
]

#: The E flag of the SRTCP index word (RFC 3711 §3.4).
E_FLAG = 0x8000_0000


class SrtpTransform(Protocol):
    """What :mod:`phoneagent.media.srtp` needs of a transform."""

    #: octets SRTP adds to an RTP packet (the tag)
    rtp_overhead: int
    #: octets SRTCP adds to an RTCP packet (tag and E-flag+index word)
    rtcp_overhead: int
    #: offset of the E-flag+index word from the end of an SRTCP packet
    rtcp_index_offset: int

    def protect_rtp(self, packet: bytes, header_length: int, ssrc: int, index: int) -> bytes:
        """The SRTP packet for an RTP packet whose header is ``header_length`` octets."""
        ...

    def unprotect_rtp(
        self, packet: bytes, header_length: int, ssrc: int, index: int
    ) -> bytes | None:
        """The RTP packet, or ``None`` when the tag does not verify."""
        ...

    def protect_rtcp(self, packet: bytes, ssrc: int, index: int) -> bytes:
        """The SRTCP packet for a (compound) RTCP packet with SRTCP index ``index``."""
        ...

    def unprotect_rtcp(self, packet: bytes, ssrc: int, index: int, encrypted: bool) -> bytes | None:
        """The RTCP packet (without trailer), or ``None`` when the tag does not verify."""
        ...


class AesCmHmacSha1Transform:
    """AES counter mode and HMAC-SHA1 (RFC 3711 §4.1.1, §4.2.1; RFC 6188 for 192/256 bits)."""

    __slots__ = (
        "_encrypt",
        "_encryptor",
        "_inner",
        "_outer",
        "_salt",
        "_tag_length",
        "rtcp_index_offset",
        "rtcp_overhead",
        "rtp_overhead",
    )

    def __init__(self, keys: SessionKeys, tag_length: int, *, encrypt: bool = True) -> None:
        if len(keys.cipher_salt) != 14 or not keys.auth_key or len(keys.auth_key) > 64:
            raise ValueError("AES-CM needs a 112-bit session salt and an HMAC key")
        self._encrypt = encrypt
        # The initial counter is replaced per packet by reset_nonce().
        self._encryptor = Cipher(algorithms.AES(keys.cipher_key), modes.CTR(bytes(16))).encryptor()
        self._salt = int.from_bytes(keys.cipher_salt) << 16
        block = keys.auth_key.ljust(64, b"\x00")
        self._inner = hashlib.sha1(bytes(octet ^ 0x36 for octet in block))
        self._outer = hashlib.sha1(bytes(octet ^ 0x5C for octet in block))
        self._tag_length = tag_length
        self.rtp_overhead = tag_length
        self.rtcp_overhead = tag_length + 4
        self.rtcp_index_offset = tag_length + 4

    def _tag(self, data: bytes, suffix: bytes) -> bytes:
        """HMAC-SHA1(auth_key, data || suffix) truncated to the tag length (RFC 2104)."""
        inner = self._inner.copy()
        inner.update(data)
        inner.update(suffix)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()[: self._tag_length]

    def _crypt(self, data: bytes, ssrc: int, index: int) -> bytes:
        """AES-CM keystream XOR ``data`` (§4.1.1): encryption and decryption alike."""
        encryptor = self._encryptor
        encryptor.reset_nonce(((ssrc << 64) ^ (index << 16) ^ self._salt).to_bytes(16))
        return encryptor.update(data)

    def protect_rtp(self, packet: bytes, header_length: int, ssrc: int, index: int) -> bytes:
        if self._encrypt:
            packet = packet[:header_length] + self._crypt(packet[header_length:], ssrc, index)
        return packet + self._tag(packet, (index >> 16).to_bytes(4))

    def unprotect_rtp(
        self, packet: bytes, header_length: int, ssrc: int, index: int
    ) -> bytes | None:
        tag_start = len(packet) - self._tag_length
        body = packet[:tag_start]
        if not hmac.compare_digest(self._tag(body, (index >> 16).to_bytes(4)), packet[tag_start:]):
            return None
        if self._encrypt:
            return body[:header_length] + self._crypt(body[header_length:], ssrc, index)
        return body

    def protect_rtcp(self, packet: bytes, ssrc: int, index: int) -> bytes:
        if self._encrypt:
            packet = packet[:8] + self._crypt(packet[8:], ssrc, index)
            index |= E_FLAG
        packet += index.to_bytes(4)
        return packet + self._tag(packet, b"")

    def unprotect_rtcp(self, packet: bytes, ssrc: int, index: int, encrypted: bool) -> bytes | None:
        tag_start = len(packet) - self._tag_length
        if not hmac.compare_digest(self._tag(packet[:tag_start], b""), packet[tag_start:]):
            return None
        body = packet[: tag_start - 4]
        if encrypted:
            return body[:8] + self._crypt(body[8:], ssrc, index)
        return body


class AesGcmTransform:
    """AEAD_AES_128_GCM and AEAD_AES_256_GCM with 16-octet tags (RFC 7714)."""

    __slots__ = ("_aead", "_encrypt", "_salt", "rtcp_index_offset", "rtcp_overhead", "rtp_overhead")

    TAG_LENGTH = 16

    def __init__(self, keys: SessionKeys, *, encrypt: bool = True) -> None:
        if len(keys.cipher_salt) != 12:
            raise ValueError("AES-GCM needs a 96-bit session salt")
        self._aead = AESGCM(keys.cipher_key)
        self._salt = int.from_bytes(keys.cipher_salt)
        self._encrypt = encrypt
        self.rtp_overhead = self.TAG_LENGTH
        self.rtcp_overhead = self.TAG_LENGTH + 4
        self.rtcp_index_offset = 4

    def _nonce(self, ssrc: int, index: int) -> bytes:
        # §8.1 and §9.1 both come down to 0x0000 | SSRC | 48-bit index, XOR salt.
        return (((ssrc << 48) | index) ^ self._salt).to_bytes(12)

    def protect_rtp(self, packet: bytes, header_length: int, ssrc: int, index: int) -> bytes:
        nonce = self._nonce(ssrc, index)
        if self._encrypt:
            header = packet[:header_length]
            return header + self._aead.encrypt(nonce, packet[header_length:], header)
        return packet + self._aead.encrypt(nonce, b"", packet)

    def unprotect_rtp(
        self, packet: bytes, header_length: int, ssrc: int, index: int
    ) -> bytes | None:
        nonce = self._nonce(ssrc, index)
        try:
            if self._encrypt:
                header = packet[:header_length]
                return header + self._aead.decrypt(nonce, packet[header_length:], header)
            tag_start = len(packet) - self.TAG_LENGTH
            self._aead.decrypt(nonce, packet[tag_start:], packet[:tag_start])
            return packet[:tag_start]
        except InvalidTag:
            return None

    def protect_rtcp(self, packet: bytes, ssrc: int, index: int) -> bytes:
        nonce = self._nonce(ssrc, index)
        if self._encrypt:
            word = (index | E_FLAG).to_bytes(4)
            header = packet[:8]
            return header + self._aead.encrypt(nonce, packet[8:], header + word) + word
        word = index.to_bytes(4)
        return packet + self._aead.encrypt(nonce, b"", packet + word) + word

    def unprotect_rtcp(self, packet: bytes, ssrc: int, index: int, encrypted: bool) -> bytes | None:
        nonce = self._nonce(ssrc, index)
        word_start = len(packet) - 4
        word = packet[word_start:]
        try:
            if encrypted:
                header = packet[:8]
                return header + self._aead.decrypt(nonce, packet[8:word_start], header + word)
            tag_start = word_start - self.TAG_LENGTH
            self._aead.decrypt(nonce, packet[tag_start:word_start], packet[:tag_start] + word)
            return packet[:tag_start]
        except InvalidTag:
            return None


def _aes_cm(suite: SrtpSuite, keys: SessionKeys, tag_length: int, encrypt: bool) -> SrtpTransform:
    return AesCmHmacSha1Transform(keys, tag_length, encrypt=encrypt)


def _aes_gcm(suite: SrtpSuite, keys: SessionKeys, tag_length: int, encrypt: bool) -> SrtpTransform:
    return AesGcmTransform(keys, encrypt=encrypt)


_TRANSFORMS: Mapping[SrtpCipher, Callable[[SrtpSuite, SessionKeys, int, bool], SrtpTransform]] = (
    MappingProxyType({SrtpCipher.AES_CM_HMAC_SHA1: _aes_cm, SrtpCipher.AES_GCM: _aes_gcm})
)


def make_transform(
    suite: SrtpSuite, keys: SessionKeys, *, rtcp: bool, encrypt: bool
) -> SrtpTransform:
    """The transform of ``suite`` for SRTP or SRTCP session ``keys``."""
    tag_length = suite.rtcp_tag_length if rtcp else suite.rtp_tag_length
    return _TRANSFORMS[suite.cipher](suite, keys, tag_length, encrypt)
