"""A call's DTLS-SRTP handshakes on its RTP ports, wired to the event loop.

RFC 5764 §4.1: without rtcp-mux each component has its own DTLS association, so a
call runs two ``media.dtls_srtp.DtlsSrtpEndpoint``s — one on the RTP port, one on
the RTCP port — and with rtcp-mux (RFC 5761) one, on the RTP port; the role and the
far end's fingerprints come from SDP (RFC 5763 §5).  Datagrams are told apart by
their first byte (RFC 7983): the call's port callbacks hand DTLS here and RTP/RTCP
to the media session.  Once every association is up, ``on_ready`` gets the SRTP
keys and, without mux, the SRTCP keys; a failure (a wrong fingerprint, a handshake
that times out) calls ``on_failed`` and the call is hung up — never media in clear.
Wiring only: the endpoints do the protocol.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Literal

from phoneagent.media.dtls_srtp import (
    DtlsCertificate,
    DtlsEstablished,
    DtlsFailed,
    DtlsSrtpEndpoint,
)
from phoneagent.sdp.dtls import DtlsRole, Fingerprint
from phoneagent.sdp.sdes import SrtpKeys

log = logging.getLogger(__name__)

Address = tuple[str, int]
Component = Literal["rtp", "rtcp"]
Send = Callable[[bytes, Address], None]
#: DTLS datagrams kept while the answer that says who we talk to is not processed yet
#: (the far end, active, may send its ClientHello before our side has read the 200 OK).
EARLY_DATAGRAMS = 8


class DtlsCallMedia:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        role: DtlsRole,
        certificate: DtlsCertificate,
        *,
        remote_fingerprints: Sequence[Fingerprint],
        send: dict[Component, Send],
        peers: dict[Component, Address],
        suites: Sequence[str],
        components: Sequence[Component] = ("rtp", "rtcp"),
        on_ready: Callable[[SrtpKeys, SrtpKeys | None], None],
        on_failed: Callable[[str], None],
    ) -> None:
        self.loop = loop
        self.send = send
        self.peers = dict(peers)
        self.on_ready = on_ready
        self.on_failed = on_failed
        self.endpoints: dict[Component, DtlsSrtpEndpoint] = {
            component: DtlsSrtpEndpoint(
                role,
                certificate.certificate,
                certificate.private_key,
                remote_fingerprints,
                suites=suites,
            )
            for component in components
        }
        self.keys: dict[Component, SrtpKeys] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._done = False

    def start(self, early: Sequence[tuple[Component, bytes, Address]] = ()) -> None:
        now = self.loop.time()
        for endpoint in self.endpoints.values():
            endpoint.start(now)
        for component, data, source in early:
            self.receive(component, data, source)
        self._flush()

    def receive(self, component: Component, data: bytes, source: Address) -> None:
        """A DTLS datagram on the call's RTP or RTCP port."""
        endpoint = self.endpoints.get(component)
        if endpoint is None:
            log.debug("DTLS on the %s port of a muxed call: dropped", component)
            return
        self.peers[component] = source  # answer where the handshake really comes from
        endpoint.receive_datagram(data, self.loop.time())
        self._flush()

    def _on_timer(self) -> None:
        self._timer = None
        now = self.loop.time()
        for endpoint in self.endpoints.values():
            endpoint.handle_timer(now)  # each does only what is due
        self._flush()

    def _send_pending(self) -> None:
        for component, endpoint in self.endpoints.items():
            for datagram in endpoint.datagrams_to_send():
                self.send[component](datagram, self.peers[component])

    def _flush(self) -> None:
        self._send_pending()
        for component, endpoint in self.endpoints.items():
            while (event := endpoint.next_event()) is not None:
                if isinstance(event, DtlsEstablished):
                    log.info("DTLS-SRTP %s: %s", component, event.profile)
                    self.keys[component] = event.keys
                elif isinstance(event, DtlsFailed) and not self._done:
                    self._done = True
                    log.warning("DTLS-SRTP %s failed: %s", component, event.error)
                    self.on_failed(str(event.error))
        if not self._done and len(self.keys) == len(self.endpoints):  # every association
            self._done = True
            self.on_ready(self.keys["rtp"], self.keys.get("rtcp"))
        self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadlines = [
            deadline
            for endpoint in self.endpoints.values()
            if (deadline := endpoint.get_timer()) is not None
        ]
        if deadlines:
            self._timer = self.loop.call_at(min(deadlines), self._on_timer)

    def close(self) -> None:
        """close_notify on both associations (sent now), then nothing more."""
        for endpoint in self.endpoints.values():
            endpoint.close()
        self._send_pending()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._done = True
