"""One call's audio stream: encode, packetise and pace outgoing audio; receive, decode, play.

Theory of operation
-------------------
``MediaSession`` is sans-IO.  The adapter feeds it received datagrams with their
source and arrival time, and at ``next_deadline()`` calls ``handle_timer(now)``;
it returns the datagrams to send.

* Pacing (DESIGN.md principle 8): frame *n* is due at ``start + n × ptime`` — an
  absolute schedule, so a late wake-up sends the frames it owes at once instead
  of drifting; more than ``MAX_CATCH_UP`` owed frames means the loop stalled and
  the schedule restarts from now (a gap, not a burst).
* RFC 4733 DTMF replaces audio while an event is on; its packets share the RTP
  stream's SSRC and sequence numbers, with the event's start as their timestamp.
* Symmetric RTP (RFC 4961): once valid RTP arrives, we send to the address it
  came from, whatever the SDP said — the cure for one-way audio behind NAT.
* Received packets go through ``RtpReceiver`` (RFC 3550 A.1 sequence tracking,
  SSRC changes followed, duplicates dropped); telephone-events go to
  ``DtmfReceiver``; audio goes into the ``JitterBuffer``, and at every frame tick
  one frame comes out — decoded, or concealed when it was lost.  Malformed
  packets are dropped and counted, never raised.
* RTCP (RFC 3550 §6): SR while we send, RR otherwise, with the report block
  about the far end's stream, at ``RtcpScheduler``'s randomised intervals, to
  the far end's RTCP address (learnt symmetrically too); its reports feed the
  per-call ``CallStatistics`` (loss, jitter, RTT); ``goodbye()`` makes the BYE.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from phoneagent.media.codecs import CODECS
from phoneagent.media.dtmf import DigitStarted, DtmfReceiver, DtmfSender
from phoneagent.media.jitter import JitterBuffer
from phoneagent.media.rtcp import (
    ReportBlock,
    RtcpCompound,
    RtcpScheduler,
    SenderInfo,
    SenderReport,
    make_compound,
    ntp_timestamp,
)
from phoneagent.media.rtp import MediaPacketError, RtpReceiver, RtpSender
from phoneagent.media.srtp import SrtpError, SrtpSession
from phoneagent.media.srtp_keys import SrtpPolicy
from phoneagent.media.stats import CallStatistics
from phoneagent.sdp.offer_answer import NegotiatedMedia
from phoneagent.sdp.sdes import SrtpKeys

log = logging.getLogger(__name__)

Address = tuple[str, int]
AudioSource = Callable[[int], bytes]  # samples wanted -> 16-bit little-endian PCM
AudioSink = Callable[[bytes], None]  # decoded 16-bit little-endian PCM
MAX_CATCH_UP = 5  # frames; beyond that the schedule restarts
#: With a sound card's capture pacing sending: more frames than this waiting in its buffer
#: means our schedule runs slow against the card's crystal, so one extra frame goes out.
CAPTURE_BACKLOG_FRAMES = 2


@dataclass(frozen=True, slots=True)
class DtmfDigitReceived:
    digit: str


class MediaSession:
    def __init__(
        self,
        negotiated: NegotiatedMedia,
        source: AudioSource,
        sink: AudioSink,
        now: float,
        rng: random.Random | None = None,
        *,
        wall_clock: Callable[[], float] | None = None,
        cname: str = "phoneagent",
        srtp: SrtpKeys | None = None,
        srtcp: SrtpKeys | None = None,
        capture_backlog: Callable[[], int | None] | None = None,
    ) -> None:
        rng = rng or random.SystemRandom()
        # The NTP time in sender reports is wall-clock time; the caller passes a clock so
        # that this module reads none itself (DESIGN.md principle 1).
        self._wall_clock = wall_clock or (lambda: 0.0)
        # Samples the sound card has captured and we have not read (None: no card clock).
        self._capture_backlog = capture_backlog
        self.cname = cname
        # SRTP (RFC 3711): our key protects what we send, the far end's what we receive;
        # once agreed there is no path that sends media in clear.
        self.srtp_out = SrtpSession(srtp.outbound) if srtp is not None else None
        self.srtp_in = SrtpSession(srtp.inbound) if srtp is not None else None
        # RTCP has keys of its own when DTLS-SRTP ran a second association on the RTCP
        # port (RFC 5764 §4.1, no rtcp-mux); with SDES both come from one master key.
        self.srtcp_out = SrtpSession(srtcp.outbound) if srtcp is not None else self.srtp_out
        self.srtcp_in = SrtpSession(srtcp.inbound) if srtcp is not None else self.srtp_in
        self.srtp_dropped = 0
        self.negotiated = negotiated
        chosen = negotiated.formats[0]
        self.codec = CODECS.create(chosen.codec.name, chosen.codec.clock_rate)
        self.payload_type = chosen.payload_type
        self.clock_rate = chosen.codec.clock_rate
        self.frame_samples = self.clock_rate * negotiated.ptime // 1000
        self.ptime = negotiated.ptime / 1000
        self.source = source
        self.sink = sink
        self.remote: Address = (negotiated.remote_address, negotiated.remote_port)
        self.sender = RtpSender(rng.getrandbits(32), self.payload_type, self.clock_rate, rng)
        self.receiver = RtpReceiver(self.clock_rate)
        self.decoders = {
            pf.payload_type: CODECS.create(pf.codec.name, pf.codec.clock_rate)
            for pf in negotiated.formats
        }
        event_type = negotiated.telephone_event_payload_type
        self.dtmf_sender = DtmfSender(event_type) if event_type is not None else None
        self.dtmf_receiver = DtmfReceiver(self.clock_rate)
        self.jitter = JitterBuffer(self.clock_rate, self.frame_samples)
        self.rtcp_remote: Address = negotiated.remote_rtcp
        self.rtcp = RtcpScheduler(now, rng)
        self.statistics = CallStatistics()
        self._sent_since_report = False
        self._pending_rtcp: bytes | None = None
        self._start = now
        self._frames_sent = 0
        self._learnt_remote = False
        self._events: list[DtmfDigitReceived] = []
        self.dropped = 0

    # -- outgoing --------------------------------------------------------------------------

    def next_deadline(self) -> float:
        deadlines = [self._start + self._frames_sent * self.ptime, self.rtcp.next_deadline]
        if self.dtmf_sender is not None and (timer := self.dtmf_sender.get_timer()) is not None:
            deadlines.append(timer)
        if (timer := self.dtmf_receiver.get_timer()) is not None:
            deadlines.append(timer)
        return min(deadlines)

    def handle_timer(self, now: float) -> list[tuple[bytes, Address]]:
        """The RTP datagrams due at ``now``."""
        self.dtmf_receiver.handle_timer(now)
        self._collect_dtmf_events()
        self._schedule_rtcp(now)
        out: list[tuple[bytes, Address]] = []
        # Frames due up to now; the epsilon keeps a wake-up exactly at a deadline from
        # rounding to "not yet" (and the adapter from re-arming the same instant forever).
        owed = int((now - self._start) / self.ptime + 1e-6) + 1 - self._frames_sent
        if owed > MAX_CATCH_UP:
            log.debug("media schedule restarted after a %d-frame stall", owed)
            self.sender.skip(self.frame_samples * (owed - 1))
            self._frames_sent += owed - 1
            owed = 1
        if owed > 0 and self._capture_backlog is not None:
            owed = self._pace_to_capture(owed)
        dtmf = self.dtmf_sender
        dtmf_packets = dtmf.packets_due(now) if dtmf is not None else []
        # While an event is being sent it replaces the audio (RFC 4733 §2.5.1.2).
        dtmf_sending = dtmf is not None and (bool(dtmf_packets) or dtmf.busy)
        for event_packet in dtmf_packets:
            start = self.sender.timestamp_at(event_packet.event_start)
            rtp = self.sender.packetize(
                event_packet.payload,
                0,
                event_packet.marker,
                payload_type=dtmf.payload_type if dtmf is not None else None,
                timestamp=event_packet.rtp_timestamp(start),
                now=now,
            )
            out.append((bytes(rtp), self.remote))
        for _ in range(max(0, owed)):
            self._play_one_frame(now)
            pcm = self.source(self.frame_samples)
            if dtmf_sending:
                self.sender.skip(self.frame_samples)  # the event replaces this audio
            elif self.can_send:
                packet = self.sender.packetize(self.codec.encode(pcm), self.frame_samples, now=now)
                out.append((bytes(packet), self.remote))
                self._sent_since_report = True
            else:
                self.sender.skip(self.frame_samples)
            self._frames_sent += 1
        if self.srtp_out is not None:
            return [(self.srtp_out.protect_rtp(data), address) for data, address in out]
        return out

    def _pace_to_capture(self, owed: int) -> int:
        """How many of the ``owed`` frames to send when a sound card's capture clock paces
        sending (DESIGN.md principle 8): the loop's clock and the card's crystal drift apart
        (100 ppm is 120 ms in 20 minutes), so the schedule follows the card — a frame goes
        out once the card has captured it, and a backlog beyond ``CAPTURE_BACKLOG_FRAMES``
        sends one more.  RTP timestamps count frames, so they are unaffected."""
        assert self._capture_backlog is not None
        backlog = self._capture_backlog()
        if backlog is None:
            return owed
        ready = backlog // self.frame_samples
        if ready < owed:  # the card is behind our schedule: wait until it has the samples
            missing = owed * self.frame_samples - backlog
            self._start += missing / self.clock_rate
            return ready
        if ready > owed + CAPTURE_BACKLOG_FRAMES:  # the card is ahead: catch up one frame
            self._start -= self.ptime
            return owed + 1
        return owed

    def _play_one_frame(self, now: float) -> None:
        frame = self.jitter.get(now)
        if frame is None:
            return  # still buffering
        if frame.missing:
            self.sink(self.codec.conceal(self.frame_samples))
            return
        decoder = self.decoders.get(frame.payload_type) if frame.payload_type is not None else None
        if decoder is None:
            self.dropped += 1
            return
        self.sink(decoder.decode(frame.payload))

    def rtcp_due(self, now: float) -> list[tuple[bytes, Address]]:
        """The RTCP compound made by ``handle_timer`` when it was due (SR or RR + CNAME)."""
        self._schedule_rtcp(now)
        pending, self._pending_rtcp = self._pending_rtcp, None
        return [(pending, self.rtcp_remote)] if pending is not None else []

    def _schedule_rtcp(self, now: float) -> None:
        # Made here, at its deadline, so that the schedule moves on even if the caller
        # collects it late; only the newest unsent compound is kept (bounded).
        if self.rtcp.due(now):
            self._pending_rtcp = self._protect_rtcp(bytes(self._compound(now)))
            self.rtcp.sent(now, len(self._pending_rtcp))

    def goodbye(self, now: float, reason: str | None = None) -> tuple[bytes, Address]:
        """The RTCP BYE to send when the call ends (§6.6)."""
        compound = bytes(self._compound(now, goodbye=True, reason=reason))
        return self._protect_rtcp(compound), self.rtcp_remote

    def rekey_inbound(self, policy: SrtpPolicy) -> None:
        """The far end re-keyed in a re-INVITE (SDES): receive with its new key from now on."""
        shared = self.srtcp_in is self.srtp_in
        self.srtp_in = SrtpSession(policy)
        if shared:
            self.srtcp_in = self.srtp_in

    def _protect_rtcp(self, data: bytes) -> bytes:
        return self.srtcp_out.protect_rtcp(data) if self.srtcp_out is not None else data

    def _compound(
        self, now: float, *, goodbye: bool = False, reason: str | None = None
    ) -> RtcpCompound:
        block = ReportBlock.from_receiver(self.receiver, now)
        info = None
        if self._sent_since_report:
            info = SenderInfo.from_sender(self.sender, ntp_timestamp(self._wall_clock()), now)
        self._sent_since_report = False
        return make_compound(
            self.sender.ssrc,
            self.cname,
            sender_info=info,
            reports=(block,) if block is not None else (),
            goodbye=goodbye,
            reason=reason,
        )

    def receive_rtcp(self, data: bytes, source: Address, now: float) -> None:
        if self.srtcp_in is not None:
            try:
                data = self.srtcp_in.unprotect_rtcp(data)
            except SrtpError as error:
                self.srtp_dropped += 1
                log.debug("SRTCP dropped: %s", error)
                return
        try:
            compound = RtcpCompound.parse(data)
        except MediaPacketError as error:
            log.debug("RTCP dropped: %s", error.reason)
            return
        if source[1] != 0:
            self.rtcp_remote = source
        self.rtcp.received(len(data))
        for packet in compound.packets:
            if isinstance(packet, SenderReport):
                self.receiver.note_sender_report(packet.ssrc, packet.sender_info.ntp_timestamp, now)
        self.statistics.record_rtcp(
            compound,
            local_ssrc=self.sender.ssrc,
            local_clock_rate=self.clock_rate,
            arrival_ntp=ntp_timestamp(self._wall_clock()),
            now=now,
        )

    def call_statistics(self) -> CallStatistics:
        self.statistics.update_from_sender(self.sender)
        self.statistics.update_from_receiver(self.receiver)
        self.statistics.update_from_jitter_buffer(self.jitter)
        return self.statistics

    def send_dtmf(self, digits: str, now: float) -> None:
        if self.dtmf_sender is None:
            raise ValueError("the far end did not negotiate telephone-event")
        for digit in digits:
            self.dtmf_sender.press(digit, now)

    @property
    def can_send(self) -> bool:
        """Whether the offer/answer lets us send (RFC 3264 §6.1: sendrecv or sendonly)."""
        return self.negotiated.can_send

    def update(self, negotiated: NegotiatedMedia) -> None:
        """A re-negotiation (re-INVITE/UPDATE): new remote address unless RTP already told us."""
        self.negotiated = negotiated
        if not self._learnt_remote:
            self.remote = (negotiated.remote_address, negotiated.remote_port)

    # -- incoming --------------------------------------------------------------------------

    def receive_rtp(self, data: bytes, source: Address, now: float) -> None:
        if self.srtp_in is not None:
            try:
                data = self.srtp_in.unprotect_rtp(data)
            except SrtpError as error:  # forged, replayed or damaged: dropped, never played
                self.srtp_dropped += 1
                log.debug("SRTP dropped: %s", error)
                return
        result = self.receiver.receive_datagram(data, now)
        if not result.packets:
            return
        if source[1] == 0:
            pass  # a source port of 0 cannot be answered: keep the address we have
        elif not self._learnt_remote or source != self.remote:
            if source != self.remote:
                log.info("symmetric RTP: sending to %s:%d, where the media comes from", *source)
            self.remote = source
            self._learnt_remote = True
            if self.negotiated.rtcp_mux:  # RFC 5761: RTCP follows RTP to the same port
                self.rtcp_remote = source
        event_type = self.negotiated.telephone_event_payload_type
        for packet in result.packets:
            if packet.payload_type == event_type:
                self.dtmf_receiver.receive(
                    packet.payload, timestamp=packet.timestamp, marker=packet.marker, now=now
                )
                continue
            if packet.payload_type not in self.decoders:
                self.dropped += 1
                continue
            self.jitter.put(packet, now)
        self._collect_dtmf_events()

    def _collect_dtmf_events(self) -> None:
        while (event := self.dtmf_receiver.next_event()) is not None:
            if isinstance(event, DigitStarted):
                self._events.append(DtmfDigitReceived(event.digit))

    def next_event(self) -> DtmfDigitReceived | None:
        return self._events.pop(0) if self._events else None
