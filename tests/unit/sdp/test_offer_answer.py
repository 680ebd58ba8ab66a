"""RFC 3264 offer/answer: our offers, our answers, checking answers, re-offers."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoneagent.sdp.codecs import CODECS, PCMA, PCMU, AudioCodec
from phoneagent.sdp.model import Direction, MediaDescription, SessionDescription, TimeDescription
from phoneagent.sdp.offer_answer import (
    MediaPolicy,
    NegotiatedMedia,
    PayloadFormat,
    SdpSession,
    answer_offer,
    build_offer,
    process_answer,
)
from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from tests.unit.sdp.samples import (
    ASTERISK,
    BARESIP,
    CISCO_SRTP,
    IPV6_PHONE,
    KAMAILIO_RELAYED,
    LINPHONE,
    crlf,
)

POLICY = MediaPolicy()
US = "192.0.2.10"
THEM = "198.51.100.20"


def remote_offer(
    formats: str,
    *attributes: str,
    connection: str = f"IN IP4 {THEM}",
    port: int = 30000,
    proto: str = "RTP/AVP",
    before: str = "",
    after: str = "",
    session: str = "",
) -> SessionDescription:
    """An offer from the far end with one audio m= line (plus ``before``/``after`` lines)."""
    lines = ["v=0", f"o=peer 42 7 {connection}", "s=call", f"c={connection}", "t=0 0"]
    lines += [line for line in session.split("\n") if line]
    lines += [line for line in before.split("\n") if line]
    lines += [f"m=audio {port} {proto} {formats}", *(f"a={item}" for item in attributes)]
    lines += [line for line in after.split("\n") if line]
    return SessionDescription.parse(crlf("\n".join(lines) + "\n"))


def answer(
    offer: SessionDescription, policy: MediaPolicy = POLICY, direction: str = "sendrecv"
) -> tuple[SessionDescription, NegotiatedMedia | None]:
    return answer_offer(offer, policy, US, 4000, 1000, 1, direction=direction)


def accepted(
    offer: SessionDescription, policy: MediaPolicy = POLICY, direction: str = "sendrecv"
) -> tuple[SessionDescription, NegotiatedMedia]:
    sdp, negotiated = answer(offer, policy, direction)
    assert negotiated is not None
    return sdp, negotiated


def refused(offer: SessionDescription, policy: MediaPolicy = POLICY) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as caught:
        answer(offer, policy)
    return caught.value


# -- our offer ---------------------------------------------------------------------------------


def test_default_offer_byte_exact() -> None:
    offer = build_offer(POLICY, US, 4000, 1000, 1)
    assert bytes(offer) == crlf("""
v=0
o=- 1000 1 IN IP4 192.0.2.10
s=-
c=IN IP4 192.0.2.10
t=0 0
m=audio 4000 RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=sendrecv
a=rtcp-mux
""")
    assert SessionDescription.parse(bytes(offer)) == offer


def test_ipv6_offer() -> None:
    offer = build_offer(POLICY, "2001:DB8::10", 4000, 1, 2)
    assert bytes(offer).startswith(
        crlf("v=0\no=- 1 2 IN IP6 2001:db8::10\ns=-\nc=IN IP6 2001:db8::10\n")
    )


def test_offer_variants() -> None:
    policy = MediaPolicy(
        codecs=("PCMA",), ptime=30, telephone_event=True, telephone_event_payload_type=96
    )
    offer = build_offer(policy, US, 5004, 1, 1, direction="sendonly")
    text = bytes(offer).decode()
    assert "m=audio 5004 RTP/AVP 8 96\r\n" in text
    assert "a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\n" in text
    assert text.endswith("a=ptime:30\r\na=sendonly\r\na=rtcp-mux\r\n")
    assert "a=rtcp:" not in text  # RTCP on port + 1 unless muxed: nothing to say (RFC 3605)
    no_events = build_offer(MediaPolicy(telephone_event=False), US, 4000, 1, 1)
    assert no_events.media[0].formats == ("0", "8")


def test_offer_gives_dynamic_codecs_free_payload_types() -> None:
    registry = CODECS.copy()
    registry.register(AudioCodec("opus", 48000, channels=2, fmtp="useinbandfec=1"))
    registry.register(AudioCodec("telephone-event", 48000, fmtp="0-16", telephone_event=True))
    policy = MediaPolicy(codecs=("opus", "PCMU"), registry=registry)
    media = build_offer(policy, US, 4000, 1, 1).media[0]
    assert media.formats == ("96", "0", "101", "97")
    assert str(media.rtpmap(96)) == "96 opus/48000/2"
    assert str(media.rtpmap(101)) == "101 telephone-event/48000"
    assert str(media.rtpmap(97)) == "97 telephone-event/8000"
    assert media.fmtp(96) == "useinbandfec=1"


@pytest.mark.parametrize(
    "build",
    [
        lambda: build_offer(POLICY, "phone.example.com", 4000, 1, 1),
        lambda: build_offer(POLICY, US, 0, 1, 1),
        lambda: build_offer(POLICY, US, 65536, 1, 1),
        lambda: build_offer(POLICY, US, 4000, 1, 1, direction="hold"),
        lambda: build_offer(POLICY, US, 4000, -1, 1),
        lambda: MediaPolicy(codecs=()),
        lambda: MediaPolicy(codecs=("G729",)),
        lambda: MediaPolicy(codecs=("PCMU", "pcmu")),
        lambda: MediaPolicy(codecs=("telephone-event",)),
        lambda: MediaPolicy(ptime=25),
        lambda: MediaPolicy(telephone_event_payload_type=8),
    ],
)
def test_our_mistakes_are_local_errors(build: object) -> None:
    with pytest.raises(LocalProtocolError):
        build()  # type: ignore[operator]


# -- answering: codecs ----------------------------------------------------------------------------

G722 = "rtpmap:9 G722/8000"
TE101 = "rtpmap:101 telephone-event/8000"


Offered = tuple[str, tuple[str, ...]]  # the m= formats, the a= lines
Expected = tuple[tuple[str, ...], AudioCodec, int | None]  # answer formats, codec, events


@pytest.mark.parametrize(
    ("codecs", "offered", "expected"),
    [
        (("PCMU", "PCMA"), ("0", ()), (("0",), PCMU, None)),
        (("PCMU", "PCMA"), ("8", ()), (("8",), PCMA, None)),
        (("PCMU", "PCMA"), ("0 8", ()), (("0", "8"), PCMU, None)),
        # RFC 3264 §6.1 lets the answerer order: we keep ours
        (("PCMU", "PCMA"), ("8 0", ()), (("0", "8"), PCMU, None)),
        (("PCMA", "PCMU"), ("0 8", ()), (("8", "0"), PCMA, None)),
        (("PCMU", "PCMA"), ("9 8", (G722,)), (("8",), PCMA, None)),
        (("PCMU", "PCMA"), ("0 101", (TE101,)), (("0", "101"), PCMU, 101)),
        (("PCMU", "PCMA"), ("8 96", ("rtpmap:96 telephone-event/8000",)), (("8", "96"), PCMA, 96)),
        (("PCMU", "PCMA"), ("0 8 101", (TE101, "fmtp:101 0-15")), (("0", "8", "101"), PCMU, 101)),
        # events only at the chosen codec's clock rate
        (("PCMU",), ("0 101", ("rtpmap:101 telephone-event/48000",)), (("0",), PCMU, None)),
        # our codec on a dynamic number: the offer's number is kept
        (("PCMU",), ("98", ("rtpmap:98 PCMU/8000",)), (("98",), PCMU, None)),
        (("PCMU",), ("0", ("rtpmap:0 pcmu/8000",)), (("0",), PCMU, None)),
        (("PCMU", "PCMA"), ("97 8", ("rtpmap:97 PCMU/8000/2",)), (("8",), PCMA, None)),
        # a static number we do not register, a dynamic one with no rtpmap
        (("PCMU", "PCMA"), ("18 100 8", ()), (("8",), PCMA, None)),
        # an unreadable rtpmap spoils its own format only
        (("PCMU", "PCMA"), ("0 8", ("rtpmap:0 PCMU",)), (("8",), PCMA, None)),
    ],
)  # fmt: skip
def test_answer_codec_table(codecs: tuple[str, ...], offered: Offered, expected: Expected) -> None:
    formats, attributes = offered
    answer_formats, chosen, events = expected
    sdp, negotiated = accepted(remote_offer(formats, *attributes), MediaPolicy(codecs=codecs))
    media = sdp.media[0]
    assert media.formats == answer_formats
    assert negotiated.codec == chosen
    assert negotiated.payload_type == int(answer_formats[0])
    assert negotiated.clock_rate == 8000
    assert negotiated.telephone_event_payload_type == events
    assert [item.payload_type for item in negotiated.formats] == [
        int(fmt) for fmt in answer_formats if int(fmt) != events
    ]
    if events is not None:
        assert str(media.rtpmap(events)) == f"{events} telephone-event/8000"
        assert media.fmtp(events) == "0-16"


def test_answer_without_telephone_event_when_the_policy_says_so() -> None:
    sdp, negotiated = accepted(remote_offer("0 101", TE101), MediaPolicy(telephone_event=False))
    assert sdp.media[0].formats == ("0",)
    assert negotiated.telephone_event_payload_type is None


def test_default_answer_byte_exact() -> None:
    offer = remote_offer("8 0 101", TE101, "fmtp:101 0-15", "ptime:20")
    sdp, _ = accepted(offer)
    assert bytes(sdp) == crlf("""
v=0
o=- 1000 1 IN IP4 192.0.2.10
s=-
c=IN IP4 192.0.2.10
t=0 0
m=audio 4000 RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=sendrecv
""")


# -- answering: ptime, direction, hold ---------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "policy_ptime", "expected"),
    [
        ((), 20, 20),
        (("ptime:30",), 20, 30),
        (("ptime:10",), 20, 10),
        (("ptime:40",), 20, 40),
        (("ptime:25",), 20, 20),  # not one we mirror
        (("ptime:60",), 30, 30),
        (("ptime:30.0",), 20, 30),
        (("ptime:banana",), 20, 20),  # unreadable: ignored
        (("maxptime:10",), 20, 10),
        (("maxptime:20",), 30, 20),
        (("maxptime:35",), 40, 30),
        (("maxptime:5",), 20, 10),
        (("maxptime:150",), 30, 30),
    ],
)
def test_answer_ptime(attributes: tuple[str, ...], policy_ptime: int, expected: int) -> None:
    sdp, negotiated = accepted(remote_offer("0", *attributes), MediaPolicy(ptime=policy_ptime))
    assert negotiated.ptime == expected
    assert sdp.media[0].ptime == expected


@pytest.mark.parametrize(
    ("offered", "wanted", "answered", "hold"),
    [
        ("sendrecv", "sendrecv", Direction.SENDRECV, False),
        ("sendonly", "sendrecv", Direction.RECVONLY, True),
        ("recvonly", "sendrecv", Direction.SENDONLY, False),
        ("inactive", "sendrecv", Direction.INACTIVE, True),
        (None, "sendrecv", Direction.SENDRECV, False),
        ("sendrecv", "sendonly", Direction.SENDONLY, False),  # we hold while answering
        ("sendonly", "sendonly", Direction.INACTIVE, True),
        ("sendrecv", "inactive", Direction.INACTIVE, False),
        ("recvonly", "recvonly", Direction.INACTIVE, False),
    ],
)
def test_answer_direction(
    offered: str | None, wanted: str, answered: Direction, hold: bool
) -> None:
    attributes = (offered,) if offered else ()
    sdp, negotiated = accepted(remote_offer("0", *attributes), direction=wanted)
    assert sdp.media[0].direction is answered
    assert negotiated.direction is answered
    assert (negotiated.can_send, negotiated.can_receive) == (answered.sends, answered.receives)
    assert negotiated.is_hold is hold


def test_session_level_direction_is_answered_at_media_level() -> None:
    sdp, negotiated = accepted(remote_offer("0", session="a=sendonly"))
    assert sdp.media[0].direction is Direction.RECVONLY
    assert sdp.direction is None
    assert negotiated.remote_direction is Direction.SENDONLY and negotiated.is_hold


def test_hold_by_zero_address() -> None:
    # RFC 3264 §8.4: the RFC 2543 way — c=0.0.0.0, still "sendrecv".
    offer = remote_offer("0", "sendrecv", connection="IN IP4 0.0.0.0")
    sdp, negotiated = accepted(offer)
    assert negotiated.is_hold
    assert not negotiated.can_send and negotiated.can_receive
    assert sdp.media[0].direction is Direction.RECVONLY
    assert negotiated.remote_address == "0.0.0.0"


def test_resume_after_hold() -> None:
    _, held = accepted(remote_offer("0", "sendonly"))
    _, resumed = accepted(remote_offer("0", "sendrecv"))
    assert held.is_hold and not resumed.is_hold
    assert resumed.can_send and resumed.can_receive


# -- answering: streams ---------------------------------------------------------------------------

VIDEO = "m=video 30002 RTP/AVP 96\na=rtpmap:96 H264/90000\na=fmtp:96 profile-level-id=42e01f"


def test_video_line_is_rejected_with_port_zero_and_its_formats() -> None:
    sdp, negotiated = accepted(remote_offer("0", after=VIDEO))
    assert len(sdp.media) == 2
    video = sdp.media[1]
    assert (video.media, video.port, video.proto, video.formats) == ("video", 0, "RTP/AVP", ("96",))
    assert video.attributes == ()
    assert negotiated.media_index == 0


def test_video_first_then_audio() -> None:
    offer = remote_offer("8", before=VIDEO)
    sdp, negotiated = accepted(offer)
    assert [(media.media, media.port) for media in sdp.media] == [("video", 0), ("audio", 4000)]
    assert negotiated.media_index == 1 and negotiated.remote_port == 30000


def test_only_the_first_usable_audio_stream_is_accepted() -> None:
    offer = remote_offer(
        "0", after="m=audio 0 RTP/AVP 0\nm=audio 30004 RTP/AVP 8\nm=audio 30006 RTP/AVPF 0"
    )
    sdp, negotiated = accepted(offer)
    assert [media.port for media in sdp.media] == [4000, 0, 0, 0]
    assert [media.proto for media in sdp.media] == ["RTP/AVP"] * 3 + ["RTP/AVPF"]
    assert negotiated.media_index == 0


def test_unusable_audio_streams_are_skipped() -> None:
    offer = remote_offer(
        "0",
        proto="RTP/AVPF",
        after="m=audio 30004 RTP/AVP 9\na="
        + G722
        + "\nm=audio 30006 RTP/AVP 8\nc=IN IP4 192.0.2.99",
    )
    sdp, negotiated = accepted(offer)
    assert [media.port for media in sdp.media] == [0, 0, 4000]
    assert negotiated.media_index == 2
    assert negotiated.remote_address == "192.0.2.99"  # media-level c= wins
    assert negotiated.codec == PCMA


def test_image_t38_line_is_rejected() -> None:
    sdp, _ = accepted(remote_offer("0", after="m=image 30010 udptl t38"))
    assert (sdp.media[1].port, sdp.media[1].formats) == (0, ("t38",))


def test_answer_copies_the_offers_time() -> None:
    offer = dataclasses.replace(remote_offer("0"), times=(TimeDescription(3724394400, 0),))
    sdp, _ = accepted(offer)
    assert sdp.times == offer.times


@pytest.mark.parametrize(
    ("offer", "why"),
    [
        (remote_offer("9", G722), "no codec in common"),
        (remote_offer("3 18", "rtpmap:3 GSM/8000"), "no codec in common"),
        (remote_offer("101", TE101), "no codec in common"),  # events alone are no codec
        (remote_offer("0", proto="RTP/AVPF"), "profile RTP/AVPF"),
        (remote_offer("0", proto="RTP/SAVPF"), "profile"),
        (remote_offer("0", connection="IN IP4 224.2.1.1/127"), "multicast"),
        (
            SessionDescription.parse(crlf(
                "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n" + VIDEO + "\n"
            )),
            "not audio",
        ),
    ],
)  # fmt: skip
def test_nothing_acceptable_is_488(offer: SessionDescription, why: str) -> None:
    error = refused(offer)
    assert error.status_hint == 488
    assert why in error.reason


def test_missing_connection_for_the_audio_stream_is_400() -> None:
    offer = SessionDescription.parse(
        crlf("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 0\n")
    )
    assert refused(offer).status_hint == 400


def test_conflicting_directions_in_the_offer_are_400() -> None:
    assert refused(remote_offer("0", "sendonly", "recvonly")).status_hint == 400


def test_offer_with_every_stream_disabled_gets_no_media() -> None:
    # RFC 3264 §8.2: port 0 in the offer; the answer mirrors it and nothing is negotiated.
    sdp, negotiated = answer(remote_offer("0", port=0, after="m=video 0 RTP/AVP 96"))
    assert negotiated is None
    assert [media.port for media in sdp.media] == [0, 0]
    empty = SessionDescription.parse(crlf("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\n"))
    sdp, negotiated = answer(empty)
    assert negotiated is None and sdp.media == ()


def test_ipv6_offer_and_answer() -> None:
    offer = remote_offer("0 8", connection="IN IP6 2001:db8::20")
    sdp, negotiated = answer_offer(offer, POLICY, "2001:db8::10", 4000, 1, 1)
    assert negotiated is not None
    assert negotiated.remote_address == "2001:db8::20"
    assert negotiated.remote_rtcp_address == "2001:db8::20"
    assert sdp.connection is not None and sdp.connection.address_type == "IP6"
    assert sdp.origin.address == "2001:db8::10"


def test_srtp_profile_is_accepted_here_and_reported() -> None:
    crypto = "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32"
    sdp, negotiated = accepted(remote_offer("0", f"crypto:{crypto}", proto="RTP/SAVP"))
    assert sdp.media[0].proto == "RTP/SAVP"
    assert negotiated.proto == "RTP/SAVP"
    assert negotiated.crypto == (crypto,)


@pytest.mark.parametrize(
    ("attributes", "port", "address", "rtcp_port"),
    [
        ((), 30000, THEM, 30001),
        (("rtcp:30011",), 30000, THEM, 30011),
        (("rtcp:30011 IN IP4 192.0.2.77",), 30000, "192.0.2.77", 30011),
        (("rtcp-mux",), 30000, THEM, 30000),  # RFC 5761: accepted, RTCP on the RTP port
        (("rtcp-mux", "rtcp:30011"), 30000, THEM, 30000),  # mux wins over a=rtcp
        ((), 65535, THEM, None),
    ],
)
def test_rtcp_address(
    attributes: tuple[str, ...], port: int, address: str, rtcp_port: int | None
) -> None:
    _, negotiated = accepted(remote_offer("0", *attributes, port=port))
    assert (negotiated.remote_address, negotiated.remote_port) == (THEM, port)
    assert (negotiated.remote_rtcp_address, negotiated.remote_rtcp_port) == (address, rtcp_port)


def test_malformed_rtcp_attribute_is_400() -> None:
    assert refused(remote_offer("0", "rtcp:abc")).status_hint == 400


# -- answering real peers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "formats", "expected"),
    [
        # answer formats; remote address, RTP port, RTCP port; events, ptime
        (BARESIP, ("0", "8", "101"), ("192.0.2.20", 10250, 10251, 101, 20)),
        (ASTERISK, ("0", "8", "101"), ("203.0.113.5", 17942, 17943, 101, 20)),
        (KAMAILIO_RELAYED, ("0", "8", "96"), ("198.51.100.7", 30018, 30019, 96, 20)),
        (LINPHONE, ("0", "8", "100"), ("192.0.2.11", 7078, 7079, 100, 20)),
        (CISCO_SRTP, ("0", "8", "101"), ("192.0.2.44", 24580, 24580, 101, 30)),  # rtcp-mux
        (IPV6_PHONE, ("0", "8", "127"), ("2001:db8::42", 2222, 2223, 127, 20)),
    ],
)
def test_answering_real_peers(
    body: bytes, formats: tuple[str, ...], expected: tuple[str, int, int, int, int]
) -> None:
    offer = SessionDescription.parse(body)
    sdp, negotiated = accepted(offer)
    assert sdp.media[0].formats == formats
    assert negotiated.codec == PCMU
    assert (
        negotiated.remote_address,
        negotiated.remote_port,
        negotiated.remote_rtcp_port,
        negotiated.telephone_event_payload_type,
        negotiated.ptime,
    ) == expected
    assert negotiated.direction is Direction.SENDRECV and not negotiated.is_hold
    # our answer satisfies the offer by our own rules
    assert process_answer(offer, sdp).payload_type == 0


# -- processing the answer to our offer ------------------------------------------------------------

OUR_OFFER = build_offer(POLICY, US, 4000, 1000, 1)


def their_answer(
    formats: str = "0 101",
    *attributes: str,
    connection: str = f"IN IP4 {THEM}",
    port: int = 30000,
    proto: str = "RTP/AVP",
    after: str = "",
) -> SessionDescription:
    return remote_offer(
        formats, *attributes, connection=connection, port=port, proto=proto, after=after
    )


def test_process_a_plain_answer() -> None:
    negotiated = process_answer(OUR_OFFER, their_answer("0 101", TE101, "ptime:20"))
    assert negotiated.codec == PCMU and negotiated.payload_type == 0
    assert negotiated.formats == (PayloadFormat(0, PCMU),)
    assert negotiated.telephone_event_payload_type == 101
    assert (negotiated.remote_address, negotiated.remote_port) == (THEM, 30000)
    assert negotiated.remote_rtcp_port == 30001
    assert negotiated.ptime == 20
    assert negotiated.direction is Direction.SENDRECV
    assert negotiated.proto == "RTP/AVP"


def test_the_answers_first_supported_codec_is_chosen() -> None:
    negotiated = process_answer(OUR_OFFER, their_answer("8 0"))
    assert negotiated.codec == PCMA
    assert [item.codec for item in negotiated.formats] == [PCMA, PCMU]
    assert negotiated.telephone_event_payload_type is None


@pytest.mark.parametrize(
    ("attributes", "expected"), [((), 20), (("ptime:30",), 30), (("ptime:25",), 20)]
)
def test_answer_ptime_is_the_one_we_send_with(attributes: tuple[str, ...], expected: int) -> None:
    assert process_answer(OUR_OFFER, their_answer("0", *attributes)).ptime == expected


@pytest.mark.parametrize(
    ("ours", "theirs", "sends", "receives", "hold"),
    [
        ("sendrecv", "sendrecv", True, True, False),
        ("sendrecv", "recvonly", True, False, False),
        ("sendrecv", "sendonly", False, True, True),
        ("sendrecv", "inactive", False, False, True),
        ("sendonly", "recvonly", True, False, False),  # our hold, accepted
        ("sendonly", "sendrecv", True, False, False),  # a sloppy answer: we still only send
        ("inactive", "inactive", False, False, True),
    ],
)
def test_processed_direction(
    ours: str, theirs: str, sends: bool, receives: bool, hold: bool
) -> None:
    offer = build_offer(POLICY, US, 4000, 1, 1, direction=ours)
    negotiated = process_answer(offer, their_answer("0", theirs))
    assert (negotiated.can_send, negotiated.can_receive) == (sends, receives)
    assert negotiated.remote_direction is Direction(theirs)
    assert negotiated.is_hold is hold


def test_answer_with_zero_address_is_hold() -> None:
    negotiated = process_answer(OUR_OFFER, their_answer("0", connection="IN IP4 0.0.0.0"))
    assert negotiated.is_hold and not negotiated.can_send and negotiated.can_receive


def test_answer_crypto_lines_are_passed_on() -> None:
    offer = dataclasses.replace(
        OUR_OFFER, media=(dataclasses.replace(OUR_OFFER.media[0], proto="RTP/SAVP"),)
    )
    negotiated = process_answer(
        offer, their_answer("0", "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x", proto="RTP/SAVP")
    )
    assert negotiated.crypto == ("1 AES_CM_128_HMAC_SHA1_80 inline:x",)
    assert negotiated.proto == "RTP/SAVP"


@pytest.mark.parametrize(
    ("answer_sdp", "why"),
    [
        (their_answer("0 18"), "payload type 18, not offered"),
        (their_answer("9", G722), "not offered"),
        (their_answer("101", TE101), "no codec we support"),
        (their_answer("0", port=0), "rejected the audio stream"),
        (their_answer("0", proto="RTP/SAVP"), "profile"),
        (their_answer("0", after="m=video 0 RTP/AVP 96"), "m= lines"),
        (their_answer("0 101", "rtpmap:101 PCMA/8000"), "maps payload type 101 differently"),
        (their_answer("0", "rtpmap:0 PCMA/8000"), "maps payload type 0 differently"),
    ],
)
def test_bad_answers_are_488(answer_sdp: SessionDescription, why: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        process_answer(OUR_OFFER, answer_sdp)
    assert caught.value.status_hint == 488
    assert why in caught.value.reason


def test_answer_changing_the_media_type_is_488() -> None:
    answer_sdp = SessionDescription.parse(
        crlf("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=video 0 RTP/AVP 0\n")
    )
    with pytest.raises(RemoteProtocolError) as caught:
        process_answer(OUR_OFFER, answer_sdp)
    assert caught.value.status_hint == 488


def test_answer_without_connection_is_400() -> None:
    answer_sdp = SessionDescription.parse(
        crlf("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\nm=audio 5000 RTP/AVP 0\n")
    )
    with pytest.raises(RemoteProtocolError) as caught:
        process_answer(OUR_OFFER, answer_sdp)
    assert caught.value.status_hint == 400


def test_process_answer_needs_an_offer_with_audio() -> None:
    offer = dataclasses.replace(OUR_OFFER, media=())
    with pytest.raises(LocalProtocolError):
        process_answer(offer, their_answer())


# -- INVITE without SDP: the offer goes in the 200, the answer in the ACK ------------------------


def test_invite_without_sdp_walkthrough() -> None:
    # The far end INVITEs with no body: RFC 3261 §13.2.1 makes our 200 (OK) the offer.
    us = SdpSession(POLICY, US, 4000, session_id=5551212)
    offer_in_200 = us.next_offer()
    assert us.has_pending_offer and offer_in_200.origin.session_version == 0
    wire_offer = bytes(offer_in_200)

    # The caller (here: baresip-like, preferring PCMA) answers in the ACK.
    caller_policy = MediaPolicy(codecs=("PCMA", "PCMU"))
    answer_in_ack, callers_view = answer_offer(
        SessionDescription.parse(wire_offer), caller_policy, THEM, 30000, 77, 1
    )
    assert callers_view is not None

    # We take the ACK's body as the answer.
    ours = us.receive_answer(SessionDescription.parse(bytes(answer_in_ack)))
    assert not us.has_pending_offer
    assert ours.codec == PCMA == callers_view.codec
    assert ours.payload_type == callers_view.payload_type == 8
    assert ours.telephone_event_payload_type == callers_view.telephone_event_payload_type == 101
    assert (ours.remote_address, ours.remote_port) == (THEM, 30000)
    assert (callers_view.remote_address, callers_view.remote_port) == (US, 4000)
    assert ours.can_send and ours.can_receive
    assert us.remote == SessionDescription.parse(bytes(answer_in_ack))


def test_an_ack_answer_we_cannot_accept_is_488() -> None:
    us = SdpSession(POLICY, US, 4000, session_id=1)
    us.next_offer()
    with pytest.raises(RemoteProtocolError) as caught:
        us.receive_answer(their_answer("9", G722))
    assert caught.value.status_hint == 488
    assert us.has_pending_offer  # the caller decides: BYE after the ACK (RFC 3261 §13.2.2.4)


# -- re-offers and the o= version (RFC 3264 §8) --------------------------------------------------


def test_version_rises_only_when_our_description_changes() -> None:
    us = SdpSession(POLICY, US, 4000, session_id=99, version=3)
    first = us.next_offer()
    assert first.origin.session_version == 3 and us.version == 3
    us.receive_answer(their_answer())

    refresh = us.next_offer()  # a session-timer re-INVITE: same description, same version
    assert refresh == first
    us.receive_answer(their_answer())

    hold = us.next_offer(direction=Direction.SENDONLY)
    assert hold.origin.session_version == 4
    assert hold.media[0].direction is Direction.SENDONLY
    us.receive_answer(their_answer("0", "recvonly"))

    resume = us.next_offer()
    assert resume.origin.session_version == 5
    us.receive_answer(their_answer())

    us.rtp_port = 4002
    moved = us.next_offer()
    assert moved.origin.session_version == 6 and moved.media[0].port == 4002
    assert {moved.origin.session_id} == {first.origin.session_id} == {99}
    # everything but the version is the same o= line
    assert dataclasses.replace(moved.origin, session_version=3) == first.origin


def test_our_answers_follow_the_same_version_rule() -> None:
    us = SdpSession(POLICY, US, 4000, session_id=7)
    offer = remote_offer("0 8 101", TE101)
    first, _ = us.answer(offer)
    assert first.origin.session_version == 0
    again, _ = us.answer(offer)  # a refresh re-INVITE
    assert again == first
    held, negotiated = us.answer(remote_offer("0 8 101", TE101, "sendonly"))
    assert held.origin.session_version == 1
    assert negotiated is not None and negotiated.is_hold
    # then our own re-offer differs from our last answer: next version
    assert us.next_offer().origin.session_version == 2


def test_a_refused_offer_leaves_the_session_alone() -> None:
    us = SdpSession(POLICY, US, 4000, session_id=7)
    first, _ = us.answer(remote_offer("0"))
    with pytest.raises(RemoteProtocolError):
        us.answer(remote_offer("9", G722))
    assert us.version == 0 and us.local == first


def test_abandoned_offer_keeps_its_version() -> None:
    us = SdpSession(POLICY, US, 4000, session_id=7)
    us.next_offer()
    us.receive_answer(their_answer())
    hold = us.next_offer(direction="sendonly")
    us.abandon_offer()  # 491 to our re-INVITE
    assert not us.has_pending_offer
    retry = us.next_offer(direction="sendonly")
    assert retry == hold and retry.origin.session_version == 1


def test_offer_answer_order_misuse_is_local() -> None:
    us = SdpSession(POLICY, US, 4000, session_id=7)
    with pytest.raises(LocalProtocolError):
        us.receive_answer(their_answer())
    us.next_offer()
    with pytest.raises(LocalProtocolError):
        us.next_offer()
    with pytest.raises(LocalProtocolError):
        us.answer(remote_offer("0"))  # glare belongs to the dialog layer (491)


def test_remote_changed() -> None:
    us = SdpSession(POLICY, US, 4000, session_id=7)
    offer = remote_offer("0 8")
    assert us.remote_changed(offer)  # the first description is news
    us.answer(offer)
    assert not us.remote_changed(SessionDescription.parse(bytes(offer)))  # a refresh

    bumped = dataclasses.replace(offer, origin=dataclasses.replace(offer.origin, session_version=8))
    assert us.remote_changed(bumped)
    other_session = dataclasses.replace(
        offer, origin=dataclasses.replace(offer.origin, session_id=43)
    )
    assert us.remote_changed(other_session)
    # the same version with another body breaks §8; we still treat it as a change
    sneaky = remote_offer("0 8", port=30100)
    assert sneaky.origin == offer.origin
    assert us.remote_changed(sneaky)

    us.answer(bumped)
    assert not us.remote_changed(bumped)


def test_remote_answer_is_remembered_for_remote_changed() -> None:
    us = SdpSession(POLICY, US, 4000, session_id=7)
    us.next_offer()
    reply = their_answer()
    us.receive_answer(reply)
    assert not us.remote_changed(reply)


# -- properties ----------------------------------------------------------------------------------

_RTPMAPS = {
    "0": None,
    "8": None,
    "9": "G722/8000",
    "18": None,
    "3": "GSM/8000",
    "96": "telephone-event/8000",
    "97": "opus/48000/2",
    "98": "PCMU/8000",
    "99": "telephone-event/48000",
    "100": "PCMA/16000",
    "101": "telephone-event/8000",
    "102": "speex/8000",
}


@st.composite
def audio_offers(draw: st.DrawFn) -> SessionDescription:
    formats = draw(st.lists(st.sampled_from(sorted(_RTPMAPS)), min_size=1, max_size=6, unique=True))
    attributes = [f"rtpmap:{pt} {_RTPMAPS[pt]}" for pt in formats if _RTPMAPS[pt]]
    direction = draw(st.sampled_from(["", "sendrecv", "sendonly", "recvonly", "inactive"]))
    ptime = draw(st.sampled_from(["", "10", "20", "30", "60", "22.5"]))
    attributes += [direction] if direction else []
    attributes += [f"ptime:{ptime}"] if ptime else []
    before = draw(st.sampled_from(["", VIDEO]))
    after = draw(st.sampled_from(["", "m=audio 30200 RTP/AVP 0", "m=image 9 udptl t38"]))
    address = draw(st.sampled_from([f"IN IP4 {THEM}", "IN IP4 0.0.0.0", "IN IP6 2001:db8::9"]))
    return remote_offer(
        " ".join(formats), *attributes, connection=address, before=before, after=after
    )


def _servable(media: MediaDescription, policy: MediaPolicy) -> bool:
    """An independent oracle: an RTP/AVP audio stream with one of the policy's codecs."""
    if media.media != "audio" or media.port == 0 or media.proto != "RTP/AVP":
        return False
    ours = {codec.name for codec in policy.audio_codecs()}
    for fmt in media.formats:
        rtpmap = media.rtpmap(int(fmt))
        name = (
            {"0": "PCMU", "8": "PCMA"}.get(fmt)
            if rtpmap is None
            else (rtpmap.encoding if rtpmap.clock_rate == 8000 and rtpmap.channels == 1 else None)
        )
        if name in ours:
            return True
    return False


_POLICIES = st.builds(
    MediaPolicy,
    st.sampled_from([("PCMU", "PCMA"), ("PCMA", "PCMU"), ("PCMU",), ("PCMA",)]),
    st.sampled_from([10, 20, 30, 40]),
    st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(audio_offers(), _POLICIES, st.sampled_from(list(Direction)))
def test_answers_always_satisfy_their_offers(
    offer: SessionDescription, policy: MediaPolicy, wanted: Direction
) -> None:
    expected_index = next(
        (index for index, media in enumerate(offer.media) if _servable(media, policy)), None
    )
    try:
        sdp, negotiated = answer_offer(offer, policy, US, 4000, 1, 1, direction=wanted)
    except RemoteProtocolError as error:
        assert error.status_hint == 488
        assert expected_index is None
        return
    assert negotiated is not None
    assert negotiated.media_index == expected_index
    assert [m.media for m in sdp.media] == [m.media for m in offer.media]
    assert [m.proto for m in sdp.media] == [m.proto for m in offer.media]
    accepted_media = [m for m in sdp.media if m.port != 0]
    assert len(accepted_media) == 1 and accepted_media[0] is sdp.media[negotiated.media_index]
    offered_media = offer.media[negotiated.media_index]
    assert set(accepted_media[0].formats) <= set(offered_media.formats)
    # our preference order, the first of ours the offer has
    ours = policy.audio_codecs()
    assert negotiated.codec == min((item.codec for item in negotiated.formats), key=ours.index)
    assert [item.codec for item in negotiated.formats] == sorted(
        (item.codec for item in negotiated.formats), key=ours.index
    )
    if negotiated.telephone_event_payload_type is not None:
        assert policy.telephone_event
    assert negotiated.ptime in (10, 20, 30, 40)
    assert not (negotiated.can_send and not wanted.sends)
    assert not (negotiated.can_receive and not wanted.receives)
    # the offerer's view of our answer agrees with ours
    theirs = process_answer(offer, sdp)
    assert theirs.payload_type == negotiated.payload_type
    assert theirs.telephone_event_payload_type == negotiated.telephone_event_payload_type
    assert theirs.ptime == negotiated.ptime
    assert theirs.direction is negotiated.direction.reversed()


def test_rtcp_mux_is_offered_answered_and_used_only_when_both_say_so() -> None:
    """RFC 5761 §5.1.1: the answer accepts by echoing a=rtcp-mux; without it, RTCP stays
    on its own port; a policy without mux neither offers nor accepts it."""
    ours = build_offer(POLICY, "192.0.2.10", 4000, 1, 1)
    assert ours.media[0].rtcp_mux
    answer, negotiated = answer_offer(ours, POLICY, "192.0.2.20", 6000, 2, 1)
    assert answer.media[0].rtcp_mux and negotiated is not None and negotiated.rtcp_mux
    agreed = process_answer(ours, answer)
    assert agreed.rtcp_mux and agreed.remote_rtcp_port == 6000
    no_mux = MediaPolicy(rtcp_mux=False)
    answer, negotiated = answer_offer(ours, no_mux, "192.0.2.20", 6000, 2, 1)
    assert not answer.media[0].rtcp_mux and negotiated is not None and not negotiated.rtcp_mux
    declined = process_answer(ours, answer)
    assert not declined.rtcp_mux and declined.remote_rtcp_port == 6001
    assert not build_offer(no_mux, "192.0.2.10", 4000, 1, 1).media[0].rtcp_mux
