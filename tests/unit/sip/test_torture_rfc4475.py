"""Every RFC 4475 torture message, handled as the RFC says (see corpus/rfc4475/INDEX.md).

Outcomes:
* ``PARSES`` — parse_message accepts it; a check function verifies key fields.
* ``REJECT(hint)`` — parse_message raises RemoteProtocolError with that status
  hint (None: a response, dropped without an answer).
* ``PARSES_BUT(accessor)`` — syntactically acceptable at the message level (the RFC
  allows treating the fault lazily); the named typed accessor raises
  RemoteProtocolError(400) when the application looks at it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from phoneagent.sip import (
    AbsoluteUri,
    RemoteProtocolError,
    Request,
    Response,
    SipUri,
    make_error_response,
    parse_message,
)
from tests.helpers import corpus_file


@dataclass(frozen=True)
class Outcome:
    kind: str  # "parses", "reject", "parses-but"
    hint: int | None = None
    accessor: str | None = None
    check: Callable[[Request | Response], None] | None = None


def parses(check: Callable[[Request | Response], None] | None = None) -> Outcome:
    return Outcome("parses", check=check)


def reject(hint: int | None) -> Outcome:
    return Outcome("reject", hint=hint)


def parses_but(accessor: str) -> Outcome:
    return Outcome("parses-but", accessor=accessor)


def request(message: Request | Response) -> Request:
    assert isinstance(message, Request)
    return message


def response(message: Request | Response) -> Response:
    assert isinstance(message, Response)
    return message


def check_wsinv(message: Request | Response) -> None:
    req = request(message)
    assert req.method == "INVITE"
    assert isinstance(req.uri, SipUri) and req.uri.has_parameter("unknownparam")
    assert req.to.tag == "1918181833n"
    assert req.from_.display_name == 'J Rosenberg \\"'
    assert req.from_.tag == "98asjd8"
    assert req.max_forwards == 68
    assert req.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert (req.cseq.number, req.cseq.method) == (9, "INVITE")
    assert [(v.transport, v.host, v.branch) for v in req.via] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert req.headers.get("Subject") == ""
    assert req.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert req.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert len(req.route) == 1 and isinstance(req.route[0].uri, SipUri)
    assert req.route[0].uri.has_parameter("lr")
    (contact,) = req.contact
    assert contact.display_name == 'Quoted string ""'
    assert contact.parameter("newparam") == "newvalue"
    assert contact.has_parameter("secondparam")
    assert contact.q == 0.33
    assert req.content_type is not None and req.content_type.mime_type == "application/sdp"
    assert len(req.body) == 150 and req.body.startswith(b"v=0\r\n")


def check_intmeth(message: Request | Response) -> None:
    req = request(message)
    assert req.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert isinstance(req.uri, SipUri)
    assert req.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert req.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert req.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert req.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert req.from_.tag == "_token~1'+`*%!-."
    assert req.from_.parameter("fromparam''~+*_!.-%") == "работающий"
    assert req.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert req.max_forwards == 255
    assert req.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"


def check_esc01(message: Request | Response) -> None:
    req = request(message)
    assert isinstance(req.uri, SipUri) and req.uri.user == "sips:user@example.com"
    assert isinstance(req.to.uri, SipUri) and req.to.uri.user == "user"
    assert isinstance(req.from_.uri, SipUri) and req.from_.uri.user == "I have spaces"
    (contact,) = req.contact
    assert isinstance(contact.uri, SipUri)
    assert contact.uri.user == "caller"
    assert contact.uri.has_parameter("lr")
    assert contact.uri.parameter("name") == "value%41"
    assert req.call_id == "esc01.239409asdfakjkn23onasd0-3234"


def check_escnull(message: Request | Response) -> None:
    req = request(message)
    assert isinstance(req.to.uri, SipUri) and req.to.uri.user == "null-\x00-null"
    users = [c.uri.user for c in req.contact if isinstance(c.uri, SipUri)]
    assert users == ["\x00", "\x00\x00"]  # two distinct bindings


def check_esc02(message: Request | Response) -> None:
    req = request(message)
    assert req.method == "RE%47IST%45R"
    assert req.to.display_name == "%Z%45"
    assert req.top_via.branch == "z9hG4bK209%fzsnel234"
    assert len(req.contact) == 2  # "C%6Fntact" is an unknown header, not Contact
    assert req.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"


def check_lwsdisp(message: Request | Response) -> None:
    assert request(message).from_.display_name == "caller"


def check_longreq(message: Request | Response) -> None:
    req = request(message)
    assert req.to.display_name is not None and "extremeextreme" in req.to.display_name
    assert len(req.via) == 34
    assert len(req.body) == 150


def check_dblreq(message: Request | Response) -> None:
    req = request(message)
    assert req.method == "REGISTER"
    assert req.body == b""  # the INVITE octets after it are ignored


def check_semiuri(message: Request | Response) -> None:
    req = request(message)
    assert isinstance(req.uri, SipUri)
    assert req.uri.user == "user;par=u@example.net"
    assert req.uri.host == "example.com"


def check_transports(message: Request | Response) -> None:
    transports = [via.transport for via in request(message).via]
    assert transports == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def check_mpart01(message: Request | Response) -> None:
    req = request(message)
    assert req.content_type is not None and req.content_type.mime_type == "multipart/mixed"
    assert req.content_type.parameter("boundary") == "7a9cbec02ceef655"
    assert len(req.body) == 553 and req.body.count(b"\x00") == 2
    assert req.top_via.rport_requested and req.top_via.rport is None
    assert req.date is not None and req.date.year == 2005


def check_unreason(message: Request | Response) -> None:
    resp = response(message)
    assert resp.status_code == 200
    assert resp.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"
    assert len(resp.body) == 154


def check_noreason(message: Request | Response) -> None:
    resp = response(message)
    assert (resp.status_code, resp.reason) == (100, "")


def check_badbranch(message: Request | Response) -> None:
    via = request(message).top_via
    assert via.branch == "z9hG4bK" and via.has_rfc3261_branch


def check_unkscm(message: Request | Response) -> None:
    req = request(message)
    assert isinstance(req.uri, AbsoluteUri) and req.uri.scheme == "nobodyknowsthisscheme"


def check_novelsc(message: Request | Response) -> None:
    req = request(message)
    assert isinstance(req.uri, AbsoluteUri) and req.uri.scheme == "soap.beep"


def check_unksm2(message: Request | Response) -> None:
    req = request(message)
    assert isinstance(req.to.uri, AbsoluteUri) and req.to.uri.scheme == "isbn"
    assert isinstance(req.from_.uri, AbsoluteUri) and req.from_.uri.scheme == "http"
    assert isinstance(req.contact[0].uri, AbsoluteUri)


def check_bext01(message: Request | Response) -> None:
    req = request(message)
    assert req.require == ("nothingSupportsThis", "nothingSupportsThisEither")
    assert req.proxy_require == ("noProxiesSupportThis", "norDoAnyProxiesSupportThis")


def check_invut(message: Request | Response) -> None:
    req = request(message)
    assert req.content_type is not None
    assert req.content_type.mime_type == "application/unknownformat"


def check_regaut01(message: Request | Response) -> None:
    (credentials,) = request(message).authorization
    assert credentials.scheme == "NoOneKnowsThisScheme" and not credentials.is_digest
    assert credentials.get("opaque-data") == "here"


def check_bcast(message: Request | Response) -> None:
    resp = response(message)
    assert [via.host for via in resp.via] == ["192.0.2.198", "255.255.255.255"]


def check_zeromf(message: Request | Response) -> None:
    assert request(message).max_forwards == 0


def check_cparam01(message: Request | Response) -> None:
    (contact,) = request(message).contact
    assert contact.has_parameter("unknownparam")  # a header parameter …
    assert isinstance(contact.uri, SipUri) and not contact.uri.has_parameter("unknownparam")


def check_cparam02(message: Request | Response) -> None:
    (contact,) = request(message).contact
    assert not contact.has_parameter("unknownparam")  # … versus a URI parameter
    assert isinstance(contact.uri, SipUri) and contact.uri.has_parameter("unknownparam")


def check_regescrt(message: Request | Response) -> None:
    (contact,) = request(message).contact
    assert isinstance(contact.uri, SipUri)
    assert contact.uri.headers == (("Route", "<sip:sip.example.com>"),)


def check_sdp01(message: Request | Response) -> None:
    assert request(message).headers.get("Accept") == "text/nobodyKnowsThis"


def check_inv2543(message: Request | Response) -> None:
    req = request(message)
    assert req.top_via.branch is None and not req.top_via.has_rfc3261_branch
    assert req.from_.tag is None
    assert req.max_forwards is None
    assert req.content_length is None
    assert len(req.body) == 105  # no Content-Length on UDP: the rest of the datagram
    assert req.record_route[0].uri == SipUri.parse("sip:UserB@example.com;maddr=ss1.example.com")


EXPECTED: dict[str, Outcome] = {
    # 3.1.1 valid messages
    "wsinv": parses(check_wsinv),
    "intmeth": parses(check_intmeth),
    "esc01": parses(check_esc01),
    "escnull": parses(check_escnull),
    "esc02": parses(check_esc02),
    "lwsdisp": parses(check_lwsdisp),
    "longreq": parses(check_longreq),
    "dblreq": parses(check_dblreq),
    "semiuri": parses(check_semiuri),
    "transports": parses(check_transports),
    "mpart01": parses(check_mpart01),
    "unreason": parses(check_unreason),
    "noreason": parses(check_noreason),
    # 3.1.2 invalid messages
    "badinv01": reject(400),
    "clerr": reject(400),
    "ncl": reject(400),
    "scalar02": reject(400),
    "scalarlg": reject(None),  # a response: discarded
    "quotbal": reject(400),
    "ltgtruri": reject(400),
    "lwsruri": reject(400),
    "lwsstart": reject(400),
    "trws": reject(400),
    "escruri": reject(400),
    "baddate": parses_but("date"),  # the RFC: reject only if the Date matters
    "regbadct": parses_but("contact"),
    "badaspec": reject(400),
    "baddn": reject(400),
    "badvers": reject(505),
    "mismatch01": reject(400),
    "mismatch02": reject(400),  # the RFC accepts 400 as well as 501
    "bigcode": reject(None),  # a response: discarded
    # 3.2 transaction layer
    "badbranch": parses(check_badbranch),
    # 3.3 application layer
    "insuf": reject(400),
    "unkscm": parses(check_unkscm),  # the UA answers 416
    "novelsc": parses(check_novelsc),
    "unksm2": parses(check_unksm2),
    "bext01": parses(check_bext01),  # the UA answers 420
    "invut": parses(check_invut),  # the UA answers 415
    "regaut01": parses(check_regaut01),
    "multi01": reject(400),
    "mcl01": reject(400),
    "bcast": parses(check_bcast),
    "zeromf": parses(check_zeromf),
    "cparam01": parses(check_cparam01),
    "cparam02": parses(check_cparam02),
    "regescrt": parses(check_regescrt),
    "sdp01": parses(check_sdp01),
    # 3.4 backward compatibility
    "inv2543": parses(check_inv2543),
    # in the archive, described by no section: no SIP version in the request line
    "test": reject(400),
}


def corpus_index() -> list[dict[str, object]]:
    index: list[dict[str, object]] = json.loads(corpus_file("rfc4475", "index.json").read_text())
    return index


def test_the_table_names_every_corpus_file() -> None:
    assert sorted(str(entry["tag"]) for entry in corpus_index()) == sorted(EXPECTED)


@pytest.mark.parametrize("tag", sorted(EXPECTED))
def test_torture_message(tag: str) -> None:
    data = corpus_file("rfc4475", f"{tag}.dat").read_bytes()
    outcome = EXPECTED[tag]
    if outcome.kind == "reject":
        with pytest.raises(RemoteProtocolError) as caught:
            parse_message(data)
        assert caught.value.status_hint == outcome.hint, caught.value.reason
        if outcome.hint is not None:
            answer = make_error_response(caught.value, to_tag="t1")
            # insuf lacks From, To and Call-ID, test lacks Via: no answer could be routed.
            if tag not in ("insuf", "test"):
                assert answer is not None and answer.status_code == outcome.hint
            else:
                assert answer is None
        return
    message = parse_message(data)
    if outcome.kind == "parses-but":
        assert outcome.accessor is not None
        with pytest.raises(RemoteProtocolError) as caught:
            getattr(message, outcome.accessor)
        assert caught.value.status_hint == 400
    elif outcome.check is not None:
        outcome.check(message)
    # Whatever parsed serialises and parses again to the same headers and body.
    again = parse_message(bytes(message))
    assert again.body == message.body
    original = [(n, v) for n, v in message.headers if n.lower() not in ("content-length", "l")]
    repeated = [(n, v) for n, v in again.headers if n.lower() not in ("content-length", "l")]
    assert repeated == original
