"""Property tests: what ``bytes()`` writes, ``parse_message`` reads back unchanged.

* Requests and responses built from random components (tokens, URIs from
  ``tests.strategies``, awkward display names, 1–4 Vias, Contact and Route lists,
  unknown headers with arbitrary printable values, bodies with CRLFCRLF and NUL)
  serialise, parse, and give back the same start line, the same (name, value)
  pairs in order, the same body and the same typed views.
* Parsing is a fixed point after one round: parse → bytes → parse → bytes gives
  the same octets for every corpus message that parses.
* The fast path of ``phoneagent.sip.validation`` is sound: whatever its patterns
  accept, the full parsers accept too (otherwise ``parse_message`` would let
  through a message whose typed view then fails).
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from phoneagent.sip import (
    CSeq,
    Message,
    NameAddress,
    RemoteProtocolError,
    Request,
    Response,
    SipUri,
    Uri,
    Via,
    header_key,
    parse_message,
    parse_uri,
)
from phoneagent.sip.grammar import quote, split_list
from phoneagent.sip.validation import ADDRESS_RE, CSEQ_RE, REQUEST_URI_RE, VIA_RE
from tests.helpers import corpus_file, lf_to_crlf
from tests.strategies import ipv6_hosts, uris

ROUND_TRIP = settings(max_examples=200, deadline=None)
SOUNDNESS = settings(max_examples=2000, deadline=None)
T = TypeVar("T")

TOKEN_CHARS = string.ascii_letters + string.digits + "-.!%*_+`'~"
WORD_CHARS = TOKEN_CHARS + '()<>:\\"/[]?{}'

# -- component strategies --------------------------------------------------------------------
# Built once: strategies made afresh inside every draw cost Hypothesis more than the test.

tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=12)
lower_tokens = st.text(alphabet=TOKEN_CHARS.lower(), min_size=1, max_size=8)

#: Printable text: no controls, no surrogates, but quotes, commas, backslashes and UTF-8.
printable = st.text(
    alphabet=st.one_of(
        st.characters(exclude_categories=("Cc", "Cs")),
        st.sampled_from(',;:="\\<>()[]?@%\t '),
    ),
    max_size=30,
)
quoted_strings = printable.map(quote)

display_names = st.one_of(
    st.none(),
    tokens,  # written bare
    printable,  # written quoted, with quoted-pairs for '"' and '\'
    st.sampled_from(['A "quoted" \\ name', "", " ", "\t", "Zoë 😀", 'x\\"', "<sip:x>", "a,b"]),
)

extra_parameters = st.lists(
    st.tuples(lower_tokens, st.one_of(st.none(), tokens, quoted_strings)), max_size=2
)
tag_parameter = st.tuples(st.just("tag"), tokens)

#: Cheap, plain SIP URIs; the awkward ones come from tests.strategies (see components).
_label = st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=6).map(
    lambda label: label.strip("-") or "x"
)
_hostnames = st.one_of(
    st.builds(
        lambda labels, top: ".".join([*labels, top]),
        st.lists(_label, max_size=2),
        st.text(alphabet=string.ascii_letters, min_size=1, max_size=6),
    ),
    # the leniencies: "_" in labels, a trailing dot, digits in the top label
    st.sampled_from(["_sip._udp.example.com", "example.com.", "host_1", "a.b-1.c9", "EXAMPLE.ORG"]),
)
_ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda octets: ".".join(map(str, octets)))
_ipv6 = ipv6_hosts()
_plain_users = st.text(
    alphabet=string.ascii_letters + string.digits + "-_.!~*'()&=+$,;?/", min_size=1, max_size=10
)
_userinfo = st.one_of(
    st.none(),
    st.tuples(
        _plain_users,
        st.one_of(st.none(), st.text(alphabet=string.ascii_letters + "&=+$,", max_size=5)),
    ),
)
_plain_sip_uris = st.builds(
    lambda scheme, userinfo, host, port, parameters: SipUri(
        scheme=scheme,
        user=None if userinfo is None else userinfo[0],
        password=None if userinfo is None else userinfo[1],
        host=host,
        port=port,
        parameters=tuple(parameters),
    ),
    st.sampled_from(["sip", "sips"]),
    _userinfo,
    st.one_of(_hostnames, _ipv4),
    st.one_of(st.none(), st.integers(0, 65535)),
    st.lists(st.tuples(lower_tokens, st.one_of(st.none(), tokens)), max_size=3),
)
_any_uris = uris()

via_hosts = st.one_of(_hostnames, _ipv4, _ipv6)
_VIA_OPTIONAL = {
    "received": st.one_of(_ipv4, _ipv6, _ipv6.map(lambda host: f"[{host}]")),
    "rport": st.one_of(st.none(), st.integers(0, 65535).map(str)),
    "maddr": via_hosts.map(lambda host: f"[{host}]" if ":" in host else host),
    "ttl": st.integers(0, 255).map(str),
}
_via_extension = st.tuples(
    lower_tokens.filter(lambda name: name not in {"branch", *_VIA_OPTIONAL}),
    st.one_of(st.none(), tokens),
)
transports = st.one_of(
    st.sampled_from(["UDP", "TCP", "TLS", "SCTP", "WS", "WSS"]), tokens.map(str.upper)
)


@st.composite
def vias(draw: st.DrawFn) -> Via:
    parameters: list[tuple[str, str | None]] = [("branch", "z9hG4bK" + draw(tokens))]
    for name, values in _VIA_OPTIONAL.items():
        if draw(st.booleans()):
            parameters.append((name, draw(values)))
    parameters += draw(st.lists(_via_extension, max_size=2))
    return Via(
        transport=draw(transports),
        host=draw(via_hosts),
        port=draw(st.one_of(st.none(), st.integers(0, 65535))),
        parameters=tuple(draw(st.permutations(parameters))),
    )


_vias = vias()

call_ids = st.builds(
    lambda local, host: local if host is None else f"{local}@{host}",
    st.text(alphabet=WORD_CHARS, min_size=1, max_size=20),
    st.one_of(st.none(), st.text(alphabet=WORD_CHARS, min_size=1, max_size=20)),
)

bodies = st.one_of(
    st.binary(max_size=100),
    st.lists(
        st.sampled_from([b"\r\n\r\n", b"\x00", b"\r\n", b"\n", b"v=0", b"\xff\xfe", b" "]),
        max_size=12,
    ).map(b"".join),
)

#: Header keys the parser checks or this test reads through typed views.
RESERVED = {
    "via",
    "from",
    "to",
    "call-id",
    "cseq",
    "content-length",
    "max-forwards",
    "contact",
    "route",
}
unknown_headers = st.lists(
    st.tuples(tokens.filter(lambda name: header_key(name) not in RESERVED), printable),
    max_size=5,
).map(lambda pairs: [(name, value.strip(" \t")) for name, value in pairs])


def grouped(items: list[T], cuts: list[bool]) -> list[list[T]]:
    """Split ``items`` into runs (one header field each) where ``cuts`` says."""
    groups: list[list[T]] = []
    for index, item in enumerate(items):
        if not groups or cuts[index % len(cuts)]:
            groups.append([])
        groups[-1].append(item)
    return groups


# -- whole messages --------------------------------------------------------------------------


@dataclass
class Built:
    """The header entries written and the typed views that must come back."""

    entries: list[tuple[str, str]]
    via: list[Via]
    from_: NameAddress
    to: NameAddress
    call_id: str
    cseq: CSeq
    contact: list[NameAddress] | None  # None for "Contact: *"
    route: list[NameAddress]
    body: bytes


@st.composite
def components(draw: st.DrawFn, cseq_method: str, uri_pool: list[Uri]) -> Built:
    # tests.strategies' URIs are costly to draw: a message draws one or two and puts them
    # in random places; the other places get plain URIs.
    message_uris = st.one_of(st.sampled_from(uri_pool), _plain_sip_uris)

    def address(*first: tuple[str, str | None]) -> NameAddress:
        parameters = (*first, *draw(extra_parameters))
        return NameAddress(draw(message_uris), draw(display_names), parameters)

    cuts = draw(st.lists(st.booleans(), min_size=1, max_size=4))
    separator = draw(st.sampled_from([", ", ",", " , ", ",\t"]))
    # (name, value, the objects the value holds, their kind)
    fields: list[tuple[str, str, list[Any], str]] = []

    def add_list(names: st.SearchStrategy[str], items: list[Any], kind: str) -> None:
        for group in grouped(items, cuts):
            fields.append((draw(names), separator.join(map(str, group)), group, kind))

    add_list(
        st.sampled_from(["Via", "v", "VIA"]), draw(st.lists(_vias, min_size=1, max_size=4)), "via"
    )
    from_ = address(draw(tag_parameter))
    to = address(draw(tag_parameter)) if draw(st.booleans()) else address()
    call_id = draw(call_ids)
    cseq = CSeq(draw(st.integers(0, 2**32 - 1)), cseq_method)
    cseq_text = draw(st.sampled_from(["{} {}", "{}  {}", "{}\t{}"])).format(
        cseq.number, cseq.method
    )
    fields += [
        (draw(st.sampled_from(["From", "f"])), str(from_), [], "from"),
        (draw(st.sampled_from(["To", "t"])), str(to), [], "to"),
        (draw(st.sampled_from(["Call-ID", "i", "call-id"])), call_id, [], "call-id"),
        ("CSeq", cseq_text, [], "cseq"),
    ]
    choice = draw(st.sampled_from(["none", "list", "star"]))
    if choice == "star":
        fields.append(("Contact", "*", [], "contact"))
    elif choice == "list":
        contacts = [address() for _ in range(draw(st.integers(1, 3)))]
        add_list(st.sampled_from(["Contact", "m"]), contacts, "contact")
    add_list(st.just("Route"), [address() for _ in range(draw(st.integers(0, 3)))], "route")
    fields += [(name, value, [], "unknown") for name, value in draw(unknown_headers)]
    fields = list(draw(st.permutations(fields)))

    def objects(kind: str) -> list[Any]:
        return [item for _, _, items, field_kind in fields if field_kind == kind for item in items]

    return Built(
        entries=[(name, value) for name, value, _, _ in fields],
        via=objects("via"),
        from_=from_,
        to=to,
        call_id=call_id,
        cseq=cseq,
        contact=None if choice == "star" else objects("contact"),
        route=objects("route"),
        body=draw(bodies),
    )


def without_uri_headers(uri: Uri) -> Uri:
    """A Request-URI has no header components (§19.1.1)."""
    return replace(uri, headers=()) if isinstance(uri, SipUri) else uri


@st.composite
def requests(draw: st.DrawFn) -> tuple[Request, Built]:
    method = draw(st.one_of(st.sampled_from(["INVITE", "ACK", "BYE", "REGISTER"]), tokens))
    pool = draw(st.lists(_any_uris, min_size=1, max_size=2))
    built = draw(components(method, pool))
    uri = without_uri_headers(draw(st.one_of(st.sampled_from(pool), _plain_sip_uris)))
    return Request(method, uri, built.entries, built.body), built


reasons = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=30
)


@st.composite
def responses(draw: st.DrawFn) -> tuple[Response, Built]:
    pool = draw(st.lists(_any_uris, min_size=1, max_size=2))
    built = draw(components(draw(tokens), pool))
    code = draw(st.integers(100, 699))
    return Response(code, draw(reasons), built.entries, built.body), built


def without_length(message: Message) -> list[tuple[str, str]]:
    return [
        (name, value) for name, value in message.headers if header_key(name) != "content-length"
    ]


def same_address(parsed: NameAddress, expected: NameAddress) -> None:
    assert str(parsed) == str(expected)
    assert parsed.display_name == expected.display_name
    assert parsed.parameters == expected.parameters
    assert parsed.uri == expected.uri


def check_typed_views(parsed: Message, built: Built) -> None:
    assert without_length(parsed) == built.entries
    assert parsed.body == built.body
    assert parsed.content_length == len(built.body)
    assert parsed.via == tuple(built.via)
    assert [str(via) for via in parsed.via] == [str(via) for via in built.via]
    same_address(parsed.from_, built.from_)
    same_address(parsed.to, built.to)
    assert parsed.call_id == built.call_id
    assert parsed.cseq == built.cseq
    if built.contact is None:
        assert parsed.contact_is_wildcard and parsed.contact == ()
    else:
        assert not parsed.contact_is_wildcard
        assert len(parsed.contact) == len(built.contact)
        for got, wanted in zip(parsed.contact, built.contact, strict=True):
            same_address(got, wanted)
    assert len(parsed.route) == len(built.route)
    for got, wanted in zip(parsed.route, built.route, strict=True):
        same_address(got, wanted)


@ROUND_TRIP
@given(requests())
def test_request_round_trip(case: tuple[Request, Built]) -> None:
    request, built = case
    data = bytes(request)
    parsed = parse_message(data)
    assert isinstance(parsed, Request)
    assert parsed.method == request.method
    assert str(parsed.uri) == str(request.uri)
    assert parsed.uri == request.uri
    check_typed_views(parsed, built)
    assert bytes(parsed) == data


@ROUND_TRIP
@given(responses())
def test_response_round_trip(case: tuple[Response, Built]) -> None:
    response, built = case
    data = bytes(response)
    parsed = parse_message(data)
    assert isinstance(parsed, Response)
    assert (parsed.status_code, parsed.reason) == (response.status_code, response.reason)
    check_typed_views(parsed, built)
    assert bytes(parsed) == data


# -- the corpus: parse → bytes → parse is a fixed point --------------------------------------


def corpus_tags(rfc: str) -> list[str]:
    index = json.loads(corpus_file(rfc, "index.json").read_text())
    return sorted(str(entry["tag"]) for entry in index)


def assert_fixed_point(data: bytes) -> None:
    try:
        first = parse_message(data)
    except RemoteProtocolError:
        return  # only messages that parse are at stake
    written = bytes(first)
    second = parse_message(written)
    assert type(second) is type(first)
    assert second.start_line() == first.start_line()
    assert without_length(second) == without_length(first)
    assert second.body == first.body
    assert bytes(second) == written
    # The typed views of the two agree wherever the first has one.
    for name in ("via", "from_", "to", "call_id", "cseq", "contact", "route", "record_route"):
        try:
            expected = getattr(first, name)
        except RemoteProtocolError:
            with pytest.raises(RemoteProtocolError):
                getattr(second, name)
            continue
        assert getattr(second, name) == expected


@pytest.mark.parametrize("tag", corpus_tags("rfc4475"))
def test_rfc4475_parse_is_a_fixed_point(tag: str) -> None:
    assert_fixed_point(corpus_file("rfc4475", f"{tag}.dat").read_bytes())


@pytest.mark.parametrize("tag", corpus_tags("rfc5118"))
def test_rfc5118_parse_is_a_fixed_point(tag: str) -> None:
    assert_fixed_point(lf_to_crlf(corpus_file("rfc5118", tag).read_bytes()))


# -- soundness of the validation fast path ---------------------------------------------------

SIPISH = "sipSIP:@;=<>\"., abcxyz0123456789-_/[]%!~*'()&+$?\t"
noise = st.text(alphabet=SIPISH, max_size=60)


def candidates(valid: st.SearchStrategy[str], starts: list[str]) -> st.SearchStrategy[str]:
    """Valid text, valid text cut and continued with noise, and noise after a plausible start."""
    return st.one_of(
        valid,
        st.builds(lambda text, cut, tail: text[:cut] + tail, valid, st.integers(0, 60), noise),
        st.builds(lambda start, tail: start + tail, st.sampled_from(starts), noise),
    )


uri_texts = _plain_sip_uris.map(str)
address_texts = st.one_of(
    st.builds(
        lambda uri, name, first, rest: str(NameAddress(uri, name, (first, *rest))),
        _plain_sip_uris,
        display_names,
        tag_parameter,
        extra_parameters,
    ),
    # addr-spec form: the URI's own parameters would become header parameters
    _plain_sip_uris.map(lambda uri: str(replace(uri, parameters=())) + ";tag=1"),
)
via_texts = _vias.map(str)
cseq_texts = st.builds(
    lambda number, method, separator: f"{number}{separator}{method}",
    st.integers(0, 2**33),
    tokens,
    st.sampled_from([" ", "  ", "\t"]),
)


@SOUNDNESS
@given(candidates(uri_texts, ["sip:", "sips:", "SIP:", "sip:user@", "sip:a:b@", "sip:h;"]))
@example("sip:a?b=c@example.com")  # "?" in the user part is not a header
@example("sip:alice:,@example.com;x=[::1]")
def test_request_uri_fast_path_is_sound(text: str) -> None:
    if REQUEST_URI_RE.fullmatch(text) is None:
        return
    uri = parse_uri(text)  # must not raise
    # parse_message skips its "no headers in a Request-URI" check on this path.
    assert isinstance(uri, SipUri) and uri.headers == ()


@SOUNDNESS
@given(
    candidates(
        address_texts,
        ["<sip:", '"x" <sip:', "Bob <sips:", "sip:", "sip:a@", "a b <sip:", "<sip:a@b>;"],
    )
)
@example('"Bob" <sip:bob@example.com>;tag=1;x="a,b"')
@example("Bob Smith<sip:bob@example.com>")
@example("sip:a:b,c@example.com;tag=1")
def test_address_fast_path_is_sound(text: str) -> None:
    if ADDRESS_RE.fullmatch(text) is None:
        return
    for header in ("From", "To"):
        NameAddress.parse(text, header)  # must not raise


@pytest.mark.parametrize("text", ["sip:a:b,c@example.com", "sip:a:,@example.com;tag=1"])
def test_address_fast_path_comma_in_password(text: str) -> None:
    """Regression: ADDRESS_RE's password class once allowed "," in an addr-spec."""
    if ADDRESS_RE.fullmatch(text) is not None:
        NameAddress.parse(text, "From")


@SOUNDNESS
@given(
    candidates(
        via_texts,
        [
            "SIP/2.0/UDP ",
            "SIP/2.0/TCP host",
            "SIP/2.0/UDP 192.0.2.1;",
            "SIP/2.0/TLS a.b;branch=",
            "SIP/2.0/UDP h;rport",
            "SIP/2.0/UDP h;received=",
            "SIP/2.0/UDP h;ttl",
            "SIP/2.0/UDP h;maddr",
            "SIP/2.0/WS h:5;",
        ],
    )
)
@example("SIP/2.0/UDP h;branch")
@example("SIP/2.0/UDP h;rport=65536")
@example("SIP/2.0/UDP h;Received=x")
@example("SIP/2.0/UDP h;ttl=300")
def test_via_fast_path_is_sound(text: str) -> None:
    if VIA_RE.fullmatch(text) is None:
        return
    # What parse_message's lazy view does with the header value.
    (element,) = split_list(text, "Via")
    Via.parse(element)  # must not raise


@SOUNDNESS
@given(candidates(cseq_texts, ["", "1", "12 ", "999999999 ", "4294967295 "]))
@example("999999999 INVITE")
@example("0000000001 INVITE")
def test_cseq_fast_path_is_sound(text: str) -> None:
    match = CSEQ_RE.fullmatch(text)
    if match is None:
        return
    cseq = CSeq.parse(text)  # must not raise
    # parse_message compares the request method with the pattern's group.
    assert (cseq.number, cseq.method) == (int(match.group(1)), match.group(2))


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (REQUEST_URI_RE, "sip:bob@biloxi.example.com"),
        (REQUEST_URI_RE, "sips:alice:secret@192.0.2.1:5061;transport=tcp;lr"),
        (ADDRESS_RE, "Bob <sip:bob@biloxi.example.com>;tag=a6c85cf"),
        (ADDRESS_RE, '"Alice" <sip:alice@atlanta.example.com>'),
        (ADDRESS_RE, "sip:alice@atlanta.example.com;tag=1"),
        (VIA_RE, "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport"),
        (VIA_RE, "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1;received=192.0.2.2;rport=5060"),
        (CSEQ_RE, "314159 INVITE"),
    ],
)
def test_the_fast_path_takes_everyday_values(pattern: object, text: str) -> None:
    """The soundness properties above are not vacuous: common values do match."""
    assert pattern.fullmatch(text) is not None  # type: ignore[attr-defined]
