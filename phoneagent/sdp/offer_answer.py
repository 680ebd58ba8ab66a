"""SDP offer/answer (RFC 3264) for a phone's one audio stream, sans-IO.

Theory of operation
-------------------
A call carries one audio stream.  ``build_offer`` writes our offer: one
``m=audio`` line with the policy's codecs (static payload types for PCMU/PCMA,
dynamic ones from 96 for the rest), ``telephone-event`` (RFC 4733) on payload
type 101 unless told otherwise, ``a=ptime`` and the direction.  We never write
``a=rtcp``: our RTCP is always on RTP port + 1 (RFC 3605 §2.1 makes it optional
then).

``answer_offer`` answers the far end's offer (RFC 3264 §6).  Walking the m=
lines in order, the first audio stream we can serve is accepted: port not 0,
profile RTP/AVP, RTP/SAVP or DTLS-SRTP's UDP/TLS/RTP/SAVP[F] (SRTP keys are the
SRTP layer's business — it adds ``a=crypto`` to an RTP/SAVP answer, or
``a=fingerprint`` for DTLS; this layer returns the profile and the
offer's raw crypto lines), a unicast address, and at least one codec in common.
Every other m= line is rejected with port 0 and its offered formats (§6), so the
answer has the same m= lines in the same order.  Decisions within §6.1's room:

* codecs: ours that the offer also lists, in OUR preference order (§6.1 lets
  the answerer order them), each on the offer's payload type number; we send
  with the first.  Formats whose ``a=rtpmap`` cannot be read are left out, not
  guessed at.
* telephone-event: only the offer's one at the chosen codec's clock rate, on
  the offer's payload type (Linphone offers /48000, /16000 and /8000 at once).
* ptime: the offer's, when it is 10, 20, 30 or 40 ms; else ours, capped by the
  offer's ``a=maxptime``.  An unreadable ptime or maxptime is ignored.
* direction (§6.1): ``sendonly`` ↔ ``recvonly``, ``inactive`` stays, intersected
  with what we want (``direction=``); an offer with ``c=`` 0.0.0.0 (RFC 3264
  §8.4, RFC 2543 hold) cannot receive, so we never send to it.
* ``t=`` is copied from the offer (§5 and §6 require it).

If a stream was offered but none could be accepted the offer is refused with
``RemoteProtocolError`` status hint 488.  The one case with no media and no
error is an offer whose every m= line already has port 0 (or that has none):
the offerer disabled its media (§8.2), the answer mirrors that and the
negotiated media is ``None``.

``process_answer`` checks an answer against our offer (same number of m=
lines and media types, same profile, only payload types we offered and with the
same meaning — else 488) and extracts the same ``NegotiatedMedia``; had the offer
several audio streams, the first one the answer accepted is the call's.

``SdpSession`` keeps our o= line across re-offers (RFC 3264 §8): the session id
never changes and the version goes up by exactly one only when the description
we send differs from the previous one; ``remote_changed`` tells a peer's
refresh (same version) from a change.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from phoneagent.sdp.codecs import CODECS, FIRST_DYNAMIC_PAYLOAD_TYPE, AudioCodec, CodecRegistry
from phoneagent.sdp.model import (
    MAX_PAYLOAD_TYPE,
    Attribute,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    SessionDescription,
    TimeDescription,
)
from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError

#: Packet times we send and mirror (ms); every G.711 peer handles these.
ALLOWED_PTIMES = (10, 20, 30, 40)
#: Profiles accepted here; SRTP policy (whether RTP/SAVP is required or refused) sits above,
#: and so does DTLS-SRTP (``UDP/TLS/RTP/SAVP[F]``, RFC 5764 §8): its handshake is
#: ``sdp.dtls``'s and the call's business.  AVPF feedback is not used, only accepted.
ACCEPTED_PROTOS = ("RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF")
OFFER_PROTO = "RTP/AVP"

_T = TypeVar("_T")


def _not_acceptable(reason: str) -> RemoteProtocolError:
    return RemoteProtocolError(reason, status_hint=488)


@dataclass(frozen=True)
class MediaPolicy:
    """What we offer and accept: codec names in preference order, ptime, RFC 4733 events.

    ``codecs`` entries are ``"NAME"`` or ``"NAME/RATE"`` looked up in ``registry``.
    """

    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    ptime: int = 20
    telephone_event: bool = True
    telephone_event_payload_type: int = 101
    #: RFC 5761: offer ``a=rtcp-mux`` (RTCP on the RTP port) and accept it when offered.
    rtcp_mux: bool = True
    registry: CodecRegistry = field(default=CODECS, compare=False, repr=False)

    def __post_init__(self) -> None:
        resolved = self.audio_codecs()
        if not resolved:
            raise LocalProtocolError("MediaPolicy needs at least one codec")
        if len(set(resolved)) != len(resolved):
            raise LocalProtocolError(f"MediaPolicy lists a codec twice: {self.codecs}")
        if any(codec.telephone_event for codec in resolved):
            raise LocalProtocolError("telephone-event is not a codec: use telephone_event=True")
        if self.ptime not in ALLOWED_PTIMES:
            raise LocalProtocolError(f"ptime {self.ptime} is not one of {ALLOWED_PTIMES}")
        if not FIRST_DYNAMIC_PAYLOAD_TYPE <= self.telephone_event_payload_type <= MAX_PAYLOAD_TYPE:
            raise LocalProtocolError("the telephone-event payload type must be dynamic (96-127)")

    def audio_codecs(self) -> tuple[AudioCodec, ...]:
        return tuple(self.registry.resolve(spec) for spec in self.codecs)


@dataclass(frozen=True)
class PayloadFormat:
    """A codec on the payload type number negotiated for it."""

    payload_type: int
    codec: AudioCodec


@dataclass(frozen=True)
class NegotiatedMedia:
    """The outcome of one offer/answer exchange for the audio stream, as we must act on it.

    The ``remote_*`` fields and ``crypto`` come from the far end's description
    (the offer when we answered, the answer when we offered).  ``formats`` are
    the answer's codecs that we support, in the answer's order; we send with the
    first (``codec``/``payload_type``) and must be ready to receive any of them.
    ``direction`` is ours: may we send, may we receive.
    """

    media_index: int
    proto: str
    remote_address: str
    remote_port: int
    remote_rtcp_address: str
    #: ``None`` only when RTP is on port 65535 and no ``a=rtcp`` says where RTCP goes.
    remote_rtcp_port: int | None
    formats: tuple[PayloadFormat, ...]
    telephone_event_payload_type: int | None
    ptime: int
    direction: Direction
    remote_direction: Direction
    crypto: tuple[str, ...] = ()
    #: RFC 5761: RTP and RTCP share the RTP port (both sides said ``a=rtcp-mux``); the
    #: ``remote_rtcp_*`` fields then name the RTP address and port.
    rtcp_mux: bool = False

    @property
    def codec(self) -> AudioCodec:
        return self.formats[0].codec

    @property
    def payload_type(self) -> int:
        return self.formats[0].payload_type

    @property
    def clock_rate(self) -> int:
        return self.codec.clock_rate

    @property
    def remote_rtcp(self) -> tuple[str, int]:
        """Where our RTCP goes: ``a=rtcp``, the RTP port with rtcp-mux, else RTP port + 1."""
        return (self.remote_rtcp_address, self.remote_rtcp_port or self.remote_port + 1)

    @property
    def can_send(self) -> bool:
        return self.direction.sends

    @property
    def can_receive(self) -> bool:
        return self.direction.receives

    @property
    def is_hold(self) -> bool:
        """The far end's description puts the stream on hold (RFC 3264 §8.4).

        It declared ``sendonly`` or ``inactive``, or gave ``c=`` 0.0.0.0 (or
        ``::``).  This reports the remote's signal; a hold we started ourselves is
        visible in ``direction``.
        """
        if self.remote_direction in (Direction.SENDONLY, Direction.INACTIVE):
            return True
        return _is_unspecified(self.remote_address)


def _is_unspecified(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_unspecified
    except ValueError:
        return False


def _check_port(port: int) -> None:
    if not 0 < port <= 65535:
        raise LocalProtocolError(f"RTP port out of range: {port!r}")


def _readable(media: MediaDescription, read: Callable[[MediaDescription], _T]) -> _T | None:
    """An optional typed attribute of ``media``; an unreadable one counts as absent."""
    try:
        return read(media)
    except RemoteProtocolError:
        return None


def _ptime(media: MediaDescription) -> float | None:
    return media.ptime


def _maxptime(media: MediaDescription) -> float | None:
    return media.maxptime


# -- our offer ------------------------------------------------------------------------------


def build_offer(  # noqa: PLR0917 -- the argument order every caller reads in RFC terms
    policy: MediaPolicy,
    address: str,
    rtp_port: int,
    session_id: int,
    version: int,
    direction: Direction | str = Direction.SENDRECV,
) -> SessionDescription:
    """Our offer: one audio m= line on ``address``:``rtp_port`` (IPv4 or IPv6 literal)."""
    connection = Connection.of(address)
    _check_port(rtp_port)
    formats = _offer_formats(policy)
    media = MediaDescription(
        "audio",
        rtp_port,
        OFFER_PROTO,
        tuple(str(item.payload_type) for item in formats),
        attributes=_format_attributes(formats, policy.ptime, _direction(direction))
        + ((Attribute("rtcp-mux"),) if policy.rtcp_mux else ()),
    )
    return _description(connection, session_id, version, (media,))


def _direction(value: Direction | str) -> Direction:
    try:
        return Direction(value)
    except ValueError:
        raise LocalProtocolError(f"not a direction: {value!r}") from None


def _description(
    connection: Connection,
    session_id: int,
    version: int,
    media: tuple[MediaDescription, ...],
    template: SessionDescription | None = None,
) -> SessionDescription:
    # RFC 8866 §5.2: "-" as the username when there is no user id to give away.
    origin = Origin("-", session_id, version, "IN", connection.address_type, connection.address)
    times = template.times if template is not None else (TimeDescription(),)
    return SessionDescription(origin, connection=connection, times=times, media=media)


def _offer_formats(policy: MediaPolicy) -> list[PayloadFormat]:
    codecs = policy.audio_codecs()
    reserved = {policy.telephone_event_payload_type} if policy.telephone_event else set()
    used: set[int] = {c.static_payload_type for c in codecs if c.static_payload_type is not None}

    def dynamic() -> int:
        for candidate in range(FIRST_DYNAMIC_PAYLOAD_TYPE, MAX_PAYLOAD_TYPE + 1):
            if candidate not in used and candidate not in reserved:
                used.add(candidate)
                return candidate
        raise LocalProtocolError("more codecs than dynamic payload types")

    formats = [
        PayloadFormat(
            codec.static_payload_type if codec.static_payload_type is not None else dynamic(),
            codec,
        )
        for codec in codecs
    ]
    if policy.telephone_event:
        # RFC 4733 §2.1: events run at the clock rate of the audio they accompany,
        # so offer them at each rate we offer audio at (the first on the policy's type).
        rates = dict.fromkeys(codec.clock_rate for codec in codecs)
        events = [policy.registry.lookup("telephone-event", rate) for rate in rates]
        for number, event in enumerate(item for item in events if item is not None):
            payload_type = policy.telephone_event_payload_type if number == 0 else dynamic()
            formats.append(PayloadFormat(payload_type, event))
    return formats


def _format_attributes(
    formats: list[PayloadFormat], ptime: int, direction: Direction
) -> tuple[Attribute, ...]:
    attributes = [
        Attribute("rtpmap", item.codec.rtpmap_value(item.payload_type)) for item in formats
    ]
    attributes += [
        Attribute("fmtp", f"{item.payload_type} {item.codec.fmtp}")
        for item in formats
        if item.codec.fmtp is not None
    ]
    attributes += [Attribute("ptime", str(ptime)), Attribute(direction.value)]
    return tuple(attributes)


# -- answering an offer -----------------------------------------------------------------------


def answer_offer(  # noqa: PLR0917 -- build_offer's arguments after the offer
    offer: SessionDescription,
    policy: MediaPolicy,
    address: str,
    rtp_port: int,
    session_id: int,
    version: int,
    *,
    direction: Direction | str = Direction.SENDRECV,
) -> tuple[SessionDescription, NegotiatedMedia | None]:
    """Answer ``offer`` (RFC 3264 §6); ``RemoteProtocolError`` 488 if no audio can be accepted.

    ``direction`` is what we want (``sendonly`` to hold the far end while answering).
    """
    connection = Connection.of(address)
    _check_port(rtp_port)
    wanted = _direction(direction)
    answered: list[MediaDescription] = []
    negotiated: NegotiatedMedia | None = None
    refusals: list[str] = []
    for index, media in enumerate(offer.media):
        if negotiated is None and media.port != 0:
            result = _accept(offer, index, media, policy, wanted)
            if isinstance(result, str):
                refusals.append(f"m-line {index + 1} ({media.media} {media.proto}): {result}")
            else:
                negotiated, formats, ptime, answer_direction = result
                attributes = _format_attributes(formats, ptime, answer_direction)
                if negotiated.rtcp_mux:  # RFC 5761 §5.1.1: accepted by echoing it
                    attributes += (Attribute("rtcp-mux"),)
                answered.append(
                    MediaDescription(
                        "audio",
                        rtp_port,
                        media.proto,
                        tuple(str(item.payload_type) for item in formats),
                        attributes=attributes,
                    )
                )
                continue
        # RFC 3264 §6: a rejected stream keeps its m= line with port 0 and the offered formats.
        answered.append(MediaDescription(media.media, 0, media.proto, media.formats))
    if negotiated is None and any(media.port != 0 for media in offer.media):
        reasons = "; ".join(refusals) or "every offered stream was refused"
        raise _not_acceptable(f"no acceptable audio stream in the offer: {reasons}")
    answer = _description(connection, session_id, version, tuple(answered), template=offer)
    return answer, negotiated


_Acceptance = tuple[NegotiatedMedia, list[PayloadFormat], int, Direction]


def _accept(
    offer: SessionDescription,
    index: int,
    media: MediaDescription,
    policy: MediaPolicy,
    wanted: Direction,
) -> _Acceptance | str:
    """Accept one offered stream, or say why not."""
    if media.media != "audio":
        return "not audio"
    if media.proto.upper() not in ACCEPTED_PROTOS:
        return f"profile {media.proto} not supported"
    connection = offer.media_connection(media)
    if connection is None:
        raise RemoteProtocolError("the audio stream has no c= address (RFC 8866 §5.7)", 400)
    if connection.is_multicast:
        return "multicast is not supported"
    offered = _known_formats(media, policy.registry)
    chosen: list[PayloadFormat] = []
    for codec in policy.audio_codecs():
        match = next((item for item in offered if item.codec == codec), None)
        if match is not None:
            chosen.append(match)
    if not chosen:
        return "no codec in common"
    events = None
    if policy.telephone_event:
        events = _events_for(offered, chosen[0].codec.clock_rate)
    formats = chosen + ([events] if events is not None else [])
    ptime = _answer_ptime(media, policy.ptime)
    offered_direction = offer.media_direction(media)
    # RFC 3264 §8.4: c= 0.0.0.0 means "do not send to me", whatever the attribute says.
    remote_receives = offered_direction.receives and not connection.is_unspecified
    answer_direction = Direction.from_flags(
        wanted.sends and remote_receives, wanted.receives and offered_direction.sends
    )
    negotiated = _negotiated(
        index,
        media,
        connection,
        formats=tuple(chosen),
        events=events,
        ptime=ptime,
        direction=answer_direction,
        remote_direction=offered_direction,
        rtcp_mux=policy.rtcp_mux and media.rtcp_mux,
    )
    return negotiated, formats, ptime, answer_direction


def _known_formats(media: MediaDescription, registry: CodecRegistry) -> list[PayloadFormat]:
    """The offered payload types we have a registry entry for, in offer order."""
    known = []
    for payload_type in media.payload_types:
        codec = _codec_for(media, payload_type, registry)
        if codec is not None:
            known.append(PayloadFormat(payload_type, codec))
    return known


def _codec_for(
    media: MediaDescription, payload_type: int, registry: CodecRegistry
) -> AudioCodec | None:
    """What ``payload_type`` means on ``media``: its rtpmap, else its static assignment."""
    try:
        rtpmap = media.rtpmap(payload_type)
    except RemoteProtocolError:
        return None  # unreadable mapping: this format is unusable, the others may not be
    if rtpmap is None:
        if payload_type >= FIRST_DYNAMIC_PAYLOAD_TYPE:
            return None  # a dynamic type without rtpmap means nothing
        return registry.by_static_payload_type(payload_type)
    codec = registry.lookup(rtpmap.encoding, rtpmap.clock_rate)
    if codec is None or codec.channels != rtpmap.channels:
        return None
    return codec


def _events_for(formats: list[PayloadFormat], clock_rate: int) -> PayloadFormat | None:
    return next(
        (
            item
            for item in formats
            if item.codec.telephone_event and item.codec.clock_rate == clock_rate
        ),
        None,
    )


def _answer_ptime(media: MediaDescription, ours: int) -> int:
    offered = _readable(media, _ptime)
    if offered is not None and offered in ALLOWED_PTIMES:
        return int(offered)
    limit = _readable(media, _maxptime)
    if limit is None or ours <= limit:
        return ours
    fitting = [ptime for ptime in ALLOWED_PTIMES if ptime <= limit]
    return max(fitting) if fitting else min(ALLOWED_PTIMES)


def _negotiated(
    index: int,
    remote: MediaDescription,
    connection: Connection,
    *,
    formats: tuple[PayloadFormat, ...],
    events: PayloadFormat | None,
    ptime: int,
    direction: Direction,
    remote_direction: Direction,
    rtcp_mux: bool = False,
) -> NegotiatedMedia:
    rtcp = remote.rtcp  # RFC 3605: a malformed a=rtcp is an error, not a hint to skip
    rtcp_address = connection.address
    if rtcp is not None and rtcp.connection is not None and not rtcp_mux:
        rtcp_address = rtcp.connection.address
    if rtcp_mux:  # RFC 5761 §5.1.3: RTCP goes to the RTP port, whatever a=rtcp says
        rtcp_port: int | None = remote.port
    elif rtcp is not None:
        rtcp_port = rtcp.port
    else:
        rtcp_port = remote.port + 1 if remote.port < 65535 else None
    return NegotiatedMedia(
        media_index=index,
        proto=remote.proto,
        remote_address=connection.address,
        remote_port=remote.port,
        remote_rtcp_address=rtcp_address,
        remote_rtcp_port=rtcp_port,
        formats=formats,
        telephone_event_payload_type=events.payload_type if events is not None else None,
        ptime=ptime,
        direction=direction,
        remote_direction=remote_direction,
        crypto=remote.crypto,
        rtcp_mux=rtcp_mux,
    )


# -- the answer to our offer ------------------------------------------------------------------


def process_answer(
    offer: SessionDescription,
    answer: SessionDescription,
    *,
    registry: CodecRegistry = CODECS,
) -> NegotiatedMedia:
    """Check ``answer`` against our ``offer`` (RFC 3264 §6, §7) and say what was agreed.

    An answer that breaks the rules or rejects our audio is ``RemoteProtocolError`` 488.
    """
    candidates = [
        number
        for number, media in enumerate(offer.media)
        if media.media == "audio" and media.port != 0 and media.is_rtp
    ]
    if not candidates:
        raise LocalProtocolError("our offer has no audio stream")
    if len(answer.media) != len(offer.media):
        raise _not_acceptable(
            f"the answer has {len(answer.media)} m= lines, the offer {len(offer.media)}"
        )
    for number, (mine, theirs) in enumerate(zip(offer.media, answer.media, strict=True), 1):
        if mine.media != theirs.media:
            raise _not_acceptable(f"m-line {number}: {theirs.media} answers {mine.media}")
    # Our offers carry one audio stream; with several, the first one accepted is the call's.
    index = next((number for number in candidates if answer.media[number].port != 0), None)
    if index is None:
        raise _not_acceptable("the answer rejected the audio stream")
    offered, answered = offer.media[index], answer.media[index]
    if answered.proto != offered.proto:
        raise _not_acceptable(f"the answer changed the profile to {answered.proto}")
    offered_types = set(offered.payload_types)
    formats: list[PayloadFormat] = []
    events: PayloadFormat | None = None
    for payload_type in answered.payload_types:
        if payload_type not in offered_types:
            raise _not_acceptable(f"the answer uses payload type {payload_type}, not offered")
        codec = _codec_for(offered, payload_type, registry)
        if codec is None:
            continue  # offered by us yet unknown to the registry: nothing to use it for
        if _remapped(answered, payload_type, codec, registry):
            raise _not_acceptable(f"the answer maps payload type {payload_type} differently")
        if codec.telephone_event:
            events = events or PayloadFormat(payload_type, codec)
        else:
            formats.append(PayloadFormat(payload_type, codec))
    if not formats:
        raise _not_acceptable("the answer has no codec we support")
    if events is not None and events.codec.clock_rate != formats[0].codec.clock_rate:
        events = None
    connection = answer.media_connection(answered)
    if connection is None:
        raise RemoteProtocolError("the answer's audio stream has no c= address", 400)
    our_direction = offer.media_direction(offered)
    their_direction = answer.media_direction(answered)
    direction = Direction.from_flags(
        our_direction.sends and their_direction.receives and not connection.is_unspecified,
        our_direction.receives and their_direction.sends,
    )
    ptime = _answered_ptime(answered, offered, formats[0].codec)
    return _negotiated(
        index,
        answered,
        connection,
        formats=tuple(formats),
        events=events,
        ptime=ptime,
        direction=direction,
        remote_direction=their_direction,
        rtcp_mux=offered.rtcp_mux and answered.rtcp_mux,
    )


def _remapped(
    answered: MediaDescription, payload_type: int, codec: AudioCodec, registry: CodecRegistry
) -> bool:
    """Does the answer's own ``a=rtpmap`` give ``payload_type`` another meaning?"""
    try:
        rtpmap = answered.rtpmap(payload_type)
    except RemoteProtocolError:
        return False  # unreadable: the offer's mapping stands
    if rtpmap is None:
        return False
    same = registry.lookup(rtpmap.encoding, rtpmap.clock_rate) == codec
    return not (same and rtpmap.channels == codec.channels)


def _answered_ptime(
    answered: MediaDescription, offered: MediaDescription, codec: AudioCodec
) -> int:
    for media in (answered, offered):
        ptime = _readable(media, _ptime)
        if ptime is not None and ptime in ALLOWED_PTIMES:
            return int(ptime)
    return codec.default_ptime


# -- re-offers ----------------------------------------------------------------------------------


class SdpSession:
    """Our SDP identity within one call, and the o= version rules of RFC 3264 §8.

    Every description we send — offer or answer — goes through here.  The
    session id is fixed; the version starts at ``version`` and rises by one for
    each description that differs from the one sent before it, and only then
    (§8: "If the version in the origin line does not increment, the SDP MUST be
    identical to the SDP with that version number").  ``address``, ``rtp_port``
    and ``policy`` may be changed between exchanges; the next description then
    differs and carries the next version.
    """

    def __init__(
        self,
        policy: MediaPolicy,
        address: str,
        rtp_port: int,
        session_id: int,
        version: int = 0,
    ) -> None:
        self.policy = policy
        self.address = address
        self.rtp_port = rtp_port
        self._session_id = session_id
        self._version = version
        self._local: SessionDescription | None = None
        self._remote: SessionDescription | None = None
        self._pending_offer: SessionDescription | None = None

    @property
    def session_id(self) -> int:
        return self._session_id

    @property
    def version(self) -> int:
        """The version of the last description sent (the first one's, before any)."""
        return self._version

    @property
    def local(self) -> SessionDescription | None:
        """The last description we sent."""
        return self._local

    @property
    def remote(self) -> SessionDescription | None:
        """The last description the far end sent."""
        return self._remote

    @property
    def has_pending_offer(self) -> bool:
        return self._pending_offer is not None

    def next_offer(self, direction: Direction | str = Direction.SENDRECV) -> SessionDescription:
        """Our next offer (initial INVITE, re-INVITE, or a 200 to an INVITE without SDP)."""
        if self._pending_offer is not None:
            raise LocalProtocolError("an offer is already waiting for its answer")
        offer = self._stamp(
            build_offer(
                self.policy, self.address, self.rtp_port, self._session_id, self._version, direction
            )
        )
        self._pending_offer = offer
        return offer

    def receive_answer(self, answer: SessionDescription) -> NegotiatedMedia:
        """The answer to our pending offer; ``RemoteProtocolError`` 488 if unacceptable."""
        if self._pending_offer is None:
            raise LocalProtocolError("an answer arrived with no offer of ours outstanding")
        negotiated = process_answer(self._pending_offer, answer, registry=self.policy.registry)
        self._pending_offer = None
        self._remote = answer
        return negotiated

    def abandon_offer(self) -> None:
        """Our offer failed (a 488 or 491 to our re-INVITE): the previous session stands.

        The version is not rolled back: the rejected offer was sent, and any later
        description that differs from it needs the next number.
        """
        self._pending_offer = None

    def answer(
        self, offer: SessionDescription, direction: Direction | str = Direction.SENDRECV
    ) -> tuple[SessionDescription, NegotiatedMedia | None]:
        """Answer the far end's offer; ``RemoteProtocolError`` 488 leaves the session as it was."""
        if self._pending_offer is not None:
            # Offers crossing (glare) are the dialog layer's to resolve with a 491.
            raise LocalProtocolError("an offer arrived while ours awaits its answer")
        answer, negotiated = answer_offer(
            offer,
            self.policy,
            self.address,
            self.rtp_port,
            self._session_id,
            self._version,
            direction=direction,
        )
        answer = self._stamp(answer)
        self._remote = offer
        return answer, negotiated

    def remote_changed(self, description: SessionDescription) -> bool:
        """Does ``description`` change the far end's session, or merely refresh it?

        RFC 3264 §8: an unchanged o= version means an unchanged description (a
        session-timer re-INVITE, say).  A different origin (another session id or
        address) or version is a change.  So is a different body under the same
        version — forbidden by §8, but a peer or B2BUA that does it still moved
        its media, and re-negotiating costs less than silence.  The first
        description ever is a change.
        """
        last = self._remote
        if last is None:
            return True
        if replace(description.origin, session_version=0) != replace(
            last.origin, session_version=0
        ):
            return True
        if description.origin.session_version != last.origin.session_version:
            return True
        return description != last

    def _stamp(self, description: SessionDescription) -> SessionDescription:
        """Give ``description`` the right version, counting it as sent."""
        last = self._local
        if last is not None and _with_version(description, 0) != _with_version(last, 0):
            self._version += 1
            description = _with_version(description, self._version)
        self._local = description
        return description


def _with_version(description: SessionDescription, version: int) -> SessionDescription:
    return replace(description, origin=replace(description.origin, session_version=version))
