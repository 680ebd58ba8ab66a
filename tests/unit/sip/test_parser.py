"""Byte-exact tests for phoneagent.sip.parser: ``parse_message`` and ``parse_datagram``.

Each valid case checks the fields that matter; each invalid case checks the
status hint (400/505/513 for a request, None for a response or a keep-alive) and
what ``RemoteProtocolError.salvaged`` carries for building the answer
(RFC 3261 §8.2.6).  Messages are spelled out line by line so that every octet
on the wire is visible in the table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from phoneagent.sip import (
    AbsoluteUri,
    KeepAlive,
    Message,
    RemoteProtocolError,
    Request,
    Response,
    SalvagedHeaders,
    SipUri,
    TelUri,
    make_error_response,
    parse_datagram,
    parse_message,
)

VIA = "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds"
FROM = "Alice <sip:alice@atlanta.example.com>;tag=1928301774"
TO = "Bob <sip:bob@biloxi.example.com>"
TO_TAGGED = "Bob <sip:bob@biloxi.example.com>;tag=a6c85cf"
CALL_ID = "a84b4c76e66710@pc33.atlanta.example.com"
CSEQ = "314159 INVITE"
REQUEST_LINE = "INVITE sip:bob@biloxi.example.com SIP/2.0"
STATUS_LINE = "SIP/2.0 200 OK"

CORE = (
    f"Via: {VIA}",
    "Max-Forwards: 70",
    f"From: {FROM}",
    f"To: {TO}",
    f"Call-ID: {CALL_ID}",
    f"CSeq: {CSEQ}",
)
RESPONSE_CORE = tuple(line.replace(f"To: {TO}", f"To: {TO_TAGGED}") for line in CORE)


def wire(start: str, *lines: str, body: bytes = b"", length: bool = True) -> bytes:
    """A message: start line, header lines, Content-Length (unless told not), body."""
    head = [start, *lines]
    if length:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def request(*extra: str, start: str = REQUEST_LINE, body: bytes = b"") -> bytes:
    return wire(start, *CORE, *extra, body=body)


def response(*extra: str, start: str = STATUS_LINE, body: bytes = b"") -> bytes:
    return wire(start, *RESPONSE_CORE, *extra, body=body)


def without(name: str, core: tuple[str, ...] = CORE) -> tuple[str, ...]:
    return tuple(line for line in core if not line.startswith(f"{name}:"))


def replaced(name: str, value: str, core: tuple[str, ...] = CORE) -> tuple[str, ...]:
    return tuple(f"{name}: {value}" if line.startswith(f"{name}:") else line for line in core)


def as_request(message: Message) -> Request:
    assert isinstance(message, Request)
    return message


def as_response(message: Message) -> Response:
    assert isinstance(message, Response)
    return message


# -- what a rejection salvages ---------------------------------------------------------------

FULL = SalvagedHeaders(
    method="INVITE",
    via=(VIA,),
    from_=(FROM,),
    to=(TO,),
    call_id=(CALL_ID,),
    cseq=(CSEQ,),
    is_request=True,
)
FULL_RESPONSE = dataclasses.replace(FULL, method=None, to=(TO_TAGGED,), is_request=False)
NOTHING = SalvagedHeaders(method="INVITE", is_request=True)
ANY = object()  # a salvaged field whose value the case does not pin down


def salvage(base: SalvagedHeaders = FULL, /, **changes: object) -> SalvagedHeaders:
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def assert_salvaged(actual: SalvagedHeaders | None, expected: SalvagedHeaders | None) -> None:
    if expected is None:
        assert actual is None
        return
    assert actual is not None
    for field in dataclasses.fields(SalvagedHeaders):
        wanted = getattr(expected, field.name)
        if wanted is not ANY:
            assert getattr(actual, field.name) == wanted, field.name


def reject(data: bytes, parse: Callable[[bytes], object] = parse_message) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as caught:
        parse(data)
    return caught.value


# -- keep-alives -----------------------------------------------------------------------------


def test_double_crlf_datagram_is_a_ping() -> None:
    keep_alive = parse_datagram(b"\r\n\r\n")
    assert keep_alive == KeepAlive(b"\r\n\r\n")
    assert isinstance(keep_alive, KeepAlive) and keep_alive.is_ping


def test_single_crlf_datagram_is_a_pong_not_a_ping() -> None:
    keep_alive = parse_datagram(b"\r\n")
    assert isinstance(keep_alive, KeepAlive) and not keep_alive.is_ping


@pytest.mark.parametrize("data", [b"\r\n", b"\r\n\r\n", b""], ids=["crlf", "crlfcrlf", "empty"])
def test_parse_message_refuses_keep_alives_without_an_answer(data: bytes) -> None:
    error = reject(data)
    assert error.status_hint is None
    assert error.salvaged is None
    assert make_error_response(error) is None


def test_empty_datagram_is_not_a_keep_alive() -> None:
    assert reject(b"", parse_datagram).status_hint is None


def test_parse_datagram_parses_messages() -> None:
    assert isinstance(parse_datagram(request()), Request)
    assert isinstance(parse_datagram(response()), Response)
    error = reject(request(start="INVITE sip:bob@biloxi.example.com SIP/2.1"), parse_datagram)
    assert error.status_hint == 505


# -- valid messages --------------------------------------------------------------------------

Check = Callable[[Message], None]


def header_is(name: str, value: str) -> Check:
    def check(message: Message) -> None:
        assert message.headers.get(name) == value
        assert message.headers.count(name) == 1

    return check


def entries_end_with(*pairs: tuple[str, str]) -> Check:
    def check(message: Message) -> None:
        assert list(message.headers)[-len(pairs) :] == list(pairs)

    return check


def body_is(body: bytes) -> Check:
    def check(message: Message) -> None:
        assert message.body == body

    return check


def status_is(code: int, reason: str) -> Check:
    def check(message: Message) -> None:
        resp = as_response(message)
        assert (resp.status_code, resp.reason) == (code, reason)

    return check


def check_core(message: Message) -> None:
    assert message.from_.tag == "1928301774"
    assert message.call_id == CALL_ID
    assert (message.cseq.number, message.cseq.method) == (314159, "INVITE")
    assert message.top_via.branch == "z9hG4bK776asdhds"


def check_folded_core(message: Message) -> None:
    assert message.to.display_name == "Bob"
    assert message.headers.get("To") == "Bob <sip:bob@biloxi.example.com>"
    assert message.top_via.host == "pc33.atlanta.example.com"
    assert message.top_via.branch == "z9hG4bK776asdhds"


def check_tel(message: Message) -> None:
    uri = as_request(message).uri
    assert isinstance(uri, TelUri) and uri.number == "+1-201-555-0123" and uri.is_global


def check_unknown_scheme(message: Message) -> None:
    uri = as_request(message).uri
    assert isinstance(uri, AbsoluteUri)
    assert (uri.scheme, str(uri)) == ("urn", "urn:service:sos")


def check_lowercase_version(message: Message) -> None:
    assert as_request(message).method == "INVITE"


def check_ipv6(message: Message) -> None:
    req = as_request(message)
    assert isinstance(req.uri, SipUri)
    assert (req.uri.host, req.uri.port, req.uri.transport) == ("2001:db8::10", 5060, "udp")
    assert [(v.transport, v.host, v.port, v.received, v.rport) for v in req.via] == [
        ("UDP", "2001:db8::9:1", 5070, "2001:db8::9:255", 5070),
        ("TCP", "2001:db8::1", None, None, None),
        ("UDP", "::ffff:192.0.2.1", 5060, "2001:db8::2", None),
    ]
    assert isinstance(req.from_.uri, SipUri) and req.from_.uri.host == "2001:db8::10"
    assert isinstance(req.to.uri, SipUri) and req.to.uri.port == 5060
    (contact,) = req.contact
    assert isinstance(contact.uri, SipUri) and contact.uri.host == "2001:db8::9:1"
    assert (contact.expires, contact.q) == (3600, 0.5)
    assert [str(route.uri) for route in req.route] == ["sip:[2001:db8::20];lr"]
    assert [str(route.uri) for route in req.record_route] == ["sip:[2001:db8::21]:5080;lr"]


IPV6_MESSAGE = wire(
    "REGISTER sip:[2001:db8::10]:5060;transport=udp SIP/2.0",
    "Via: SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3-111;received=[2001:db8::9:255]"
    ";rport=5070",
    "v: SIP/2.0/TCP [2001:db8::1];branch=z9hG4bKx, "
    "SIP/2.0/UDP [::ffff:192.0.2.1]:5060;branch=z9hG4bKy;received=2001:db8::2",
    "Max-Forwards: 70",
    'From: "Alice" <sip:alice@[2001:db8::10]>;tag=81x2',
    "To: <sip:alice@[2001:db8::10]:5060>",
    "Call-ID: SSG9559905523997077@hlau_4100",
    "CSeq: 1 REGISTER",
    "Contact: <sip:alice@[2001:db8::9:1]:5070;transport=udp>;expires=3600;q=0.5",
    "Route: <sip:[2001:db8::20];lr>",
    "Record-Route: <sip:[2001:db8::21]:5080;lr>",
)

BODY_WITH_SEPARATORS = b"v=0\r\n\r\nnot headers: x\r\n\x00\x00\xff\xfe\r\n\r\n"
BIG_BODY = bytes(range(256)) * 256  # 64 KiB, every octet value


def check_big_body(message: Message) -> None:
    assert len(message.body) == 65536 and message.body == BIG_BODY
    assert message.content_length == 65536


def check_extension_method(message: Message) -> None:
    req = as_request(message)
    assert req.method == "x-Weird.Method!%*_+`'~"
    assert req.cseq.method == "x-Weird.Method!%*_+`'~"


def check_max_cseq(message: Message) -> None:
    assert message.cseq.number == 2**32 - 1


def check_loose_cseq(message: Message) -> None:
    assert (message.cseq.number, message.cseq.method) == (7, "INVITE")


def check_not_utf8(message: Message) -> None:
    value = message.headers.get("X-Octets")
    assert value is not None
    assert value.encode("utf-8", "surrogateescape") == b"caf\xe9 \xff\xfe"


VALID = [
    pytest.param(request(), check_core, id="plain-request"),
    pytest.param(response(), check_core, id="plain-response"),
    # §7.3.1 folding: CRLF followed by whitespace is one SP
    pytest.param(
        request("Subject: first\r\n\tsecond"), header_is("Subject", "first second"), id="fold-tab"
    ),
    pytest.param(
        request("Subject: a\r\n b\r\n\t\tc\r\n  \t d"),
        header_is("Subject", "a b c d"),
        id="fold-several-lines",
    ),
    pytest.param(
        request("Subject: a \t\r\n   b"), header_is("Subject", "a b"), id="fold-trailing-ws"
    ),
    pytest.param(
        wire(
            REQUEST_LINE,
            "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060\r\n ;branch=z9hG4bK776asdhds",
            f"From: {FROM}",
            "To: Bob\r\n\t<sip:bob@biloxi.example.com>",
            f"Call-ID: {CALL_ID}",
            f"CSeq: {CSEQ}",
        ),
        check_folded_core,
        id="fold-core-headers",
    ),
    pytest.param(request("Subject: hello \t "), header_is("Subject", "hello"), id="trailing-ws"),
    pytest.param(request("Subject:\t  hello"), header_is("Subject", "hello"), id="leading-ws"),
    pytest.param(request("Subject:"), header_is("Subject", ""), id="empty-value"),
    pytest.param(request("Subject:   \t"), header_is("Subject", ""), id="blank-value"),
    pytest.param(
        request("Subject \t: spaced name"),
        entries_end_with(("Subject", "spaced name"), ("Content-Length", "0")),
        id="ws-before-colon",
    ),
    pytest.param(
        request("X-Unknown: ;;,,;;,;", 'X-Quote: "a, b";c=<d>'),
        entries_end_with(
            ("X-Unknown", ";;,,;;,;"), ("X-Quote", '"a, b";c=<d>'), ("Content-Length", "0")
        ),
        id="unknown-headers-untouched",
    ),
    pytest.param(request("X-Octets: caf\udce9 \udcff\udcfe"), check_not_utf8, id="non-utf8-octets"),
    # §7.5: CRLFs before the start line are ignored
    pytest.param(b"\r\n" + request(), check_core, id="one-leading-crlf"),
    pytest.param(b"\r\n\r\n\r\n" + request(), check_core, id="three-leading-crlfs"),
    pytest.param(b"\r\n" + response(), check_core, id="leading-crlf-response"),
    # RFC 5118 §4.10 messages stop after the last header's CRLF; tolerated, no body
    pytest.param(request()[:-2], body_is(b""), id="no-blank-line"),
    # status lines
    pytest.param(response(start="SIP/2.0 200"), status_is(200, ""), id="status-no-reason"),
    pytest.param(response(start="SIP/2.0 200 "), status_is(200, ""), id="status-empty-reason"),
    pytest.param(
        response(start="SIP/2.0 200 Très bien — 好的"),
        status_is(200, "Très bien — 好的"),
        id="status-utf8-reason",
    ),
    pytest.param(
        response(start="SIP/2.0 486 Busy  Here\t "),
        status_is(486, "Busy  Here\t "),
        id="status-reason-kept-exactly",
    ),
    pytest.param(response(start="SIP/2.0 100 Trying"), status_is(100, "Trying"), id="status-100"),
    pytest.param(response(start="SIP/2.0 699 Whatever"), status_is(699, "Whatever"), id="s-699"),
    # request lines
    pytest.param(
        request(start="INVITE sip:bob@biloxi.example.com sip/2.0"),
        check_lowercase_version,
        id="lowercase-version",
    ),
    pytest.param(request(start="INVITE tel:+1-201-555-0123 SIP/2.0"), check_tel, id="tel-uri"),
    pytest.param(
        request(start="INVITE urn:service:sos SIP/2.0"), check_unknown_scheme, id="unknown-scheme"
    ),
    pytest.param(
        wire(
            "x-Weird.Method!%*_+`'~ sip:bob@biloxi.example.com SIP/2.0",
            *replaced("CSeq", "1 x-Weird.Method!%*_+`'~"),
        ),
        check_extension_method,
        id="extension-method",
    ),
    pytest.param(IPV6_MESSAGE, check_ipv6, id="ipv6-everywhere"),
    # Content-Length and the body (§18.3, §20.14)
    pytest.param(
        wire(REQUEST_LINE, *CORE, body=b"hello", length=False), body_is(b"hello"), id="cl-absent"
    ),
    pytest.param(
        wire(REQUEST_LINE, *CORE, "Content-Length: 3", body=b"hello", length=False),
        body_is(b"hel"),
        id="cl-smaller-cuts-body",
    ),
    pytest.param(
        wire(REQUEST_LINE, *CORE, "Content-Length: 0", body=b"INVITE sip:x SIP/2.0", length=False),
        body_is(b""),
        id="cl-zero-ignores-the-rest",
    ),
    pytest.param(
        wire(REQUEST_LINE, *CORE, "l: 5", body=b"hello", length=False),
        body_is(b"hello"),
        id="cl-compact",
    ),
    pytest.param(
        wire(REQUEST_LINE, *CORE, "Content-Length: 0005", body=b"hello", length=False),
        body_is(b"hello"),
        id="cl-leading-zeros",
    ),
    pytest.param(
        wire(REQUEST_LINE, *CORE, "Content-Length:  5 ", body=b"hello", length=False),
        body_is(b"hello"),
        id="cl-spaces",
    ),
    pytest.param(
        request(body=BODY_WITH_SEPARATORS), body_is(BODY_WITH_SEPARATORS), id="body-crlfcrlf-nul"
    ),
    pytest.param(request(body=BIG_BODY), check_big_body, id="body-64k"),
    # CSeq
    pytest.param(
        wire(REQUEST_LINE, *replaced("CSeq", "4294967295 INVITE")), check_max_cseq, id="cseq-max"
    ),
    pytest.param(
        wire(REQUEST_LINE, *replaced("CSeq", "7 \t INVITE")), check_loose_cseq, id="cseq-lws"
    ),
]


@pytest.mark.parametrize(("data", "check"), VALID)
def test_valid_message(data: bytes, check: Check) -> None:
    message = parse_message(data)
    check(message)
    # Whatever parsed serialises and parses again to the same thing.
    again = parse_message(bytes(message))
    assert again.body == message.body
    assert again.headers == message.headers or _differs_only_in_length(again, message)
    assert again.start_line() == message.start_line()


def _differs_only_in_length(first: Message, second: Message) -> bool:
    def strip(message: Message) -> list[tuple[str, str]]:
        return [(n, v) for n, v in message.headers if n.lower() not in ("content-length", "l")]

    return strip(first) == strip(second)


def test_leading_crlfs_are_not_part_of_the_message() -> None:
    assert bytes(parse_message(b"\r\n\r\n" + request())) == request()


def test_plain_request_fields() -> None:
    req = as_request(parse_message(request()))
    assert req.method == "INVITE"
    assert isinstance(req.uri, SipUri) and str(req.uri) == "sip:bob@biloxi.example.com"
    assert req.to.display_name == "Bob" and req.to.tag is None
    assert req.from_.display_name == "Alice"
    assert req.max_forwards == 70
    assert req.content_length == 0
    assert req.body == b""
    assert list(req.headers) == [tuple(line.split(": ", 1)) for line in CORE] + [
        ("Content-Length", "0")
    ]
    assert bytes(req) == request()


def test_missing_content_length_on_a_datagram_means_the_rest() -> None:
    data = wire(REQUEST_LINE, *CORE, body=b"v=0\r\n", length=False)
    message = parse_datagram(data)
    assert isinstance(message, Request)
    assert message.body == b"v=0\r\n" and message.content_length is None
    assert bytes(message).endswith(b"Content-Length: 5\r\n\r\nv=0\r\n")


def test_compact_content_length_keeps_its_name_on_the_way_out() -> None:
    message = parse_message(wire(REQUEST_LINE, *CORE, "l: 5", body=b"hello", length=False))
    assert message.content_length == 5
    assert bytes(message).endswith(b"\r\nl: 5\r\n\r\nhello")


def test_cut_body_is_written_back_with_the_right_length() -> None:
    data = wire(REQUEST_LINE, *CORE, "Content-Length: 0003", body=b"hello", length=False)
    message = parse_message(data)
    assert message.content_length == 3
    assert bytes(message).endswith(b"\r\nContent-Length: 3\r\n\r\nhel")


def test_compact_forms_of_the_core_headers() -> None:
    data = wire(
        REQUEST_LINE,
        f"v: {VIA}",
        f"f: {FROM}",
        f"t: {TO}",
        f"i: {CALL_ID}",
        f"CSeq: {CSEQ}",
        "m: <sip:alice@pc33.atlanta.example.com>",
        "k: 100rel",
        "c: application/sdp",
        body=b"v=0\r\n",
    )
    message = parse_message(data)
    check_core(message)
    assert message.contact[0].uri == SipUri.parse("sip:alice@pc33.atlanta.example.com")
    assert message.supported == ("100rel",)
    assert message.content_type is not None and message.content_type.mime_type == "application/sdp"
    assert [name for name, _ in message.headers][:4] == ["v", "f", "t", "i"]


# -- invalid messages ------------------------------------------------------------------------

FOLD_FIRST = (REQUEST_LINE + "\r\n folded: before the first header\r\n").encode() + request()[
    len(REQUEST_LINE) + 2 :
]
FOLD_FIRST_RESPONSE = (STATUS_LINE + "\r\n\tx\r\n").encode() + response()[len(STATUS_LINE) + 2 :]
BIG_DIGITS = "9" * 10

INVALID = [
    # the header section
    pytest.param(FOLD_FIRST, 400, FULL, id="fold-before-first-header"),
    pytest.param(FOLD_FIRST_RESPONSE, None, FULL_RESPONSE, id="fold-before-first-resp"),
    pytest.param(request("Subject: a\nb"), 400, FULL, id="bare-lf-in-value"),
    pytest.param(request("Subject: a\rb"), 400, FULL, id="bare-cr-in-value"),
    # A bare line end glues two lines into one raw value, which is never echoed.
    pytest.param(
        request().replace(b"\r\nTo:", b"\nTo:"),
        400,
        salvage(from_=(f"{FROM}\nTo: {TO}",), to=()),
        id="bare-lf-line-end",
    ),
    pytest.param(
        request().replace(b"\r\nTo:", b"\rTo:"),
        400,
        salvage(from_=(f"{FROM}\rTo: {TO}",), to=()),
        id="bare-cr-line-end",
    ),
    pytest.param(request().replace(b"\r\n", b"\n"), 400, NOTHING, id="lf-only"),
    pytest.param(
        request().replace(b"\r\n", b"\r"), 400, salvage(NOTHING, method=ANY), id="cr-only"
    ),
    pytest.param(request()[:-4], 400, salvage(), id="no-end-of-headers"),
    pytest.param(request("no colon here"), 400, FULL, id="line-without-colon"),
    pytest.param(request("Bad Name: x"), 400, FULL, id="name-with-space"),
    pytest.param(request(": no name"), 400, FULL, id="empty-name"),
    pytest.param(request("Na@me: x"), 400, FULL, id="name-not-token"),
    pytest.param(response("Bad Name: x"), None, FULL_RESPONSE, id="response-bad-name"),
    # status lines: a response is dropped, never answered
    pytest.param(response(start="SIP/2.0 099 Low"), None, FULL_RESPONSE, id="status-099"),
    pytest.param(response(start="SIP/2.0 700 High"), None, FULL_RESPONSE, id="status-700"),
    pytest.param(response(start="SIP/2.0 1000 Long"), None, FULL_RESPONSE, id="status-1000"),
    pytest.param(response(start="SIP/2.0 abc Letters"), None, FULL_RESPONSE, id="status-abc"),
    pytest.param(response(start="SIP/2.0 20 Short"), None, FULL_RESPONSE, id="status-2-digits"),
    pytest.param(response(start="SIP/3.0 200 OK"), None, FULL_RESPONSE, id="status-sip-3"),
    pytest.param(response(start="SIP/2.0  200 OK"), None, FULL_RESPONSE, id="status-double-sp"),
    pytest.param(response(start="SIP/2.0\t200 OK"), None, FULL_RESPONSE, id="status-tab"),
    pytest.param(response(start="SIP/2.0"), None, FULL_RESPONSE, id="status-no-code"),
    # request lines
    pytest.param(
        request(start="INVITE  sip:bob@biloxi.example.com SIP/2.0"), 400, FULL, id="req-double-sp"
    ),
    pytest.param(
        request(start="INVITE\tsip:bob@biloxi.example.com SIP/2.0"),
        400,
        salvage(method=ANY),
        id="req-tab",
    ),
    pytest.param(
        request(start="INVITE sip:bob@biloxi.example.com SIP/2.0 "), 400, FULL, id="req-trail-sp"
    ),
    pytest.param(
        request(start="INVITE sip:bob@biloxi.example.com"), 400, FULL, id="req-no-version"
    ),
    pytest.param(
        request(start="INVITE sip:bob@biloxi.example.com SIP/2.0 x"), 400, FULL, id="req-4-parts"
    ),
    pytest.param(request(start="INVITE sip:bob@biloxi.example.com SIP/2.1"), 505, FULL, id="v21"),
    pytest.param(request(start="INVITE sip:bob@biloxi.example.com SIP/7.0"), 505, FULL, id="v7"),
    pytest.param(request(start="INVITE sip:bob@biloxi.example.com HTTP/1.1"), 400, FULL, id="http"),
    pytest.param(request(start="INVITE sip:bob@biloxi.example.com SIP/2"), 400, FULL, id="v2"),
    pytest.param(
        request(start="INV@TE sip:bob@biloxi.example.com SIP/2.0"),
        400,
        salvage(method="INV@TE"),
        id="method-not-token",
    ),
    pytest.param(
        request(start="INVITE sip:bob@biloxi.example.com?Subject=x SIP/2.0"),
        400,
        FULL,
        id="ruri-with-headers",
    ),
    pytest.param(
        request(start="INVITE sips:bob@biloxi.example.com?Route=%3Csip:x%3E SIP/2.0"),
        400,
        FULL,
        id="ruri-sips-with-headers",
    ),
    pytest.param(
        request(start="INVITE <sip:bob@biloxi.example.com> SIP/2.0"), 400, FULL, id="ruri-in-<>"
    ),
    pytest.param(request(start="INVITE sip:bob@ SIP/2.0"), 400, FULL, id="ruri-no-host"),
    pytest.param(request(start="INVITE bob SIP/2.0"), 400, FULL, id="ruri-no-scheme"),
    # Content-Length
    pytest.param(
        wire(REQUEST_LINE, *CORE, "Content-Length: 6", body=b"hello", length=False),
        400,
        FULL,
        id="cl-larger-than-body",
    ),
    pytest.param(
        wire(STATUS_LINE, *RESPONSE_CORE, "Content-Length: 6", body=b"hello", length=False),
        None,
        FULL_RESPONSE,
        id="cl-larger-response",
    ),
    *(
        pytest.param(
            wire(REQUEST_LINE, *CORE, f"Content-Length: {value}", body=b"hello", length=False),
            400,
            FULL,
            id=f"cl-{name}",
        )
        for name, value in [
            ("plus", "+5"),
            ("minus", "-5"),
            ("hex", "0x5"),
            ("letters", "5a"),
            ("empty", ""),
            ("inner-space", "5 5"),
            ("arabic-digit", "٥"),
            ("float", "5.0"),
        ]
    ),
    pytest.param(
        wire(REQUEST_LINE, *CORE, f"Content-Length: {BIG_DIGITS}", body=b"x", length=False),
        513,
        FULL,
        id="cl-huge",
    ),
    pytest.param(
        wire(REQUEST_LINE, *CORE, f"Content-Length: {'1' * 5000}", body=b"x", length=False),
        513,
        FULL,
        id="cl-5000-digits",
    ),
    pytest.param(
        wire(REQUEST_LINE, *CORE, "Content-Length: 5", "l: 5", body=b"hello", length=False),
        400,
        FULL,
        id="cl-twice",
    ),
    # mandatory headers (§8.1.1): a request missing one is answered 400 …
    pytest.param(wire(REQUEST_LINE, *without("Via")), 400, salvage(via=()), id="no-via"),
    pytest.param(wire(REQUEST_LINE, *without("From")), 400, salvage(from_=()), id="no-from"),
    pytest.param(wire(REQUEST_LINE, *without("To")), 400, salvage(to=()), id="no-to"),
    pytest.param(wire(REQUEST_LINE, *without("Call-ID")), 400, salvage(call_id=()), id="no-cid"),
    pytest.param(wire(REQUEST_LINE, *without("CSeq")), 400, salvage(cseq=()), id="no-cseq"),
    # … and a response missing one is dropped
    *(
        pytest.param(
            wire(STATUS_LINE, *without(name, RESPONSE_CORE)),
            None,
            salvage(FULL_RESPONSE, **{field: ()}),
            id=f"response-no-{name.lower()}",
        )
        for name, field in [
            ("Via", "via"),
            ("From", "from_"),
            ("To", "to"),
            ("Call-ID", "call_id"),
            ("CSeq", "cseq"),
        ]
    ),
    # single-valued headers given twice (RFC 4475 multi01)
    pytest.param(
        request("From: <sip:eve@example.com>;tag=2"),
        400,
        salvage(from_=(FROM, "<sip:eve@example.com>;tag=2")),
        id="two-from",
    ),
    pytest.param(
        request("f: <sip:eve@example.com>;tag=2"),
        400,
        salvage(from_=(FROM, "<sip:eve@example.com>;tag=2")),
        id="from-and-f",
    ),
    pytest.param(
        request("t: <sip:eve@example.com>"),
        400,
        salvage(to=(TO, "<sip:eve@example.com>")),
        id="to-and-t",
    ),
    pytest.param(request("i: other"), 400, salvage(call_id=(CALL_ID, "other")), id="call-id-and-i"),
    pytest.param(request(f"CSeq: {CSEQ}"), 400, salvage(cseq=(CSEQ, CSEQ)), id="two-cseq"),
    pytest.param(request("Max-Forwards: 70"), 400, FULL, id="two-max-forwards"),
    pytest.param(
        response("To: <sip:eve@example.com>"),
        None,
        salvage(FULL_RESPONSE, to=(TO_TAGGED, "<sip:eve@example.com>")),
        id="response-two-to",
    ),
    # CSeq
    pytest.param(
        wire(REQUEST_LINE, *replaced("CSeq", "1 BYE")), 400, salvage(cseq=("1 BYE",)), id="cs-bye"
    ),
    pytest.param(
        wire(REQUEST_LINE, *replaced("CSeq", "1 invite")),
        400,
        salvage(cseq=("1 invite",)),
        id="cseq-method-case",
    ),
    *(
        pytest.param(
            wire(REQUEST_LINE, *replaced("CSeq", value)),
            400,
            salvage(cseq=(value,)),
            id=f"cseq-{name}",
        )
        for name, value in [
            ("2**32", "4294967296 INVITE"),
            ("2**32-leading-zero", "04294967296 INVITE"),
            ("20-digits", "99999999999999999999 INVITE"),
            ("negative", "-1 INVITE"),
            ("no-method", "1"),
            ("no-number", "INVITE"),
            ("no-space", "1INVITE"),
            ("letters", "one INVITE"),
            ("bad-method", "1 INV@TE"),
        ]
    ),
    # Call-ID
    *(
        pytest.param(
            wire(REQUEST_LINE, *replaced("Call-ID", value)),
            400,
            salvage(call_id=(value,)),
            id=f"call-id-{name}",
        )
        for name, value in [("space", "a b"), ("two-at", "a@b@c"), ("empty", ""), ("at", "@x")]
    ),
    # From / To
    *(
        pytest.param(
            wire(REQUEST_LINE, *replaced(header, value)),
            400,
            salvage(**{field: (value,)}),
            id=f"{header.lower()}-{name}",
        )
        for header, field in [("From", "from_"), ("To", "to")]
        for name, value in [
            ("no-gt", "<sip:bob@biloxi.example.com"),
            ("no-scheme", "<bob@biloxi.example.com>"),
            ("unbalanced-quote", '"Bob <sip:bob@biloxi.example.com>'),
            ("space-in-uri", "<sip:bob @biloxi.example.com>"),
            ("comma-in-addr-spec", "sip:bob,x@biloxi.example.com"),
            ("bad-param", "<sip:bob@biloxi.example.com>;=x"),
            ("empty", ""),
        ]
    ),
    # Via
    *(
        pytest.param(
            wire(REQUEST_LINE, *replaced("Via", value)),
            400,
            salvage(via=(value,)),
            id=f"via-{name}",
        )
        for name, value in [
            (
                "received-hostname",
                "SIP/2.0/UDP h.example.com;branch=z9hG4bK1;received=h.example.com",
            ),
            ("received-half-bracket", "SIP/2.0/UDP h;branch=z9hG4bK1;received=[2001:db8::9"),
            ("received-bad-ipv4", "SIP/2.0/UDP h;branch=z9hG4bK1;received=192.0.2.256"),
            ("received-empty", "SIP/2.0/UDP h;branch=z9hG4bK1;received="),
            ("rport-too-big", "SIP/2.0/UDP h;branch=z9hG4bK1;rport=65536"),
            ("rport-letters", "SIP/2.0/UDP h;branch=z9hG4bK1;rport=abc"),
            ("ttl-256", "SIP/2.0/UDP h;branch=z9hG4bK1;maddr=224.2.0.1;ttl=256"),
            ("ttl-letters", "SIP/2.0/UDP h;branch=z9hG4bK1;ttl=abc"),
            ("ttl-negative", "SIP/2.0/UDP h;branch=z9hG4bK1;ttl=-1"),
            ("branch-flag", "SIP/2.0/UDP h;branch"),
            ("branch-empty-quoted", 'SIP/2.0/UDP h;branch=""'),
            ("port-too-big", "SIP/2.0/UDP h:65536;branch=z9hG4bK1"),
            ("no-host", "SIP/2.0/UDP"),
            ("no-transport", "SIP/2.0 h;branch=z9hG4bK1"),
            ("ipv6-no-brackets", "SIP/2.0/UDP 2001:db8::1;branch=z9hG4bK1"),
            ("ipv6-bad", "SIP/2.0/UDP [2001:db8:::1:2:3:4:5:6];branch=z9hG4bK1"),
            ("trailing-comma", "SIP/2.0/UDP h;branch=z9hG4bK1,"),
            ("empty-element", "SIP/2.0/UDP a;branch=z9hG4bK1,,SIP/2.0/UDP b;branch=z9hG4bK2"),
            ("second-bad", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;rport=x"),
            ("empty", ""),
        ]
    ),
    pytest.param(
        request("Via: SIP/2.0/UDP second;rport=99999"),
        400,
        salvage(via=(VIA, "SIP/2.0/UDP second;rport=99999")),
        id="via-second-header-bad",
    ),
]


@pytest.mark.parametrize(("data", "hint", "salvaged"), INVALID)
def test_invalid_message(data: bytes, hint: int | None, salvaged: SalvagedHeaders) -> None:
    error = reject(data)
    assert error.status_hint == hint, error.reason
    assert_salvaged(error.salvaged, salvaged)
    # The datagram entry point agrees.
    again = reject(data, parse_datagram)
    assert (again.status_hint, again.reason) == (error.status_hint, error.reason)
    # A rejected request with its core headers intact can be answered; nothing else can.
    answer = make_error_response(error, to_tag="t1")
    core = (salvaged.via, salvaged.from_, salvaged.to, salvaged.call_id, salvaged.cseq)
    if hint is None or not all(core):
        assert answer is None
    elif ANY not in core:
        assert answer is not None and answer.status_code == hint


def test_rejected_response_salvage_says_response() -> None:
    error = reject(response(start="SIP/2.0 700 High"))
    assert error.salvaged is not None and not error.salvaged.is_request
    assert error.salvaged.method is None


def test_salvage_of_a_request_with_leading_crlfs() -> None:
    error = reject(b"\r\n\r\n" + request(start="INVITE sip:bob@biloxi.example.com SIP/2.1"))
    assert error.status_hint == 505
    assert_salvaged(error.salvaged, FULL)


def test_salvage_keeps_several_vias_in_order() -> None:
    data = wire(
        REQUEST_LINE,
        "Via: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2",
        "v: SIP/2.0/UDP c;branch=z9hG4bK3",
        *CORE[1:],
        "CSeq: 2 INVITE",
    )
    error = reject(data)
    assert error.salvaged is not None
    assert error.salvaged.via == (
        "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2",
        "SIP/2.0/UDP c;branch=z9hG4bK3",
    )
    assert error.salvaged.cseq == (CSEQ, "2 INVITE")


def test_salvage_unfolds_folded_core_headers() -> None:
    data = (
        request("Subject: a\nb")
        .replace(b"To: Bob ", b"To: Bob\r\n ")
        .replace(b":5060;branch", b":5060\r\n ;branch")
    )
    error = reject(data)
    assert error.salvaged is not None
    assert error.salvaged.to == (TO,)
    assert error.salvaged.via == (VIA.replace(";branch", " ;branch"),)


def test_lowercase_version_in_a_status_line_is_a_response() -> None:
    message = parse_message(response(start="sip/2.0 200 OK"))
    assert isinstance(message, Response) and message.status_code == 200


# -- Via parameters --------------------------------------------------------------------------


def vias_of(*values: str) -> tuple[object, ...]:
    message = parse_message(wire(REQUEST_LINE, *(f"Via: {v}" for v in values), *CORE[1:]))
    return message.via


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("SIP/2.0/UDP h;branch=z9hG4bK1", {"received": None}, id="none"),
        pytest.param("SIP/2.0/UDP h;received=192.0.2.5", {"received": "192.0.2.5"}, id="recv4"),
        pytest.param(
            "SIP/2.0/UDP h;received=2001:db8::9", {"received": "2001:db8::9"}, id="recv6-bare"
        ),
        pytest.param(
            "SIP/2.0/UDP h;received=[2001:db8::9]", {"received": "2001:db8::9"}, id="recv6-[]"
        ),
        pytest.param(
            "SIP/2.0/UDP h;rport", {"rport_requested": True, "rport": None}, id="rport-flag"
        ),
        pytest.param(
            "SIP/2.0/UDP h;rport=5070", {"rport_requested": True, "rport": 5070}, id="rport-value"
        ),
        pytest.param(
            "SIP/2.0/UDP h;RPORT", {"rport_requested": True, "rport": None}, id="rport-upper"
        ),
        pytest.param(
            "SIP/2.0/UDP h;branch=z9hG4bK1", {"rport_requested": False, "rport": None}, id="no-rp"
        ),
        pytest.param(
            "SIP/2.0/UDP h;maddr=224.0.0.1;ttl=16", {"maddr": "224.0.0.1", "ttl": 16}, id="mcast"
        ),
        pytest.param("SIP/2.0/UDP h;maddr=[ff02::1]", {"maddr": "[ff02::1]"}, id="maddr-ipv6"),
        pytest.param("SIP/2.0/UDP h;maddr=sip.example.com", {"maddr": "sip.example.com"}, id="md"),
        pytest.param("SIP/2.0/UDP h;ttl=0", {"ttl": 0}, id="ttl-0"),
        pytest.param("SIP/2.0/UDP h;ttl=255", {"ttl": 255}, id="ttl-255"),
        pytest.param(
            "SIP/2.0/UDP h;branch=z9hG4bKabc", {"branch": "z9hG4bKabc", "has_rfc3261_branch": True}
        ),
        pytest.param(
            "SIP/2.0/UDP h;branch=1234", {"branch": "1234", "has_rfc3261_branch": False}, id="2543"
        ),
        pytest.param("SIP/2.0/UDP h", {"branch": None, "has_rfc3261_branch": False}, id="no-br"),
        pytest.param(
            "SIP / 2.0 / udp  h.example.com : 5062 ;branch = z9hG4bK1",
            {"transport": "UDP", "host": "h.example.com", "port": 5062, "branch": "z9hG4bK1"},
            id="lws",
        ),
        pytest.param("SIP/2.0/UDP h:0", {"port": 0, "sent_by": ("h", 0)}, id="port-0"),
        pytest.param(
            "SIP/2.0/TLS h:65535;x=y;flag", {"port": 65535, "transport": "TLS"}, id="port-max"
        ),
    ],
)
def test_via_parameters(value: str, expected: dict[str, object]) -> None:
    (via,) = vias_of(value)
    for attribute, wanted in expected.items():
        assert getattr(via, attribute) == wanted, attribute


def test_via_comma_list_and_several_headers_keep_order() -> None:
    vias = vias_of(
        "SIP/2.0/UDP a.example.com;branch=z9hG4bK1 , "
        "SIP/2.0/TCP b.example.com:5061;branch=z9hG4bK2",
        "SIP/2.0/SCTP [2001:db8::1]:5060;branch=z9hG4bK3,SIP/2.0/WSS c;branch=z9hG4bK4",
    )
    assert [(v.transport, v.host, v.port, v.branch) for v in vias] == [  # type: ignore[attr-defined]
        ("UDP", "a.example.com", None, "z9hG4bK1"),
        ("TCP", "b.example.com", 5061, "z9hG4bK2"),
        ("SCTP", "2001:db8::1", 5060, "z9hG4bK3"),
        ("WSS", "c", None, "z9hG4bK4"),
    ]


def test_via_maddr_must_be_a_host() -> None:
    error = reject(request().replace(b"branch=z9hG4bK776asdhds", b"branch=z9hG4bK1;maddr=!!!"))
    assert error.status_hint == 400


def test_via_received_has_no_zone_index() -> None:
    error = reject(request().replace(b"z9hG4bK776asdhds", b"z9hG4bK1;received=fe80::1%eth0"))
    assert error.status_hint == 400


@pytest.mark.parametrize("parameter", ["rport", "ttl"])
def test_via_superscript_digit_is_a_remote_error(parameter: str) -> None:
    data = request().replace(b"z9hG4bK776asdhds", f'z9hG4bK1;{parameter}="²"'.encode())
    assert reject(data).status_hint == 400


@pytest.mark.parametrize("parameter", ["rport", "ttl"])
def test_via_number_with_5000_digits_is_a_remote_error(parameter: str) -> None:
    data = request().replace(b"z9hG4bK776asdhds", f"z9hG4bK1;{parameter}={'1' * 5000}".encode())
    assert reject(data).status_hint == 400


# -- typed accessors of the optional headers -------------------------------------------------


def parsed(*extra: str) -> Message:
    return parse_message(request(*extra))


def test_contact_wildcard() -> None:
    message = parsed("Contact: *", "Expires: 0")
    assert message.contact_is_wildcard and message.contact == ()
    message = parsed("m:  * ")
    assert message.contact_is_wildcard
    assert not parsed().contact_is_wildcard and parsed().contact == ()


def test_contact_list_with_q_and_expires() -> None:
    message = parsed(
        'Contact: <sip:a@example.com>;q=0.7;expires=3600, "Bob, Jr." <sip:b@example.com>;q=1',
        "m: sip:c@example.com;expires=0",
    )
    assert not message.contact_is_wildcard
    assert [(c.display_name, c.q, c.expires) for c in message.contact] == [
        (None, 0.7, 3600),
        ("Bob, Jr.", 1.0, None),
        (None, None, 0),
    ]


@pytest.mark.parametrize("q", ["0", "0.", "0.5", "0.123", "1", "1.", "1.000"])
def test_contact_q_valid(q: str) -> None:
    (contact,) = parsed(f"Contact: <sip:a@example.com>;q={q}").contact
    assert contact.q == float(q)


@pytest.mark.parametrize("q", ["1.5", "2", "0.1234", "abc", "1.001", "-0", ".5", "01"])
def test_contact_q_invalid_fails_on_access(q: str) -> None:
    (contact,) = parsed(f"Contact: <sip:a@example.com>;q={q}").contact
    with pytest.raises(RemoteProtocolError) as caught:
        _ = contact.q
    assert caught.value.status_hint == 400


@pytest.mark.parametrize("expires", ["abc", "-1", "4294967296", "1.5"])
def test_contact_expires_invalid_fails_on_access(expires: str) -> None:
    (contact,) = parsed(f"Contact: <sip:a@example.com>;expires={expires}").contact
    with pytest.raises(RemoteProtocolError):
        _ = contact.expires


def test_route_and_record_route_lists_across_several_lines() -> None:
    message = parsed(
        "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
        "Subject: between",
        "Route: <sip:[2001:db8::3];lr>",
        "Record-Route: <sip:r1.example.com;lr>,<sip:r2.example.com:5080;transport=tcp;lr>",
        "Record-Route: sip:r3.example.com;lr",
    )
    assert [str(r.uri) for r in message.route] == [
        "sip:p1.example.com;lr",
        "sip:p2.example.com;lr",
        "sip:[2001:db8::3];lr",
    ]
    assert [str(r.uri) for r in message.record_route] == [
        "sip:r1.example.com;lr",
        "sip:r2.example.com:5080;transport=tcp;lr",
        "sip:r3.example.com",  # addr-spec form: ;lr is a header parameter (§20.10)
    ]
    assert message.record_route[2].has_parameter("lr")


def test_digest_challenge() -> None:
    message = parse_message(
        response(
            'WWW-Authenticate: Digest realm="atlanta.example.com", '
            'nonce="a,b\\"c=d", qop="auth,auth-int", stale=TRUE, opaque=""',
            'WWW-Authenticate: Digest realm="x", nonce="y", algorithm=SHA-256',
            start="SIP/2.0 401 Unauthorized",
        )
    )
    first, second = message.www_authenticate
    assert first.is_digest and first.scheme == "Digest"
    assert first.realm == "atlanta.example.com"
    assert first.nonce == 'a,b"c=d'
    assert first.qop_options == ("auth", "auth-int")
    assert first.stale is True
    assert first.opaque == ""
    assert first.algorithm == "MD5"  # the default (RFC 3261 §22.4)
    assert second.algorithm == "SHA-256" and not second.stale and second.qop_options == ()


def test_proxy_challenge_and_stale_false() -> None:
    message = parse_message(
        response(
            'Proxy-Authenticate: digest realm="p", nonce="n", stale=false, qop=auth',
            start="SIP/2.0 407 Proxy Authentication Required",
        )
    )
    (challenge,) = message.proxy_authenticate
    assert challenge.is_digest and not challenge.stale
    assert challenge.qop_options == ("auth",)


def test_digest_credentials() -> None:
    message = parsed(
        'Authorization: Digest username="bob", realm="biloxi.example.com", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.example.com", '
        'qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1"',
        'Proxy-Authorization: Digest username="alice", uri="sip:[2001:db8::1]", response="x"',
    )
    (credentials,) = message.authorization
    assert credentials.get("USERNAME") == "bob"
    assert credentials.get("uri") == "sip:bob@biloxi.example.com"
    assert credentials.get("nc") == "00000001"
    assert credentials.get("missing") is None
    (proxy,) = message.proxy_authorization
    assert proxy.get("uri") == "sip:[2001:db8::1]"


def test_token_lists() -> None:
    message = parsed(
        "Allow: INVITE, ACK ,BYE",
        "Allow: OPTIONS",
        "Supported: 100rel, timer",
        "k: path",
        "Require: 100rel",
        "Proxy-Require: sec-agree",
        "Unsupported: foo",
    )
    assert message.allow == ("INVITE", "ACK", "BYE", "OPTIONS")
    assert message.supported == ("100rel", "timer", "path")
    assert message.require == ("100rel",)
    assert message.proxy_require == ("sec-agree",)
    assert message.unsupported == ("foo",)
    empty = parsed()
    assert (empty.allow, empty.supported, empty.require) == ((), (), ())


def test_event_with_id() -> None:
    event = parsed("Event: presence;id=abc;foo").event
    assert event is not None
    assert (event.package, event.id, str(event)) == ("presence", "abc", "presence;id=abc;foo")
    compact = parsed("o: dialog").event
    assert compact is not None and compact.package == "dialog" and compact.id is None
    assert parsed().event is None


def test_reason_with_cause_and_text() -> None:
    message = parsed(
        'Reason: SIP;cause=200;text="Call completed elsewhere", Q.850;cause=16;text="a, b"'
    )
    assert [(r.protocol, r.cause, r.text) for r in message.reason_headers] == [
        ("SIP", 200, "Call completed elsewhere"),
        ("Q.850", 16, "a, b"),
    ]
    assert parsed().reason_headers == ()


def test_retry_after() -> None:
    retry = parsed("Retry-After: 18000;duration=3600").retry_after
    assert retry is not None and (retry.seconds, retry.duration, retry.comment) == (
        18000,
        3600,
        None,
    )
    retry = parsed("Retry-After: 120 (I'm in a meeting)").retry_after
    assert retry is not None and retry.comment == "(I'm in a meeting)"
    assert retry.duration is None
    retry = parsed("Retry-After: 5 (a \\) b);duration=60").retry_after
    assert retry is not None and retry.comment == "(a \\) b)" and retry.duration == 60
    assert parsed().retry_after is None


def test_retry_after_nested_comment() -> None:
    retry = parsed("Retry-After: 120 (I'm (really) in a meeting);duration=60").retry_after
    assert retry is not None and retry.duration == 60


def test_date() -> None:
    assert parsed("Date: Sat, 13 Nov 2010 23:29:00 GMT").date == datetime(
        2010, 11, 13, 23, 29, 0, tzinfo=UTC
    )
    assert parsed().date is None


def test_expires_and_min_expires() -> None:
    message = parsed("Expires: 3600", "Min-Expires: 60")
    assert (message.expires, message.min_expires) == (3600, 60)
    assert parsed("Expires: 4294967295").expires == 2**32 - 1
    assert (parsed().expires, parsed().min_expires) == (None, None)


def test_max_forwards() -> None:
    assert parsed().max_forwards == 70
    assert parse_message(wire(REQUEST_LINE, *replaced("Max-Forwards", "0"))).max_forwards == 0
    assert parse_message(wire(REQUEST_LINE, *without("Max-Forwards"))).max_forwards is None


def test_content_type() -> None:
    content_type = parsed("Content-Type: Application/SDP ; charset=UTF-8").content_type
    assert content_type is not None
    assert content_type.mime_type == "application/sdp"
    assert content_type.parameter("CHARSET") == "UTF-8"


BROKEN_OPTIONAL = [
    pytest.param("Contact: *, <sip:a@example.com>", "contact", id="contact-star-in-list"),
    pytest.param("Contact: <sip:a@example.com>, *", "contact_is_wildcard", id="contact-list-star"),
    pytest.param("Contact: *\r\nContact: <sip:a@example.com>", "contact", id="contact-star-two"),
    pytest.param("Contact: *\r\nm: *", "contact_is_wildcard", id="contact-star-twice"),
    pytest.param("Contact: <sip:a@example.com", "contact", id="contact-no-gt"),
    pytest.param("Contact: <sip:a@example.com>,", "contact", id="contact-trailing-comma"),
    pytest.param("Route: <sip:p1;lr>,,<sip:p2;lr>", "route", id="route-empty-element"),
    pytest.param("Route: <sip:p1 ;lr>", "route", id="route-space"),
    pytest.param("Record-Route: sip:", "record_route", id="record-route-no-host"),
    pytest.param("Max-Forwards: 256", "max_forwards", id="max-forwards-256"),
    pytest.param("Max-Forwards: -1", "max_forwards", id="max-forwards-negative"),
    pytest.param("Content-Type: sdp", "content_type", id="content-type-no-slash"),
    pytest.param("Expires: 4294967296", "expires", id="expires-2**32"),
    pytest.param("Expires: 99999999999999999999", "expires", id="expires-huge"),
    pytest.param("Expires: -1", "expires", id="expires-negative"),
    pytest.param("Expires: Thu, 01 Dec 1994 16:00:00 GMT", "expires", id="expires-date"),
    pytest.param("Min-Expires: 4294967296", "min_expires", id="min-expires-2**32"),
    pytest.param("Min-Expires: soon", "min_expires", id="min-expires-word"),
    pytest.param('WWW-Authenticate: Digest realm="a" nonce="b"', "www_authenticate", id="wa"),
    pytest.param('WWW-Authenticate: Digest realm="a', "www_authenticate", id="wa-unclosed"),
    pytest.param("Proxy-Authenticate: Digest realm=", "proxy_authenticate", id="pa-no-value"),
    pytest.param("Authorization: Digest ,x=y", "authorization", id="authorization-comma"),
    pytest.param("Proxy-Authorization: ", "proxy_authorization", id="proxy-authorization-empty"),
    pytest.param("Allow: INVITE, A@CK", "allow", id="allow-bad-token"),
    pytest.param("Allow: ", "allow", id="allow-empty"),
    pytest.param("Supported: 100rel,,timer", "supported", id="supported-empty-element"),
    pytest.param("Require: 100rel;x", "require", id="require-semicolon"),
    pytest.param("Proxy-Require: a b", "proxy_require", id="proxy-require-space"),
    pytest.param("Unsupported: <x>", "unsupported", id="unsupported-bracket"),
    pytest.param("Event: ;id=1", "event", id="event-no-package"),
    pytest.param("Event: presence junk", "event", id="event-junk"),
    pytest.param("Reason: SIP;cause=abc", "reason_headers", id="reason-cause-word"),
    pytest.param("Reason: ;cause=1", "reason_headers", id="reason-no-protocol"),
    pytest.param("Retry-After: abc", "retry_after", id="retry-after-word"),
    pytest.param("Retry-After: 99999999999", "retry_after", id="retry-after-huge"),
    pytest.param("Retry-After: 5 (unclosed", "retry_after", id="retry-after-comment"),
    pytest.param("Date: Sat, 13 Nov 2010 23:29:00 PST", "date", id="date-pst"),
    pytest.param("Date: Sat, 13 Nov 2010 23:29:00 UTC", "date", id="date-utc"),
    pytest.param("Date: Sat, 13 Nov 2010 23:29:00 +0000", "date", id="date-offset"),
    pytest.param("Date: Sat, 31 Feb 2010 23:29:00 GMT", "date", id="date-31-feb"),
    pytest.param("Date: Sat, 13 Nov 2010 24:00:00 GMT", "date", id="date-hour-24"),
    pytest.param("Date: 2010-11-13T23:29:00Z", "date", id="date-iso"),
]


@pytest.mark.parametrize(("line", "accessor"), BROKEN_OPTIONAL)
def test_broken_optional_header_fails_only_its_accessor(line: str, accessor: str) -> None:
    data = wire(REQUEST_LINE, *without("Max-Forwards"), line)
    message = parse_message(data)  # the message itself is acceptable
    for _ in range(2):  # a failure is not cached as a success, nor does it change
        with pytest.raises(RemoteProtocolError) as caught:
            getattr(message, accessor)
        assert caught.value.status_hint == 400
    # The message stays usable: the core views, serialising, parsing again.
    check_core(message)
    assert message.to.display_name == "Bob"
    assert bytes(message) == data
    assert parse_message(bytes(message)).headers == message.headers


@pytest.mark.parametrize(
    ("line", "accessor", "fix", "expected"),
    [
        ("Max-Forwards: 256", "max_forwards", "69", 69),
        ("Expires: -1", "expires", "60", 60),
        ("Allow: A@CK", "allow", "ACK", ("ACK",)),
        ("Contact: *, <sip:a@example.com>", "contact_is_wildcard", "*", True),
    ],
)
def test_a_fixed_header_parses_after_a_failure(
    line: str, accessor: str, fix: str, expected: object
) -> None:
    message = parse_message(wire(REQUEST_LINE, *without("Max-Forwards"), line))
    with pytest.raises(RemoteProtocolError):
        getattr(message, accessor)
    message.headers.set(line.split(":", maxsplit=1)[0], fix)
    assert getattr(message, accessor) == expected


def test_broken_core_header_of_a_message_built_in_code_fails_on_access() -> None:
    message = parsed()
    message.headers.set("From", "<sip:a@example.com")
    message.headers.set("CSeq", "x INVITE")
    message.headers.set("Call-ID", "a b")
    message.headers.add("To", "<sip:c@example.com>")
    for accessor in ("from_", "cseq", "call_id", "to"):
        with pytest.raises(RemoteProtocolError):
            getattr(message, accessor)
    message.headers.remove("Via")
    assert message.via == ()
    with pytest.raises(RemoteProtocolError):
        _ = message.top_via


def test_max_forwards_with_5000_digits_is_a_remote_error() -> None:
    message = parsed()
    message.headers.set("Max-Forwards", "1" * 5000)
    with pytest.raises(RemoteProtocolError):
        _ = message.max_forwards


def test_reason_cause_with_5000_digits_is_a_remote_error() -> None:
    message = parsed(f"Reason: SIP;cause={'1' * 5000}")
    with pytest.raises(RemoteProtocolError):
        (reason,) = message.reason_headers
        _ = reason.cause


def test_from_accepted_by_parse_message_is_accepted_by_from_() -> None:
    # Regression: validation.ADDRESS_RE once let "," into an addr-spec's password, so
    # parse_message accepted a From that message.from_ then refused.
    data = wire(REQUEST_LINE, *replaced("From", "sip:alice:pass,word@atlanta.example.com;tag=1"))
    try:
        message = parse_message(data)
    except RemoteProtocolError:
        return  # rejecting at once is as good: the two must only agree
    assert message.from_.tag == "1"
