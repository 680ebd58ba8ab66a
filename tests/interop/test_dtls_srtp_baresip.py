"""DTLS-SRTP (RFC 5763/5764) with baresip 1.0: our DtlsSrtpEndpoint and MediaSession, both ways.

The call wiring (``call_control``) does not speak DTLS-SRTP yet, so this test is its own
small phone, made of the project's pieces on three UDP sockets (SIP, RTP, RTP + 1):

* we call: ``phoneagent.sip.ua.UserAgent`` dials baresip directly (no registrar) with an
  offer from ``build_offer`` + ``with_dtls_offer`` (``UDP/TLS/RTP/SAVP``,
  ``a=setup:actpass``, our fingerprint); baresip answers ``active`` (RFC 5763 §5), so we
  are the DTLS server;
* baresip calls: it offers ``UDP/TLS/RTP/SAVPF`` + ``actpass``; we answer ``active``
  (``answer_setup``) and are the DTLS client.

From the SDP ``local_role`` gives our role and ``select_fingerprints`` baresip's pin; a
``DtlsSrtpEndpoint`` runs on the RTP socket — and, without rtcp-mux (baresip's default),
a second one on the RTCP socket (RFC 5764 §4.1) — where datagrams are told apart by
their first octet (RFC 7983).  Once established, the ``SrtpKeys`` go to a
``MediaSession`` that sends a 1000 Hz tone while baresip (``mediaenc=dtls_srtp``) sends
600 Hz; both recordings are checked with Goertzel as in ``test_calls_baresip.py``, and
SRTCP both ways.  Hang-up: RTCP BYE, DTLS ``close_notify``, SIP BYE.  ``DtlsPhone`` is
the adapter glue a real phone needs.

Found on the way (baresip 1.0.0 / libre 1.1.0, not us): with
``SRTP_AES128_CM_SHA1_32`` libre protects SRTCP with a 32-bit tag (RFC 3711 §5.2 forbids
less than 80 for SRTCP; libsrtp and we use 80), so SRTCP fails both ways on that profile —
the test pins that; and baresip sends some RTCP in clear (an APP "PING" before its keys,
a BYE + SDES when it re-sets RTCP), which we drop.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from phoneagent.media.dtls_srtp import (
    DatagramKind,
    DtlsClosed,
    DtlsEstablished,
    DtlsFailed,
    DtlsSrtpEndpoint,
    classify_datagram,
    make_certificate,
)
from phoneagent.media.rtcp import looks_like_rtcp
from phoneagent.media.session import MediaSession
from phoneagent.media.srtp import SrtpError, SrtpPolicy, SrtpSession
from phoneagent.media.tones import sine
from phoneagent.sdp.dtls import (
    DtlsParameters,
    DtlsRole,
    SetupRole,
    answer_setup,
    is_dtls_srtp,
    local_role,
    remote_dtls_parameters,
    select_fingerprints,
    with_dtls_answer,
    with_dtls_offer,
)
from phoneagent.sdp.model import Attribute, SessionDescription
from phoneagent.sdp.offer_answer import (
    MediaPolicy,
    NegotiatedMedia,
    answer_offer,
    build_offer,
    process_answer,
)
from phoneagent.sdp.sdes import SrtpKeys
from phoneagent.sip.invite_calls import IncomingCall, OutgoingCall
from phoneagent.sip.invite_events import CallAnswered, CallEnded, IncomingCallReceived
from phoneagent.sip.transport import Peer, Transport
from phoneagent.sip.ua import UserAgent, UserAgentSettings
from phoneagent.sip.uri import SipUri
from tests.interop.baresip import BaresipPeer
from tests.interop.test_calls_baresip import (
    BARESIP_TONE,
    PHONE_TONE,
    assert_clean_audio,
    newest,
)

pytestmark = pytest.mark.interop

LOCALHOST = "127.0.0.1"
AUDIO_SECONDS = 3.0
#: The whole call, set-up to BYE answered; the test (with baresip's start) stays < 30 s.
CALL_BUDGET = 20.0


def bind_rtp_pair() -> tuple[socket.socket, socket.socket]:
    """UDP sockets on ports P and P + 1 (RTP and RTCP, RFC 3550 §11)."""
    for _ in range(50):
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((LOCALHOST, 0))
        rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            rtcp.bind((LOCALHOST, rtp.getsockname()[1] + 1))
        except OSError:
            rtp.close()
            rtcp.close()
            continue
        return rtp, rtcp
    raise RuntimeError("no free RTP/RTCP port pair")


@dataclass
class Counters:
    dtls_in: int = 0
    dtls_out: int = 0
    srtp_before_keys: int = 0
    rtp_in: int = 0
    rtcp_in: int = 0
    rtcp_out: int = 0
    other: int = 0
    #: the first SRTCP packets from the far end, kept for a post-mortem
    rtcp_packets: list[bytes] = field(default_factory=list)
    events: list[object] = field(default_factory=list)


@dataclass
class Association:
    """One DTLS-SRTP association on one of our sockets (RTP, or RTCP without rtcp-mux)."""

    sock: socket.socket
    endpoint: DtlsSrtpEndpoint | None = None
    #: where the far end's DTLS came from (symmetric, like RTP); else the SDP's address
    remote: tuple[str, int] | None = None
    #: DTLS that came before the SIP answer told us our role (bounded)
    early: list[bytes] = field(default_factory=list)
    keys: SrtpKeys | None = None


class DtlsPhone:
    """Our side of the call: SIP on one socket, DTLS + SRTP on the RTP socket, RTCP on RTP+1
    (or on the RTP socket with rtcp-mux).  It dials (``dial``) or answers what comes."""

    def __init__(self, target_port: int, *, suites: tuple[str, ...], mux: bool) -> None:
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind((LOCALHOST, 0))
        self.rtp, self.rtcp = bind_rtp_pair()
        self.target_peer = Peer(Transport.UDP, LOCALHOST, target_port)
        self.suites = suites
        self.mux = mux
        local = Peer(Transport.UDP, LOCALHOST, self.sip.getsockname()[1])
        settings = UserAgentSettings(
            aor=SipUri.parse("sip:alice@127.0.0.1"),
            registrar=SipUri.parse(f"sip:{LOCALHOST}:{target_port}"),
            transport=Transport.UDP,
            credentials=(),
            instance_id="urn:uuid:00000000-0000-4000-8000-00000000d715",
        )
        self.ua = UserAgent(settings, local)
        self.identity = make_certificate()
        self.selector = selectors.DefaultSelector()
        for sock in (self.sip, self.rtp, self.rtcp):
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ)
        self.associations = {self.rtp: Association(self.rtp)}
        if not mux:
            self.associations[self.rtcp] = Association(self.rtcp)
        self.offer: SessionDescription | None = None
        self.call: OutgoingCall | IncomingCall | None = None
        self.negotiated: NegotiatedMedia | None = None
        self.media: MediaSession | None = None
        self.srtcp_in: SrtpSession | None = None
        self.heard = bytearray()
        self.sent_samples = 0
        self.ended = False
        self.counters = Counters()

    # -- our audio ------------------------------------------------------------------------------

    def source(self, count: int) -> bytes:
        pcm = sine(PHONE_TONE, count, start=self.sent_samples)
        self.sent_samples += count
        return pcm

    def sink(self, pcm: bytes) -> None:
        self.heard += pcm

    # -- the call -------------------------------------------------------------------------------

    @property
    def sip_port(self) -> int:
        return int(self.sip.getsockname()[1])

    def dial(self, target: SipUri, now: float) -> None:
        rtp_port = self.rtp.getsockname()[1]
        offer = build_offer(MediaPolicy(codecs=("PCMU",)), LOCALHOST, rtp_port, 4711, 1)
        offer = with_dtls_offer(offer, self.identity.fingerprint)
        if self.mux:  # RFC 5761 §5.1.1: offer to put RTCP on the RTP port
            audio = offer.media[0]
            audio = replace(audio, attributes=(*audio.attributes, Attribute("rtcp-mux")))
            offer = replace(offer, media=(audio,))
        self.offer = offer
        self.call = self.ua.dial(target, bytes(offer), now, self.target_peer)
        assert self.call is not None

    def answered(self, sdp: bytes, now: float) -> None:
        """The SDP answer: our DTLS role and baresip's pin; start the association(s)."""
        assert self.offer is not None
        answer = SessionDescription.parse(sdp)
        self.negotiated = process_answer(self.offer, answer)
        media = answer.media[self.negotiated.media_index]
        assert media.rtcp_mux is self.mux, f"rtcp-mux not as offered:\n{sdp.decode()}"
        parameters = remote_dtls_parameters(answer, media)
        assert parameters is not None, f"baresip answered without a=fingerprint:\n{sdp.decode()}"
        role = local_role(SetupRole.ACTPASS, parameters.setup, we_offered=True)
        self.start_associations(role, parameters, now)

    def incoming(self, call: IncomingCall, sdp: bytes, now: float) -> None:
        """baresip's offer (UDP/TLS/RTP/SAVPF, a=setup:actpass): answer active and start."""
        offer = SessionDescription.parse(sdp)
        # offer_answer accepts RTP/AVP and RTP/SAVP only: negotiate the codecs on a copy
        # that says RTP/SAVP, then answer with the offer's profile (RFC 3264 §6).
        as_savp = replace(
            offer,
            media=tuple(
                replace(media, proto="RTP/SAVP") if is_dtls_srtp(media) else media
                for media in offer.media
            ),
        )
        rtp_port = self.rtp.getsockname()[1]
        answer, negotiated = answer_offer(
            as_savp, MediaPolicy(codecs=("PCMU",)), LOCALHOST, rtp_port, 4712, 1
        )
        assert negotiated is not None
        media = offer.media[negotiated.media_index]
        assert is_dtls_srtp(media), f"baresip offered {media.proto}"
        self.negotiated = replace(negotiated, proto=media.proto)
        answered = replace(answer.media[negotiated.media_index], proto=media.proto)
        if self.mux:
            assert media.rtcp_mux, f"baresip did not offer rtcp-mux:\n{sdp.decode()}"
            answered = replace(answered, attributes=(*answered.attributes, Attribute("rtcp-mux")))
        answer = replace(answer, media=(answered,))
        parameters = remote_dtls_parameters(offer, media)
        assert parameters is not None, f"baresip offered no a=fingerprint:\n{sdp.decode()}"
        setup = answer_setup(parameters.setup)  # actpass -> active (RFC 5763 §5)
        answer = with_dtls_answer(answer, self.identity.fingerprint, setup)
        self.call = call
        call.answer(bytes(answer), now)
        self.ua.after_call_command(now)
        role = local_role(setup, parameters.setup, we_offered=False)
        self.start_associations(role, parameters, now)

    def start_associations(self, role: DtlsRole, parameters: DtlsParameters, now: float) -> None:
        """Our role and the far end's pin are known: one endpoint per association."""
        self.counters.events.append(("role", role, str(parameters.setup)))
        for association in self.associations.values():
            association.endpoint = DtlsSrtpEndpoint(
                role,
                self.identity.certificate,
                self.identity.private_key,
                select_fingerprints(parameters.fingerprints),
                suites=self.suites,
            )
            association.endpoint.start(now)
            for data in association.early:
                association.endpoint.receive_datagram(data, now)
            association.early.clear()
            self.dtls_events(association, now)

    def dtls_events(self, association: Association, now: float) -> None:
        assert association.endpoint is not None and self.negotiated is not None
        while (event := association.endpoint.next_event()) is not None:
            self.counters.events.append(event)
            if isinstance(event, DtlsEstablished):
                association.keys = event.keys
            elif isinstance(event, DtlsFailed):
                raise AssertionError(f"DTLS-SRTP failed: {event.error}")
        keys = [association.keys for association in self.associations.values()]
        if self.media is None and all(key is not None for key in keys) and not self.ended:
            self.start_media(keys, now)  # type: ignore[arg-type]

    def start_media(self, keys: list[SrtpKeys], now: float) -> None:
        """Both associations established: SRTP (and SRTCP) keys to the MediaSession."""
        assert self.negotiated is not None
        rtp_keys = keys[0]
        # RFC 5764 §4.1: without rtcp-mux, RTCP has a DTLS association (and keys) of its own.
        rtcp_keys = None if self.mux else keys[1]
        self.media = MediaSession(
            self.negotiated, self.source, self.sink, now, srtp=rtp_keys, srtcp=rtcp_keys
        )
        if self.mux:  # RFC 5761 §5.1.3: RTCP goes to the RTP port too
            self.media.rtcp_remote = self.media.remote
        self.srtcp_in = self.media.srtcp_in

    # -- I/O ------------------------------------------------------------------------------------

    def flush(self) -> None:
        for action in self.ua.actions():
            self.sip.sendto(action.data, (action.destination.host, action.destination.port))
        if self.negotiated is None:
            return
        sdp_remotes = {
            self.rtp: (self.negotiated.remote_address, self.negotiated.remote_port),
            self.rtcp: (
                self.negotiated.remote_rtcp_address,
                self.negotiated.remote_rtcp_port or self.negotiated.remote_port + 1,
            ),
        }
        for sock, association in self.associations.items():
            if association.endpoint is None:
                continue
            for data in association.endpoint.datagrams_to_send():
                self.counters.dtls_out += 1
                sock.sendto(data, association.remote or sdp_remotes[sock])

    def receive(self, sock: socket.socket, now: float) -> None:
        while True:
            try:
                data, source = sock.recvfrom(65536)
            except BlockingIOError:
                return
            if sock is self.sip:
                self.ua.receive_datagram(data, Peer(Transport.UDP, *source), now)
                self.sip_events(now)
            else:
                self.media_datagram(sock, data, source, now)

    def media_datagram(
        self, sock: socket.socket, data: bytes, source: tuple[str, int], now: float
    ) -> None:
        """RFC 7983 §7: the first octet says DTLS (20-63) or RTP/RTCP (128-191)."""
        kind = classify_datagram(data)
        association = self.associations.get(sock)
        if kind is DatagramKind.DTLS and association is not None:
            self.counters.dtls_in += 1
            if association.endpoint is None:
                if len(association.early) < 8:
                    association.early.append(data)
                return
            association.remote = source
            association.endpoint.receive_datagram(data, now)
            self.dtls_events(association, now)
        elif kind is DatagramKind.RTP:
            if self.media is None:
                self.counters.srtp_before_keys += 1  # no keys yet: dropped, never played
            elif sock is self.rtcp or (self.mux and looks_like_rtcp(data)):
                self.counters.rtcp_in += 1
                if len(self.counters.rtcp_packets) < 20:
                    self.counters.rtcp_packets.append(data)
                self.media.receive_rtcp(data, source, now)
            else:
                self.counters.rtp_in += 1
                self.media.receive_rtp(data, source, now)
        else:
            self.counters.other += 1

    def sip_events(self, now: float) -> None:
        for event in self.ua.call_events():
            self.counters.events.append(type(event).__name__)
            if isinstance(event, CallAnswered):
                assert event.sdp is not None
                self.answered(event.sdp, now)
            elif isinstance(event, IncomingCallReceived):
                assert event.sdp is not None and isinstance(event.call, IncomingCall)
                self.incoming(event.call, event.sdp, now)
            elif isinstance(event, CallEnded):
                self.ended = True

    def send_media(self, now: float) -> None:
        if self.media is None:
            return
        for data, address in self.media.handle_timer(now):
            self.rtp.sendto(data, address)
        for data, address in self.media.rtcp_due(now):
            self.counters.rtcp_out += 1
            (self.rtp if self.mux else self.rtcp).sendto(data, address)

    def hang_up(self, now: float) -> None:
        """RTCP BYE, DTLS close_notify on every association, SIP BYE."""
        if self.media is not None:
            data, address = self.media.goodbye(now, "bye")
            self.counters.rtcp_out += 1
            (self.rtp if self.mux else self.rtcp).sendto(data, address)
        self.media = None
        for association in self.associations.values():
            if association.endpoint is not None:
                association.endpoint.close()
                self.dtls_events(association, now)
        assert self.call is not None
        self.call.hangup(now)
        self.ua.after_call_command(now)

    def run_until(self, deadline: float, done: Callable[[], bool]) -> None:
        """Drive everything until ``done()`` or ``deadline`` (monotonic seconds)."""
        while not done():
            now = time.monotonic()
            if now >= deadline:
                raise TimeoutError(f"the scripted call ran out of time: {self.counters}")
            endpoints = [a.endpoint for a in self.associations.values() if a.endpoint]
            timers = [deadline, self.ua.get_timer()]
            timers += [endpoint.get_timer() for endpoint in endpoints]
            if self.media is not None:
                timers.append(self.media.next_deadline())
            self.flush()
            wake = min(timer for timer in timers if timer is not None)
            for key, _ in self.selector.select(max(0.0, wake - now)):
                self.receive(key.fileobj, time.monotonic())  # type: ignore[arg-type]
            now = time.monotonic()
            if (timer := self.ua.get_timer()) is not None and now >= timer:
                self.ua.handle_timer(now)
                self.sip_events(now)
            for association in self.associations.values():
                endpoint = association.endpoint
                timer = endpoint.get_timer() if endpoint is not None else None
                if endpoint is not None and timer is not None and now >= timer:
                    endpoint.handle_timer(now)
                    self.dtls_events(association, now)
            if self.media is not None and now >= self.media.next_deadline():
                self.send_media(now)
            self.flush()

    def close(self) -> None:
        self.selector.close()
        for sock in (self.sip, self.rtp, self.rtcp):
            with contextlib.suppress(OSError):
                sock.close()


def write_wav(path: Path, pcm: bytes) -> None:
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(pcm)


@pytest.mark.parametrize(
    ("direction", "suites", "expected", "mux"),
    [
        # We call; baresip answers active, so we are the DTLS server and pick the profile.
        # baresip's default: RTCP on its own port, with its own DTLS association.
        ("outgoing", ("AES_CM_128_HMAC_SHA1_80",), "AES_CM_128_HMAC_SHA1_80", False),
        ("outgoing", ("AEAD_AES_128_GCM", "AES_CM_128_HMAC_SHA1_80"), "AEAD_AES_128_GCM", True),
        # baresip calls; we answer active: we are the DTLS client, baresip (libre) picks.
        ("incoming", ("AEAD_AES_256_GCM",), "AEAD_AES_256_GCM", False),
        # libre 1.1 protects SRTCP with a 32-bit tag under this profile (RFC 3711 §5.2 and
        # RFC 5764 §4.1.2 want 80 bits, as we and libsrtp do): SRTP works, SRTCP does not.
        ("incoming", ("AES_CM_128_HMAC_SHA1_32",), "AES_CM_128_HMAC_SHA1_32", True),
    ],
    ids=[
        "we-call-aes-cm-80-rtcp-own-port",
        "we-call-aead-aes-128-gcm-rtcp-mux",
        "baresip-calls-aead-aes-256-gcm-rtcp-own-port",
        "baresip-calls-aes-cm-32-rtcp-mux",
    ],
)
def test_dtls_srtp_call_with_baresip_audio_both_ways(
    tmp_path: Path, direction: str, suites: tuple[str, ...], expected: str, mux: bool
) -> None:
    started = time.monotonic()
    bob = BaresipPeer(
        tmp_path / "baresip",
        tone_hz=BARESIP_TONE,
        account="<sip:bob@127.0.0.1>;regint=0;answermode=auto;mediaenc=dtls_srtp",
        modules=("dtls_srtp.so",),
        extra_config=f"rtcp_mux\t\t{'yes' if mux else 'no'}\n",
    )
    phone = DtlsPhone(bob.sip_port, suites=suites, mux=mux)
    try:
        with bob:
            deadline = time.monotonic() + CALL_BUDGET
            if direction == "outgoing":
                phone.dial(SipUri.parse(bob.uri), time.monotonic())
            else:
                bob.command("dial", f"sip:alice@{LOCALHOST}:{phone.sip_port}")
            phone.run_until(deadline, lambda: phone.media is not None)
            # At least AUDIO_SECONDS of audio, and one RTCP report each way (their first
            # comes after a random 1.25-3.75 s, RFC 3550 §6.2): SRTCP is checked too.
            audio_until = time.monotonic() + AUDIO_SECONDS
            phone.run_until(
                deadline,
                lambda: (
                    time.monotonic() >= audio_until
                    and phone.counters.rtcp_out >= 1
                    and phone.counters.rtcp_in >= 1
                ),
            )
            # A moment more, so that our last report is read before baresip sees the BYE.
            settled = time.monotonic() + 0.5
            phone.run_until(deadline, lambda: time.monotonic() >= settled)
            received = phone.counters.rtp_in
            assert phone.srtcp_in is not None
            srtcp_decrypted = phone.srtcp_in.stats.rtcp_unprotected
            srtcp_failures = phone.srtcp_in.stats.auth_failures
            reports_sent = phone.counters.rtcp_out
            phone.hang_up(time.monotonic())
            phone.run_until(deadline, lambda: phone.ended)
            bob.wait_event("CALL_CLOSED")
    finally:
        phone.close()
    log = bob.log_tail(1_000_000)
    events = phone.counters.events
    established = [event for event in events if isinstance(event, DtlsEstablished)]
    assert len(established) == (1 if mux else 2), events
    assert {event.keys.suite for event in established} == {expected}
    # RFC 5763 §5: the answerer is active (the DTLS client).
    ours = "passive" if direction == "outgoing" else "active"
    theirs = "active" if direction == "outgoing" else "actpass"
    assert ("role", ours, theirs) in events, events
    assert sum(isinstance(event, DtlsClosed) for event in events) == len(established)
    # baresip's side of the same facts, from its log.
    assert "dtls_srtp: verified sha-256 fingerprint OK" in log
    assert f"DTLS-SRTP complete (audio/RTP) Profile={expected}" in log
    if mux:
        assert "RTP/RTCP multiplexing enabled" in log
    else:
        assert f"DTLS-SRTP complete (audio/RTCP) Profile={expected}" in log
    assert "failed to decrypt RTP" not in log, log
    assert received >= 100, f"only {received} SRTP packets from baresip\n{log}"
    assert reports_sent >= 1, phone.counters
    if expected == "AES_CM_128_HMAC_SHA1_32":
        # libre's 32-bit SRTCP tag (src/srtp/srtp.c: one auth_bytes for RTP and RTCP):
        # each side refuses the other's SRTCP — and says so.
        assert "failed to decrypt RTCP-packet" in log
        assert srtcp_decrypted == 0 and srtcp_failures >= 1, phone.counters
        # The proof: baresip's SRTCP authenticates with a 4-octet tag under the same keys.
        inbound = established[0].keys.inbound
        short_tag = SrtpPolicy(
            replace(inbound.suite, rtcp_tag_length=4), inbound.master_key, inbound.master_salt
        )
        # (baresip also sends RTCP in clear at times — an APP "PING" or a BYE while it
        # re-sets its RTCP — which authenticates under no key: hence "any".)
        verified = []
        for packet in phone.counters.rtcp_packets:
            with contextlib.suppress(SrtpError):
                verified.append(SrtpSession(short_tag).unprotect_rtcp(packet))
        assert verified, phone.counters
    else:
        # SRTCP both ways: baresip's decrypted with the (RTCP association's) keys; ours
        # (at least the BYE) not refused by baresip.
        assert "failed to decrypt" not in log, log
        assert srtcp_decrypted >= 1, phone.counters
    heard = tmp_path / "phoneagent-heard.wav"
    write_wav(heard, bytes(phone.heard))
    assert_clean_audio(heard, BARESIP_TONE, PHONE_TONE, "phoneagent heard")
    assert_clean_audio(newest(bob.recordings_of("dec")), PHONE_TONE, BARESIP_TONE, "baresip heard")
    assert time.monotonic() - started < 30
