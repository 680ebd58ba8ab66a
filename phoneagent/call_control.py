"""Calls on the running phone: console commands, SIP call events, and each call's media.

Application wiring in the spirit of ``app.py`` (one asyncio loop owns the I/O):
``dial``/``answer``/``hangup``/``dtmf`` come from the console, call events from
``UserAgent.call_events()``; a call's RTP ports are opened when its SDP is built,
its ``MediaSession`` starts once offer and answer are both known, and everything
is closed when the call ends.  Until the handset lands, a call's audio comes from
``[media] play`` and what it receives is written to ``[media] record``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from phoneagent.aio.resolver import locate
from phoneagent.aio.rtp_transport import RtpPorts
from phoneagent.config import Config
from phoneagent.console import CommandResult
from phoneagent.media.dtmf import DtmfError, DtmfRelay
from phoneagent.media.session import MediaSession
from phoneagent.media.srtp_keys import SrtpPolicy, SrtpPolicyError
from phoneagent.media.tones import ToneGenerator, tone
from phoneagent.sdp.model import SessionDescription
from phoneagent.sdp.offer_answer import (
    MediaPolicy,
    NegotiatedMedia,
    answer_offer,
    build_offer,
    process_answer,
)
from phoneagent.sdp.sdes import (
    SECURE_PROFILE,
    CryptoLine,
    SrtpKeys,
    answer_crypto,
    keys_from_answer,
    with_crypto_answer,
    with_crypto_offer,
)
from phoneagent.sip.errors import RemoteProtocolError
from phoneagent.sip.invite import (
    CallAnswered,
    CallEnded,
    CallRinging,
    IncomingCall,
    IncomingCallReceived,
    InfoReceived,
    OutgoingCall,
    ReofferReceived,
)
from phoneagent.sip.transport import Peer, Transport
from phoneagent.sip.ua import UserAgent
from phoneagent.sip.uri import SipUri, TelUri, Uri, parse_uri

log = logging.getLogger(__name__)

Emit = Callable[..., None]  # (event name, **fields) to the console
TONE_RATE = 8000
#: The tone a user hears after a call that failed, by end reason, and for how long.
END_TONES = {"busy": "busy", "declined": "busy", "failed": "congestion"}
END_TONE_SECONDS = 1.0


def tone_source(frequency: float, sample_rate: int = 8000) -> Callable[[int], bytes]:
    """A phase-continuous sine at -10 dBm0-ish for the far end to detect."""
    position = 0
    step = 2 * math.pi * frequency / sample_rate

    def read(samples: int) -> bytes:
        nonlocal position
        values = [int(8000 * math.sin(step * (position + i))) for i in range(samples)]
        position += samples
        return b"".join(value.to_bytes(2, "little", signed=True) for value in values)

    return read


def file_source(path: Path) -> Callable[[int], bytes]:
    """Loop a WAV file (8 kHz mono 16-bit) or raw 16-bit little-endian PCM."""
    if path.suffix.lower() == ".wav":
        with wave.open(str(path), "rb") as audio:
            data = audio.readframes(audio.getnframes())
    else:
        data = path.read_bytes()
    data = data or b"\0\0"
    position = 0

    def read(samples: int) -> bytes:
        nonlocal position
        wanted = samples * 2
        out = bytearray()
        while len(out) < wanted:
            chunk = data[position : position + wanted - len(out)]
            out += chunk
            position = (position + len(chunk)) % len(data)
        return bytes(out)

    return read


@dataclass
class ActiveCall:
    call: OutgoingCall | IncomingCall
    ports: RtpPorts | None = None
    offer: SessionDescription | None = None  # ours, when we offered
    remote_offer: SessionDescription | None = None  # theirs, when they offered
    media: MediaSession | None = None
    timer: asyncio.TimerHandle | None = None
    recorder: wave.Wave_write | None = None
    version: int = 1
    session_id: int = field(default_factory=lambda: random.randrange(1, 2**31))
    offered_keys: dict[int, SrtpPolicy] = field(default_factory=dict)  # by a=crypto tag
    srtp: SrtpKeys | None = None
    progress: ToneGenerator | None = None  # a call-progress tone the user hears now
    progress_timer: asyncio.TimerHandle | None = None


class CallControl:
    def __init__(self, config: Config, ua: UserAgent, emit: Emit, pump: Callable[[], None]) -> None:
        self.config = config
        self.ua = ua
        self.emit = emit
        self.pump = pump
        self.loop = asyncio.get_running_loop()
        self.policy = MediaPolicy(codecs=config.media.codecs, ptime=config.media.ptime)
        self.active: ActiveCall | None = None
        self.srtp_mode = self._srtp_mode()

    def _srtp_mode(self) -> str:
        """The account's SRTP mode, downgraded to "off" when the keys would travel in clear."""
        mode = self.config.account.srtp
        over_tls = self.config.account.transport == "tls"
        if mode != "off" and not over_tls and not self.config.media.srtp_without_tls:
            if mode == "mandatory":
                log.warning(
                    "SRTP is mandatory but signalling is not TLS: calls are refused rather "
                    'than sending keys in clear (set [account] transport = "tls", or '
                    "[media] srtp_without_tls = true in a lab)"
                )
                return "refuse"
            log.info(
                "SRTP off: its keys would travel in clear over %s", self.config.account.transport
            )
            return "off"
        return mode

    @property
    def state(self) -> str:
        if self.active is None:
            return "idle"
        return "connected" if self.active.media is not None else "setup"

    # -- console commands --------------------------------------------------------------------

    def dial(self, args: list[str]) -> CommandResult:
        if self.active is not None:
            return CommandResult.fail("busy", "a call is in progress")
        try:
            target = self._target(args[0])
        except RemoteProtocolError as error:
            return CommandResult.fail("bad-target", error.reason)
        self.loop.create_task(self._dial(target))
        return CommandResult.ok(target=str(target))

    def answer(self, args: list[str]) -> CommandResult:
        active = self.active
        if active is None or not isinstance(active.call, IncomingCall) or active.media:
            return CommandResult.fail("no-incoming-call")
        self.loop.create_task(self._answer(active))
        return CommandResult.ok()

    def hangup(self, args: list[str]) -> CommandResult:
        if self.active is None:
            return CommandResult.fail("no-call")
        self.active.call.hangup(self.loop.time())
        self.ua.after_call_command(self.loop.time())
        self.pump()
        return CommandResult.ok()

    def dtmf(self, args: list[str]) -> CommandResult:
        active = self.active
        if active is None or active.media is None:
            return CommandResult.fail("no-call")
        try:
            active.media.send_dtmf(args[0], self.loop.time())
        except (ValueError, DtmfError) as error:
            return CommandResult.fail("bad-digits", str(error))
        self._arm_media(active)
        return CommandResult.ok(digits=args[0])

    def _target(self, text: str) -> Uri:
        domain = self.config.account.uri.host
        if text.replace("*", "").replace("#", "").replace("+", "").isdigit():
            return parse_uri(f"sip:{text.replace('#', '%23')}@{domain}")
        uri = parse_uri(text)
        if isinstance(uri, TelUri):
            return uri.to_sip(domain)
        if not isinstance(uri, SipUri):
            raise RemoteProtocolError(f"cannot call a {uri.scheme}: URI", 416)
        return uri

    # -- call set-up ---------------------------------------------------------------------------

    async def _open_ports(self) -> RtpPorts:
        def on_rtp(data: bytes, source: tuple[str, int], now: float) -> None:
            active = self.active
            if active is not None and active.media is not None:
                active.media.receive_rtp(data, source, now)
                self._media_events(active)

        def on_rtcp(data: bytes, source: tuple[str, int], now: float) -> None:
            active = self.active
            if active is not None and active.media is not None:
                active.media.receive_rtcp(data, source, now)

        return await RtpPorts.open(self.ua.local.host, self.config.media.rtp_ports, on_rtp, on_rtcp)

    async def _next_hop(self, target: Uri) -> Peer | None:
        """RFC 3261 §8.1.2: the outbound proxy if configured, else the target's own server."""
        account = self.config.account
        if account.outbound_proxy is not None or not isinstance(target, SipUri):
            return None  # the UA's target: the outbound proxy (or registrar)
        transport = Transport(account.transport)
        nameservers = [(server.host, server.port) for server in self.config.network.dns_servers]
        targets = await locate(target, {transport}, transport, nameservers or None)
        return next(iter(targets), None)

    async def _dial(self, target: Uri) -> None:
        if self.srtp_mode == "refuse":
            self.emit("ended", reason="failed", code=488)
            return
        if isinstance(target, SipUri) and target.is_secure and self.srtp_mode != "mandatory":
            log.warning("a sips: call needs TLS and SRTP end to end: refused")
            self.emit("ended", reason="failed", code=488)
            return
        destination = await self._next_hop(target)
        ports = await self._open_ports()
        active = ActiveCall(call=None)  # type: ignore[arg-type]  # set right below
        offer = build_offer(
            self.policy, self.ua.local.host, ports.rtp_port, active.session_id, active.version
        )
        if self.srtp_mode in ("optional", "mandatory"):
            offer, active.offered_keys = with_crypto_offer(
                offer,
                self.config.media.srtp_suites,
                secure_profile=self.srtp_mode == "mandatory",
            )
        call = self.ua.dial(target, bytes(offer), self.loop.time(), destination)
        if call is None:
            ports.close()
            self.emit("ended", reason="failed", code=503)
            return
        active.call, active.ports, active.offer = call, ports, offer
        self.active = active
        self.pump()

    async def _answer(self, active: ActiveCall) -> None:
        if active.remote_offer is None:
            active.call.hangup(self.loop.time())
            return
        ports = await self._open_ports()
        if self.active is not active:  # the caller gave up while the ports opened
            ports.close()
            return
        active.ports = ports
        try:
            answer, negotiated = answer_offer(
                active.remote_offer,
                self.policy,
                self.ua.local.host,
                ports.rtp_port,
                active.session_id,
                active.version,
            )
            if negotiated is not None:
                answer, active.srtp = self._answer_srtp(answer, negotiated)
        except RemoteProtocolError as error:
            log.warning("cannot answer the offer: %s", error.reason)
            assert isinstance(active.call, IncomingCall)
            active.call.reject(error.status_hint or 488, self.loop.time())
            self.ua.after_call_command(self.loop.time())
            self.pump()
            return
        assert isinstance(active.call, IncomingCall)
        active.call.answer(bytes(answer), self.loop.time())
        self.ua.after_call_command(self.loop.time())
        if negotiated is not None:
            self._start_media(active, negotiated)
        self.emit("connected")
        self.pump()

    # -- call events ---------------------------------------------------------------------------

    def handle_event(self, event: object) -> None:
        now = self.loop.time()
        log.debug("call event %s", type(event).__name__)
        if isinstance(event, IncomingCallReceived) and isinstance(event.call, IncomingCall):
            self._incoming(event.call, event.sdp, now)
        elif isinstance(event, CallRinging):
            self.emit("ringing")
            if self.active is not None and not event.early_media_sdp:
                self._play_progress(self.active, "ringback")
        elif isinstance(event, CallAnswered):
            current = self.active
            if current is None or current.offer is None or not event.sdp:
                return
            self._stop_progress(current)
            try:
                negotiated = process_answer(current.offer, SessionDescription.parse(event.sdp))
                if current.offered_keys:
                    current.srtp = keys_from_answer(negotiated.crypto, current.offered_keys)
                if current.srtp is None and self.srtp_mode == "mandatory":
                    raise RemoteProtocolError("the far end answered without SRTP", 488)
            except RemoteProtocolError as error:
                log.warning("unusable answer: %s", error.reason)
                event.call.hangup(now)
                return
            self._start_media(current, negotiated)
            self.emit("connected")
        elif isinstance(event, ReofferReceived):
            self._reoffer(event, now)
        elif isinstance(event, InfoReceived):
            if event.content_type.lower() == DtmfRelay.CONTENT_TYPE:
                try:
                    self.emit("dtmf", digit=DtmfRelay.parse(event.body).digit)
                except (DtmfError, RemoteProtocolError):
                    log.info("unreadable dtmf-relay body")
        elif isinstance(event, CallEnded):
            self._ended(event)

    def _answer_srtp(
        self, answer: SessionDescription, negotiated: NegotiatedMedia
    ) -> tuple[SessionDescription, SrtpKeys | None]:
        """Add our a=crypto to an answer, or refuse (488) what our policy cannot accept."""
        secure_offer = negotiated.proto.upper() == SECURE_PROFILE
        if self.srtp_mode in ("off", "refuse") or not negotiated.crypto:
            if secure_offer or self.srtp_mode in ("mandatory", "refuse"):
                raise RemoteProtocolError("no acceptable SRTP (RTP/SAVP or policy)", 488)
            return answer, None
        choice = answer_crypto(negotiated.crypto, self.config.media.srtp_suites)
        if choice is None:
            if secure_offer or self.srtp_mode == "mandatory":
                raise RemoteProtocolError("no a=crypto suite in common", 488)
            return answer, None
        line, keys = choice
        return with_crypto_answer(answer, line), keys

    def _incoming(self, call: IncomingCall, sdp: bytes | None, now: float) -> None:
        if self.active is not None:
            call.reject(486, now)  # one call at a time until call waiting lands
            return
        active = ActiveCall(call=call)
        if sdp:
            try:
                active.remote_offer = SessionDescription.parse(sdp)
            except RemoteProtocolError:
                call.reject(400, now)
                return
        self.active = active
        call.ring(now)
        self.emit("incoming", **{"from": str(call.remote_identity.uri)})
        if self.config.phone.auto_answer:
            self.loop.call_later(
                self.config.phone.auto_answer_delay,
                lambda: self.loop.create_task(self._answer(active)),
            )

    def _reoffer(self, event: ReofferReceived, now: float) -> None:
        active = self.active
        if active is None or active.ports is None or not event.sdp:
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
            if negotiated is not None and active.srtp is not None:
                answer, rekey = self._rekey(answer, negotiated, active.srtp)
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

    def _rekey(
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

    def _ended(self, event: CallEnded) -> None:
        active = self.active
        if active is None or active.call is not event.call:
            return
        self.active = None
        self._stop_progress(active)
        if active.timer is not None:
            active.timer.cancel()
        if active.media is not None and active.ports is not None:
            data, destination = active.media.goodbye(self.loop.time())
            active.ports.send_rtcp(data, destination)
            log.info("call statistics: %s", active.media.call_statistics())
        if active.ports is not None:
            active.ports.close()
        # What the user hears after a failed call: busy or congestion, then the line goes.
        ending = END_TONES.get(str(event.reason)) if active.media is None else None
        if ending is not None and active.recorder is not None:
            self._play_progress(active, ending)
            recorder = active.recorder

            def close() -> None:
                self._stop_progress(active)
                recorder.close()

            self.loop.call_later(END_TONE_SECONDS, close)
        elif active.recorder is not None:
            active.recorder.close()
        fields: dict[str, object] = {"reason": str(event.reason)}
        if event.code is not None:
            fields["code"] = event.code
        self.emit("ended", **fields)

    # -- media -------------------------------------------------------------------------------------

    def _start_media(self, active: ActiveCall, negotiated: NegotiatedMedia) -> None:
        play = self.config.media.play
        if play.startswith("tone:"):
            source = tone_source(float(play[5:]), negotiated.clock_rate)
        elif play.startswith("file:"):
            source = file_source(Path(play[5:]))
        else:
            source = lambda samples: b"\0\0" * samples  # noqa: E731
        recorder = self._earpiece(active)
        sink = recorder.writeframes if recorder is not None else (lambda pcm: None)
        active.media = MediaSession(
            negotiated, source, sink, self.loop.time(), wall_clock=time.time, srtp=active.srtp
        )
        if active.srtp is not None:
            log.info("media encrypted with %s", active.srtp.suite)
        self._arm_media(active)

    def _earpiece(self, active: ActiveCall) -> wave.Wave_write | None:
        """Until the handset lands, what the user would hear goes to ``[media] record``."""
        if active.recorder is None and self.config.media.record:
            # Open for the call's lifetime; closed in _ended/close.
            recorder = wave.open(self.config.media.record, "wb")  # noqa: SIM115
            recorder.setnchannels(1)
            recorder.setsampwidth(2)
            recorder.setframerate(TONE_RATE)  # G.711's clock; wideband codecs will change it
            active.recorder = recorder
        return active.recorder

    def _play_progress(self, active: ActiveCall, name: str) -> None:
        """Play a locally generated call-progress tone (ringback, busy …) to the earpiece,
        paced by an absolute 20 ms schedule like the media."""
        self._stop_progress(active)
        if self._earpiece(active) is None:
            return
        active.progress = ToneGenerator(tone(self.config.phone.tone_country, name), TONE_RATE)
        start = self.loop.time()
        frames = 0

        def tick() -> None:
            nonlocal frames
            active.progress_timer = None
            if active.progress is None or active.recorder is None:
                return
            active.recorder.writeframes(active.progress.frame(TONE_RATE // 50))
            frames += 1
            active.progress_timer = self.loop.call_at(start + frames * 0.020, tick)

        tick()

    def _stop_progress(self, active: ActiveCall) -> None:
        if active.progress_timer is not None:
            active.progress_timer.cancel()
            active.progress_timer = None
        active.progress = None

    def _arm_media(self, active: ActiveCall) -> None:
        if active.timer is not None:
            active.timer.cancel()
        if active.media is not None:
            active.timer = self.loop.call_at(active.media.next_deadline(), self._media_due, active)

    def _media_due(self, active: ActiveCall) -> None:
        active.timer = None
        if self.active is not active or active.media is None or active.ports is None:
            return
        now = self.loop.time()
        for data, destination in active.media.handle_timer(now):
            active.ports.send_rtp(data, destination)
        for data, destination in active.media.rtcp_due(now):
            active.ports.send_rtcp(data, destination)
        self._media_events(active)
        self._arm_media(active)

    def _media_events(self, active: ActiveCall) -> None:
        if active.media is None:
            return
        while (event := active.media.next_event()) is not None:
            self.emit("dtmf", digit=event.digit)

    def close(self) -> None:
        if self.active is not None:
            self.active.call.hangup(self.loop.time())
            if self.active.ports is not None:
                self.active.ports.close()
            if self.active.recorder is not None:
                self.active.recorder.close()
            self.active = None
