"""The SIP side of the phone's calls: one ``ActiveCall`` per line, and each call's media.

Application wiring in the spirit of ``app.py`` (one asyncio loop owns the I/O).
Commands come from the phone's state machine by line number (place, answer,
reject, hang up, hold, resume, DTMF); SIP call events from
``UserAgent.call_events()`` become the machine's inputs (``IncomingCall``,
``CallProgressed``, ``CallAnswered``, ``CallEnded``) and console ``event`` lines.
A call's RTP ports are opened when its SDP is built, its ``MediaSession`` starts
once offer and answer are both known (audio from the handset's microphone, into
the earpiece), and everything is closed — and the call written to the history —
when the call ends.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from phoneagent.aio.resolver import locate
from phoneagent.aio.rtp_transport import RtpPorts
from phoneagent.call_security import MediaSecurity
from phoneagent.config import DTLS_SUITES, Config
from phoneagent.dtls_call import EARLY_DATAGRAMS, Component, DtlsCallMedia
from phoneagent.history import CallHistory, CallRecord, HistoryFormatError
from phoneagent.media.dtls_srtp import is_dtls
from phoneagent.media.dtmf import DtmfError, DtmfRelay
from phoneagent.media.session import MediaSession
from phoneagent.media.srtp_keys import SrtpPolicy
from phoneagent.phone import events as phone
from phoneagent.sdp.dtls import (
    DTLS_PROTOS,
    DtlsRole,
    Fingerprint,
    SetupRole,
    with_dtls_answer,
    with_dtls_offer,
)
from phoneagent.sdp.model import SessionDescription
from phoneagent.sdp.offer_answer import (
    MediaPolicy,
    NegotiatedMedia,
    answer_offer,
    build_offer,
    process_answer,
)
from phoneagent.sdp.sdes import (
    CryptoLine,
    SrtpKeys,
    keys_from_answer,
    with_crypto_answer,
    with_crypto_offer,
)
from phoneagent.sip.errors import RemoteProtocolError
from phoneagent.sip.invite import (
    CallAcknowledged,
    CallAnswered,
    CallEnded,
    CallProgress,
    CallRinging,
    IncomingCall,
    IncomingCallReceived,
    InfoReceived,
    OutgoingCall,
    ReofferAnswered,
    ReofferReceived,
    ReofferRejected,
)
from phoneagent.sip.transport import Peer, Transport
from phoneagent.sip.ua import UserAgent
from phoneagent.sip.uri import SipUri, TelUri, Uri, parse_uri

log = logging.getLogger(__name__)

Emit = Callable[..., None]  # (event name, **fields) to the console
Report = Callable[[phone.PhoneInput], None]  # to the phone's state machine
#: Final responses meaning "no such number" (RFC 3261 §21.4.5, .11, .17, §21.6.4).
UNOBTAINABLE_CODES = frozenset({404, 410, 484, 604})


@dataclass(frozen=True, slots=True)
class CallAudio:
    """The handset as calls see it: the microphone to send and the earpiece to play into."""

    microphone: Callable[[int, int], bytes]  # (line, samples): silence unless the handset
    # carries that line (a held or waiting call hears nothing of the room)
    earpiece: Callable[[int, bytes], None]  # (line, PCM)
    capture_backlog: Callable[[int], int | None] = lambda line: None  # the card's clock


@dataclass
class ActiveCall:
    line: int
    call: OutgoingCall | IncomingCall
    started: float = field(default_factory=time.time)  # wall clock, for the history
    connected_at: float | None = None  # loop time
    ports: RtpPorts | None = None
    offer: SessionDescription | None = None  # ours, when we offered
    remote_offer: SessionDescription | None = None  # theirs, when they offered
    reoffer: SessionDescription | None = None  # our hold/resume offer in flight
    media: MediaSession | None = None
    timer: asyncio.TimerHandle | None = None
    version: int = 1
    session_id: int = field(default_factory=lambda: random.randrange(1, 2**31))
    offered_keys: dict[int, SrtpPolicy] = field(default_factory=dict)  # by a=crypto tag
    srtp: SrtpKeys | None = None
    crypto_tag: int = 1
    answering: bool = False
    dtls: DtlsCallMedia | None = None  # DTLS-SRTP handshakes, when the call keys that way
    dtls_setup: SetupRole | None = None  # our a=setup once the roles are settled
    early_dtls: list[tuple[Component, bytes, tuple[str, int]]] = field(default_factory=list)

    @property
    def direction(self) -> str:
        return "incoming" if isinstance(self.call, IncomingCall) else "outgoing"


class CallControl:
    def __init__(
        self,
        config: Config,
        ua: UserAgent,
        report: Report,
        emit: Emit,
        pump: Callable[[], None],
        *,
        audio: CallAudio,
        new_line: Callable[[], int],
        history: CallHistory | None = None,
    ) -> None:
        self.config = config
        self.ua = ua
        self.report = report
        self.emit = emit
        self.pump = pump
        self.audio = audio
        self.new_line = new_line
        self.history = history
        self.loop = asyncio.get_running_loop()
        self.policy = MediaPolicy(
            codecs=config.media.codecs, ptime=config.media.ptime, rtcp_mux=config.media.rtcp_mux
        )
        self.lines: dict[int, ActiveCall] = {}
        self._placing: set[int] = set()  # PlaceCall taken, INVITE not sent yet
        self._abandoned: set[int] = set()  # of those, hung up meanwhile
        self.security = MediaSecurity(config.account, config.media)

    @property
    def state(self) -> str:
        if not self.lines:
            return "idle"
        if any(active.media is not None for active in self.lines.values()):
            return "connected"
        return "setup"

    def connected_line(self) -> ActiveCall | None:
        return next((a for a in self.lines.values() if a.media is not None), None)

    # -- commands of the phone's state machine -------------------------------------------------

    def execute(self, command: phone.PhoneCommand) -> None:
        now = self.loop.time()
        if isinstance(command, phone.PlaceCall):
            self._placing.add(command.line)
            self.loop.create_task(self._place(command.line, command.target))
            return
        active = self.lines.get(getattr(command, "line", -1))
        if active is None:
            if isinstance(command, phone.HangUpCall) and command.line in self._placing:
                # Put down while the INVITE waits for DNS or ports: it must never go out.
                self._abandoned.add(command.line)
            else:
                log.debug("%s for a line without a call", command)
            return
        if isinstance(command, phone.AnswerCall):
            if not active.answering and active.media is None:
                active.answering = True
                self.loop.create_task(self._answer(active))
        elif isinstance(command, phone.RejectCall):
            if isinstance(active.call, IncomingCall):
                active.call.reject(command.code, now)
        elif isinstance(command, phone.HangUpCall):
            active.call.hangup(now)
        elif isinstance(command, phone.HoldCall):
            self._reoffer(active, "sendonly", now)
        elif isinstance(command, phone.ResumeCall):
            self._reoffer(active, "sendrecv", now)
        elif isinstance(command, phone.SendDtmf):
            self._send_dtmf(active, command.digit)
        self.ua.after_call_command(now)
        self.pump()

    def send_dtmf(self, digits: str) -> str | None:
        """Console ``dtmf``: in the connected call; an error text or None."""
        active = self.connected_line()
        if active is None:
            return "no-call"
        return self._send_dtmf(active, digits)

    def _send_dtmf(self, active: ActiveCall, digits: str) -> str | None:
        if active.media is None:
            return "no-call"
        try:
            active.media.send_dtmf(digits, self.loop.time())
        except (ValueError, DtmfError) as error:
            return f"bad-digits {error}"
        self._arm_media(active)
        return None

    def target_of(self, text: str) -> Uri:
        """Digits go to ``sip:DIGITS@<the account's domain[:port]>``, ``+E.164`` and ``tel:`` to
        ``sip:…;user=phone`` there (RFC 3261 §19.1.6); ``sip:``/``sips:`` as they are."""
        account = self.config.account.uri
        host, port = account.host, account.port
        if text.startswith("+") and text[1:].isdigit():
            return TelUri(text).to_sip(host, port)
        if text.replace("*", "").replace("#", "").isdigit():
            return parse_uri(f"sip:{text.replace('#', '%23')}@{account.host_port}")
        uri = parse_uri(text)
        if isinstance(uri, TelUri):
            return uri.to_sip(host, port)
        if not isinstance(uri, SipUri):
            raise RemoteProtocolError(f"cannot call a {uri.scheme}: URI", 416)
        return uri

    # -- call set-up ---------------------------------------------------------------------------

    async def _open_ports(self, line: int) -> RtpPorts:
        def on_rtp(data: bytes, source: tuple[str, int], now: float) -> None:
            active = self.lines.get(line)
            if active is None or self._dtls_datagram(active, "rtp", data, source):
                return
            if active.media is None:
                return
            # RFC 5761 §4: with rtcp-mux, RTCP packet types 192..223 share the RTP port.
            if active.media.negotiated.rtcp_mux and len(data) > 1 and 192 <= data[1] <= 223:
                active.media.receive_rtcp(data, source, now)
            else:
                active.media.receive_rtp(data, source, now)
                self._media_events(active)

        def on_rtcp(data: bytes, source: tuple[str, int], now: float) -> None:
            active = self.lines.get(line)
            if active is None or self._dtls_datagram(active, "rtcp", data, source):
                return
            if active.media is not None:
                active.media.receive_rtcp(data, source, now)

        return await RtpPorts.open(self.ua.local.host, self.config.media.rtp_ports, on_rtp, on_rtcp)

    async def _next_hop(self, target: Uri) -> Peer | None:
        """RFC 3261 §8.1.2: the outbound proxy if configured, else the target's own server."""
        account = self.config.account
        if account.outbound_proxy is not None or not isinstance(target, SipUri):
            return None  # the UA's target: the outbound proxy (or registrar)
        if account.register and target.port is None and target.host == account.uri.host:
            # Our own domain, which the registrar serves: DNS would find the same server
            # (RFC 3263); a number dialled on the keypad lands here.
            return None
        transport = Transport(account.transport)
        nameservers = [(server.host, server.port) for server in self.config.network.dns_servers]
        targets = await locate(target, {transport}, transport, nameservers or None)
        return next(iter(targets), None)

    def _failed(self, line: int, reason: str, code: int | None, why: str) -> None:
        log.warning("call on line %d not placed: %s", line, why)
        self.report(phone.CallEnded(line, reason, code))
        fields: dict[str, object] = {"reason": reason, "line": line}
        if code is not None:
            fields["code"] = code
        self.emit("ended", **fields)
        self.pump()

    async def _place(self, line: int, text: str) -> None:
        try:
            await self._place_now(line, text)
        finally:
            self._placing.discard(line)
            self._abandoned.discard(line)

    async def _place_now(self, line: int, text: str) -> None:
        try:
            target = self.target_of(text)
        except RemoteProtocolError as error:
            self._failed(line, "unobtainable", None, f"{text!r} is no target: {error.reason}")
            return
        if self.security.mode == "refuse":
            self._failed(line, "failed", 488, "SRTP is mandatory but signalling is not TLS")
            return
        if isinstance(target, SipUri) and target.is_secure and self.security.mode != "mandatory":
            self._failed(line, "failed", 488, "a sips: call needs TLS and SRTP end to end")
            return
        destination = await self._next_hop(target)
        ports = await self._open_ports(line)
        if line in self._abandoned:
            ports.close()
            log.info("line %d: hung up before the INVITE went out", line)
            return
        session_id = random.randrange(1, 2**31)
        offer, offered_keys = self._make_offer(ports, session_id)
        call = self.ua.dial(target, bytes(offer), self.loop.time(), destination)
        if call is None:
            ports.close()
            self._failed(line, "failed", 503, "no server to send the INVITE to")
            return
        self.lines[line] = ActiveCall(
            line,
            call,
            ports=ports,
            offer=offer,
            session_id=session_id,
            offered_keys=offered_keys,
        )
        self.emit("calling", line=line, target=str(target))
        self.pump()

    def _make_offer(
        self, ports: RtpPorts, session_id: int
    ) -> tuple[SessionDescription, dict[int, SrtpPolicy]]:
        """Our offer (RFC 3264 §5), keyed the way the account's SRTP policy says."""
        offer = build_offer(self.policy, self.ua.local.host, ports.rtp_port, session_id, 1)
        offered_keys: dict[int, SrtpPolicy] = {}
        if self.security.mode in ("optional", "mandatory") and self.security.keying == "dtls":
            # DTLS-SRTP has no "optional": UDP/TLS/RTP/SAVP is SRTP or nothing (RFC 5764 §8).
            offer = with_dtls_offer(offer, self.security.fingerprint)
        elif self.security.mode in ("optional", "mandatory"):
            offer, offered_keys = with_crypto_offer(
                offer,
                self.config.media.srtp_suites,
                secure_profile=self.security.mode == "mandatory",
            )
        return offer, offered_keys

    async def _answer(self, active: ActiveCall) -> None:
        assert isinstance(active.call, IncomingCall)
        ports = await self._open_ports(active.line)
        if self.lines.get(active.line) is not active:  # the caller gave up meanwhile
            ports.close()
            return
        active.ports = ports
        if active.remote_offer is None:
            # RFC 3261 §13.2.1: an INVITE without an offer: ours goes in the 200 OK and the
            # answer comes in the ACK (CallAcknowledged).
            active.offer, active.offered_keys = self._make_offer(ports, active.session_id)
            active.call.answer(bytes(active.offer), self.loop.time())
            self.ua.after_call_command(self.loop.time())
            self.emit("connected", line=active.line)
            self.report(phone.CallAnswered(active.line))
            self.pump()
            return
        try:
            answer, negotiated = answer_offer(
                active.remote_offer,
                self.policy,
                self.ua.local.host,
                ports.rtp_port,
                active.session_id,
                active.version,
            )
            dtls_role = None
            if negotiated is not None and negotiated.proto.upper() in DTLS_PROTOS:
                answer, dtls_role, fingerprints = self.security.answer_dtls(
                    active.remote_offer, answer, negotiated
                )
            elif negotiated is not None:
                answer, active.srtp = self.security.answer_sdes(answer, negotiated)
        except RemoteProtocolError as error:
            log.warning("cannot answer the offer: %s", error.reason)
            active.call.reject(error.status_hint or 488, self.loop.time())
            self.ua.after_call_command(self.loop.time())
            self.pump()
            return
        active.call.answer(bytes(answer), self.loop.time())
        self.ua.after_call_command(self.loop.time())
        if negotiated is not None and dtls_role is not None:
            self._start_dtls(active, dtls_role, fingerprints, negotiated)
        elif negotiated is not None:
            self._start_media(active, negotiated)
        self.emit("connected", line=active.line)
        self.report(phone.CallAnswered(active.line))
        self.pump()

    # -- call events ---------------------------------------------------------------------------

    def _line_of(self, call: object) -> ActiveCall | None:
        return next((a for a in self.lines.values() if a.call is call), None)

    def handle_event(self, event: object) -> None:
        now = self.loop.time()
        log.debug("call event %s", type(event).__name__)
        if isinstance(event, IncomingCallReceived) and isinstance(event.call, IncomingCall):
            self._incoming(event.call, event.sdp, now)
            return
        active = self._line_of(getattr(event, "call", None))
        if active is None:
            return
        if isinstance(event, CallRinging):
            self.emit("ringing", line=active.line)
            self.report(phone.CallProgressed(active.line, early_media=bool(event.early_media_sdp)))
        elif isinstance(event, CallProgress) and event.early_media_sdp:
            self.report(phone.CallProgressed(active.line, early_media=True))
        elif isinstance(event, CallAnswered):
            self._answered(active, event, now)
        elif isinstance(event, CallAcknowledged):
            self._acknowledged(active, event, now)
        elif isinstance(event, ReofferReceived):
            self._reoffer_received(active, event, now)
        elif isinstance(event, ReofferAnswered):
            self._reoffer_answered(active, event)
        elif isinstance(event, ReofferRejected):
            log.warning("line %d: re-INVITE refused with %d", active.line, event.code)
            active.reoffer = None
        elif isinstance(event, InfoReceived):
            if event.content_type.lower() == DtmfRelay.CONTENT_TYPE:
                try:
                    self.emit("dtmf", digit=DtmfRelay.parse(event.body).digit, line=active.line)
                except (DtmfError, RemoteProtocolError):
                    log.info("unreadable dtmf-relay body")
        elif isinstance(event, CallEnded):
            self._ended(active, event)

    def _answered(self, active: ActiveCall, event: CallAnswered, now: float) -> None:
        if active.offer is None or not event.sdp or active.media is not None:
            return
        if self._take_answer(active, event.sdp, now):
            self.emit("connected", line=active.line)
            self.report(phone.CallAnswered(active.line))

    def _acknowledged(self, active: ActiveCall, event: CallAcknowledged, now: float) -> None:
        """The ACK to our 200 OK: it carries the answer when we made the offer (§13.2.1)."""
        if active.direction != "incoming" or active.remote_offer is not None:
            return
        if active.offer is None or active.media is not None or active.dtls is not None:
            return
        if not event.sdp:
            log.warning("line %d: the ACK brought no answer to our offer: hanging up", active.line)
            active.call.hangup(now)
            return
        self._take_answer(active, event.sdp, now)

    def _take_answer(self, active: ActiveCall, sdp: bytes, now: float) -> bool:
        """The far end's answer to our offer: start the media (or DTLS); False if unusable
        (then the call is hung up)."""
        assert active.offer is not None
        dtls: tuple[DtlsRole, tuple[Fingerprint, ...]] | None = None
        try:
            answer = SessionDescription.parse(sdp)
            negotiated = process_answer(active.offer, answer)
            if negotiated.proto.upper() in DTLS_PROTOS:
                dtls = self.security.dtls_of_answer(answer, negotiated)
            elif active.offered_keys:
                active.srtp = keys_from_answer(negotiated.crypto, active.offered_keys)
                if active.srtp is not None:
                    active.crypto_tag = next(
                        tag
                        for tag, policy in active.offered_keys.items()
                        if policy is active.srtp.outbound
                    )
            if active.srtp is None and dtls is None and self.security.mode == "mandatory":
                raise RemoteProtocolError("the far end answered without SRTP", 488)
        except RemoteProtocolError as error:
            log.warning("unusable answer: %s", error.reason)
            active.call.hangup(now)
            return False
        if dtls is not None:
            self._start_dtls(active, dtls[0], dtls[1], negotiated)
        else:
            self._start_media(active, negotiated)
        return True

    def _incoming(self, call: IncomingCall, sdp: bytes | None, now: float) -> None:
        remote_offer = None
        if sdp:
            try:
                remote_offer = SessionDescription.parse(sdp)
            except RemoteProtocolError:
                call.reject(400, now)
                return
        active = ActiveCall(self.new_line(), call, remote_offer=remote_offer)
        self.lines[active.line] = active
        call.ring(now)
        caller = str(call.remote_identity.uri)
        self.emit("incoming", **{"from": caller, "line": active.line})
        self.report(phone.IncomingCall(active.line, caller))

    # -- re-INVITEs: theirs and ours (hold, resume) ----------------------------------------------

    def _reoffer(self, active: ActiveCall, direction: str, now: float) -> None:
        """Hold (``sendonly``, RFC 3264 §8.4) or resume (``sendrecv``) with a new offer that
        keeps our SRTP key: a new context with the same key would reuse keystream."""
        if active.ports is None or active.media is None:
            return
        active.version += 1
        offer = build_offer(
            self.policy,
            self.ua.local.host,
            active.ports.rtp_port,
            active.session_id,
            active.version,
            direction=direction,
        )
        if active.dtls is not None and active.dtls_setup is not None:
            # The same association goes on: our settled role and fingerprint (RFC 5763 §5).
            proto = active.media.negotiated.proto
            fingerprint = self.security.fingerprint
            offer = with_dtls_offer(offer, fingerprint, setup=active.dtls_setup, proto=proto)
        elif active.srtp is not None:
            crypto = CryptoLine(
                active.crypto_tag, active.srtp.suite, active.srtp.outbound.to_sdes_inline()
            )
            offer = with_crypto_answer(offer, crypto)
            offer = replace(
                offer,
                media=tuple(
                    replace(entry, proto=active.media.negotiated.proto) for entry in offer.media
                ),
            )
        if active.call.reoffer(bytes(offer), now):
            active.reoffer = offer
            log.info("line %d: %s", active.line, "hold" if direction == "sendonly" else "resume")
        else:
            log.warning("line %d: cannot re-offer now (an offer is pending)", active.line)

    def _reoffer_answered(self, active: ActiveCall, event: ReofferAnswered) -> None:
        offer, active.reoffer = active.reoffer, None
        if offer is None or not event.sdp or active.media is None:
            return
        try:
            negotiated = process_answer(offer, SessionDescription.parse(event.sdp))
        except RemoteProtocolError as error:
            log.warning("line %d: unusable answer to our re-offer: %s", active.line, error.reason)
            return
        active.media.update(negotiated)

    def _reoffer_received(self, active: ActiveCall, event: ReofferReceived, now: float) -> None:
        if active.ports is None or not event.sdp:
            event.call.reject_reoffer(now)
            return
        try:
            offer = SessionDescription.parse(event.sdp)
            active.version += 1
            answer, negotiated = answer_offer(
                offer,
                self.policy,
                self.ua.local.host,
                active.ports.rtp_port,
                active.session_id,
                active.version,
            )
            rekey = None
            if active.dtls is not None and active.dtls_setup is not None:
                answer = with_dtls_answer(answer, self.security.fingerprint, active.dtls_setup)
            elif negotiated is not None and active.srtp is not None:
                answer, rekey = self.security.rekey_sdes(answer, negotiated, active.srtp)
        except RemoteProtocolError:
            event.call.reject_reoffer(now)
            return
        event.call.accept_reoffer(bytes(answer), now)
        if negotiated is not None and active.media is not None:
            active.media.update(negotiated)
            if rekey is not None:
                active.srtp = rekey
                active.media.rekey_inbound(rekey.inbound)
        self.ua.after_call_command(now)

    # -- DTLS-SRTP (RFC 5763/5764) ---------------------------------------------------------------

    def _dtls_datagram(
        self, active: ActiveCall, component: Component, data: bytes, source: tuple[str, int]
    ) -> bool:
        """RFC 7983: a first byte of 20..63 is DTLS; True when this one was taken here."""
        if not data or not is_dtls(data[0]):
            return False
        if active.dtls is not None:
            active.dtls.receive(component, data, source)
        elif len(active.early_dtls) < EARLY_DATAGRAMS and active.srtp is None:
            active.early_dtls.append((component, data, source))  # before we read the answer
        return True

    def _start_dtls(
        self,
        active: ActiveCall,
        role: DtlsRole,
        fingerprints: tuple[Fingerprint, ...],
        negotiated: NegotiatedMedia,
    ) -> None:
        """The handshakes on both ports; media starts when both have keys."""
        assert active.ports is not None
        ports = active.ports
        active.dtls_setup = SetupRole.ACTIVE if role == "active" else SetupRole.PASSIVE
        active.connected_at = self.loop.time()
        active.dtls = DtlsCallMedia(
            self.loop,
            role,
            self.security.dtls_certificate,
            remote_fingerprints=fingerprints,
            send={"rtp": ports.send_rtp, "rtcp": ports.send_rtcp},
            peers={
                "rtp": (negotiated.remote_address, negotiated.remote_port),
                "rtcp": negotiated.remote_rtcp,
            },
            # RFC 5764 §4.1: with rtcp-mux one association keys RTP and RTCP alike.
            components=("rtp",) if negotiated.rtcp_mux else ("rtp", "rtcp"),
            suites=[s for s in self.config.media.srtp_suites if s in DTLS_SUITES],
            on_ready=lambda rtp, rtcp: self._dtls_ready(active, negotiated, rtp, rtcp),
            on_failed=lambda why: self._dtls_failed(active, why),
        )
        early, active.early_dtls = active.early_dtls, []
        active.dtls.start(early)

    def _dtls_ready(
        self,
        active: ActiveCall,
        negotiated: NegotiatedMedia,
        rtp: SrtpKeys,
        rtcp: SrtpKeys | None,
    ) -> None:
        if self.lines.get(active.line) is not active or active.media is not None:
            return
        active.srtp = rtp
        self._start_media(active, negotiated, srtcp=rtcp)

    def _dtls_failed(self, active: ActiveCall, why: str) -> None:
        """A wrong certificate or a handshake that never finished: hang up, never clear."""
        if self.lines.get(active.line) is not active:
            return
        log.warning("line %d: DTLS-SRTP failed (%s): hanging up", active.line, why)
        active.call.hangup(self.loop.time())
        self.ua.after_call_command(self.loop.time())
        self.pump()

    # -- the end of a call ---------------------------------------------------------------------

    def _ended(self, active: ActiveCall, event: CallEnded) -> None:
        self.lines.pop(active.line, None)
        media_fields = self._release(active)
        reason = str(event.reason)
        if reason == "no-answer":
            reason = "timeout"
        elif reason == "failed" and event.code in UNOBTAINABLE_CODES:
            reason = "unobtainable"
        self.report(phone.CallEnded(active.line, reason, event.code))
        fields: dict[str, object] = {"reason": str(event.reason), "line": active.line}
        if event.code is not None:
            fields["code"] = event.code
        self.emit("ended", **fields)
        self._write_history(active, reason, event.code, media_fields)

    def _release(self, active: ActiveCall) -> dict[str, object]:
        """Stop the media (RTCP BYE), close the ports; the call's media statistics."""
        if active.timer is not None:
            active.timer.cancel()
            active.timer = None
        statistics: dict[str, object] = {}
        if active.media is not None and active.ports is not None:
            data, destination = active.media.goodbye(self.loop.time())
            self._send_rtcp(active, data, destination)
            stats = active.media.call_statistics()
            log.info("call statistics: %s", stats)
            statistics = {
                "packets_sent": stats.packets_sent,
                "packets_received": stats.packets_received,
                "packets_lost": stats.packets_lost,
                "jitter_ms": round(stats.jitter_ms, 2),
                "round_trip_time_ms": stats.round_trip_time_ms,
                "frames_concealed": stats.frames_concealed,
                "codec": active.media.codec.name,
                "srtp": active.srtp.suite if active.srtp is not None else None,
                "keying": ("dtls" if active.dtls else "sdes") if active.srtp else None,
                "srtp_dropped": active.media.srtp_dropped,
            }
        if active.dtls is not None:
            active.dtls.close()  # close_notify after the RTCP BYE (RFC 5764 §4.1)
        if active.ports is not None:
            active.ports.close()
        return statistics

    def _write_history(
        self, active: ActiveCall, reason: str, code: int | None, media: dict[str, object]
    ) -> None:
        if self.history is None:
            return
        if active.direction == "incoming" and active.connected_at is None:
            # Never answered: the caller gave up (missed) or we refused (DND, busy, decline).
            reason = "rejected" if reason == "local-hangup" else "missed"
        duration = 0.0
        if active.connected_at is not None:
            duration = round(self.loop.time() - active.connected_at, 3)
        record = CallRecord(
            time=datetime.fromtimestamp(active.started, UTC),
            direction="incoming" if isinstance(active.call, IncomingCall) else "outgoing",
            peer=str(active.call.remote_identity.uri),
            duration=duration,
            end_reason=reason,
            code=code,
            media=media,
        )
        try:
            self.history.append(record)
        except (OSError, HistoryFormatError) as error:
            # A full or read-only card must not take the phone down.
            log.error("cannot write the call history: %s", error)

    # -- media -------------------------------------------------------------------------------------

    def _start_media(
        self, active: ActiveCall, negotiated: NegotiatedMedia, srtcp: SrtpKeys | None = None
    ) -> None:
        line = active.line
        active.connected_at = self.loop.time()
        active.media = MediaSession(
            negotiated,
            lambda samples: self.audio.microphone(line, samples),
            lambda pcm: self.audio.earpiece(line, pcm),
            self.loop.time(),
            wall_clock=time.time,
            srtp=active.srtp,
            srtcp=srtcp,
            capture_backlog=lambda: self.audio.capture_backlog(line),
        )
        if active.srtp is not None:
            log.info("media encrypted with %s", active.srtp.suite)
        self._arm_media(active)

    @staticmethod
    def _send_rtcp(active: ActiveCall, data: bytes, destination: tuple[str, int]) -> None:
        """RTCP leaves from the RTCP port, or with rtcp-mux from the RTP port (RFC 5761)."""
        assert active.ports is not None and active.media is not None
        if active.media.negotiated.rtcp_mux:
            active.ports.send_rtp(data, destination)
        else:
            active.ports.send_rtcp(data, destination)

    def _arm_media(self, active: ActiveCall) -> None:
        if active.timer is not None:
            active.timer.cancel()
        if active.media is not None:
            active.timer = self.loop.call_at(active.media.next_deadline(), self._media_due, active)

    def _media_due(self, active: ActiveCall) -> None:
        active.timer = None
        if self.lines.get(active.line) is not active or active.media is None:
            return
        if active.ports is None:
            return
        now = self.loop.time()
        for data, destination in active.media.handle_timer(now):
            active.ports.send_rtp(data, destination)
        for data, destination in active.media.rtcp_due(now):
            self._send_rtcp(active, data, destination)
        self._media_events(active)
        self._arm_media(active)

    def _media_events(self, active: ActiveCall) -> None:
        if active.media is None:
            return
        while (event := active.media.next_event()) is not None:
            self.emit("dtmf", digit=event.digit, line=active.line)

    def close(self) -> None:
        """Hang up every call and release its media (shutdown)."""
        now = self.loop.time()
        for active in list(self.lines.values()):
            active.call.hangup(now)
            self._release(active)
        self.lines.clear()
