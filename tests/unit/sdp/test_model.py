"""SDP parsing and serialising (RFC 8866): round trips, typed views, rejections."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoneagent.sdp.model import (
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    Rtcp,
    RtpMap,
    SessionDescription,
    TimeDescription,
)
from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from tests.helpers import CORPUS
from tests.unit.sdp.samples import (
    ASTERISK,
    BARESIP,
    CISCO_SRTP,
    CORPUS_SDP,
    IPV6_PHONE,
    KAMAILIO_RELAYED,
    LINPHONE,
    REAL_WORLD,
    corpus_sdp,
    crlf,
)
from tests.unit.sdp.strategies import session_descriptions

MINIMAL = crlf("""
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 4000 RTP/AVP 0
""")


def parse(data: bytes) -> SessionDescription:
    return SessionDescription.parse(data)


def rejected(data: bytes) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as caught:
        SessionDescription.parse(data)
    return caught.value


# -- the RFC corpus ------------------------------------------------------------------------


@pytest.mark.parametrize(("directory", "name"), sorted(CORPUS_SDP))
def test_corpus_bodies(directory: str, name: str) -> None:
    body = corpus_sdp(directory, name)
    if not CORPUS_SDP[directory, name]:
        assert rejected(body).status_hint == 400
        return
    description = parse(body)
    # multi01's body ends with an extra CRLF, tolerated and not written back.
    assert bytes(description) == body.removesuffix(b"\r\n\r\n") + (
        b"\r\n" if body.endswith(b"\r\n\r\n") else b""
    )
    assert description.media[0].media == "audio"


def test_corpus_table_lists_every_message_with_an_sdp_body() -> None:
    found = set()
    for directory in ("rfc4475", "rfc5118"):
        for path in sorted((CORPUS / directory).iterdir()):
            if path.suffix not in ("", ".dat"):
                continue
            head = path.read_bytes().replace(b"\r\n", b"\n").partition(b"\n\n")[0]
            if re.search(rb"(?im)^(content-type|c)[ \t]*:[ \t]*application/sdp", head) and (
                corpus_sdp(directory, path.name)
            ):
                found.add((directory, path.name))
    assert found == set(CORPUS_SDP)


def test_rfc4475_sdp01_fields() -> None:
    description = parse(corpus_sdp("rfc4475", "sdp01.dat"))
    assert description.origin == Origin("mhandley", 29739, 7272939, "IN", "IP4", "192.0.2.5")
    assert description.session_name == "-"
    assert description.connection == Connection("IN", "IP4", "192.0.2.5")
    assert description.times == (TimeDescription(0, 0),)
    audio, video = description.media
    assert (audio.media, audio.port, audio.proto, audio.formats) == (
        "audio",
        49217,
        "RTP/AVP",
        ("0", "12"),
    )
    assert audio.payload_types == (0, 12)
    assert audio.rtpmap(0) is None  # static: no rtpmap given
    assert video.attributes == (Attribute("rtpmap", "31 LPC"),)
    # "LPC" lacks the clock rate: the description parses, the typed view refuses.
    with pytest.raises(RemoteProtocolError) as caught:
        video.rtpmap(31)
    assert caught.value.status_hint == 400


def test_rfc4475_wsinv_origin_and_connection_differ() -> None:
    description = parse(corpus_sdp("rfc4475", "wsinv.dat"))
    assert description.origin.address == "192.0.2.3"
    assert description.connection is not None
    assert description.connection.address == "192.0.2.4"


def test_rfc5118_ipv6_in_sdp() -> None:
    description = parse(corpus_sdp("rfc5118", "ipv6-in-sdp"))
    assert description.origin.session_id == 971731711378798081
    assert description.origin.address == "2001:db8::20"
    assert description.connection == Connection("IN", "IP6", "2001:db8::20")
    assert description.session_name == "Live video feed for today's meeting"
    assert description.times == (TimeDescription(3338481189, 3370017201),)
    audio = description.media[0]
    assert audio.rtpmap(2) == RtpMap(2, "G726-32", 8000, 1)


def test_rfc5118_multiple_addresses_per_media() -> None:
    description = parse(corpus_sdp("rfc5118", "mult-ip-in-sdp"))
    assert description.session_name == ""  # empty s=, tolerated (RFC 5118 calls it valid)
    assert description.connection is None
    audio, video = description.media
    assert description.media_connection(audio) == Connection("IN", "IP4", "192.0.2.1")
    assert description.media_connection(video) == Connection("IN", "IP6", "2001:db8::1")


def test_rfc5118_ipv4_mapped_ipv6() -> None:
    description = parse(corpus_sdp("rfc5118", "ipv4-mapped-ipv6"))
    assert description.connection == Connection("IN", "IP6", "::ffff:192.0.2.2")


# -- real-world bodies -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REAL_WORLD))
def test_real_world_round_trip_is_byte_exact(name: str) -> None:
    body = REAL_WORLD[name]
    description = parse(body)
    assert bytes(description) == body
    assert parse(bytes(description)) == description


@pytest.mark.parametrize("name", sorted(REAL_WORLD))
def test_bare_lf_parses_to_the_same_description(name: str) -> None:
    body = REAL_WORLD[name]
    assert parse(body.replace(b"\r\n", b"\n")) == parse(body)
    # and we always write CRLF
    assert bytes(parse(body.replace(b"\r\n", b"\n"))) == body


def test_baresip() -> None:
    description = parse(BARESIP)
    audio = description.media[0]
    assert audio.bandwidths == (Bandwidth("AS", 64),)
    assert audio.rtpmap(96) == RtpMap(96, "opus", 48000, 2)
    assert audio.fmtp(96) == "stereo=1;sprop-stereo=1"
    assert audio.fmtp(101) == "0-15"
    assert audio.fmtp(0) is None
    assert audio.ptime == 20
    assert audio.direction is Direction.SENDRECV
    assert audio.attribute_values("ssrc") == (
        "1318392133 cname:cf17c1e8-ef2c-4ac3-9c4e-d9ba1d3f2d8b",
    )
    assert audio.has_attribute("rtcp-rsize")
    assert audio.rtcp is None
    assert not audio.rtcp_mux


def test_asterisk() -> None:
    audio = parse(ASTERISK).media[0]
    assert audio.formats == ("8", "0", "3", "101")
    assert audio.rtpmap(3) == RtpMap(3, "GSM", 8000)
    assert (audio.ptime, audio.maxptime) == (20, 150)


def test_kamailio_relayed_media_level_connection_and_rtcp() -> None:
    description = parse(KAMAILIO_RELAYED)
    assert description.connection is None
    assert description.bandwidths == (Bandwidth("AS", 84),)
    assert description.attributes == (Attribute("X-nat", "0"),)
    audio = description.media[0]
    assert description.media_connection(audio) == Connection("IN", "IP4", "198.51.100.7")
    assert audio.bandwidths == (Bandwidth("AS", 64000), Bandwidth("RS", 0), Bandwidth("RR", 0))
    assert audio.rtcp == Rtcp(30019, Connection("IN", "IP4", "198.51.100.7"))


def test_linphone_session_level_attributes() -> None:
    description = parse(LINPHONE)
    assert description.origin.username == "alice"
    assert [attribute.name for attribute in description.attributes] == ["rtcp-xr", "record"]
    audio = description.media[0]
    assert audio.rtpmap(18) is None
    assert audio.fmtp(18) == "annexb=yes"
    assert audio.rtpmap(100) == RtpMap(100, "telephone-event", 8000)
    assert audio.attribute_values("rtcp-fb") == ("* trr-int 1000", "* ccm tmmbr")


def test_cisco_srtp_crypto_mux_and_ssrc() -> None:
    description = parse(CISCO_SRTP)
    audio = description.media[0]
    assert audio.proto == "RTP/SAVP"
    assert audio.connections == (Connection("IN", "IP4", "192.0.2.44"),)
    assert audio.bandwidths == (Bandwidth("TIAS", 64000), Bandwidth("AS", 80))
    assert audio.crypto == (
        "1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20|1:32",
        "2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32",
    )
    assert audio.rtcp_mux
    assert audio.ptime == 30


def test_ipv6_phone_session_level_direction() -> None:
    description = parse(IPV6_PHONE)
    audio = description.media[0]
    assert description.connection == Connection("IN", "IP6", "2001:db8::42")
    assert description.direction is Direction.SENDRECV
    assert audio.direction is None
    assert description.media_direction(audio) is Direction.SENDRECV


# -- typed views -----------------------------------------------------------------------------


def _with_media_attributes(*lines: str) -> MediaDescription:
    body = MINIMAL + "".join(f"{line}\r\n" for line in lines).encode()
    return parse(body).media[0]


@pytest.mark.parametrize(
    ("session", "media", "expected"),
    [
        ((), (), Direction.SENDRECV),
        (("a=sendonly",), (), Direction.SENDONLY),
        (("a=sendonly",), ("a=recvonly",), Direction.RECVONLY),
        ((), ("a=inactive",), Direction.INACTIVE),
        (("a=inactive",), ("a=sendrecv",), Direction.SENDRECV),
    ],
)
def test_direction_media_level_overrides_session_level(
    session: tuple[str, ...], media: tuple[str, ...], expected: Direction
) -> None:
    body = crlf("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n")
    body += "".join(f"{line}\r\n" for line in session).encode()
    body += b"m=audio 4000 RTP/AVP 0\r\n" + "".join(f"{line}\r\n" for line in media).encode()
    description = parse(body)
    assert description.media_direction(description.media[0]) is expected


def test_conflicting_directions_are_rejected_when_read() -> None:
    media = _with_media_attributes("a=sendonly", "a=recvonly")
    with pytest.raises(RemoteProtocolError):
        _ = media.direction
    # a repeated identical one is harmless
    assert _with_media_attributes("a=sendonly", "a=sendonly").direction is Direction.SENDONLY


def test_direction_algebra() -> None:
    assert Direction.SENDONLY.reversed() is Direction.RECVONLY
    assert Direction.INACTIVE.reversed() is Direction.INACTIVE
    assert Direction.from_flags(sends=True, receives=False) is Direction.SENDONLY
    assert Direction("recvonly").receives and not Direction("recvonly").sends


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0 PCMU/8000", RtpMap(0, "PCMU", 8000, 1)),
        ("96 opus/48000/2", RtpMap(96, "opus", 48000, 2)),
        ("101 telephone-event/8000", RtpMap(101, "telephone-event", 8000)),
        ("97  AMR-WB/16000/1 ", RtpMap(97, "AMR-WB", 16000, 1)),
    ],
)
def test_rtpmap_parse(value: str, expected: RtpMap) -> None:
    assert RtpMap.parse(value) == expected


@pytest.mark.parametrize(
    "value", ["31 LPC", "PCMU/8000", "128 X/8000", "0 PCMU/0", "0 PCMU/x", "0 PCMU/8000/1/2", ""]
)
def test_rtpmap_malformed(value: str) -> None:
    with pytest.raises(RemoteProtocolError):
        RtpMap.parse(value)


def test_rtpmap_lookup_skips_malformed_lines_for_other_payload_types() -> None:
    media = _with_media_attributes("a=rtpmap:31 LPC", "a=rtpmap:0 PCMU/8000")
    assert media.rtpmap(0) == RtpMap(0, "PCMU", 8000)
    with pytest.raises(RemoteProtocolError):
        media.rtpmap(31)


def test_conflicting_rtpmaps_are_rejected() -> None:
    media = _with_media_attributes("a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMA/8000")
    with pytest.raises(RemoteProtocolError):
        media.rtpmap(0)


def test_fmtp_without_parameters_and_duplicates() -> None:
    assert _with_media_attributes("a=fmtp:101").fmtp(101) == ""
    with pytest.raises(RemoteProtocolError):
        _with_media_attributes("a=fmtp:101 0-15", "a=fmtp:101 0-16").fmtp(101)


@pytest.mark.parametrize(
    ("line", "expected"), [("a=ptime:20", 20.0), ("a=ptime:22.5", 22.5), ("a=ptime: 30 ", 30.0)]
)
def test_ptime_integer_or_decimal(line: str, expected: float) -> None:
    assert _with_media_attributes(line).ptime == expected


@pytest.mark.parametrize("line", ["a=ptime:0", "a=ptime:abc", "a=ptime", "a=ptime:-20"])
def test_ptime_malformed(line: str) -> None:
    with pytest.raises(RemoteProtocolError):
        _ = _with_media_attributes(line).ptime


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("53020", Rtcp(53020)),
        ("53020 IN IP4 126.16.64.4", Rtcp(53020, Connection("IN", "IP4", "126.16.64.4"))),
        ("9 IN IP6 2001:db8::1", Rtcp(9, Connection("IN", "IP6", "2001:db8::1"))),
    ],
)
def test_rtcp_attribute(value: str, expected: Rtcp) -> None:
    assert Rtcp.parse(value) == expected
    assert str(expected) == value


@pytest.mark.parametrize("line", ["a=rtcp:x", "a=rtcp:70000", "a=rtcp", "a=rtcp:9 IN"])
def test_rtcp_attribute_malformed(line: str) -> None:
    with pytest.raises(RemoteProtocolError):
        _ = _with_media_attributes(line).rtcp


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("IN IP4 192.0.2.1", Connection("IN", "IP4", "192.0.2.1")),
        ("IN IP4 224.2.1.1/127", Connection("IN", "IP4", "224.2.1.1", 127)),
        ("IN IP4 224.2.1.1/127/3", Connection("IN", "IP4", "224.2.1.1", 127, 3)),
        ("IN IP6 FF15::101/3", Connection("IN", "IP6", "FF15::101", None, 3)),
        ("IN IP6 2001:db8::1", Connection("IN", "IP6", "2001:db8::1")),
        ("IN IP4 host.example.com", Connection("IN", "IP4", "host.example.com")),
        ("IN X-ATM nsap/1/2", Connection("IN", "X-ATM", "nsap/1/2")),
    ],
)
def test_connection_forms(value: str, expected: Connection) -> None:
    assert Connection.parse(value) == expected
    assert str(expected) == value


def test_connection_properties() -> None:
    assert Connection.parse("IN IP4 224.2.1.1/127").is_multicast
    assert Connection.parse("IN IP6 ff02::1").is_multicast
    assert not Connection.parse("IN IP4 192.0.2.1").is_multicast
    assert not Connection.parse("IN IP4 host.example.com").is_multicast
    assert Connection.parse("IN IP4 0.0.0.0").is_unspecified
    assert Connection.parse("IN IP6 ::").is_unspecified
    assert Connection.of("2001:DB8::1") == Connection("IN", "IP6", "2001:db8::1")
    with pytest.raises(LocalProtocolError):
        Connection.of("phone.example.com")


@pytest.mark.parametrize(
    "value",
    ["IN IP4", "IN IP4 1.2.3.4 extra", "IN IP4 1.2.3.4/256", "IN IP4 1.2.3.4/1/2/3",
     "IN IP6 ff15::1/1/2", "IN IP4 /5", "IN IP4 1.2.3.4/x", "IN IP6 ff15::1/0"],
)  # fmt: skip
def test_connection_malformed(value: str) -> None:
    with pytest.raises(RemoteProtocolError):
        Connection.parse(value)


def test_big_origin_numbers() -> None:
    origin = Origin.parse("- 18446744073709551616 99999999999999999999999 IN IP4 192.0.2.1")
    assert origin.session_id == 2**64
    assert origin.session_version == 99999999999999999999999
    assert str(origin) == "- 18446744073709551616 99999999999999999999999 IN IP4 192.0.2.1"


# -- tolerance -------------------------------------------------------------------------------


def test_no_line_end_after_last_line() -> None:
    assert parse(MINIMAL.removesuffix(b"\r\n")) == parse(MINIMAL)


def test_trailing_blank_lines() -> None:
    assert parse(MINIMAL + b"\r\n\r\n") == parse(MINIMAL)
    assert parse(MINIMAL.replace(b"\r\n", b"\n") + b"\n\n") == parse(MINIMAL)


def test_mixed_line_ends() -> None:
    assert parse(MINIMAL.replace(b"\r\n", b"\n", 3)) == parse(MINIMAL)


def test_extra_spaces_between_fields_are_normalised() -> None:
    body = MINIMAL.replace(b"m=audio 4000 RTP/AVP 0", b"m=audio  4000 RTP/AVP 0 8 ")
    media = parse(body).media[0]
    assert media.formats == ("0", "8")
    assert b"m=audio 4000 RTP/AVP 0 8\r\n" in bytes(parse(body))


def test_out_of_order_lines_are_accepted_and_written_in_rfc_order() -> None:
    body = crlf("""
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
t=0 0
a=tool:x
c=IN IP4 192.0.2.1
m=audio 4000 RTP/AVP 0
a=ptime:20
b=AS:64
c=IN IP4 192.0.2.2
""")
    description = parse(body)
    assert description.connection == Connection("IN", "IP4", "192.0.2.1")
    assert description.media[0].bandwidths == (Bandwidth("AS", 64),)
    assert bytes(description) == crlf("""
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
a=tool:x
m=audio 4000 RTP/AVP 0
c=IN IP4 192.0.2.2
b=AS:64
a=ptime:20
""")


def test_everything_rfc8866_defines_round_trips() -> None:
    body = crlf("""
v=0
o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1
s=Call to John Smith
i=SDP Offer #1
u=http://www.jdoe.example.com/home.html
e=Jane Doe <jane@jdoe.example.com>
p=+1 617 555-6011
c=IN IP4 198.51.100.1
b=CT:128
t=3724394400 3724398000
r=7d 1h 0 25h
t=0 0
z=2882844526 -1h 2898848070 0
k=prompt
a=recvonly
a=charset:UTF-8
a=x-empty:
m=audio 49170/2 RTP/AVP 0
i=voice
c=IN IP4 233.252.0.1/127/2
c=IN IP4 233.252.0.3/127
b=AS:64
k=clear:secret
a=quality:10
m=video 51372 RTP/AVP 99
a=rtpmap:99 h263-1998/90000
m=application 9 TCP/BFCP *
m=image 9 udptl t38
a=T38FaxVersion:0
""")
    description = parse(body)
    assert bytes(description) == body
    assert description.times[0].repeats == ("7d 1h 0 25h",)
    assert description.attributes[2] == Attribute("x-empty", "")
    assert description.attributes[1] == Attribute("charset", "UTF-8")
    audio = description.media[0]
    assert (audio.port, audio.port_count) == (49170, 2)
    assert audio.connection == Connection("IN", "IP4", "233.252.0.1", 127, 2)
    assert [media.formats for media in description.media[2:]] == [("*",), ("t38",)]
    assert not description.media[3].is_rtp
    with pytest.raises(LocalProtocolError):
        _ = description.media[3].payload_types


def test_non_utf8_octets_survive_a_round_trip() -> None:
    body = MINIMAL.replace(b"s=-", b"s=caf\xc3\xa9 \xff\xfe")
    description = parse(body)
    assert description.session_name.startswith("café ")
    assert bytes(description) == body


# -- rejections ------------------------------------------------------------------------------

INVALID = {
    "empty": b"",
    "only blank lines": b"\r\n\r\n",
    "missing v=": MINIMAL.replace(b"v=0\r\n", b""),
    "v= not first": MINIMAL.replace(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n",
                                    b"o=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\n"),
    "v=1": MINIMAL.replace(b"v=0", b"v=1"),
    "second v=": MINIMAL + b"v=0\r\n",
    "missing o=": MINIMAL.replace(b"o=- 1 1 IN IP4 192.0.2.1\r\n", b""),
    "missing s=": MINIMAL.replace(b"s=-\r\n", b""),
    "missing t=": MINIMAL.replace(b"t=0 0\r\n", b""),
    "two o=": MINIMAL.replace(b"s=-", b"o=- 1 1 IN IP4 192.0.2.1\r\ns=-"),
    "two s=": MINIMAL.replace(b"s=-", b"s=-\r\ns=x"),
    "two session c=": MINIMAL.replace(b"t=0", b"c=IN IP4 192.0.2.9\r\nt=0"),
    "two media i=": MINIMAL + b"i=a\r\ni=b\r\n",
    "r= before t=": MINIMAL.replace(b"t=0 0", b"r=7d 1h 0\r\nt=0 0"),
    "session field in media": MINIMAL + b"s=late\r\n",
    "t= in media": MINIMAL + b"t=0 0\r\n",
    "unknown type letter": MINIMAL + b"x=1\r\n",
    "upper-case type": MINIMAL + b"A=rtpmap:0 PCMU/8000\r\n",
    "garbage line": MINIMAL + b"hello world\r\n",
    "RFC 4475 test.dat garbage": b"v=0\r\ntesting=123\r\n",
    "space before =": MINIMAL.replace(b"m=audio", b"m =audio"),
    "empty line inside": MINIMAL.replace(b"t=0 0\r\n", b"t=0 0\r\n\r\n"),
    "NUL": MINIMAL.replace(b"s=-", b"s=a\x00b"),
    "stray CR": MINIMAL.replace(b"s=-", b"s=a\rb"),
    "bad m= port": MINIMAL.replace(b"4000", b"forty"),
    "m= port too big": MINIMAL.replace(b"4000", b"65536"),
    "m= port negative": MINIMAL.replace(b"4000", b"-1"),
    "m= port count 0": MINIMAL.replace(b"4000", b"4000/0"),
    "m= too few fields": MINIMAL.replace(b"m=audio 4000 RTP/AVP 0", b"m=audio 4000 RTP/AVP"),
    "non-numeric RTP format": MINIMAL.replace(b"RTP/AVP 0", b"RTP/AVP 0 PCMU"),
    "RTP format over 127": MINIMAL.replace(b"RTP/AVP 0", b"RTP/AVP 128"),
    "bad proto": MINIMAL.replace(b"RTP/AVP", b"RTP//AVP"),
    "bad o= field count": MINIMAL.replace(b"o=- 1 1 IN IP4 192.0.2.1", b"o=- 1 1 IN IP4"),
    "o= session id not a number": MINIMAL.replace(b"o=- 1 1", b"o=- x1 1"),
    "o= version not a number": MINIMAL.replace(b"o=- 1 1", b"o=- 1 1.5"),
    "o= unicode digits": MINIMAL.replace(b"o=- 1 1", "o=- 1 ²".encode()),
    "o= huge number": MINIMAL.replace(b"o=- 1 1", b"o=- 1 " + b"9" * 5000),
    "bad c=": MINIMAL.replace(b"c=IN IP4 192.0.2.1", b"c=IN IP4"),
    "bad b=": MINIMAL + b"b=AS64\r\n",
    "b= not a number": MINIMAL + b"b=AS:lots\r\n",
    "bad t=": MINIMAL.replace(b"t=0 0", b"t=now"),
    "empty attribute name": MINIMAL + b"a=\r\n",
    "attribute name with space": MINIMAL + b"a=rtp map:0 PCMU/8000\r\n",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_descriptions_are_400(name: str) -> None:
    error = rejected(INVALID[name])
    assert error.status_hint == 400
    assert error.reason


def test_errors_name_the_line() -> None:
    assert rejected(MINIMAL.replace(b"4000", b"forty")).reason.startswith("SDP line 6:")


# -- building our own ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: Origin("a b", 1, 1, "IN", "IP4", "192.0.2.1"),
        lambda: Origin("-", -1, 1, "IN", "IP4", "192.0.2.1"),
        lambda: Connection("IN", "IP4", "192.0.2.1/5"),
        lambda: Connection("IN", "IP6", "ff15::1", ttl=5),
        lambda: Connection("IN", "IP4", "224.0.0.1", None, 3),
        lambda: Attribute("bad name"),
        lambda: Attribute("tool", "x\r\na=injected"),
        lambda: Bandwidth("AS", -1),
        lambda: MediaDescription("audio", 70000, "RTP/AVP", ("0",)),
        lambda: MediaDescription("audio", 4000, "RTP/AVP", ()),
        lambda: MediaDescription("audio", 4000, "RTP/AVP", ("PCMU",)),
        lambda: RtpMap(200, "PCMU", 8000),
        lambda: SessionDescription(Origin("-", 1, 1, "IN", "IP4", "a"), times=()),
        lambda: SessionDescription(Origin("-", 1, 1, "IN", "IP4", "a"), "line\nbreak"),
    ],
)
def test_bad_construction_is_a_local_error(build: object) -> None:
    with pytest.raises(LocalProtocolError):
        build()  # type: ignore[operator]


def test_unencodable_text_is_a_local_error() -> None:
    description = SessionDescription(Origin("-", 1, 1, "IN", "IP4", "a"), "\ud800")
    with pytest.raises(LocalProtocolError):
        bytes(description)


def test_replace_keeps_the_rest() -> None:
    description = parse(ASTERISK)
    held = dataclasses.replace(
        description, media=(dataclasses.replace(description.media[0], port=0),)
    )
    assert bytes(held) == ASTERISK.replace(b"m=audio 17942", b"m=audio 0")


# -- properties ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(session_descriptions())
def test_generated_descriptions_round_trip(description: SessionDescription) -> None:
    data = bytes(description)
    again = parse(data)
    assert again == description
    assert bytes(again) == data


@settings(max_examples=300, deadline=None)
@given(session_descriptions())
def test_generated_descriptions_survive_bare_lf(description: SessionDescription) -> None:
    assert parse(bytes(description).replace(b"\r\n", b"\n")) == description


_LINES = st.sampled_from(
    [b"v=0", b"o=- 1 2 IN IP4 192.0.2.1", b"s=-", b"c=IN IP4 192.0.2.1", b"t=0 0",
     b"m=audio 4000 RTP/AVP 0 8", b"a=rtpmap:0 PCMU/8000", b"a=sendonly", b"b=AS:64",
     b"r=1 2 3", b"m=video 0 udptl t38", b"", b"i=x", b"k=y", b"z=0 0"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(_LINES, st.binary(max_size=20)), max_size=12), st.booleans())
def test_any_input_parses_or_raises_remote_protocol_error(lines: list[bytes], lf: bool) -> None:
    data = (b"\n" if lf else b"\r\n").join(lines)
    try:
        description = parse(data)
    except RemoteProtocolError as error:
        assert error.status_hint == 400
        return
    assert parse(bytes(description)) == description
