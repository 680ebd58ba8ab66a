"""Hypothesis strategies for SDP: valid session descriptions in their canonical form.

Text fields come from arbitrary octets (no NUL, CR, LF) decoded as the parser
decodes them, UTF-8 with ``surrogateescape``, so they hold non-ASCII text and
octets that are not UTF-8; numbers go up to far beyond 64 bits.
"""

from __future__ import annotations

from hypothesis import strategies as st

from phoneagent.sdp.model import (
    Attribute,
    Bandwidth,
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
    TimeDescription,
)

#: RFC 8866 token-char: %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E
TOKEN_CHARS = "".join(
    chr(code)
    for code in range(0x21, 0x7F)
    if code in (0x21, 0x2A, 0x2B, 0x2D, 0x2E)
    or 0x23 <= code <= 0x27
    or 0x30 <= code <= 0x39
    or 0x41 <= code <= 0x5A
    or 0x5E <= code <= 0x7E
)
_BIG = 10**30


def tokens() -> st.SearchStrategy[str]:
    return st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=8)


def _decoded(excluded: bytes, min_size: int) -> st.SearchStrategy[str]:
    """Octets minus ``excluded``, decoded as the parser decodes them."""
    return (
        st.binary(min_size=min_size, max_size=12)
        .map(lambda octets: octets.translate(None, excluded))
        .filter(lambda octets: len(octets) >= min_size)
        .map(lambda octets: octets.decode("utf-8", "surrogateescape"))
    )


def texts(min_size: int = 0) -> st.SearchStrategy[str]:
    """byte-string: anything but NUL, CR and LF, spaces included."""
    return st.one_of(
        st.text(alphabet=" -~\u00e9\u20ac\U0001f600", min_size=min_size, max_size=12),
        _decoded(b"\x00\r\n", min_size),
    )


def non_ws() -> st.SearchStrategy[str]:
    """non-ws-string: visible characters and octets above 0x7f."""
    return _decoded(bytes([*range(0x21), 0x7F]), 1)


def numbers(maximum: int = _BIG) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, 2**32), st.integers(0, maximum))


def connections() -> st.SearchStrategy[Connection]:
    ip4 = st.builds(
        lambda address, suffix: Connection("IN", "IP4", address, *suffix),
        st.one_of(st.ip_addresses(v=4).map(str), non_ws().filter(lambda text: "/" not in text)),
        st.one_of(
            st.just((None, None)),
            st.tuples(st.integers(0, 255), st.none()),
            st.tuples(st.integers(0, 255), st.integers(1, 16)),
        ),
    )
    ip6 = st.builds(
        lambda address, count: Connection("IN", "IP6", address, None, count),
        st.ip_addresses(v=6).map(str),
        st.none() | st.integers(1, 16),
    )
    other = st.builds(
        Connection, tokens(), tokens().filter(lambda t: t not in ("IP4", "IP6")), non_ws()
    )
    return st.one_of(ip4, ip6, other)


def origins() -> st.SearchStrategy[Origin]:
    return st.builds(
        Origin,
        non_ws(),
        numbers(),
        numbers(),
        st.just("IN") | tokens(),
        st.sampled_from(["IP4", "IP6"]) | tokens(),
        non_ws(),
    )


def bandwidths() -> st.SearchStrategy[Bandwidth]:
    return st.builds(
        Bandwidth, st.sampled_from(["AS", "CT", "TIAS", "RS", "RR"]) | tokens(), numbers()
    )


def attributes() -> st.SearchStrategy[Attribute]:
    named = st.builds(
        Attribute,
        st.sampled_from(["rtpmap", "fmtp", "ptime", "crypto", "rtcp", "ssrc", "x-unknown"])
        | tokens(),
        st.none() | texts(),
    )
    flags = st.sampled_from(["sendrecv", "sendonly", "recvonly", "inactive", "rtcp-mux"]).map(
        Attribute
    )
    return st.one_of(named, flags)


_TOKENS = tokens()
_TEXTS = texts()
_OPTIONAL_TEXT = st.none() | _TEXTS
_CONNECTIONS = connections()
_BANDWIDTHS = bandwidths()
_ATTRIBUTES = attributes()
_MEDIA_KINDS = st.sampled_from(["audio", "video", "image", "application"]) | _TOKENS
_PROTOS = st.sampled_from(["RTP/AVP", "RTP/SAVP", "RTP/AVPF", "UDP/TLS/RTP/SAVPF", "udptl"]) | (
    st.lists(_TOKENS, min_size=1, max_size=3).map("/".join)
)
_PAYLOAD_TYPES = st.integers(0, 127).map(str)


@st.composite
def media_descriptions(draw: st.DrawFn) -> MediaDescription:
    proto = draw(_PROTOS)
    formats = _PAYLOAD_TYPES if "RTP" in proto.upper().split("/") else _TOKENS
    return MediaDescription(
        draw(_MEDIA_KINDS),
        draw(st.integers(0, 65535)),
        proto,
        tuple(draw(st.lists(formats, min_size=1, max_size=6))),
        port_count=draw(st.none() | st.integers(1, 8)),
        information=draw(_OPTIONAL_TEXT),
        connections=tuple(draw(st.lists(_CONNECTIONS, max_size=2))),
        bandwidths=tuple(draw(st.lists(_BANDWIDTHS, max_size=2))),
        key=draw(_OPTIONAL_TEXT),
        attributes=tuple(draw(st.lists(_ATTRIBUTES, max_size=6))),
    )


def time_descriptions() -> st.SearchStrategy[TimeDescription]:
    return st.builds(
        TimeDescription,
        numbers(2**40),
        numbers(2**40),
        st.lists(_TEXTS, max_size=2).map(tuple),
    )


_ORIGINS = origins()
_TIMES = time_descriptions()
_MEDIA = media_descriptions()


@st.composite
def session_descriptions(draw: st.DrawFn) -> SessionDescription:
    return SessionDescription(
        draw(_ORIGINS),
        draw(_TEXTS),
        information=draw(_OPTIONAL_TEXT),
        uri=draw(_OPTIONAL_TEXT),
        emails=tuple(draw(st.lists(_TEXTS, max_size=2))),
        phones=tuple(draw(st.lists(_TEXTS, max_size=2))),
        connection=draw(st.none() | _CONNECTIONS),
        bandwidths=tuple(draw(st.lists(_BANDWIDTHS, max_size=2))),
        times=tuple(draw(st.lists(_TIMES, min_size=1, max_size=2))),
        zone_adjustments=draw(_OPTIONAL_TEXT),
        key=draw(_OPTIONAL_TEXT),
        attributes=tuple(draw(st.lists(_ATTRIBUTES, max_size=4))),
        media=tuple(draw(st.lists(_MEDIA, max_size=3))),
    )
