"""URIs: sip/sips (RFC 3261 §19.1), tel (RFC 3966), opaque ones; parsing, writing, comparing."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from phoneagent.sip.uri import (
    HEADER_SAFE,
    PARAMETER_SAFE,
    USER_SAFE,
    AbsoluteUri,
    SipUri,
    TelUri,
    Uri,
    escape,
    parse_uri,
    unescape,
)
from tests.strategies import sip_uris, tel_uris, uris


def fields(uri: Uri) -> tuple[object, ...]:
    """Field-by-field identity (``==`` implements the RFC comparison rules instead)."""
    return (type(uri), *dataclasses.astuple(uri))


def sip(text: str) -> SipUri:
    uri = parse_uri(text)
    assert isinstance(uri, SipUri)
    return uri


# -- parsing and writing: byte-exact ------------------------------------------------

# text, canonical form written back, expected fields (scheme, user, password, host, port,
# parameters, headers)
SIP_CASES = {
    "rfc3261-plain": (
        "sip:alice@atlanta.com",
        None,
        ("sip", "alice", None, "atlanta.com", None, (), ()),
    ),
    "rfc3261-password": (
        "sip:alice:secretword@atlanta.com;transport=tcp",
        None,
        ("sip", "alice", "secretword", "atlanta.com", None, (("transport", "tcp"),), ()),
    ),
    "rfc3261-headers": (
        "sips:alice@atlanta.com?subject=project%20x&priority=urgent",
        None,
        (
            "sips",
            "alice",
            None,
            "atlanta.com",
            None,
            (),
            (("subject", "project x"), ("priority", "urgent")),
        ),
    ),
    "rfc3261-telephone-subscriber": (
        "sip:+1-212-555-1212:1234@gateway.com;user=phone",
        None,
        ("sip", "+1-212-555-1212", "1234", "gateway.com", None, (("user", "phone"),), ()),
    ),
    "rfc3261-ipv4": (
        "sip:alice@192.0.2.4",
        None,
        ("sip", "alice", None, "192.0.2.4", None, (), ()),
    ),
    "rfc3261-no-user": (
        "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
        None,
        (
            "sip",
            None,
            None,
            "atlanta.com",
            None,
            (("method", "REGISTER"),),
            (("to", "alice@atlanta.com"),),
        ),
    ),
    "rfc3261-semicolon-user": (
        "sip:alice;day=tuesday@atlanta.com",
        None,
        ("sip", "alice;day=tuesday", None, "atlanta.com", None, (), ()),
    ),
    "upper-case-scheme-and-parameter": (
        "SIP:ALICE@AtLanTa.CoM;Transport=UDP",
        "sip:ALICE@AtLanTa.CoM;transport=UDP",
        ("sip", "ALICE", None, "AtLanTa.CoM", None, (("transport", "UDP"),), ()),
    ),
    "unneeded-escape-dropped": (
        "sip:%61lice@atlanta.com",
        "sip:alice@atlanta.com",
        ("sip", "alice", None, "atlanta.com", None, (), ()),
    ),
    "rfc4475-esc01-ruri": (
        "sip:sips%3Auser%40example.com@example.net",
        None,
        ("sip", "sips:user@example.com", None, "example.net", None, (), ()),
    ),
    "rfc4475-esc01-spaces": (
        "sip:I%20have%20spaces@example.net",
        None,
        ("sip", "I have spaces", None, "example.net", None, (), ()),
    ),
    "rfc4475-esc01-contact": (
        "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31",
        "sip:caller@host5.example.net;lr;name=value%2541",
        (
            "sip",
            "caller",
            None,
            "host5.example.net",
            None,
            (("lr", None), ("name", "value%41")),
            (),
        ),
    ),
    "rfc4475-escnull": (
        "sip:null-%00-null@example.com",
        None,
        ("sip", "null-\x00-null", None, "example.com", None, (), ()),
    ),
    "rfc4475-semiuri": (
        "sip:user;par=u%40example.net@example.com",
        None,
        ("sip", "user;par=u@example.net", None, "example.com", None, (), ()),
    ),
    "rfc4475-intmeth": (
        "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        None,
        (
            "sip",
            "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*",
            "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)",
            "example.com",
            None,
            (),
            (),
        ),
    ),
    "rfc4475-regescrt": (
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
        None,
        ("sip", "user", None, "example.com", None, (), (("Route", "<sip:sip.example.com>"),)),
    ),
    "rfc4475-wsinv-flag-parameter": (
        "sip:vivekg@chair-dnrc.example.com;unknownparam",
        None,
        ("sip", "vivekg", None, "chair-dnrc.example.com", None, (("unknownparam", None),), ()),
    ),
    "rfc5118-ipv6": ("sip:[2001:db8::10]", None, ("sip", None, None, "2001:db8::10", None, (), ())),
    "rfc5118-port-ambiguous": (
        "sip:[2001:db8::10:5070]",
        None,
        ("sip", None, None, "2001:db8::10:5070", None, (), ()),
    ),
    "rfc5118-port-unambiguous": (
        "sip:user@[2001:db8::10]:5070",
        None,
        ("sip", "user", None, "2001:db8::10", 5070, (), ()),
    ),
    "rfc5118-three-colons": (
        "sip:[2001:db8:::192.0.2.1]",
        "sip:[2001:db8::192.0.2.1]",
        ("sip", None, None, "2001:db8::192.0.2.1", None, (), ()),
    ),
    "rfc5118-ipv4-mapped": (
        "sip:[::ffff:192.0.2.2]:5060",
        None,
        ("sip", None, None, "::ffff:192.0.2.2", 5060, (), ()),
    ),
    "ipv6-case-kept": ("sip:[2001:DB8::A]", None, ("sip", None, None, "2001:DB8::A", None, (), ())),
    "port-leading-zeros": (
        "sip:host:005060",
        "sip:host:5060",
        ("sip", None, None, "host", 5060, (), ()),
    ),
    "port-zero": ("sip:host:0", None, ("sip", None, None, "host", 0, (), ())),
    "port-max": ("sip:host:65535", None, ("sip", None, None, "host", 65535, (), ())),
    "underscore-host": (
        "sip:_sip._udp.example.com",
        None,
        ("sip", None, None, "_sip._udp.example.com", None, (), ()),
    ),
    "trailing-dot-host": (
        "sip:a@example.com.",
        None,
        ("sip", "a", None, "example.com.", None, (), ()),
    ),
    "single-label-host": ("sip:a@localhost", None, ("sip", "a", None, "localhost", None, (), ())),
    "empty-password": ("sip:a:@b", None, ("sip", "a", "", "b", None, (), ())),
    "maddr-ipv6-value": (
        "sip:b;maddr=[2001:db8::1]",
        None,
        ("sip", None, None, "b", None, (("maddr", "[2001:db8::1]"),), ()),
    ),
    "empty-header-value": (
        "sip:a@b?subject=",
        None,
        ("sip", "a", None, "b", None, (), (("subject", ""),)),
    ),
    "header-value-question-mark": (
        "sip:a@b?x=a?b/:[]",
        None,
        ("sip", "a", None, "b", None, (), (("x", "a?b/:[]"),)),
    ),
    "utf8-escape": (
        "sip:a@b;x=%e2%82%ac",
        "sip:a@b;x=%E2%82%AC",
        ("sip", "a", None, "b", None, (("x", "\u20ac"),), ()),
    ),
    "non-utf8-octet": ("sip:%ff@b", "sip:%FF@b", ("sip", "\udcff", None, "b", None, (), ())),
    "duplicate-parameter-kept": (
        "sip:b;x=1;X=2",
        "sip:b;x=1;x=2",
        ("sip", None, None, "b", None, (("x", "1"), ("x", "2")), ()),
    ),
}


@pytest.mark.parametrize("name", sorted(SIP_CASES))
def test_sip_uri_parses_and_writes_back(name: str) -> None:
    text, canonical, expected = SIP_CASES[name]
    uri = parse_uri(text)
    assert fields(uri) == (SipUri, *expected)
    assert str(uri) == (canonical or text)
    assert fields(SipUri.parse(str(uri))) == fields(uri)


INVALID = {
    # ports
    "port-too-big": "sip:a@b:99999",
    "port-65536": "sip:a@b:65536",
    "port-empty": "sip:a@b:",
    "port-letters": "sip:a@b:12a",
    "port-negative": "sip:a@b:-1",
    "port-non-ascii-digits": "sip:a@b:\u0665\u0660",
    "port-huge": "sip:a@b:" + "9" * 5000,
    "port-twice": "sip:a@b:5060:5060",
    # hosts
    "host-empty": "sip:",
    "host-empty-after-user": "sip:user@",
    "host-empty-with-port": "sip:a@:5060",
    "host-empty-with-parameter": "sip:a@;lr",
    "host-leading-hyphen": "sip:a@-b.com",
    "host-trailing-hyphen": "sip:a@b-.com",
    "host-numeric-toplabel": "sip:a@example.123",
    "host-ipv4-octet-too-big": "sip:a@256.1.1.1",
    "host-ipv4-leading-zero": "sip:a@01.2.3.4",
    "host-ipv4-three-parts": "sip:a@1.2.3",
    "host-double-dot": "sip:a@b..com",
    "host-two-at-signs": "sip:a@b@c",
    "rfc5118-ipv6-bad-unbracketed": "sip:2001:db8::10",
    "ipv6-unbracketed-with-user": "sip:user@2001:db8::10",
    "ipv6-unterminated": "sip:[2001:db8::10",
    "ipv6-junk-after": "sip:[2001:db8::10]x",
    "ipv6-not-an-address": "sip:[not-ipv6]",
    "ipv6-empty": "sip:[]",
    "ipv6-three-colons-without-ipv4": "sip:[2001:db8:::1]",
    "ipv6-zone-id": "sip:[fe80::1%25eth0]",
    "ipv6-too-many-groups": "sip:[1:2:3:4:5:6:7:8:9]",
    # userinfo
    "user-empty": "sip:@host",
    "user-empty-with-password": "sip::pw@host",
    "user-bad-character": "sip:a<b@c",
    "user-hash": "sip:*67#@c",
    "password-bad-character": "sip:a:b;c@d",
    # escapes
    "rfc4475-style-bad-escape": "sip:null-%0-null@example.com",
    "escape-not-hex": "sip:a%zz@b",
    "escape-truncated-parameter": "sip:a@b;x=%4",
    "escape-lone-percent-header": "sip:a@b?h=%",
    # parameters and headers
    "parameter-empty": "sip:a@b;;x",
    "parameter-empty-value": "sip:a@b;x=",
    "parameter-two-equals": "sip:a@b;x=1=2",
    "parameter-trailing-semicolon": "sip:a@b;",
    "headers-empty": "sip:a@b?",
    "header-without-equals": "sip:a@b?h",
    "header-empty-name": "sip:a@b?=v",
    "header-trailing-ampersand": "sip:a@b?h=v&",
    "header-at-sign": "sip:a@b?h=a@b",
    # whitespace anywhere
    "rfc4475-lwsruri": "sip:user@example.com; lr",
    "whitespace-in-user": "sip:a b@c",
    "whitespace-in-host": "sip:a@b c",
    "whitespace-leading": " sip:a@b",
    "whitespace-trailing-tab": "sip:a@b\t",
    "whitespace-newline": "sip:a@b\r\n",
    # schemes and absolute URIs
    "rfc4475-ltgtruri": "<sip:user@example.com>",
    "no-scheme": "alan@jasomi.com",
    "empty": "",
    "scheme-empty": ":foo",
    "scheme-digit-first": "1abc:foo",
    "scheme-space": "ab c:foo",
    "absolute-empty-rest": "mailto:",
    "absolute-space": "http://a b",
    "absolute-angle-bracket": "foo:<x>",
    "absolute-control": "foo:a\x00b",
    # tel
    "tel-empty": "tel:",
    "tel-local-without-context": "tel:1234",
    "tel-plus-only": "tel:+",
    "tel-separators-only": "tel:+-()",
    "tel-letter-in-global": "tel:+12a",
    "tel-ext-empty": "tel:+12;ext=",
    "tel-ext-letters": "tel:+12;ext=12a",
    "tel-context-without-value": "tel:12;phone-context",
    "tel-context-bad-descriptor": "tel:12;phone-context=a..b",
    "tel-context-plus-only": "tel:12;phone-context=+",
    "tel-space": "tel:+1 2",
    "tel-empty-parameter": "tel:+1;;x=1",
    "tel-bad-parameter-name": "tel:+1;n@me=1",
    "tel-isub-without-value": "tel:+1;isub",
    "tel-bad-escape": "tel:+1;x=%g0",
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_malformed_uri_is_a_400(name: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_uri(INVALID[name])
    assert caught.value.status_hint == 400
    assert "URI" in caught.value.reason


def test_error_reasons_name_the_problem() -> None:
    cases = {
        "sip:a@b:99999": "bad port in URI 'sip:a@b:99999'",
        "sip:2001:db8::10": "IPv6 address not enclosed in [ ]",
        "sip:a b@c": "whitespace",
        "sip:null-%0-null@example.com": "'%' not followed by two hex digits",
        "sip:": "empty host",
        "sip:a@b;;x": "bad URI parameter",
        "tel:1234": "local number without phone-context",
    }
    for text, reason in cases.items():
        with pytest.raises(RemoteProtocolError) as caught:
            parse_uri(text)
        assert reason in caught.value.reason


def test_error_reason_of_a_huge_uri_is_bounded() -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_uri("sip:a@b;" + "x" * 100_000 + ";;")
    assert len(caught.value.reason) < 300


def test_typed_parsers_refuse_other_schemes() -> None:
    with pytest.raises(RemoteProtocolError):
        SipUri.parse("tel:+1")
    with pytest.raises(RemoteProtocolError):
        TelUri.parse("sip:a@b")
    with pytest.raises(RemoteProtocolError):
        AbsoluteUri.parse("SIPS:a@b")


# -- tel: (RFC 3966) -----------------------------------------------------------------

TEL_CASES = {
    "rfc3966-global": ("tel:+1-201-555-0123", None, "+1-201-555-0123", ()),
    "rfc3966-local-domain": (
        "tel:7042;phone-context=example.com",
        None,
        "7042",
        (("phone-context", "example.com"),),
    ),
    "rfc3966-local-digits": (
        "tel:863-1234;phone-context=+1-914-555",
        None,
        "863-1234",
        (("phone-context", "+1-914-555"),),
    ),
    "rfc3261-postd": (
        "tel:+358-555-1234567;postd=pp22",
        None,
        "+358-555-1234567",
        (("postd", "pp22"),),
    ),
    "hex-and-star-hash": (
        "tel:*67#;phone-context=example.com",
        None,
        "*67#",
        (("phone-context", "example.com"),),
    ),
    "parameter-names-lowered": (
        "TEL:+1(800)555.0000;EXT=12;ISUB=a%3Bb;Flag",
        "tel:+1(800)555.0000;ext=12;isub=a%3Bb;flag",
        "+1(800)555.0000",
        (("ext", "12"), ("isub", "a;b"), ("flag", None)),
    ),
    "isub-uric": ("tel:+1;isub=a/b?c:d@e", None, "+1", (("isub", "a/b?c:d@e"),)),
    "isub-escaped-bracket": ("tel:+1;isub=%5B", None, "+1", (("isub", "["),)),
}


@pytest.mark.parametrize("name", sorted(TEL_CASES))
def test_tel_uri_parses_and_writes_back(name: str) -> None:
    text, canonical, number, parameters = TEL_CASES[name]
    uri = parse_uri(text)
    assert fields(uri) == (TelUri, number, parameters)
    assert str(uri) == (canonical or text)
    assert fields(TelUri.parse(str(uri))) == fields(uri)


def test_tel_helpers() -> None:
    uri = TelUri.parse("tel:+1-201-555-0123;ext=1-2")
    assert uri.is_global and uri.digits == "+12015550123"
    assert uri.parameter("EXT") == "1-2" and uri.has_parameter("ext")
    local = TelUri.parse("tel:(7)042;phone-context=example.com")
    assert not local.is_global and local.digits == "7042"
    assert local.parameter("isub") is None and not local.has_parameter("isub")


TEL_EQUAL = [
    ("tel:+1-201-555-0123", "tel:+1.201.555.0123"),
    ("tel:+1-201-555-0123", "tel:+1(201)5550123"),
    ("tel:863-1234;phone-context=+1-914-555", "tel:8631234;PHONE-CONTEXT=+1914555"),
    ("tel:7042;phone-context=EXAMPLE.com", "tel:7042;phone-context=example.com"),
    ("tel:+1234;ext=1-2", "tel:+1234;ext=12"),
    ("tel:+1;a=1;b=2", "tel:+1;b=2;a=1"),
    ("tel:+1;a=xY", "tel:+1;A=Xy"),
    ("tel:*AB#;phone-context=x.com", "tel:*ab#;phone-context=x.com"),
    ("tel:+358-555-1234567;postd=pp22", "tel:+358-555-1234567;POSTD=PP22"),
    ("tel:+1;isub=%41", "tel:+1;isub=a"),
]
TEL_NOT_EQUAL = [
    ("tel:+1234", "tel:1234;phone-context=+1"),  # global vs local
    ("tel:+1234", "tel:+1235"),
    ("tel:+1234", "tel:+1234;ext=1"),  # a parameter only in one
    ("tel:+1234;a", "tel:+1234;a=1"),
    ("tel:1;phone-context=a.com", "tel:1;phone-context=b.com"),
    ("tel:+1;ext=1", "tel:+1;ext=2"),
]


@pytest.mark.parametrize(("left", "right"), TEL_EQUAL)
def test_tel_uris_equal_per_rfc3966(left: str, right: str) -> None:
    a, b = parse_uri(left), parse_uri(right)
    assert a == b and b == a and hash(a) == hash(b)


@pytest.mark.parametrize(("left", "right"), TEL_NOT_EQUAL)
def test_tel_uris_differ_per_rfc3966(left: str, right: str) -> None:
    a, b = parse_uri(left), parse_uri(right)
    assert a != b and b != a


def test_tel_to_sip_rfc3261_example() -> None:
    # RFC 3261 §19.1.6
    tel = TelUri.parse("tel:+358-555-1234567;postd=pp22")
    uri = tel.to_sip("foo.com")
    assert str(uri) == "sip:+358-555-1234567;postd=pp22@foo.com;user=phone"
    assert uri.user == "+358-555-1234567;postd=pp22" and uri.parameter("user") == "phone"


def test_tel_to_sip_folds_case_and_orders_parameters() -> None:
    # §19.1.6: equal tel URIs must give equal SIP URIs, so the user part is folded to lower
    # case and ordered by name with isub and postd first.
    expected = "sip:+358-555-1234567;isub=1411;postd=pp22@foo.com;user=phone"
    for text in (
        "tel:+358-555-1234567;postd=pp22;isub=1411",
        "tel:+358-555-1234567;isub=1411;postd=pp22",
        "tel:+358-555-1234567;POSTD=PP22;ISUB=1411",
    ):
        assert str(TelUri.parse(text).to_sip("foo.com")) == expected
    ordered = TelUri.parse("tel:+1;zz=1;postd=2;aa;isub=3").to_sip("gw.example.com", 5060)
    assert str(ordered) == "sip:+1;isub=3;postd=2;aa;zz=1@gw.example.com:5060;user=phone"


def test_tel_to_sip_escapes_what_a_sip_user_cannot_hold() -> None:
    uri = TelUri.parse("tel:*67#;phone-context=Example.com").to_sip("2001:db8::1")
    assert str(uri) == "sip:*67%23;phone-context=example.com@[2001:db8::1];user=phone"
    assert parse_uri(str(uri)) == uri


# -- other schemes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scheme", "rest"),
    [
        (
            "nobodyKnowsThisScheme:totallyopaquecontent",
            "nobodyknowsthisscheme",
            "totallyopaquecontent",
        ),
        ("soap.beep://192.0.2.103:3002", "soap.beep", "//192.0.2.103:3002"),
        ("isbn:2983792873", "isbn", "2983792873"),
        ("http://www.example.com", "http", "//www.example.com"),
        ("mailto:Alice@Example.com", "mailto", "Alice@Example.com"),
        ("urn:service:sos", "urn", "service:sos"),
    ],
)
def test_absolute_uri(text: str, scheme: str, rest: str) -> None:
    uri = parse_uri(text)
    assert fields(uri) == (AbsoluteUri, scheme, rest)
    assert str(uri) == f"{scheme}:{rest}"


def test_absolute_uri_equality() -> None:
    assert parse_uri("URN:service:sos") == parse_uri("urn:service:sos")
    assert parse_uri("mailto:Alice@x") != parse_uri("mailto:alice@x")  # rest is exact
    assert len({parse_uri("URN:a"), parse_uri("urn:a")}) == 1


# -- comparison: RFC 3261 §19.1.4 ----------------------------------------------------

# "The URIs within each of the following sets are equivalent:"
RFC3261_EQUAL_SETS = [
    ["sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"],
    [
        "sip:carol@chicago.com",
        "sip:carol@chicago.com;newparam=5",
        "sip:carol@chicago.com;security=on",
    ],
    [
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
    ],
    [
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
    ],
]
# "The URIs within each of the following sets are not equivalent:"
RFC3261_NOT_EQUAL = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),  # usernames
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),  # can resolve to different ports
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),  # … different transports
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),  # … port and transport
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),  # header component
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),  # even if that is what it resolves to
]


@pytest.mark.parametrize("group", RFC3261_EQUAL_SETS, ids=lambda group: group[0])
def test_rfc3261_equal_sets(group: list[str]) -> None:
    parsed = [parse_uri(text) for text in group]
    for a in parsed:
        for b in parsed:
            assert a == b
            assert hash(a) == hash(b)


@pytest.mark.parametrize(("left", "right"), RFC3261_NOT_EQUAL, ids=lambda text: text)
def test_rfc3261_not_equal(left: str, right: str) -> None:
    a, b = parse_uri(left), parse_uri(right)
    assert a != b and b != a


MORE_EQUAL = [
    ("sip:[2001:db8::1]", "sip:[2001:DB8:0:0::1]"),  # IPv6 compared as addresses
    ("sip:[2001:db8:::192.0.2.1]", "sip:[2001:db8::c000:201]"),
    ("sip:a@b;lr", "sip:a@b;LR"),
    ("sip:a@b;maddr=X.com", "sip:a@b;MADDR=x.COM"),
    ("sip:a@b?Subject=x", "sip:a@b?subject=x"),  # header names case-insensitive
    ("sip:a;b@c", "sip:a%3Bb@c"),  # compared after unescaping
    ("sip:a@b;x=1", "sip:a@b;y=2"),
]
MORE_NOT_EQUAL = [
    ("sip:a@b", "sips:a@b"),
    ("sip:a:pw@b", "sip:a:PW@b"),  # password case-sensitive
    ("sip:a:pw@b", "sip:a@b"),
    ("sip:a:@b", "sip:a@b"),
    ("sip:a@b", "sip:b"),  # userinfo in one only
    ("sips:a@b", "sips:a@b:5061"),
    ("sip:a@b;maddr=x", "sip:a@b"),
    ("sip:a@b;ttl=1", "sip:a@b"),
    ("sip:a@b;user=phone", "sip:a@b"),
    ("sip:a@b;method=INVITE", "sip:a@b"),
    ("sip:a@b;x=1", "sip:a@b;x=2"),
    ("sip:a@b;lr", "sip:a@b;lr=on"),
    ("sip:a@b?subject=A", "sip:a@b?subject=a"),  # header values case-sensitive
    ("sip:a@b?x=1", "sip:a@b?x=1&y=2"),
    ("sip:carol@chicago.com;newparam=6", "sip:carol@chicago.com;newparam=5"),
    ("sip:a@[::1]", "sip:a@127.0.0.1"),
    ("sip:a@example.com", "sip:a@example.com."),
]


@pytest.mark.parametrize(("left", "right"), MORE_EQUAL, ids=lambda text: text)
def test_more_equal(left: str, right: str) -> None:
    a, b = parse_uri(left), parse_uri(right)
    assert a == b and b == a and hash(a) == hash(b)


@pytest.mark.parametrize(("left", "right"), MORE_NOT_EQUAL, ids=lambda text: text)
def test_more_not_equal(left: str, right: str) -> None:
    a, b = parse_uri(left), parse_uri(right)
    assert a != b and b != a


def test_equality_is_not_transitive_as_the_rfc_warns() -> None:
    plain, on, off = (
        sip(f"sip:carol@chicago.com{p}") for p in ("", ";security=on", ";security=off")
    )
    assert plain == on and plain == off and on != off


def test_uri_kinds_never_equal() -> None:
    assert parse_uri("sip:+1@b") != parse_uri("tel:+1")
    assert parse_uri("tel:+1") != parse_uri("foo:+1")
    assert sip("sip:a@b") != "sip:a@b"


# -- helpers -------------------------------------------------------------------------


def test_sip_uri_helpers() -> None:
    uri = sip("sips:alice@[2001:db8::1]:5061;Transport=TLS;lr;x=1;x=2")
    assert uri.is_secure and uri.is_ipv6 and uri.is_ip_address
    assert uri.host_port == "[2001:db8::1]:5061"
    assert uri.transport == "tls"
    assert uri.parameter("LR") is None and uri.has_parameter("lr")
    assert uri.parameter("x") == "1" and not uri.has_parameter("maddr")
    plain = sip("sip:example.com")
    assert not plain.is_secure and not plain.is_ip_address and plain.transport is None
    assert plain.host_port == "example.com"
    assert sip("sip:192.0.2.1:5060").is_ip_address and not sip("sip:192.0.2.1").is_ipv6


def test_with_and_without_parameter() -> None:
    uri = sip("sip:a@b;x=1;lr;x=2")
    assert str(uri.with_parameter("X", "3")) == "sip:a@b;x=3;lr"
    assert str(uri.with_parameter("maddr", "10.0.0.1")) == "sip:a@b;x=1;lr;x=2;maddr=10.0.0.1"
    assert str(uri.with_parameter("ob")) == "sip:a@b;x=1;lr;x=2;ob"
    assert str(uri.without_parameter("x")) == "sip:a@b;lr"
    assert str(uri.without_parameter("absent")) == str(uri)
    assert str(uri) == "sip:a@b;x=1;lr;x=2"  # the original is untouched


def test_sip_uri_constructed_in_code_is_escaped() -> None:
    uri = SipUri(
        "sip", "a b@c:d", "p@ss:w", "example.com", 5060, (("na me", "v;a=l"),), (("H", "x&y=z"),)
    )
    assert str(uri) == "sip:a%20b%40c%3Ad:p%40ss%3Aw@example.com:5060;na%20me=v%3Ba%3Dl?H=x%26y%3Dz"
    assert fields(parse_uri(str(uri))) == fields(uri)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scheme": "http"},
        {"scheme": "SIP"},
        {"port": 70000},
        {"port": -1},
        {"host": ""},
        {"host": "[2001:db8::1]"},
        {"host": "2001:db8:::192.0.2.1"},
        {"host": "a b"},
        {"host": "256.0.0.1"},
        {"user": ""},
        {"user": None, "password": "x"},
        {"parameters": (("Lr", None),)},
        {"parameters": (("", None),)},
        {"parameters": (("x", ""),)},
        {"headers": (("", "x"),)},
    ],
    ids=repr,
)
def test_sip_uri_misuse_is_a_local_error(kwargs: dict[str, object]) -> None:
    arguments: dict[str, object] = {"scheme": "sip", "user": "a", "password": None, "host": "b"}
    arguments.update(kwargs)
    with pytest.raises(LocalProtocolError):
        SipUri(**arguments)  # type: ignore[arg-type]


def test_other_misuse_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        sip("sip:a@b").with_parameter("x", "")
    with pytest.raises(LocalProtocolError):
        str(SipUri("sip", "\ud800", None, "b"))  # a lone surrogate no octet stands for
    with pytest.raises(LocalProtocolError):
        TelUri("1234")  # local number without phone-context
    with pytest.raises(LocalProtocolError):
        TelUri("+12a")
    with pytest.raises(LocalProtocolError):
        TelUri("+1", (("EXT", "1"),))
    with pytest.raises(LocalProtocolError):
        TelUri("+1", (("ext", "x"),))
    with pytest.raises(LocalProtocolError):
        TelUri("+1").to_sip("[::1]")
    for scheme, rest in (("sip", "a@b"), ("Mailto", "a"), ("1x", "a"), ("x", ""), ("x", "a b")):
        with pytest.raises(LocalProtocolError):
            AbsoluteUri(scheme, rest)


# -- escape / unescape ---------------------------------------------------------------


def test_escape_and_unescape() -> None:
    assert escape("alice", USER_SAFE) == "alice"
    assert escape("a b;c", USER_SAFE) == "a%20b;c"
    assert escape("a b;c", PARAMETER_SAFE) == "a%20b%3Bc"
    assert escape("a?b&c", HEADER_SAFE) == "a?b%26c"
    assert escape("\u00e9\udcff%", USER_SAFE) == "%C3%A9%FF%25"
    assert escape("abc", frozenset()) == "%61%62%63"
    assert unescape("plain") == "plain"
    assert unescape("%C3%A9x%e9") == "\u00e9x\udce9"
    assert unescape("%41%42") == "AB"
    for bad in ("%", "%4", "%G1", "a%"):
        with pytest.raises(RemoteProtocolError):
            unescape(bad)
    with pytest.raises(LocalProtocolError):
        escape("\ud800", USER_SAFE)


@given(st.binary())
def test_escape_round_trips_any_octets(data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape")
    escaped = escape(text, USER_SAFE)
    assert unescape(escaped) == text
    assert escaped.isascii()  # nothing but ASCII on the wire


# -- properties ----------------------------------------------------------------------


@given(sip_uris())
def test_sip_uri_round_trip(uri: SipUri) -> None:
    again = parse_uri(str(uri))
    assert again == uri
    assert fields(again) == fields(uri)
    assert str(again) == str(uri)


@given(tel_uris())
def test_tel_uri_round_trip(uri: TelUri) -> None:
    again = parse_uri(str(uri))
    assert again == uri and hash(again) == hash(uri)
    assert fields(again) == fields(uri)


@given(uris())
def test_any_uri_round_trip_and_hash(uri: Uri) -> None:
    again = parse_uri(str(uri))
    assert fields(again) == fields(uri)
    assert again == uri and hash(again) == hash(uri)


def _only_uri_or_remote_error(text: str) -> None:
    try:
        uri = parse_uri(text)
    except RemoteProtocolError as error:
        assert error.status_hint == 400
        return
    # Whatever parses is written canonically and parses again to the same fields.
    canonical = str(uri)
    assert fields(parse_uri(canonical)) == fields(uri)
    assert str(parse_uri(canonical)) == canonical


@given(st.text())
def test_parse_uri_on_any_text_returns_a_uri_or_a_remote_error(text: str) -> None:
    _only_uri_or_remote_error(text)


_URI_ISH = "sipte:+;=?&@%[]./-_!~*'()$,#<> \t0123456789abcdefABCDEF\x00\u00e9"


@given(
    st.sampled_from(["sip:", "sips:", "tel:", "SIP:", "x:", ""]),
    st.text(alphabet=_URI_ISH, max_size=40),
)
def test_parse_uri_on_uri_like_text(prefix: str, text: str) -> None:
    _only_uri_or_remote_error(prefix + text)


@given(sip_uris(), st.integers(0, 200), st.text(alphabet=_URI_ISH, max_size=3))
def test_parse_uri_on_mutated_valid_uris(uri: SipUri, position: int, insert: str) -> None:
    text = str(uri)
    position %= len(text) + 1
    _only_uri_or_remote_error(text[:position] + insert + text[position + 1 :])


def test_ipv6_hosts_from_the_strategy_are_addresses() -> None:
    # A guard on the strategies module: hosts with ":" must be IPv6 addresses.
    @given(sip_uris())
    def check(uri: SipUri) -> None:
        if ":" in uri.host:
            ipaddress.IPv6Address(uri.host)

    check()
