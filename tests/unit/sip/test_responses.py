"""Tests for phoneagent.sip.responses: answers to requests (RFC 3261 §8.2.6).

``make_response`` answers a request that parsed; ``make_error_response`` answers
one that ``parse_message`` rejected, from the raw headers it salvaged.  Every
response either builds must itself parse.
"""

from __future__ import annotations

import pytest

from phoneagent.sip import (
    LocalProtocolError,
    RemoteProtocolError,
    Request,
    Response,
    SalvagedHeaders,
    SipUri,
    make_error_response,
    make_response,
    parse_message,
)

VIA_1 = "SIP/2.0/UDP proxy.example.com;branch=z9hG4bK2d4790.1;received=192.0.2.9"
VIA_2 = "SIP/2.0/TCP [2001:db8::5]:5061;branch=z9hG4bKnashds8, SIP/2.0/UDP pc33;branch=z9hG4bK3"
VIA_3 = "SIP/2.0/UDP client.example.com:5060;branch=z9hG4bK776asdhds;rport=5060"
FROM = '"Alice \\"A\\"" <sip:alice@atlanta.example.com>;tag=1928301774'
TO = "Bob <sip:bob@biloxi.example.com>;x=y"
CALL_ID = "a84b4c76e66710@pc33.atlanta.example.com"
CSEQ = "314159 INVITE"


def invite(*extra: str, to: str = TO, body: bytes = b"") -> Request:
    lines = [
        "INVITE sip:bob@biloxi.example.com SIP/2.0",
        f"Via: {VIA_1}",
        f"v: {VIA_2}",
        "Max-Forwards: 69",
        f"f: {FROM}",
        f"To: {to}",
        f"i: {CALL_ID}",
        f"CSeq: {CSEQ}",
        "Contact: <sip:alice@pc33.atlanta.example.com>",
        "Subject: lunch",
        f"Via: {VIA_3}",
        *extra,
        f"Content-Length: {len(body)}",
    ]
    message = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    assert isinstance(message, Request)
    return message


def reparsed(response: Response) -> Response:
    """The response as the peer sees it: it must parse."""
    again = parse_message(bytes(response))
    assert isinstance(again, Response)
    assert (again.status_code, again.reason) == (response.status_code, response.reason)
    assert without_length(again) == without_length(response)
    assert again.content_length == len(response.body)
    assert again.body == response.body
    return again


def without_length(response: Response) -> list[tuple[str, str]]:
    return [(n, v) for n, v in response.headers if n.lower() not in ("content-length", "l")]


# -- make_response ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", [100, 180, 183, 200, 202, 302, 404, 486, 500, 603, 699])
def test_copies_the_headers_of_section_8_2_6_2(code: int) -> None:
    request = invite()
    response = reparsed(make_response(request, code, to_tag="a6c85cf"))
    assert response.status_code == code
    # Every Via, in order, values untouched (a comma list stays one field).
    assert response.headers.get_all("Via") == [VIA_1, VIA_2, VIA_3]
    assert response.via == request.via
    assert [via.branch for via in response.via] == [
        "z9hG4bK2d4790.1",
        "z9hG4bKnashds8",
        "z9hG4bK3",
        "z9hG4bK776asdhds",
    ]
    assert response.headers.get("From") == FROM
    assert response.headers.get("Call-ID") == CALL_ID
    assert response.headers.get("CSeq") == CSEQ
    assert response.from_ == request.from_
    assert response.cseq == request.cseq
    # Nothing else of the request is copied.
    for name in ("Max-Forwards", "Contact", "Subject", "Timestamp"):
        assert name not in response.headers, name


def test_copied_headers_come_first_in_a_fixed_order() -> None:
    response = make_response(invite(), 200, to_tag="t")
    assert [name for name, _ in response.headers] == [
        "Via",
        "Via",
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
    ]


@pytest.mark.parametrize("code", [101, 180, 200, 404, 699])
def test_adds_a_to_tag_when_the_request_has_none(code: int) -> None:
    response = reparsed(make_response(invite(), code, to_tag="a6c85cf"))
    assert response.to.tag == "a6c85cf"
    assert response.to.display_name == "Bob"
    assert response.to.uri == SipUri.parse("sip:bob@biloxi.example.com")
    assert response.to.parameter("x") == "y"  # the other parameters stay


def test_no_to_tag_on_a_100_trying() -> None:
    response = reparsed(make_response(invite(), 100, to_tag="a6c85cf"))
    assert response.headers.get("To") == TO
    assert response.to.tag is None


def test_an_existing_to_tag_is_kept() -> None:
    request = invite(to="<sip:bob@biloxi.example.com>;tag=original")
    response = reparsed(make_response(request, 200, to_tag="new"))
    assert response.headers.get("To") == "<sip:bob@biloxi.example.com>;tag=original"
    assert response.to.tag == "original"


def test_without_a_to_tag_the_to_is_copied() -> None:
    response = reparsed(make_response(invite(), 200))
    assert response.headers.get("To") == TO
    assert response.to.tag is None


def test_to_tag_on_an_addr_spec_to() -> None:
    response = reparsed(make_response(invite(to="sip:bob@biloxi.example.com"), 486, to_tag="z"))
    assert response.to.tag == "z"
    assert response.to.uri == SipUri.parse("sip:bob@biloxi.example.com")


def test_timestamp_is_copied_into_a_100_only() -> None:
    request = invite("Timestamp: 54.1 0.25")
    trying = reparsed(make_response(request, 100))
    assert trying.headers.get("Timestamp") == "54.1 0.25"
    assert without_length(trying)[-1] == ("Timestamp", "54.1 0.25")
    for code in (180, 200, 404):
        assert "Timestamp" not in make_response(request, code, to_tag="t").headers


def test_extra_headers_are_appended_in_order() -> None:
    extra = [
        ("Contact", "<sip:bob@192.0.2.4>"),
        ("Allow", "INVITE, ACK, BYE"),
        ("X-Custom", "1"),
        ("X-Custom", "2"),
    ]
    response = reparsed(make_response(invite(), 200, to_tag="t", headers=extra))
    assert without_length(response)[-4:] == extra
    assert response.allow == ("INVITE", "ACK", "BYE")


def test_default_and_custom_reason_phrases() -> None:
    assert make_response(invite(), 486).reason == "Busy Here"
    assert make_response(invite(), 180).reason == "Ringing"
    assert reparsed(make_response(invite(), 486, "Busy — très occupé")).reason == (
        "Busy — très occupé"
    )
    assert reparsed(make_response(invite(), 200, "")).reason == ""


def test_content_length_counts_octets() -> None:
    body = "v=0\r\ns=☎ café\r\n".encode()
    response = make_response(
        invite(), 200, to_tag="t", headers=[("Content-Type", "application/sdp")], body=body
    )
    data = bytes(response)
    assert f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() in data
    assert len(body) != len(body.decode())  # the point of the test
    assert data.endswith(body)
    assert reparsed(response).content_length == len(body)


def test_empty_body_has_content_length_zero() -> None:
    assert bytes(make_response(invite(), 200, to_tag="t")).endswith(
        b"\r\nContent-Length: 0\r\n\r\n"
    )


def test_response_flags() -> None:
    assert make_response(invite(), 100).is_provisional
    assert make_response(invite(), 200).is_success and make_response(invite(), 200).is_final
    assert make_response(invite(), 404).is_final and not make_response(invite(), 404).is_success


@pytest.mark.parametrize("missing", ["From", "To", "Call-ID", "CSeq"])
def test_a_request_built_without_a_core_header_is_our_bug(missing: str) -> None:
    request = invite()
    request.headers.remove(missing)
    with pytest.raises(LocalProtocolError):
        make_response(request, 200)


@pytest.mark.parametrize("code", [99, 700, 0])
def test_status_code_out_of_range_is_our_bug(code: int) -> None:
    with pytest.raises(LocalProtocolError):
        make_response(invite(), code)


@pytest.mark.parametrize("reason", ["OK\r\nInjected: yes", "a\nb", "a\rb"])
def test_reason_with_cr_or_lf_is_our_bug(reason: str) -> None:
    with pytest.raises(LocalProtocolError):
        make_response(invite(), 200, reason)


def test_extra_header_with_crlf_is_our_bug() -> None:
    with pytest.raises(LocalProtocolError):
        make_response(invite(), 200, headers=[("Contact", "<sip:x>\r\nInjected: yes")])


def test_a_response_to_a_request_built_in_code() -> None:
    request = Request(
        "OPTIONS",
        SipUri.parse("sip:bob@example.com"),
        [
            ("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKo1"),
            ("From", "<sip:a@example.com>;tag=1"),
            ("To", "<sip:bob@example.com>"),
            ("Call-ID", "opt1"),
            ("CSeq", "7 OPTIONS"),
        ],
    )
    response = reparsed(make_response(request, 200, to_tag="b"))
    assert response.cseq.method == "OPTIONS" and response.to.tag == "b"


# -- make_error_response ---------------------------------------------------------------------

REQUEST_LINE = "INVITE sip:bob@biloxi.example.com SIP/2.0"
BROKEN_HEAD = (
    f"{REQUEST_LINE}\r\n"
    f"Via: {VIA_1}\r\n"
    f"v: {VIA_2}\r\n"
    f"From: {FROM}\r\n"
    f"To: {TO}\r\n"
    f"Call-ID: {CALL_ID}\r\n"
    f"CSeq: {CSEQ}\r\n"
)


def rejected(data: bytes) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_message(data)
    return caught.value


def test_400_is_built_from_the_salvaged_headers() -> None:
    error = rejected((BROKEN_HEAD + "Content-Length: x\r\n\r\n").encode())
    answer = make_error_response(error, to_tag="e1")
    assert answer is not None
    response = reparsed(answer)
    assert response.status_code == 400
    assert response.reason.startswith("Bad Request (")
    assert response.headers.get_all("Via") == [VIA_1, VIA_2]
    assert response.headers.get("From") == FROM
    assert response.headers.get("Call-ID") == CALL_ID
    assert response.headers.get("CSeq") == CSEQ
    assert response.to.tag == "e1"
    assert response.to.parameter("x") == "y"
    assert response.body == b""


def test_no_to_tag_unless_asked() -> None:
    error = rejected((BROKEN_HEAD + "Content-Length: x\r\n\r\n").encode())
    answer = make_error_response(error)
    assert answer is not None and answer.headers.get("To") == TO


@pytest.mark.parametrize(
    ("start", "extra", "code", "phrase"),
    [
        ("INVITE sip:bob@biloxi.example.com SIP/2.1", "", 505, "Version Not Supported"),
        ("INVITE sip:bob@biloxi.example.com SIP/2.0", "Content-Length: 99999999999\r\n", 513, ""),
        ("INVITE sip:bob@biloxi.example.com?x=y SIP/2.0", "", 400, "Bad Request"),
        ("INV@TE sip:bob@biloxi.example.com SIP/2.0", "", 400, "Bad Request"),
    ],
    ids=["505", "513", "400-ruri-headers", "400-method"],
)
def test_the_status_follows_the_hint(start: str, extra: str, code: int, phrase: str) -> None:
    data = (BROKEN_HEAD.replace(REQUEST_LINE, start) + extra + "\r\n").encode()
    error = rejected(data)
    assert error.status_hint == code
    answer = make_error_response(error, to_tag="t")
    assert answer is not None
    response = reparsed(answer)
    assert response.status_code == code
    assert response.reason.startswith(phrase or "Message Too Large")
    assert response.via == parse_message(bytes(response)).via


def test_the_first_of_duplicated_headers_is_echoed() -> None:
    data = (BROKEN_HEAD + "To: <sip:eve@example.com>\r\nCall-ID: other\r\n\r\n").encode()
    answer = make_error_response(rejected(data), to_tag="t")
    assert answer is not None
    response = reparsed(answer)
    assert response.headers.get_all("To") == [TO + ";tag=t"]
    assert response.headers.get_all("Call-ID") == [CALL_ID]


@pytest.mark.parametrize(
    "start",
    ["SIP/2.0 200 OK", "SIP/2.0 700 Too High", "SIP/3.0 200 OK", "SIP/2.0 200abc"],
)
def test_no_answer_to_a_broken_response(start: str) -> None:
    head = BROKEN_HEAD.replace(REQUEST_LINE, start)
    error = rejected((head + "Content-Length: x\r\n\r\n").encode())
    assert error.status_hint is None
    assert make_error_response(error, to_tag="t") is None


def test_no_answer_to_a_response_with_a_lowercase_version() -> None:
    head = BROKEN_HEAD.replace(REQUEST_LINE, "sip/2.0 200 OK")
    try:
        parse_message((head + "Content-Length: 0\r\n\r\n").encode())
    except RemoteProtocolError as error:
        assert make_error_response(error) is None


@pytest.mark.parametrize("missing", ["Via", "From", "To", "Call-ID", "CSeq"])
def test_no_answer_without_a_core_header(missing: str) -> None:
    names = ("Via:", "v:") if missing == "Via" else (f"{missing}:",)
    lines = [line for line in BROKEN_HEAD.split("\r\n") if not line.startswith(names)]
    data = ("\r\n".join(lines) + "Content-Length: 0\r\n\r\n").encode()
    error = rejected(data)
    assert error.status_hint == 400
    assert make_error_response(error, to_tag="t") is None


def test_no_answer_when_nothing_was_salvaged() -> None:
    assert make_error_response(RemoteProtocolError("broken", 400)) is None
    assert make_error_response(RemoteProtocolError("broken", None)) is None
    assert make_error_response(rejected(b"\r\n")) is None


def salvaged(**changes: object) -> SalvagedHeaders:
    fields: dict[str, object] = {
        "method": "INVITE",
        "via": (VIA_3,),
        "from_": (FROM,),
        "to": (TO,),
        "call_id": (CALL_ID,),
        "cseq": (CSEQ,),
        "is_request": True,
    }
    fields.update(changes)
    return SalvagedHeaders(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "reason",
    [
        "bad\r\nInjected: header",
        "nul \x00 del \x7f bell \x07 tab \t",
        "non-ASCII: é € 😀 \udcff",
        "x" * 10_000,
        "\r\n\r\n",
        "",
    ],
    ids=["crlf", "controls", "non-ascii", "long", "only-crlf", "empty"],
)
def test_reason_phrase_is_printable_and_bounded(reason: str) -> None:
    error = RemoteProtocolError(reason, 400, salvaged())
    answer = make_error_response(error, to_tag="t")
    assert answer is not None
    assert answer.reason.startswith("Bad Request (") and answer.reason.endswith(")")
    assert all(" " <= char <= "~" for char in answer.reason)
    assert len(answer.reason) <= len("Bad Request ()") + 100
    response = reparsed(answer)
    assert response.reason == answer.reason
    assert "Injected" not in response.headers


def test_reason_phrase_carries_the_detail() -> None:
    error = rejected((BROKEN_HEAD + "Content-Length: abc\r\n\r\n").encode())
    answer = make_error_response(error)
    assert answer is not None
    assert "Content-Length" in answer.reason and "abc" in answer.reason


@pytest.mark.parametrize(
    "broken_to",
    ["<sip:bob@biloxi.example.com", '"Bob <sip:bob@biloxi.example.com>', "Bob"],
    ids=["no-gt", "open-quote", "no-uri"],
)
def test_a_broken_to_is_echoed_raw(broken_to: str) -> None:
    data = (BROKEN_HEAD.replace(f"To: {TO}", f"To: {broken_to}") + "\r\n").encode()
    error = rejected(data)
    assert error.status_hint == 400
    answer = make_error_response(error, to_tag="t")
    assert answer is not None
    assert answer.headers.get("To") == broken_to  # not tagged, not "repaired"
    assert f"\r\nTo: {broken_to}\r\n".encode() in bytes(answer)
    # It is the peer's own broken To: our answer cannot parse any better than its request.
    with pytest.raises(RemoteProtocolError) as caught:
        parse_message(bytes(answer))
    assert caught.value.status_hint is None  # and, being a response, would be dropped


@pytest.mark.parametrize(
    "field",
    ["via", "from_", "to", "call_id", "cseq"],
)
def test_a_salvaged_value_with_a_line_break_is_never_echoed(field: str) -> None:
    value = {"via": VIA_3, "from_": FROM, "to": TO, "call_id": CALL_ID, "cseq": CSEQ}[field]
    error = RemoteProtocolError("bare LF", 400, salvaged(**{field: (value + "\nInjected: x",)}))
    assert make_error_response(error, to_tag="t") is None


def test_error_response_for_a_hand_made_salvage_parses() -> None:
    error = RemoteProtocolError("odd", 400, salvaged(via=(VIA_1, VIA_2, VIA_3)))
    answer = make_error_response(error, to_tag="t")
    assert answer is not None
    response = reparsed(answer)
    assert len(response.via) == 4
    assert response.to.tag == "t"
    assert response.cseq.method == "INVITE"
