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
  ``DtmfReceiver``; audio is decoded and handed to the sink.  Malformed packets
  are dropped and counted, never raised.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from phoneagent.media.codecs import CODECS
from phoneagent.media.dtmf import DigitStarted, DtmfReceiver, DtmfSender
from phoneagent.media.rtp import RtpReceiver, RtpSender
from phoneagent.sdp.offer_answer import NegotiatedMedia

log = logging.getLogger(__name__)

Address = tuple[str, int]
AudioSource = Callable[[int], bytes]  # samples wanted -> 16-bit little-endian PCM
AudioSink = Callable[[bytes], None]  # decoded 16-bit little-endian PCM
MAX_CATCH_UP = 5  # frames; beyond that the schedule restarts


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
    ) -> None:
        rng = rng or random.SystemRandom()
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
        self._start = now
        self._frames_sent = 0
        self._learnt_remote = False
        self._events: list[DtmfDigitReceived] = []
        self.can_send = negotiated.direction.value in ("sendrecv", "sendonly")
        self.dropped = 0

    # -- outgoing --------------------------------------------------------------------------

    def next_deadline(self) -> float:
        deadlines = [self._start + self._frames_sent * self.ptime]
        if self.dtmf_sender is not None and (timer := self.dtmf_sender.get_timer()) is not None:
            deadlines.append(timer)
        if (timer := self.dtmf_receiver.get_timer()) is not None:
            deadlines.append(timer)
        return min(deadlines)

    def handle_timer(self, now: float) -> list[tuple[bytes, Address]]:
        """The RTP datagrams due at ``now``."""
        self.dtmf_receiver.handle_timer(now)
        self._collect_dtmf_events()
        out: list[tuple[bytes, Address]] = []
        # Frames due up to now; the epsilon keeps a wake-up exactly at a deadline from
        # rounding to "not yet" (and the adapter from re-arming the same instant forever).
        owed = int((now - self._start) / self.ptime + 1e-6) + 1 - self._frames_sent
        if owed > MAX_CATCH_UP:
            log.debug("media schedule restarted after a %d-frame stall", owed)
            self.sender.skip(self.frame_samples * (owed - 1))
            self._frames_sent += owed - 1
            owed = 1
        dtmf_packets = self.dtmf_sender.packets_due(now) if self.dtmf_sender is not None else []
        for event_packet in dtmf_packets:
            start = self.sender.timestamp_at(event_packet.event_start)
            rtp = self.sender.packetize(
                event_packet.payload,
                0,
                event_packet.marker,
                payload_type=self.dtmf_sender.payload_type if self.dtmf_sender else None,
                timestamp=event_packet.rtp_timestamp(start),
                now=now,
            )
            out.append((bytes(rtp), self.remote))
        for _ in range(max(0, owed)):
            pcm = self.source(self.frame_samples)
            if self.dtmf_sender is not None and (dtmf_packets or self.dtmf_sender.busy):
                self.sender.skip(self.frame_samples)  # the event replaces this audio
            elif self.can_send:
                packet = self.sender.packetize(self.codec.encode(pcm), self.frame_samples, now=now)
                out.append((bytes(packet), self.remote))
            else:
                self.sender.skip(self.frame_samples)
            self._frames_sent += 1
        return out

    def send_dtmf(self, digits: str, now: float) -> None:
        if self.dtmf_sender is None:
            raise ValueError("the far end did not negotiate telephone-event")
        for digit in digits:
            self.dtmf_sender.press(digit, now)

    def update(self, negotiated: NegotiatedMedia) -> None:
        """A re-negotiation (re-INVITE/UPDATE): new remote address unless RTP already told us."""
        self.negotiated = negotiated
        if not self._learnt_remote:
            self.remote = (negotiated.remote_address, negotiated.remote_port)
        self.can_send = negotiated.direction.value in ("sendrecv", "sendonly")

    # -- incoming --------------------------------------------------------------------------

    def receive_rtp(self, data: bytes, source: Address, now: float) -> None:
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
        event_type = self.negotiated.telephone_event_payload_type
        for packet in result.packets:
            if packet.payload_type == event_type:
                self.dtmf_receiver.receive(
                    packet.payload, timestamp=packet.timestamp, marker=packet.marker, now=now
                )
                continue
            decoder = self.decoders.get(packet.payload_type)
            if decoder is None:
                self.dropped += 1
                continue
            self.sink(decoder.decode(packet.payload))
        self._collect_dtmf_events()

    def _collect_dtmf_events(self) -> None:
        while (event := self.dtmf_receiver.next_event()) is not None:
            if isinstance(event, DigitStarted):
                self._events.append(DtmfDigitReceived(event.digit))

    def next_event(self) -> DtmfDigitReceived | None:
        return self._events.pop(0) if self._events else None
