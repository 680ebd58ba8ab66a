"""DTLS-SRTP (RFC 5763, RFC 5764): SRTP keys from a DTLS handshake on the media path, sans-IO.

Theory of operation
-------------------
With DTLS-SRTP the SRTP master keys are not written into SDP (as SDES does, RFC 4568)
but agreed by a DTLS 1.2 handshake (RFC 6347) run over the call's RTP port, between
two self-signed certificates that the SDP vouches for with ``a=fingerprint`` (RFC 8122;
``phoneagent.sdp.dtls``).

* Roles (RFC 5763 §5, RFC 4145): the ``active`` end is the DTLS client and sends the
  ClientHello as soon as :meth:`DtlsSrtpEndpoint.start` is called; the ``passive`` end
  is the server and waits for it.  Both present a certificate and both require the
  other's (``VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT``).
* Trust (RFC 5763 §5, RFC 8122 §5): the certificates are self-signed, so no chain is
  checked; the peer's end-entity certificate must match a fingerprint from its SDP.  A
  mismatch aborts the handshake (the peer gets a ``bad_certificate`` alert) and the
  endpoint fails with :class:`DtlsFingerprintError`: no keys, hence no media — never
  media in clear.  The match is checked again on the finished connection.
* Profile (RFC 5764 §4.1.2, RFC 7714 §14.2): the ``use_srtp`` extension offers
  :data:`PROFILES` in our order of :data:`DEFAULT_SUITES`; the server picks (OpenSSL:
  the server's most preferred one the client offered).  A handshake that ends without a
  profile fails: the peer does not do DTLS-SRTP.
* Keys (RFC 5764 §4.2): ``2 * (key + salt)`` octets are exported with the label
  ``EXTRACTOR-dtls_srtp`` (RFC 5705) and cut into ``client_write_key |
  server_write_key | client_write_salt | server_write_salt``.  The client protects
  with the client's key and salt, the server with the server's, so one end's
  ``outbound`` policy is the other's ``inbound``: that pair is the
  ``phoneagent.sdp.sdes.SrtpKeys`` a ``MediaSession`` takes, as with SDES.
* I/O: OpenSSL runs on memory BIOs.  :meth:`~DtlsSrtpEndpoint.receive_datagram` feeds
  one UDP payload in; :meth:`~DtlsSrtpEndpoint.datagrams_to_send` returns what to send,
  cut at DTLS record boundaries into datagrams of at most ``mtu`` octets (a memory BIO
  is a byte stream, so OpenSSL's flights come out of it glued together; RFC 6347
  §4.1.1 lets several records share a datagram).
* Retransmission (RFC 6347 §4.2.4): OpenSSL keeps the DTLS timer (1 s, doubling);
  :meth:`~DtlsSrtpEndpoint.get_timer` turns its remaining time into a deadline in the
  caller's clock and :meth:`~DtlsSrtpEndpoint.handle_timer` lets OpenSSL resend the
  last flight.  OpenSSL reads the real clock for this and pyOpenSSL offers no hook to
  change that, so a retransmission happens only once that much real time has passed.
  The whole handshake is bounded by ``handshake_timeout`` (default 20 s): then the
  endpoint fails with :class:`DtlsTimeoutError` and the call must end.
  After its handshake an end keeps feeding what arrives to OpenSSL, which answers a
  flight the peer resends because our last one was lost.
* Hang-up: :meth:`~DtlsSrtpEndpoint.close` sends ``close_notify``; a ``close_notify``
  from the peer is answered and reported with ``DtlsClosed(by_peer=True)``.
* Components (RFC 5764 §4.1): one endpoint per association.  With rtcp-mux (RFC 5761)
  one association keys RTP and RTCP; without it RTCP has its own association on its
  own port, whose keys protect SRTCP.
* Demultiplexing (RFC 7983 §7): on the shared port the first octet tells STUN (0–3),
  ZRTP (16–19), DTLS (20–63), TURN channels (64–79) and RTP/RTCP (128–191) apart:
  :func:`classify_datagram`, :func:`is_dtls`.

State machine (DESIGN.md principle 3)::

    NEW ──start──► HANDSHAKING ──established──► ESTABLISHED ──close/peer_closed──► CLOSED
     │                 │  └──────fail──► FAILED ◄──────fail────────┘
     └──close──► CLOSED ◄──close─┘

Not done: DTLS 1.3 (RFC 9147; RFC 5764 is defined for DTLS 1.2, and baresip 1.0 speaks
1.2), renegotiation or re-keying within an association (refused), RFC 8842's
``a=tls-id`` (a new association needs a new endpoint, as a new call does).
"""

from __future__ import annotations

import datetime
import hmac
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto

from phoneagent.media.srtp_keys import DTLS_SRTP_PROFILES, SrtpPolicy, suite_by_name
from phoneagent.sdp.dtls import DtlsRole, Fingerprint
from phoneagent.sdp.sdes import SrtpKeys
from phoneagent.sip.errors import LocalProtocolError

__all__ = [
    "DEFAULT_SUITES",
    "EXPORTER_LABEL",
    "PROFILES",
    "DatagramKind",
    "DtlsCertificate",
    "DtlsClosed",
    "DtlsEstablished",
    "DtlsEvent",
    "DtlsFailed",
    "DtlsFingerprintError",
    "DtlsHandshakeError",
    "DtlsSrtpEndpoint",
    "DtlsSrtpError",
    "DtlsState",
    "DtlsTimeoutError",
    "classify_datagram",
    "is_dtls",
    "make_certificate",
]

log = logging.getLogger(__name__)

#: The protection profiles, from the suite registry (which needs no OpenSSL to be read).
PROFILES = DTLS_SRTP_PROFILES

_PROFILE_OF_SUITE = {suite: profile for profile, suite in PROFILES.items()}

#: Our preference: RFC 5764's mandatory profile first (every peer has it), then GCM.
DEFAULT_SUITES = (
    "AES_CM_128_HMAC_SHA1_80",
    "AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM",
    "AES_CM_128_HMAC_SHA1_32",
)

#: RFC 5764 §4.2: the RFC 5705 exporter label for SRTP keying material.
EXPORTER_LABEL = b"EXTRACTOR-dtls_srtp"

#: DTLS1_2_VERSION of OpenSSL's dtls1.h (pyOpenSSL names no DTLS versions); DTLS 1.0 uses
#: MD5/SHA-1 and is obsolete (RFC 8996).
_DTLS1_2_VERSION = 0xFEFD
_DTLS_RECORD_HEADER = 13  # type, version, epoch, sequence number, length (RFC 6347 §4.1)
_DEFAULT_MTU = 1200  # leaves room for IPv6 + UDP headers on any sane path
_CERTIFICATE_START = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
#: RFC 5280 §4.1.2.5: "no well-defined expiration date"; the certificate is pinned by its
#: fingerprint for one run, so its validity means nothing and needs no clock.
_CERTIFICATE_END = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)


# -- RFC 7983 demultiplexing ------------------------------------------------------------------


class DatagramKind(Enum):
    """What arrived on a shared media port, by its first octet (RFC 7983 §7)."""

    STUN = "stun"
    ZRTP = "zrtp"
    DTLS = "dtls"
    TURN_CHANNEL = "turn-channel"
    RTP = "rtp"  # RTP or RTCP; RFC 5761 §4 tells those two apart
    UNKNOWN = "unknown"


def is_dtls(first_byte: int) -> bool:
    """Whether a datagram whose first octet is ``first_byte`` is DTLS (RFC 7983: 20–63)."""
    return 20 <= first_byte <= 63


def classify_datagram(data: bytes) -> DatagramKind:
    """RFC 7983 §7's demultiplexing by the first octet; an empty datagram is UNKNOWN."""
    if not data:
        return DatagramKind.UNKNOWN
    first = data[0]
    if first <= 3:
        return DatagramKind.STUN
    if 16 <= first <= 19:
        return DatagramKind.ZRTP
    if is_dtls(first):
        return DatagramKind.DTLS
    if 64 <= first <= 79:
        return DatagramKind.TURN_CHANNEL
    if 128 <= first <= 191:
        return DatagramKind.RTP
    return DatagramKind.UNKNOWN


# -- our certificate --------------------------------------------------------------------------


@dataclass(frozen=True)
class DtlsCertificate:
    """A self-signed certificate, its key and its SHA-256 fingerprint for ``a=fingerprint``."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    fingerprint: Fingerprint


def make_certificate(common_name: str = "phoneagent") -> DtlsCertificate:
    """A fresh ECDSA P-256 self-signed certificate: make one per run of the phone.

    Its fingerprint (``str(result.fingerprint)``) is what ``a=fingerprint`` carries.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_CERTIFICATE_START)
        .not_valid_after(_CERTIFICATE_END)
        .sign(key, hashes.SHA256())
    )
    der = certificate.public_bytes(Encoding.DER)
    return DtlsCertificate(certificate, key, Fingerprint.of_certificate(der, "sha-256"))


# -- errors and events ------------------------------------------------------------------------


class DtlsSrtpError(Exception):
    """The DTLS-SRTP association failed: the call has no keys and must not carry media."""


class DtlsFingerprintError(DtlsSrtpError):
    """The peer's certificate does not match the ``a=fingerprint`` of its SDP (RFC 8122)."""


class DtlsHandshakeError(DtlsSrtpError):
    """The handshake failed: an alert, a protocol error, or no SRTP profile agreed."""


class DtlsTimeoutError(DtlsSrtpError):
    """No completed handshake within ``handshake_timeout``."""


@dataclass(frozen=True, slots=True)
class DtlsEvent:
    """Base of what :meth:`DtlsSrtpEndpoint.next_event` returns."""


@dataclass(frozen=True, slots=True)
class DtlsEstablished(DtlsEvent):
    """Handshake done and certificate verified: start SRTP with ``keys``."""

    keys: SrtpKeys
    #: the DTLS-SRTP profile, OpenSSL's name (``SRTP_AES128_CM_SHA1_80`` …)
    profile: str


@dataclass(frozen=True, slots=True)
class DtlsFailed(DtlsEvent):
    """The association failed; end the call."""

    error: DtlsSrtpError


@dataclass(frozen=True, slots=True)
class DtlsClosed(DtlsEvent):
    """``close_notify`` sent (``by_peer`` false) or received (true)."""

    by_peer: bool


class DtlsState(Enum):
    NEW = "new"
    HANDSHAKING = "handshaking"
    ESTABLISHED = "established"
    FAILED = "failed"
    CLOSED = "closed"


_TRANSITIONS: Mapping[tuple[DtlsState, str], DtlsState] = MappingProxyType(
    {
        (DtlsState.NEW, "start"): DtlsState.HANDSHAKING,
        (DtlsState.NEW, "close"): DtlsState.CLOSED,
        (DtlsState.HANDSHAKING, "established"): DtlsState.ESTABLISHED,
        (DtlsState.HANDSHAKING, "fail"): DtlsState.FAILED,
        (DtlsState.HANDSHAKING, "close"): DtlsState.CLOSED,
        (DtlsState.ESTABLISHED, "fail"): DtlsState.FAILED,
        (DtlsState.ESTABLISHED, "close"): DtlsState.CLOSED,
        (DtlsState.ESTABLISHED, "peer_closed"): DtlsState.CLOSED,
    }
)


def _describe(error: SSL.Error) -> str:
    """OpenSSL's reasons from a pyOpenSSL error (its args hold (lib, func, reason) tuples)."""
    reasons = [
        str(entry[2])
        for entry in (error.args[0] if error.args and isinstance(error.args[0], list) else [])
        if isinstance(entry, tuple) and len(entry) == 3
    ]
    return "; ".join(reasons) or (str(error) or type(error).__name__)


def _fingerprints(
    given: tuple[str, bytes] | Sequence[tuple[str, bytes]],
) -> tuple[Fingerprint, ...]:
    """One ``(algorithm, value)`` or several (RFC 8122 §5: the certificate matches one)."""
    first, second = (given[0], given[1]) if len(given) == 2 else (None, None)
    if isinstance(first, str) and isinstance(second, bytes):
        pairs: Sequence[tuple[str, bytes]] = [(first, second)]
    else:
        pairs = [(str(item[0]), bytes(item[1])) for item in given if isinstance(item, tuple)]
    fingerprints = tuple(Fingerprint(algorithm.lower(), value) for algorithm, value in pairs)
    if not fingerprints:
        raise LocalProtocolError("DTLS-SRTP needs the peer's certificate fingerprint")
    for fingerprint in fingerprints:
        if not fingerprint.is_supported:
            raise LocalProtocolError(
                f"cannot verify a {fingerprint.algorithm} fingerprint: "
                "pick one with phoneagent.sdp.dtls.select_fingerprints"
            )
    return fingerprints


class DtlsSrtpEndpoint:
    """One DTLS-SRTP association (one RTP component) of a call; see the module docstring.

    ``role`` is ``"active"`` (DTLS client) or ``"passive"`` (server);
    ``remote_fingerprint`` one ``(algorithm, digest)`` or a sequence of them, from the
    peer's ``a=fingerprint``; ``suites`` our SRTP suites in preference order (each must
    have a DTLS-SRTP profile in :data:`PROFILES`).
    """

    def __init__(
        self,
        role: DtlsRole,
        certificate: x509.Certificate,
        private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
        remote_fingerprint: tuple[str, bytes] | Sequence[tuple[str, bytes]],
        *,
        suites: Sequence[str] = DEFAULT_SUITES,
        mtu: int = _DEFAULT_MTU,
        handshake_timeout: float = 20.0,
    ) -> None:
        if role not in ("active", "passive"):
            raise LocalProtocolError(f"DTLS role must be 'active' or 'passive', not {role!r}")
        unknown = [suite for suite in suites if suite not in _PROFILE_OF_SUITE]
        if unknown or not suites:
            raise LocalProtocolError(f"no DTLS-SRTP profile for the SRTP suites {unknown}")
        if not 256 <= mtu <= 65507:
            raise LocalProtocolError(f"DTLS MTU {mtu} is outside 256..65507")
        if not handshake_timeout > 0:
            raise LocalProtocolError("the DTLS handshake timeout must be positive")
        self.role: DtlsRole = role
        self.mtu = mtu
        self._remote_fingerprints = _fingerprints(remote_fingerprint)
        self._handshake_timeout = handshake_timeout
        self._state = DtlsState.NEW
        self._events: list[DtlsEvent] = []
        self._keys: SrtpKeys | None = None
        self._error: DtlsSrtpError | None = None
        self._mismatch: DtlsFingerprintError | None = None
        self._handshake_deadline: float | None = None
        self._retransmit_at: float | None = None
        #: datagrams ignored: not DTLS, or after the association ended
        self.dropped = 0

        context = SSL.Context(SSL.DTLS_METHOD)
        # DTLS 1.2 exactly: RFC 5764 is written for it, baresip speaks it, and a newer
        # OpenSSL must not switch to DTLS 1.3 (RFC 9147: other retransmission, ACKs) unasked.
        context.set_min_proto_version(_DTLS1_2_VERSION)
        context.set_max_proto_version(_DTLS1_2_VERSION)
        # The MTU is ours to set (memory BIOs cannot be asked); no tickets, no session
        # cache: every call is a full handshake with fresh keys; no renegotiation: it would
        # change the SRTP keys under a running MediaSession.
        context.set_options(SSL.OP_NO_QUERY_MTU | SSL.OP_NO_TICKET | SSL.OP_NO_RENEGOTIATION)
        context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
        context.use_certificate(certificate)
        context.use_privatekey(private_key)
        context.check_privatekey()
        profiles = ":".join(_PROFILE_OF_SUITE[suite] for suite in suites)
        context.set_tlsext_use_srtp(profiles.encode("ascii"))
        context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, self._verify)
        self._connection = SSL.Connection(context, None)
        self._connection.set_ciphertext_mtu(mtu)
        if role == "active":
            self._connection.set_connect_state()
        else:
            self._connection.set_accept_state()

    # -- what the adapter reads ---------------------------------------------------------------

    @property
    def state(self) -> DtlsState:
        return self._state

    @property
    def handshake_complete(self) -> bool:
        """True once the handshake finished and the peer's certificate matched."""
        return self._keys is not None

    @property
    def srtp_keys(self) -> SrtpKeys | None:
        """The SRTP keys (ours outbound, the peer's inbound) once established."""
        return self._keys

    @property
    def error(self) -> DtlsSrtpError | None:
        """Why the association failed, once it has."""
        return self._error

    def next_event(self) -> DtlsEvent | None:
        return self._events.pop(0) if self._events else None

    def get_timer(self) -> float | None:
        """The earliest deadline (retransmission or handshake timeout), or ``None``."""
        deadlines = [self._retransmit_at]
        if self._state is DtlsState.HANDSHAKING:
            deadlines.append(self._handshake_deadline)
        present = [deadline for deadline in deadlines if deadline is not None]
        return min(present) if present else None

    def datagrams_to_send(self) -> list[bytes]:
        """What OpenSSL wrote, as UDP payloads of at most ``mtu`` octets (whole records)."""
        chunks = []
        while True:
            try:
                chunks.append(self._connection.bio_read(65536))
            except SSL.WantReadError:
                break
        return _pack_records(b"".join(chunks), self.mtu)

    # -- what the adapter feeds in ------------------------------------------------------------

    def start(self, now: float) -> None:
        """Begin: the active end sends its ClientHello; both arm the handshake timeout."""
        self._set_state("start")
        self._handshake_deadline = now + self._handshake_timeout
        if self.role == "active":
            self._handshake()
        self._update_timer(now)

    def receive_datagram(self, data: bytes, now: float) -> None:
        """One UDP payload that :func:`is_dtls` classed as DTLS."""
        if self._state is DtlsState.NEW:
            raise LocalProtocolError("DtlsSrtpEndpoint.start() must come before any datagram")
        if self._state in (DtlsState.FAILED, DtlsState.CLOSED) or not data or not is_dtls(data[0]):
            self.dropped += 1
            return
        self._connection.bio_write(data)
        if self._state is DtlsState.HANDSHAKING:
            self._handshake()
        else:
            self._read_established()
        self._update_timer(now)

    def handle_timer(self, now: float) -> None:
        """Resend the last flight when its timer ran out; fail when the handshake took too long."""
        if (
            self._state is DtlsState.HANDSHAKING
            and self._handshake_deadline is not None
            and now >= self._handshake_deadline
        ):
            self._fail(DtlsTimeoutError(f"no DTLS handshake within {self._handshake_timeout:g} s"))
            return
        if self._retransmit_at is not None and now >= self._retransmit_at:
            try:
                if self._connection.DTLSv1_handle_timeout():
                    log.debug("DTLS %s: flight retransmitted", self.role)
            except SSL.Error as error:
                self._fail(DtlsHandshakeError(f"DTLS retransmission failed: {_describe(error)}"))
                return
        self._update_timer(now)

    def close(self) -> None:
        """Hang-up: ``close_notify`` when established (then flush ``datagrams_to_send``)."""
        if self._state in (DtlsState.FAILED, DtlsState.CLOSED):
            return
        if self._state is DtlsState.ESTABLISHED:
            try:
                self._connection.shutdown()
            except SSL.Error as error:
                log.info("DTLS close_notify not sent: %s", _describe(error))
        self._set_state("close")
        self._retransmit_at = None
        self._events.append(DtlsClosed(by_peer=False))

    # -- internals ----------------------------------------------------------------------------

    def _set_state(self, event: str) -> None:
        new = _TRANSITIONS.get((self._state, event))
        if new is None:
            raise LocalProtocolError(f"DTLS-SRTP: {event!r} is not allowed in {self._state.value}")
        log.debug("DTLS-SRTP %s: %s -> %s", self.role, self._state.value, new.value)
        self._state = new

    def _verify(
        self,
        connection: SSL.Connection,
        certificate: crypto.X509,
        error_number: int,
        depth: int,
        ok: int,
    ) -> bool:
        """OpenSSL's verify callback: pin the end-entity certificate, ignore the chain.

        The certificates are self-signed (RFC 5763 §5), so OpenSSL's own verdict
        (``ok``, ``error_number``: "self-signed certificate") is irrelevant; what counts
        is the fingerprint the signalling carried.
        """
        if depth != 0:
            return True
        der = certificate.to_cryptography().public_bytes(Encoding.DER)
        if self._matches(der):
            return True
        self._mismatch = DtlsFingerprintError(
            "the peer's DTLS certificate does not match its a=fingerprint: expected "
            + " or ".join(str(item) for item in self._remote_fingerprints)
            + f", got {Fingerprint.of_certificate(der, self._remote_fingerprints[0].algorithm)}"
        )
        return False

    def _matches(self, der: bytes) -> bool:
        return any(
            hmac.compare_digest(Fingerprint.of_certificate(der, item.algorithm).value, item.value)
            for item in self._remote_fingerprints
        )

    def _handshake(self) -> None:
        try:
            self._connection.do_handshake()
        except SSL.WantReadError:
            return
        except SSL.Error as error:
            self._fail(
                self._mismatch or DtlsHandshakeError(f"DTLS handshake failed: {_describe(error)}")
            )
            return
        self._established()

    def _established(self) -> None:
        peer = self._connection.get_peer_certificate(as_cryptography=True)
        if peer is None or not self._matches(peer.public_bytes(Encoding.DER)):
            # Unreachable while the verify callback works; checked again because keys
            # must never come out of an unverified handshake.
            self._fail(self._mismatch or DtlsFingerprintError("peer certificate not verified"))
            return
        profile = self._connection.get_selected_srtp_profile().decode("ascii", "replace")
        suite_name = PROFILES.get(profile)
        if suite_name is None:
            self._fail(
                DtlsHandshakeError(
                    f"no DTLS-SRTP profile agreed ({profile or 'use_srtp missing'}): "
                    "the peer does not do DTLS-SRTP with our suites (RFC 5764 §4.1.1)"
                )
            )
            return
        suite = suite_by_name(suite_name)
        key, salt = suite.master_key_length, suite.master_salt_length
        material = self._connection.export_keying_material(EXPORTER_LABEL, 2 * (key + salt))
        # RFC 5764 §4.2: client key | server key | client salt | server salt.
        client = SrtpPolicy(suite, material[:key], material[2 * key : 2 * key + salt])
        server = SrtpPolicy(suite, material[key : 2 * key], material[2 * key + salt :])
        outbound, inbound = (client, server) if self.role == "active" else (server, client)
        self._keys = SrtpKeys(suite_name, outbound, inbound)
        self._set_state("established")
        log.info("DTLS-SRTP %s: established, %s (%s)", self.role, profile, suite_name)
        self._events.append(DtlsEstablished(self._keys, profile))

    def _read_established(self) -> None:
        """After the handshake: retransmitted flights, alerts, close_notify (no app data)."""
        for _ in range(64):  # bounded: one datagram holds only so many records
            try:
                self._connection.recv(65536)
            except SSL.WantReadError:
                return
            except SSL.ZeroReturnError:
                answered = True
                try:
                    self._connection.shutdown()  # our close_notify in answer
                except SSL.Error:
                    answered = False
                log.info("DTLS-SRTP %s: close_notify received (answered: %s)", self.role, answered)
                self._set_state("peer_closed")
                self._retransmit_at = None
                self._events.append(DtlsClosed(by_peer=True))
                return
            except SSL.Error as error:
                self._fail(DtlsHandshakeError(f"DTLS association failed: {_describe(error)}"))
                return
            # DTLS-SRTP carries no application data (RFC 5764 §4.4 leaves it to others).
            self.dropped += 1

    def _update_timer(self, now: float) -> None:
        if self._state not in (DtlsState.HANDSHAKING, DtlsState.ESTABLISHED):
            self._retransmit_at = None
            return
        remaining = self._connection.DTLSv1_get_timeout()
        self._retransmit_at = None if remaining is None else now + float(remaining)

    def _fail(self, error: DtlsSrtpError) -> None:
        log.warning("DTLS-SRTP %s failed: %s", self.role, error)
        self._error = error
        self._retransmit_at = None
        self._set_state("fail")
        self._events.append(DtlsFailed(error))


def _pack_records(stream: bytes, mtu: int) -> list[bytes]:
    """Cut a run of DTLS records into datagrams of whole records, at most ``mtu`` each.

    A record longer than ``mtu`` (never, with OpenSSL's MTU set to the same) is sent alone;
    a truncated tail (never, from OpenSSL) goes out as it is.
    """
    datagrams: list[bytes] = []
    current = b""
    position = 0
    while position < len(stream):
        if position + _DTLS_RECORD_HEADER <= len(stream):
            length = int.from_bytes(stream[position + 11 : position + 13])
            end = min(position + _DTLS_RECORD_HEADER + length, len(stream))
        else:
            end = len(stream)
        record = stream[position:end]
        position = end
        if current and len(current) + len(record) > mtu:
            datagrams.append(current)
            current = b""
        current += record
    if current:
        datagrams.append(current)
    return datagrams
