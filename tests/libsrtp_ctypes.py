"""A minimal ctypes binding to Debian's libsrtp2 (``libsrtp2-1``), to cross-check our SRTP.

pylibsrtp, the reference the other SRTP tests use, exposes four DTLS-SRTP profiles only
(AES-128-CM with 80/32-bit tags, AES-GCM 128/256).  RFC 6188's AES-192/256-CM suites —
which our registry has — are reachable in libsrtp only through its crypto-policy setters
(``srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80`` …), so this module calls libsrtp
directly: ``srtp_init``, ``srtp_create`` with an ``srtp_policy_t`` built here,
``srtp_protect``/``srtp_unprotect`` and their RTCP twins, ``srtp_dealloc``.

The struct layout is not discoverable at run time: it is copied from libsrtp 2.5's
``srtp2/srtp.h`` (Debian bookworm's ``libsrtp2-dev`` 2.5.0) and pinned to it.  ``load()``
reads ``srtp_get_version_string()`` and refuses any version whose header has not been
checked (:data:`VERIFIED_VERSIONS`) with :class:`LibsrtpVersionError` — a wrong layout
would not fail cleanly, it would hand libsrtp garbage.  Only the runtime library is
needed; the header was read once to write the structures below.

Suites are named as in :data:`phoneagent.media.srtp_keys.SUITES`.  For the ``_32`` suites
SRTCP uses the 80-bit tag (RFC 4568 §6.2, RFC 5764 §4.1.2), as libsrtp's own
``srtp_crypto_policy_set_from_profile_for_rtcp`` does, hence separate RTP and RTCP setters.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from functools import cache
from types import TracebackType

__all__ = [
    "CRYPTO_POLICY_SETTERS",
    "STATUS_AUTH_FAIL",
    "STATUS_REPLAY_FAIL",
    "STATUS_REPLAY_OLD",
    "VERIFIED_VERSIONS",
    "LibsrtpError",
    "LibsrtpSession",
    "LibsrtpVersionError",
    "load",
    "version",
]

#: (major, minor) versions whose ``srtp.h`` layout matches the structures below.
VERIFIED_VERSIONS = ((2, 5),)

# srtp_err_status_t (srtp.h)
STATUS_OK = 0
STATUS_AUTH_FAIL = 7
STATUS_REPLAY_FAIL = 9
STATUS_REPLAY_OLD = 10

# srtp_ssrc_type_t (srtp.h)
_SSRC_ANY_INBOUND = 2
_SSRC_ANY_OUTBOUND = 3

#: SRTP_MAX_TRAILER_LEN = SRTP_MAX_TAG_LEN (16) + SRTP_MAX_MKI_LEN (128): what protect may
#: append; srtp_protect_rtcp adds the 4-octet E-flag+index word on top.
_MAX_TRAILER = 16 + 128 + 4

#: suite -> (RTP crypto-policy setter, RTCP crypto-policy setter) in libsrtp 2.5.
#: ``..._aes_cm_128_hmac_sha1_80`` is a macro for ``srtp_crypto_policy_set_rtp_default``.
CRYPTO_POLICY_SETTERS: dict[str, tuple[str, str]] = {
    "AES_CM_128_HMAC_SHA1_80": (
        "srtp_crypto_policy_set_rtp_default",
        "srtp_crypto_policy_set_rtp_default",
    ),
    "AES_CM_128_HMAC_SHA1_32": (
        "srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32",
        "srtp_crypto_policy_set_rtp_default",
    ),
    "AES_192_CM_HMAC_SHA1_80": (
        "srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80",
        "srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80",
    ),
    "AES_192_CM_HMAC_SHA1_32": (
        "srtp_crypto_policy_set_aes_cm_192_hmac_sha1_32",
        "srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80",
    ),
    "AES_256_CM_HMAC_SHA1_80": (
        "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80",
        "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80",
    ),
    "AES_256_CM_HMAC_SHA1_32": (
        "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32",
        "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80",
    ),
    # RFC 7714 §14.2: 16-octet tags for SRTP and SRTCP.
    "AEAD_AES_128_GCM": (
        "srtp_crypto_policy_set_aes_gcm_128_16_auth",
        "srtp_crypto_policy_set_aes_gcm_128_16_auth",
    ),
    "AEAD_AES_256_GCM": (
        "srtp_crypto_policy_set_aes_gcm_256_16_auth",
        "srtp_crypto_policy_set_aes_gcm_256_16_auth",
    ),
}


class LibsrtpError(RuntimeError):
    """A libsrtp call returned a status other than ``srtp_err_status_ok``."""

    def __init__(self, function: str, status: int) -> None:
        super().__init__(f"{function} failed: srtp_err_status {status}")
        self.function = function
        self.status = status


class LibsrtpVersionError(RuntimeError):
    """The installed libsrtp is not a version whose struct layout this binding was checked on."""


# -- structures, as in libsrtp 2.5's srtp2/srtp.h --------------------------------------------


class _CryptoPolicy(ctypes.Structure):
    """``srtp_crypto_policy_t``."""

    _fields_ = (
        ("cipher_type", ctypes.c_uint32),  # srtp_cipher_type_id_t
        ("cipher_key_len", ctypes.c_int),
        ("auth_type", ctypes.c_uint32),  # srtp_auth_type_id_t
        ("auth_key_len", ctypes.c_int),
        ("auth_tag_len", ctypes.c_int),
        ("sec_serv", ctypes.c_int),  # srtp_sec_serv_t (an enum: int)
    )


class _Ssrc(ctypes.Structure):
    """``srtp_ssrc_t``."""

    _fields_ = (
        ("type", ctypes.c_int),  # srtp_ssrc_type_t
        ("value", ctypes.c_uint),
    )


class _Policy(ctypes.Structure):
    """``srtp_policy_t``; ``next`` is declared as a void pointer (we never chain policies)."""

    _fields_ = (
        ("ssrc", _Ssrc),
        ("rtp", _CryptoPolicy),
        ("rtcp", _CryptoPolicy),
        ("key", ctypes.POINTER(ctypes.c_ubyte)),
        ("keys", ctypes.c_void_p),  # srtp_master_key_t ** (MKI; unused)
        ("num_master_keys", ctypes.c_ulong),
        ("deprecated_ekt", ctypes.c_void_p),
        ("window_size", ctypes.c_ulong),
        ("allow_repeat_tx", ctypes.c_int),
        ("enc_xtn_hdr", ctypes.POINTER(ctypes.c_int)),
        ("enc_xtn_hdr_count", ctypes.c_int),
        ("next", ctypes.c_void_p),
    )


@cache
def load() -> ctypes.CDLL:
    """libsrtp2, version-checked and initialised (once per process)."""
    name = ctypes.util.find_library("srtp2")
    if name is None:
        raise FileNotFoundError("libsrtp2 is not installed (apt-get install libsrtp2-1)")
    library = ctypes.CDLL(name)
    library.srtp_get_version_string.restype = ctypes.c_char_p
    library.srtp_get_version_string.argtypes = ()
    text = (library.srtp_get_version_string() or b"").decode("ascii", "replace")
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    if match is None or (int(match[1]), int(match[2])) not in VERIFIED_VERSIONS:
        raise LibsrtpVersionError(
            f"{name} reports {text!r}; tests/libsrtp_ctypes.py pins srtp_policy_t to libsrtp "
            f"{', '.join(f'{a}.{b}' for a, b in VERIFIED_VERSIONS)}: compare that version's "
            "srtp2/srtp.h with the structures there and add it to VERIFIED_VERSIONS"
        )
    status_functions = {
        "srtp_init": (),
        "srtp_create": (ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(_Policy)),
        "srtp_dealloc": (ctypes.c_void_p,),
        "srtp_protect": (ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)),
        "srtp_unprotect": (ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)),
        "srtp_protect_rtcp": (ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)),
        "srtp_unprotect_rtcp": (ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)),
    }
    for function, argtypes in status_functions.items():
        getattr(library, function).restype = ctypes.c_int  # srtp_err_status_t
        getattr(library, function).argtypes = argtypes
    for rtp_setter, rtcp_setter in CRYPTO_POLICY_SETTERS.values():
        for setter in (rtp_setter, rtcp_setter):
            getattr(library, setter).restype = None
            getattr(library, setter).argtypes = (ctypes.POINTER(_CryptoPolicy),)
    _check("srtp_init", library.srtp_init())
    return library


def version() -> str:
    """What ``srtp_get_version_string()`` says, e.g. ``libsrtp2 2.5.0``."""
    raw: bytes = load().srtp_get_version_string()
    return raw.decode("ascii", "replace")


def _check(function: str, status: int) -> None:
    if status != STATUS_OK:
        raise LibsrtpError(function, status)


class LibsrtpSession:
    """One libsrtp session with one master key for every SSRC of one direction.

    ``outbound=True`` makes an ``ssrc_any_outbound`` policy (protect), ``False`` an
    ``ssrc_any_inbound`` one (unprotect).  ``key`` and ``salt`` are the master key and
    salt (libsrtp takes them concatenated).
    """

    def __init__(
        self, suite: str, key: bytes, salt: bytes, *, outbound: bool, window_size: int = 128
    ) -> None:
        library = load()
        rtp_setter, rtcp_setter = CRYPTO_POLICY_SETTERS[suite]
        policy = _Policy()
        getattr(library, rtp_setter)(ctypes.byref(policy.rtp))
        getattr(library, rtcp_setter)(ctypes.byref(policy.rtcp))
        if policy.rtp.cipher_key_len != len(key) + len(salt):
            raise ValueError(
                f"{suite}: libsrtp wants {policy.rtp.cipher_key_len} octets of key and salt, "
                f"not {len(key)} + {len(salt)}"
            )
        # Kept on self: the policy points into it until srtp_create has derived its keys.
        self._key = (ctypes.c_ubyte * (len(key) + len(salt))).from_buffer_copy(key + salt)
        policy.key = ctypes.cast(self._key, ctypes.POINTER(ctypes.c_ubyte))
        policy.ssrc.type = _SSRC_ANY_OUTBOUND if outbound else _SSRC_ANY_INBOUND
        policy.window_size = window_size
        self._library = library
        self._session = ctypes.c_void_p()
        _check("srtp_create", library.srtp_create(ctypes.byref(self._session), policy))
        self.suite = suite

    def _apply(self, function: str, packet: bytes) -> bytes:
        if not self._session:
            raise ValueError("the libsrtp session is closed")
        buffer = ctypes.create_string_buffer(packet, len(packet) + _MAX_TRAILER)
        length = ctypes.c_int(len(packet))
        _check(function, getattr(self._library, function)(self._session, buffer, length))
        return buffer.raw[: length.value]

    def protect(self, packet: bytes) -> bytes:
        """``srtp_protect``: RTP in, SRTP out."""
        return self._apply("srtp_protect", packet)

    def unprotect(self, packet: bytes) -> bytes:
        """``srtp_unprotect``: SRTP in, RTP out; :class:`LibsrtpError` on any failure."""
        return self._apply("srtp_unprotect", packet)

    def protect_rtcp(self, packet: bytes) -> bytes:
        """``srtp_protect_rtcp`` (libsrtp numbers SRTCP packets from 1)."""
        return self._apply("srtp_protect_rtcp", packet)

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        """``srtp_unprotect_rtcp``."""
        return self._apply("srtp_unprotect_rtcp", packet)

    def close(self) -> None:
        if self._session:
            session, self._session = self._session, ctypes.c_void_p()
            _check("srtp_dealloc", self._library.srtp_dealloc(session))

    def __enter__(self) -> LibsrtpSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # A test that fails mid-way still frees the context (no leak across the run).
        if getattr(self, "_session", None):
            self.close()
