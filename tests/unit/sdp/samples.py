"""SDP bodies as real peers send them, and the RFC corpus bodies.

The real-world offers are modelled on what each implementation writes (field
order, attribute spelling, the attributes each one adds); addresses are from
the documentation ranges.  All are in RFC 8866 line order, so they round-trip
byte for byte.
"""

from __future__ import annotations

import re

from tests.helpers import corpus_file, lf_to_crlf


def crlf(text: str) -> bytes:
    """A triple-quoted body (LF, leading newline) as wire bytes with CRLF."""
    return lf_to_crlf(text.lstrip("\n").encode())


#: baresip 3.x: opus first, G.722, G.711, RFC 4733; a=ssrc, a=rtcp-rsize, a=label.
BARESIP = crlf("""
v=0
o=- 1723474718 3412238119 IN IP4 192.0.2.20
s=-
c=IN IP4 192.0.2.20
t=0 0
m=audio 10250 RTP/AVP 96 9 0 8 101
b=AS:64
a=rtpmap:96 opus/48000/2
a=fmtp:96 stereo=1;sprop-stereo=1
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=label:1
a=rtcp-rsize
a=ssrc:1318392133 cname:cf17c1e8-ef2c-4ac3-9c4e-d9ba1d3f2d8b
a=ptime:20
""")

#: Asterisk (chan_pjsip): s=Asterisk, GSM, maxptime:150.
ASTERISK = crlf("""
v=0
o=- 1658317937 1658317939 IN IP4 203.0.113.5
s=Asterisk
c=IN IP4 203.0.113.5
t=0 0
m=audio 17942 RTP/AVP 8 0 3 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:3 GSM/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:150
a=sendrecv
""")

#: A pjsip phone behind Kamailio + rtpengine: media-level c= only, session b=AS before t=,
#: RFC 3605 a=rtcp with an address, telephone-event on 96.
KAMAILIO_RELAYED = crlf("""
v=0
o=- 3866781265 3866781266 IN IP4 10.0.0.5
s=pjmedia
b=AS:84
t=0 0
a=X-nat:0
m=audio 30018 RTP/AVP 8 0 96
c=IN IP4 198.51.100.7
b=AS:64000
b=RS:0
b=RR:0
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:96 telephone-event/8000
a=fmtp:96 0-16
a=sendrecv
a=rtcp:30019 IN IP4 198.51.100.7
a=ptime:20
""")

#: Linphone: named user, session-level attributes, events at three clock rates, G.729 (18)
#: with no rtpmap, AVPF feedback attributes on plain RTP/AVP.
LINPHONE = crlf("""
v=0
o=alice 2890 1117 IN IP4 192.0.2.11
s=Talk
c=IN IP4 192.0.2.11
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
a=record:off
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 speex/16000
a=fmtp:97 vbr=on
a=rtpmap:98 speex/8000
a=fmtp:98 vbr=on
a=fmtp:18 annexb=yes
a=rtpmap:101 telephone-event/48000
a=rtpmap:99 telephone-event/16000
a=rtpmap:100 telephone-event/8000
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm tmmbr
""")

#: Cisco (CUBE / CUCM style) with SRTP: TIAS and AS, two a=crypto, rtcp-mux, ssrc, 30 ms.
CISCO_SRTP = crlf("""
v=0
o=CiscoSystemsSIP-GW-UserAgent 6291 4363 IN IP4 192.0.2.44
s=SIP Call
c=IN IP4 192.0.2.44
t=0 0
m=audio 24580 RTP/SAVP 0 8 101 19
c=IN IP4 192.0.2.44
b=TIAS:64000
b=AS:80
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=rtpmap:19 CN/8000
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20|1:32
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32
a=rtcp-mux
a=ssrc:2854312765 cname:cisco-gw-01
a=ptime:30
""")

#: An IPv6 desk phone (Polycom-like): c= without brackets (RFC 5118 §4.6), G.722 first.
IPV6_PHONE = crlf("""
v=0
o=- 1700000000 1700000000 IN IP6 2001:db8::42
s=Polycom IP Phone
c=IN IP6 2001:db8::42
t=0 0
a=sendrecv
m=audio 2222 RTP/AVP 9 0 8 127
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:127 telephone-event/8000
""")

REAL_WORLD = {
    "baresip": BARESIP,
    "asterisk": ASTERISK,
    "kamailio-relayed": KAMAILIO_RELAYED,
    "linphone": LINPHONE,
    "cisco-srtp": CISCO_SRTP,
    "ipv6-phone": IPV6_PHONE,
}


def _sip_body(data: bytes) -> bytes:
    """The body of a SIP message as its Content-Length frames it (the rest when it lies)."""
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*([0-9]+)[ \t]*\r?$", head)
    if match is not None and int(match.group(1)) <= len(body):
        body = body[: int(match.group(1))]
    return body


def corpus_sdp(directory: str, name: str) -> bytes:
    """The SDP body of one RFC 4475 / RFC 5118 message.

    RFC 5118's archive has LF line ends (made CRLF here) and Content-Lengths that
    do not match its bodies (corpus INDEX.md: errors in the RFC), so its bodies are
    everything after the blank line.
    """
    data = corpus_file(directory, name).read_bytes()
    if directory == "rfc5118":
        return lf_to_crlf(data).partition(b"\r\n\r\n")[2]
    return _sip_body(data)


#: Corpus messages with an SDP body, and whether that body is valid SDP.
#: mismatch02's body lacks s= and t=; test.dat's second line is "testing=123".
CORPUS_SDP = {
    ("rfc4475", "wsinv.dat"): True,
    ("rfc4475", "esc01.dat"): True,
    ("rfc4475", "longreq.dat"): True,
    ("rfc4475", "unreason.dat"): True,
    ("rfc4475", "badinv01.dat"): True,
    ("rfc4475", "clerr.dat"): True,
    ("rfc4475", "ncl.dat"): True,
    ("rfc4475", "quotbal.dat"): True,
    ("rfc4475", "ltgtruri.dat"): True,
    ("rfc4475", "lwsruri.dat"): True,
    ("rfc4475", "lwsstart.dat"): True,
    ("rfc4475", "escruri.dat"): True,
    ("rfc4475", "baddate.dat"): True,
    ("rfc4475", "insuf.dat"): True,
    ("rfc4475", "multi01.dat"): True,
    ("rfc4475", "bcast.dat"): True,
    ("rfc4475", "sdp01.dat"): True,
    ("rfc4475", "inv2543.dat"): True,
    ("rfc4475", "mismatch02.dat"): False,
    ("rfc4475", "test.dat"): False,
    ("rfc5118", "ipv6-in-sdp"): True,
    ("rfc5118", "mult-ip-in-sdp"): True,
    ("rfc5118", "ipv4-mapped-ipv6"): True,
}
