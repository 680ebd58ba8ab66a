"""DTLS-SRTP (RFC 5763/5764): two endpoints in memory, RFC 7983 demux, and the SDP side.

The endpoints talk through lists, with a fake clock — except for retransmission:
OpenSSL's DTLS timer reads the real clock and pyOpenSSL has no hook to change that, so
``test_lost_flight_is_retransmitted`` really waits for the first timer (about 1 s).
The SDP half (``phoneagent.sdp.dtls``: ``a=fingerprint``, ``a=setup``, offer/answer)
is tested here too, with baresip 1.0's own answer as a sample.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from phoneagent.media.dtls_srtp import (
    DEFAULT_SUITES,
    EXPORTER_LABEL,
    PROFILES,
    DatagramKind,
    DtlsCertificate,
    DtlsClosed,
    DtlsEstablished,
    DtlsEvent,
    DtlsFailed,
    DtlsFingerprintError,
    DtlsHandshakeError,
    DtlsSrtpEndpoint,
    DtlsState,
    DtlsTimeoutError,
    _pack_records,
    classify_datagram,
    is_dtls,
    make_certificate,
)
from phoneagent.media.srtp import SrtpSession
from phoneagent.sdp.dtls import (
    DTLS_PROTO,
    DtlsParameters,
    Fingerprint,
    SetupRole,
    answer_setup,
    is_dtls_srtp,
    local_role,
    remote_dtls_parameters,
    select_fingerprints,
    with_dtls_answer,
    with_dtls_offer,
)
from phoneagent.sdp.model import Attribute, MediaDescription, SessionDescription
from phoneagent.sdp.offer_answer import MediaPolicy, build_offer
from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from tests.unit.media.test_srtp import rtcp_sender_report, rtp

DTLS_SUITES = sorted(PROFILES.values())


@pytest.fixture(scope="module")
def alice() -> DtlsCertificate:
    return make_certificate("alice")


@pytest.fixture(scope="module")
def bob() -> DtlsCertificate:
    return make_certificate("bob")


def endpoint(
    role: str,
    me: DtlsCertificate,
    peer: DtlsCertificate | Fingerprint | Sequence[Fingerprint],
    **options: object,
) -> DtlsSrtpEndpoint:
    pin = peer.fingerprint if isinstance(peer, DtlsCertificate) else peer
    return DtlsSrtpEndpoint(role, me.certificate, me.private_key, pin, **options)  # type: ignore[arg-type]


def exchange(
    first: DtlsSrtpEndpoint,
    second: DtlsSrtpEndpoint,
    now: float = 0.0,
    rounds: int = 10,
    drop: int = 0,
) -> list[bytes]:
    """Carry datagrams both ways until neither has any (bounded); ``drop`` loses the first
    ``drop`` datagrams.  Returns what was carried."""
    carried: list[bytes] = []
    for _ in range(rounds):
        moved = False
        for source, target in ((first, second), (second, first)):
            for datagram in source.datagrams_to_send():
                moved = True
                if drop:
                    drop -= 1
                    continue
                carried.append(datagram)
                target.receive_datagram(datagram, now)
        if not moved:
            break
    return carried


def handshake(
    alice: DtlsCertificate, bob: DtlsCertificate, **options: object
) -> tuple[DtlsSrtpEndpoint, DtlsSrtpEndpoint]:
    client = endpoint("active", alice, bob, **options)
    server = endpoint("passive", bob, alice, **options)
    client.start(0.0)
    server.start(0.0)
    exchange(client, server)
    return client, server


def events(endpoint_: DtlsSrtpEndpoint) -> list[DtlsEvent]:
    found = []
    while (event := endpoint_.next_event()) is not None:
        found.append(event)
    return found


# -- the handshake and its keys -----------------------------------------------------------------


@pytest.mark.parametrize("suite", DTLS_SUITES)
def test_handshake_gives_both_ends_matching_keys(
    alice: DtlsCertificate, bob: DtlsCertificate, suite: str
) -> None:
    client, server = handshake(alice, bob, suites=(suite,))
    assert client.state is server.state is DtlsState.ESTABLISHED
    assert client.handshake_complete and server.handshake_complete
    client_keys, server_keys = client.srtp_keys, server.srtp_keys
    assert client_keys is not None and server_keys is not None
    assert client_keys.suite == server_keys.suite == suite
    assert client_keys.outbound == server_keys.inbound
    assert client_keys.inbound == server_keys.outbound
    assert client_keys.outbound.master_key != client_keys.inbound.master_key
    assert client.get_timer() is None and server.get_timer() is None
    (established,) = events(client)
    assert isinstance(established, DtlsEstablished)
    assert established.keys == client_keys and PROFILES[established.profile] == suite
    # The keys work: SRTP and SRTCP from one end unprotect at the other, both ways.
    for sender, receiver in ((client_keys, server_keys), (server_keys, client_keys)):
        out, back = SrtpSession(sender.outbound), SrtpSession(receiver.inbound)
        packet = rtp(65535, csrcs=(1,), extension=bytes(4))
        assert back.unprotect_rtp(out.protect_rtp(packet)) == packet
        assert back.unprotect_rtcp(out.protect_rtcp(rtcp_sender_report())) == (rtcp_sender_report())


def test_keys_are_cut_as_rfc_5764_says(alice: DtlsCertificate, bob: DtlsCertificate) -> None:
    """§4.2: client key | server key | client salt | server salt, from EXTRACTOR-dtls_srtp."""
    client, server = handshake(alice, bob, suites=("AEAD_AES_256_GCM",))
    material = client._connection.export_keying_material(EXPORTER_LABEL, 2 * (32 + 12))
    assert material == server._connection.export_keying_material(EXPORTER_LABEL, 88)
    keys = client.srtp_keys
    assert keys is not None
    assert (keys.outbound.master_key, keys.outbound.master_salt) == (
        material[:32],
        material[64:76],
    )
    assert (keys.inbound.master_key, keys.inbound.master_salt) == (material[32:64], material[76:])


def test_the_server_chooses_among_the_profiles_offered(
    alice: DtlsCertificate, bob: DtlsCertificate
) -> None:
    client = endpoint("active", alice, bob)  # DEFAULT_SUITES: AES-CM-80 first
    server = endpoint("passive", bob, alice, suites=("AEAD_AES_256_GCM", "AEAD_AES_128_GCM"))
    client.start(0.0)
    server.start(0.0)
    exchange(client, server)
    assert client.srtp_keys is not None and client.srtp_keys.suite == "AEAD_AES_256_GCM"
    assert DEFAULT_SUITES[0] == "AES_CM_128_HMAC_SHA1_80"


def test_no_common_profile_fails_both_ends(alice: DtlsCertificate, bob: DtlsCertificate) -> None:
    client = endpoint("active", alice, bob, suites=("AES_CM_128_HMAC_SHA1_32",))
    server = endpoint("passive", bob, alice, suites=("AEAD_AES_128_GCM",))
    client.start(0.0)
    server.start(0.0)
    exchange(client, server)
    for end in (client, server):
        assert end.state is DtlsState.FAILED
        assert end.srtp_keys is None
        assert isinstance(end.error, DtlsHandshakeError)
        assert "no DTLS-SRTP profile" in str(end.error)


def test_a_small_mtu_fragments_the_flights(alice: DtlsCertificate, bob: DtlsCertificate) -> None:
    client = endpoint("active", alice, bob, mtu=300)
    server = endpoint("passive", bob, alice, mtu=300)
    client.start(0.0)
    server.start(0.0)
    carried = exchange(client, server)
    assert client.handshake_complete and server.handshake_complete
    assert max(len(datagram) for datagram in carried) <= 300
    assert len(carried) > 4  # the certificate flight did not fit one datagram


def test_records_are_packed_whole_into_datagrams() -> None:
    def record(length: int, fill: int) -> bytes:
        return bytes([22, 0xFE, 0xFD]) + bytes(8) + length.to_bytes(2) + bytes([fill]) * length

    records = [record(100, 1), record(100, 2), record(300, 3), record(10, 4)]
    assert _pack_records(b"".join(records), 250) == [
        records[0] + records[1],
        records[2],  # longer than the MTU: alone
        records[3],
    ]
    assert _pack_records(b"", 1200) == []
    assert _pack_records(b"\x16\xfe", 1200) == [b"\x16\xfe"]  # a cut tail goes as it is


# -- certificates and fingerprints ------------------------------------------------------------


def test_make_certificate(alice: DtlsCertificate) -> None:
    certificate = alice.certificate
    assert isinstance(alice.private_key, ec.EllipticCurvePrivateKey)
    assert isinstance(alice.private_key.curve, ec.SECP256R1)
    assert certificate.issuer == certificate.subject  # self-signed
    der = certificate.public_bytes(Encoding.DER)
    assert alice.fingerprint == ("sha-256", hashlib.sha256(der).digest())
    text = str(alice.fingerprint)
    assert text.startswith("sha-256 ") and len(text) == 8 + 32 * 3 - 1
    assert text == text[:8] + text[8:].upper()
    assert Fingerprint.parse(text) == alice.fingerprint
    assert make_certificate().fingerprint != alice.fingerprint
    assert "private_key" not in repr(alice)


@pytest.mark.parametrize("wrong_side", ["active", "passive"])
def test_a_wrong_fingerprint_fails_the_call(
    alice: DtlsCertificate, bob: DtlsCertificate, wrong_side: str
) -> None:
    stranger = make_certificate("mallory").fingerprint
    client = endpoint("active", alice, stranger if wrong_side == "active" else bob.fingerprint)
    server = endpoint("passive", bob, stranger if wrong_side == "passive" else alice.fingerprint)
    client.start(0.0)
    server.start(0.0)
    exchange(client, server)
    checker, other = (client, server) if wrong_side == "active" else (server, client)
    assert checker.state is DtlsState.FAILED
    assert isinstance(checker.error, DtlsFingerprintError)
    assert "does not match its a=fingerprint" in str(checker.error)
    (failed,) = events(checker)
    assert isinstance(failed, DtlsFailed) and failed.error is checker.error
    # The checker's alert ends the other side too: nobody gets keys.
    assert other.state is DtlsState.FAILED
    assert client.srtp_keys is None and server.srtp_keys is None
    assert checker.get_timer() is None


def test_any_of_several_fingerprints_and_stronger_hashes(
    alice: DtlsCertificate, bob: DtlsCertificate
) -> None:
    der = bob.certificate.public_bytes(Encoding.DER)
    pins = [
        make_certificate().fingerprint,
        Fingerprint.of_certificate(der, "sha-512"),
    ]
    client = endpoint("active", alice, pins)
    server = endpoint("passive", bob, alice)
    client.start(0.0)
    server.start(0.0)
    exchange(client, server)
    assert client.handshake_complete and server.handshake_complete


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"role": "actpass"}, "role"),
        ({"suites": ("AES_256_CM_HMAC_SHA1_80",)}, "no DTLS-SRTP profile"),
        ({"suites": ()}, "no DTLS-SRTP profile"),
        ({"mtu": 100}, "MTU"),
        ({"pin": ("md5", bytes(16))}, "md5"),
        ({"pin": ("sha-1", bytes(20))}, "sha-1"),
        ({"pin": ()}, "fingerprint"),
    ],
)
def test_endpoint_refuses_bad_settings(
    alice: DtlsCertificate, bob: DtlsCertificate, options: dict[str, object], message: str
) -> None:
    role = options.pop("role", "active")
    pin = options.pop("pin", bob.fingerprint)
    with pytest.raises(LocalProtocolError, match=message):
        DtlsSrtpEndpoint(role, alice.certificate, alice.private_key, pin, **options)  # type: ignore[arg-type]


# -- timers, loss, hang-up --------------------------------------------------------------------


def test_lost_flight_is_retransmitted(alice: DtlsCertificate, bob: DtlsCertificate) -> None:
    client = endpoint("active", alice, bob)
    server = endpoint("passive", bob, alice)
    start = 100.0
    client.start(start)
    server.start(start)
    assert server.get_timer() == start + 20.0  # the passive end only has the overall bound
    (hello,) = client.datagrams_to_send()  # ... and the ClientHello is lost
    timer = client.get_timer()
    assert timer is not None and start + 0.5 < timer <= start + 1.0
    client.handle_timer(start + 0.1)  # not yet: nothing resent
    assert client.datagrams_to_send() == []
    timer = client.get_timer()  # re-armed from the time given: still about start + 1
    assert timer is not None and start + 1.0 <= timer <= start + 1.1
    # OpenSSL's own clock must pass its deadline too (see the module docstring).
    time.sleep(timer - start - 0.1 + 0.05)
    client.handle_timer(timer)
    (again,) = client.datagrams_to_send()
    assert again[0] == hello[0] == 22 and len(again) == len(hello)
    next_timer = client.get_timer()
    assert next_timer is not None and next_timer - timer > 1.5  # the timer doubled
    server.receive_datagram(again, timer)
    exchange(client, server, now=timer)
    assert client.handshake_complete and server.handshake_complete


def test_lost_final_flight_is_resent_by_the_established_server(
    alice: DtlsCertificate, bob: DtlsCertificate
) -> None:
    """The server's last flight (CCS, Finished) is lost: the client's timer resends its
    flight, and the server — already established — answers it again (RFC 6347 §4.2.4)."""
    client = endpoint("active", alice, bob)
    server = endpoint("passive", bob, alice)
    client.start(0.0)
    server.start(0.0)

    def carry(source: DtlsSrtpEndpoint, target: DtlsSrtpEndpoint) -> None:
        for datagram in source.datagrams_to_send():
            target.receive_datagram(datagram, 0.0)

    carry(client, server)  # ClientHello
    carry(server, client)  # ServerHello, Certificate, ServerKeyExchange, CertificateRequest …
    carry(client, server)  # Certificate, ClientKeyExchange, CertificateVerify, CCS, Finished
    assert server.handshake_complete and not client.handshake_complete
    assert server.datagrams_to_send()  # CCS, Finished: lost
    timer = client.get_timer()
    assert timer is not None
    time.sleep(timer + 0.05)
    client.handle_timer(timer)
    resent = client.datagrams_to_send()
    assert resent
    for datagram in resent:
        server.receive_datagram(datagram, timer)
    answer = server.datagrams_to_send()
    assert answer, "the established server must answer a resent flight"
    for datagram in answer:
        client.receive_datagram(datagram, timer)
    assert client.handshake_complete
    assert client.srtp_keys is not None and server.srtp_keys is not None
    assert client.srtp_keys.outbound == server.srtp_keys.inbound


def test_dtls_1_2_exactly(alice: DtlsCertificate, bob: DtlsCertificate) -> None:
    for end in handshake(alice, bob):
        assert end._connection.get_protocol_version_name() == "DTLSv1.2"


def test_handshake_timeout(alice: DtlsCertificate, bob: DtlsCertificate) -> None:
    client = endpoint("active", alice, bob, handshake_timeout=5.0)
    client.start(10.0)
    client.datagrams_to_send()
    client.handle_timer(14.9)
    before = client.state
    client.handle_timer(15.0)
    assert (before, client.state) == (DtlsState.HANDSHAKING, DtlsState.FAILED)
    assert isinstance(client.error, DtlsTimeoutError)
    assert client.get_timer() is None
    (failed,) = events(client)
    assert isinstance(failed, DtlsFailed)


def test_close_notify_both_ways(alice: DtlsCertificate, bob: DtlsCertificate) -> None:
    client, server = handshake(alice, bob)
    events(client)
    events(server)
    client.close()
    assert client.state is DtlsState.CLOSED
    (alert,) = client.datagrams_to_send()
    assert alert[0] == 21  # an alert record
    server.receive_datagram(alert, 1.0)
    assert server.state is DtlsState.CLOSED
    assert events(server) == [DtlsClosed(by_peer=True)]
    assert events(client) == [DtlsClosed(by_peer=False)]
    (answer,) = server.datagrams_to_send()  # its own close_notify in answer
    client.receive_datagram(answer, 1.0)  # after the end: ignored, counted
    assert client.dropped == 1
    client.close()  # a second hang-up does nothing
    assert events(client) == []


def test_close_during_the_handshake(alice: DtlsCertificate, bob: DtlsCertificate) -> None:
    client = endpoint("active", alice, bob)
    client.start(0.0)
    client.datagrams_to_send()
    client.close()
    assert client.state is DtlsState.CLOSED
    assert client.get_timer() is None
    assert client.datagrams_to_send() == []  # no close_notify before a handshake


def test_misuse_is_a_local_error(alice: DtlsCertificate, bob: DtlsCertificate) -> None:
    client = endpoint("active", alice, bob)
    with pytest.raises(LocalProtocolError, match="start"):
        client.receive_datagram(b"\x16\xfe\xfd", 0.0)
    client.start(0.0)
    with pytest.raises(LocalProtocolError, match="not allowed in handshaking"):
        client.start(0.0)


def test_datagrams_that_are_not_dtls_are_dropped(
    alice: DtlsCertificate, bob: DtlsCertificate
) -> None:
    server = endpoint("passive", bob, alice)
    server.start(0.0)
    for datagram in (b"", rtp(1), b"\x00\x01\x00\x00", b"\x40\x00"):
        server.receive_datagram(datagram, 0.0)
    assert server.dropped == 4
    assert server.state is DtlsState.HANDSHAKING


@settings(max_examples=150, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=300).map(lambda b: bytes([20 + b[0] % 44]) + b[1:]),
    established=st.booleans(),
)
def test_fuzz_dtls_garbage_never_raises(
    alice: DtlsCertificate, bob: DtlsCertificate, data: bytes, established: bool
) -> None:
    """Forged or broken DTLS is dropped or fails the association; it never raises."""
    if established:
        _, server = handshake(alice, bob)
    else:
        server = endpoint("passive", bob, alice)
        server.start(0.0)
    server.receive_datagram(data, 1.0)
    server.receive_datagram(data[:13] + bytes(50), 1.0)
    server.datagrams_to_send()
    if established:
        assert server.state in (DtlsState.ESTABLISHED, DtlsState.FAILED, DtlsState.CLOSED)
        assert server.srtp_keys is not None  # keys, once given, stay what they were


# -- RFC 7983 demultiplexing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "kind"),
    [
        (0, DatagramKind.STUN),
        (3, DatagramKind.STUN),
        (4, DatagramKind.UNKNOWN),
        (15, DatagramKind.UNKNOWN),
        (16, DatagramKind.ZRTP),
        (19, DatagramKind.ZRTP),
        (20, DatagramKind.DTLS),
        (22, DatagramKind.DTLS),
        (63, DatagramKind.DTLS),
        (64, DatagramKind.TURN_CHANNEL),
        (79, DatagramKind.TURN_CHANNEL),
        (80, DatagramKind.UNKNOWN),
        (127, DatagramKind.UNKNOWN),
        (128, DatagramKind.RTP),
        (191, DatagramKind.RTP),
        (192, DatagramKind.UNKNOWN),
        (255, DatagramKind.UNKNOWN),
    ],
)
def test_rfc_7983_demultiplexing(first: int, kind: DatagramKind) -> None:
    assert classify_datagram(bytes([first, 0, 0, 0])) is kind
    assert is_dtls(first) is (kind is DatagramKind.DTLS)


def test_demultiplexing_an_empty_datagram() -> None:
    assert classify_datagram(b"") is DatagramKind.UNKNOWN


# -- SDP: a=fingerprint, a=setup, offer/answer (phoneagent.sdp.dtls) ------------------------------

SHA256 = "sha-256 " + ":".join(f"{n:02X}" for n in range(32))

# baresip 1.0.0's answer to our offer (both attributes at session level, upper-case hash).
BARESIP_ANSWER = (
    b"v=0\r\n"
    b"o=- 1168477144 1676069209 IN IP4 127.0.0.1\r\n"
    b"s=-\r\n"
    b"c=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\n"
    b"a=tool:baresip 1.0.0\r\n"
    b"a=setup:active\r\n"
    b"a=fingerprint:SHA-256 80:B8:C4:59:92:22:CC:E8:64:8A:17:5F:EE:40:87:20:DD:F9:C0:34:82:0C:"
    b"C3:96:E0:AF:D6:42:53:81:17:F7\r\n"
    b"m=audio 57756 UDP/TLS/RTP/SAVP 0 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-15\r\n"
    b"a=sendrecv\r\n"
    b"a=ptime:20\r\n"
    b"a=rtcp-mux\r\n"
)


def test_fingerprint_round_trip_and_case() -> None:
    fingerprint = Fingerprint.parse(SHA256)
    assert fingerprint == ("sha-256", bytes(range(32)))
    assert str(fingerprint) == SHA256
    assert fingerprint.is_supported
    assert Fingerprint.parse(SHA256.upper().lower()) == fingerprint  # lower-case hex and name
    assert Fingerprint.parse("SHA-256" + SHA256[7:]) == fingerprint
    unknown = Fingerprint.parse("x-hash-9 0A:0B:0C")
    assert unknown == ("x-hash-9", b"\x0a\x0b\x0c") and not unknown.is_supported
    assert not Fingerprint.parse("md5 " + ":".join(["AA"] * 16)).is_supported


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sha-256",
        "sha-256 ",
        "sha-256  " + SHA256[8:],  # two spaces
        SHA256 + " extra",
        "sha-256 " + SHA256[8:].replace(":", ""),  # no colons
        "sha-256 " + SHA256[8:-3],  # 31 octets
        "sha-256 " + SHA256[8:] + ":00",  # 33 octets
        "sha-256 " + SHA256[8:-2] + "G0",  # not hex
        "sha-256 0:01",
        "sha(256) 00:01",  # not a token
        "sha-1 00:01",  # wrong length for sha-1
    ],
)
def test_fingerprint_refused(text: str) -> None:
    with pytest.raises(RemoteProtocolError) as error:
        Fingerprint.parse(text)
    assert error.value.status_hint == 488


def test_fingerprint_of_certificate() -> None:
    der = b"not really DER, but any octets hash"
    assert Fingerprint.of_certificate(der, "SHA-384") == ("sha-384", hashlib.sha384(der).digest())
    with pytest.raises(LocalProtocolError):
        Fingerprint.of_certificate(der, "md5")


def test_setup_role_parse() -> None:
    assert [SetupRole.parse(text) for text in ("active", "passive", "actpass", "holdconn")] == [
        SetupRole.ACTIVE,
        SetupRole.PASSIVE,
        SetupRole.ACTPASS,
        SetupRole.HOLDCONN,
    ]
    assert SetupRole.parse("ActPass") is SetupRole.ACTPASS
    assert str(SetupRole.ACTPASS) == "actpass"
    for bad in ("", "both", "active passive"):
        with pytest.raises(RemoteProtocolError):
            SetupRole.parse(bad)


def test_baresip_answer_session_level_attributes() -> None:
    answer = SessionDescription.parse(BARESIP_ANSWER)
    media = answer.media[0]
    assert is_dtls_srtp(media)
    parameters = remote_dtls_parameters(answer, media)
    assert parameters is not None
    assert parameters.setup is SetupRole.ACTIVE
    (fingerprint,) = parameters.fingerprints
    assert fingerprint.algorithm == "sha-256" and fingerprint.value[:2] == b"\x80\xb8"
    assert local_role(SetupRole.ACTPASS, parameters.setup, we_offered=True) == "passive"


def _audio(
    attributes: tuple[Attribute, ...], proto: str = "RTP/SAVP", port: int = 4000
) -> MediaDescription:
    return MediaDescription("audio", port, proto, ("0",), attributes=attributes)


def test_media_level_attributes_win() -> None:
    base = SessionDescription.parse(BARESIP_ANSWER)
    media = _audio((Attribute("setup", "passive"), Attribute("fingerprint", SHA256)))
    parameters = remote_dtls_parameters(base, media)
    assert parameters is not None
    assert parameters.setup is SetupRole.PASSIVE
    assert parameters.fingerprints == (Fingerprint.parse(SHA256),)


def test_remote_parameters_absent_or_broken() -> None:
    offer = build_offer(MediaPolicy(), "192.0.2.1", 4000, 1, 1)
    assert remote_dtls_parameters(offer, offer.media[0]) is None  # plain RTP
    only_fingerprint = _audio((Attribute("fingerprint", SHA256),))
    parameters = remote_dtls_parameters(offer, only_fingerprint)
    assert parameters is not None and parameters.setup is None
    for attributes in (
        (
            Attribute("fingerprint", SHA256),
            Attribute("setup", "active"),
            Attribute("setup", "active"),
        ),
        (Attribute("fingerprint", None),),
        (Attribute("fingerprint", SHA256), Attribute("setup", None)),
        (Attribute("fingerprint", "sha-256 00"),),
    ):
        with pytest.raises(RemoteProtocolError) as error:
            remote_dtls_parameters(offer, _audio(attributes))
        assert error.value.status_hint == 488


def test_select_fingerprints_prefers_the_strongest_hash() -> None:
    sha256 = Fingerprint("sha-256", bytes(32))
    other256 = Fingerprint("sha-256", bytes([1]) * 32)
    sha512 = Fingerprint("sha-512", bytes(64))
    sha1 = Fingerprint("sha-1", bytes(20))
    assert select_fingerprints([sha1, sha256, sha512]) == (sha512,)
    assert select_fingerprints([sha256, sha1, other256]) == (sha256, other256)
    with pytest.raises(RemoteProtocolError, match="md5, sha-1"):
        select_fingerprints([sha1, Fingerprint("md5", bytes(16))])
    with pytest.raises(RemoteProtocolError, match="none"):
        select_fingerprints([])


@pytest.mark.parametrize(
    ("offered", "answered"),
    [
        (SetupRole.ACTPASS, SetupRole.ACTIVE),  # RFC 5763 §5: the answerer SHOULD be active
        (SetupRole.PASSIVE, SetupRole.ACTIVE),
        (SetupRole.ACTIVE, SetupRole.PASSIVE),
        (None, SetupRole.PASSIVE),  # RFC 4145 §4: absent means active
    ],
)
def test_answer_setup(offered: SetupRole | None, answered: SetupRole) -> None:
    assert answer_setup(offered) is answered


def test_answer_setup_refuses_holdconn() -> None:
    with pytest.raises(RemoteProtocolError):
        answer_setup(SetupRole.HOLDCONN)


@pytest.mark.parametrize(
    ("ours", "theirs", "we_offered", "role"),
    [
        (SetupRole.ACTPASS, SetupRole.ACTIVE, True, "passive"),
        (SetupRole.ACTPASS, SetupRole.PASSIVE, True, "active"),
        (SetupRole.ACTPASS, None, True, "passive"),
        (SetupRole.ACTIVE, SetupRole.PASSIVE, True, "active"),
        (SetupRole.PASSIVE, SetupRole.ACTIVE, True, "passive"),
        (SetupRole.ACTIVE, SetupRole.ACTPASS, False, "active"),
        (SetupRole.PASSIVE, SetupRole.ACTIVE, False, "passive"),
    ],
)
def test_local_role(ours: SetupRole, theirs: SetupRole | None, we_offered: bool, role: str) -> None:
    assert local_role(ours, theirs, we_offered=we_offered) == role


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (SetupRole.ACTPASS, SetupRole.ACTPASS),  # RFC 4145 §4.1: never in an answer
        (SetupRole.ACTPASS, SetupRole.HOLDCONN),
        (SetupRole.ACTIVE, SetupRole.ACTIVE),
        (SetupRole.PASSIVE, SetupRole.PASSIVE),
    ],
)
def test_local_role_refuses_impossible_answers(ours: SetupRole, theirs: SetupRole) -> None:
    with pytest.raises(RemoteProtocolError):
        local_role(ours, theirs, we_offered=True)
    with pytest.raises(LocalProtocolError):
        local_role(SetupRole.ACTPASS, SetupRole.ACTIVE, we_offered=False)


def test_offer_round_trip(alice: DtlsCertificate) -> None:
    plain = build_offer(MediaPolicy(), "192.0.2.1", 4000, 7, 1)
    video = MediaDescription("video", 0, "RTP/AVP", ("96",))
    plain = replace(plain, media=(*plain.media, video))
    offer = with_dtls_offer(plain, alice.fingerprint)
    parsed = SessionDescription.parse(bytes(offer))
    audio = parsed.media[0]
    assert audio.proto == DTLS_PROTO == "UDP/TLS/RTP/SAVP" and is_dtls_srtp(audio)
    assert audio.attribute_values("setup") == ("actpass",)
    assert audio.attribute_values("fingerprint") == (str(alice.fingerprint),)
    assert parsed.media[1] == video  # a rejected line is left alone
    parameters = remote_dtls_parameters(parsed, audio)
    assert parameters == DtlsParameters(SetupRole.ACTPASS, (alice.fingerprint,))
    # A re-offer replaces the attributes instead of adding a second set.
    again = with_dtls_offer(offer, alice.fingerprint)
    assert again.media[0].attribute_values("setup") == ("actpass",)
    assert len(again.media[0].attribute_values("fingerprint")) == 1
    with pytest.raises(LocalProtocolError):
        with_dtls_offer(plain, alice.fingerprint, setup=SetupRole.HOLDCONN)


def test_answer_keeps_the_offered_profile(bob: DtlsCertificate) -> None:
    plain = build_offer(MediaPolicy(), "192.0.2.2", 5000, 9, 1)
    offered = replace(plain, media=(replace(plain.media[0], proto="UDP/TLS/RTP/SAVPF"),))
    answer = with_dtls_answer(offered, bob.fingerprint, answer_setup(SetupRole.ACTPASS))
    audio = SessionDescription.parse(bytes(answer)).media[0]
    assert audio.proto == "UDP/TLS/RTP/SAVPF" and is_dtls_srtp(audio)
    assert audio.attribute_values("setup") == ("active",)
    with pytest.raises(LocalProtocolError):
        with_dtls_answer(offered, bob.fingerprint, SetupRole.ACTPASS)
