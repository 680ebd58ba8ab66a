"""Tests for phoneagent.sip.headers: the ordered, case-insensitive header multi-map.

RFC 3261 §7.3: names compare case-insensitively, a name may be written in its
compact form (§7.3.3), several fields of one name keep their relative order, and
unknown headers pass through untouched.  The typed views a ``Message`` builds from
the headers are cached in the ``Headers`` object and must never go stale.
"""

from __future__ import annotations

import pytest

from phoneagent.sip import (
    COMPACT_FORMS,
    Headers,
    LocalProtocolError,
    NameAddress,
    Request,
    SipUri,
    header_key,
    parse_message,
    parse_uri,
)

INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def sample() -> Headers:
    return Headers(
        [
            ("Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1"),
            ("From", "<sip:alice@example.com>;tag=1"),
            ("Via", "SIP/2.0/UDP b.example.com;branch=z9hG4bK2"),
            ("X-Custom", "one"),
            ("Route", "<sip:p1.example.com;lr>"),
            ("x-custom", "two"),
        ]
    )


# -- reading -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Via", "via", "VIA", "vIa", "v", "V"])
def test_lookups_ignore_case_and_accept_the_compact_form(name: str) -> None:
    headers = sample()
    assert headers.get(name) == "SIP/2.0/UDP a.example.com;branch=z9hG4bK1"
    assert headers.get_all(name) == [
        "SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
        "SIP/2.0/UDP b.example.com;branch=z9hG4bK2",
    ]
    assert headers.count(name) == 2
    assert name in headers


def test_unknown_headers_of_any_case_are_one_header() -> None:
    headers = sample()
    assert headers.get_all("X-CUSTOM") == ["one", "two"]
    assert headers.count("x-Custom") == 2


def test_absent_header() -> None:
    headers = sample()
    assert headers.get("Contact") is None
    assert headers.get("m") is None
    assert headers.get_all("Contact") == []
    assert headers.count("Contact") == 0
    assert "Contact" not in headers
    assert 42 not in headers  # not a name at all


def test_get_all_returns_a_copy() -> None:
    headers = sample()
    headers.get_all("Via").append("SIP/2.0/UDP evil.example.com")
    assert headers.count("Via") == 2


def test_iteration_and_len_keep_message_order_and_names_as_written() -> None:
    headers = sample()
    assert [name for name, _ in headers] == ["Via", "From", "Via", "X-Custom", "Route", "x-custom"]
    assert len(headers) == 6
    assert list(Headers()) == []
    assert len(Headers()) == 0


@pytest.mark.parametrize(("letter", "full"), sorted(COMPACT_FORMS.items()))
def test_every_compact_form_both_directions(letter: str, full: str) -> None:
    assert header_key(letter) == full.lower()
    assert header_key(letter.upper()) == full.lower()
    assert header_key(full) == full.lower()
    written_compact = Headers([(letter, "value-1")])
    written_full = Headers([(full, "value-2")])
    for name in (full, full.upper(), full.lower(), letter, letter.upper()):
        assert written_compact.get(name) == "value-1", name
        assert written_full.get(name) == "value-2", name
        assert name in written_compact and name in written_full
    # Mixed forms are one header, in order, each keeping the name it was written with.
    mixed = Headers([(full, "a"), (letter, "b"), (full.upper(), "c")])
    assert mixed.get_all(letter) == ["a", "b", "c"]
    assert mixed.get_all(full) == ["a", "b", "c"]
    assert [name for name, _ in mixed] == [full, letter, full.upper()]
    assert mixed.remove(letter.upper()) == 3
    assert len(mixed) == 0


def test_compact_forms_table_matches_rfc_3261_section_7_3_3() -> None:
    rfc3261 = {
        "c": "Content-Type",
        "e": "Content-Encoding",
        "f": "From",
        "i": "Call-ID",
        "k": "Supported",
        "l": "Content-Length",
        "m": "Contact",
        "s": "Subject",
        "t": "To",
        "v": "Via",
    }
    assert rfc3261.items() <= COMPACT_FORMS.items()
    assert all(len(letter) == 1 and letter.islower() for letter in COMPACT_FORMS)


NOT_COMPACT = sorted(set("abcdefghijklmnopqrstuvwxyz") - set(COMPACT_FORMS))


@pytest.mark.parametrize("name", [*NOT_COMPACT, *(c.upper() for c in NOT_COMPACT), "Ab", "ff"])
def test_letters_that_are_not_compact_forms_stay_themselves(name: str) -> None:
    assert header_key(name) == name.lower()
    assert Headers([(name, "v")]).get("From") is None


# -- changing ------------------------------------------------------------------------------


def test_add_appends_at_the_end() -> None:
    headers = sample()
    headers.add("v", "SIP/2.0/UDP c.example.com;branch=z9hG4bK3")
    assert [name for name, _ in headers][-1] == "v"
    assert headers.get_all("Via")[-1] == "SIP/2.0/UDP c.example.com;branch=z9hG4bK3"


def test_insert_first_goes_before_the_first_of_its_name() -> None:
    headers = sample()
    headers.insert_first("v", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bK0")
    assert next(iter(headers)) == ("v", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bK0")
    assert headers.get_all("VIA") == [
        "SIP/2.0/UDP proxy.example.com;branch=z9hG4bK0",
        "SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
        "SIP/2.0/UDP b.example.com;branch=z9hG4bK2",
    ]
    # Inserted before the first field of its own name, not at the very top.
    headers.insert_first("route", "<sip:p0.example.com;lr>")
    names = [name for name, _ in headers]
    assert names == ["v", "Via", "From", "Via", "X-Custom", "route", "Route", "x-custom"]


def test_insert_first_of_an_absent_name_goes_to_the_top() -> None:
    # RFC 3261 §7.3.1: Via (the usual use) belongs at the top of the message.
    headers = sample()
    headers.insert_first("Record-Route", "<sip:p.example.com;lr>")
    assert next(iter(headers)) == ("Record-Route", "<sip:p.example.com;lr>")


def test_set_replaces_every_field_in_the_place_of_the_first() -> None:
    headers = sample()
    headers.set("VIA", "SIP/2.0/TCP only.example.com;branch=z9hG4bK9")
    assert list(headers) == [
        ("VIA", "SIP/2.0/TCP only.example.com;branch=z9hG4bK9"),
        ("From", "<sip:alice@example.com>;tag=1"),
        ("X-Custom", "one"),
        ("Route", "<sip:p1.example.com;lr>"),
        ("x-custom", "two"),
    ]


def test_set_with_the_compact_form_replaces_the_full_name() -> None:
    headers = sample()
    headers.set("f", "<sip:bob@example.com>;tag=2")
    assert list(headers)[1] == ("f", "<sip:bob@example.com>;tag=2")
    assert headers.count("From") == 1


def test_set_of_an_absent_name_appends() -> None:
    headers = sample()
    headers.set("Subject", "hello")
    assert list(headers)[-1] == ("Subject", "hello")


def test_remove_takes_every_field_and_keeps_the_rest_in_order() -> None:
    headers = sample()
    assert headers.remove("v") == 2
    assert [name for name, _ in headers] == ["From", "X-Custom", "Route", "x-custom"]
    assert headers.remove("Via") == 0
    assert headers.remove("X-CUSTOM") == 2
    assert list(headers) == [
        ("From", "<sip:alice@example.com>;tag=1"),
        ("Route", "<sip:p1.example.com;lr>"),
    ]


def test_remove_first_takes_the_topmost_only() -> None:
    headers = sample()
    assert headers.remove_first("via") == "SIP/2.0/UDP a.example.com;branch=z9hG4bK1"
    assert headers.get_all("Via") == ["SIP/2.0/UDP b.example.com;branch=z9hG4bK2"]
    assert [name for name, _ in headers] == ["From", "Via", "X-Custom", "Route", "x-custom"]
    assert headers.remove_first("V") == "SIP/2.0/UDP b.example.com;branch=z9hG4bK2"
    assert headers.remove_first("Via") is None
    assert "Via" not in headers


def test_values_are_stored_as_given() -> None:
    headers = Headers()
    for value in ["", "  spaced  ", 'quoted "x, y"; z', "tab\there", "é€😀", "\x00nul"]:
        headers.add("X-Value", value)
    assert headers.get_all("x-value") == [
        "",
        "  spaced  ",
        'quoted "x, y"; z',
        "tab\there",
        "é€😀",
        "\x00nul",
    ]


# -- misuse is a LocalProtocolError ----------------------------------------------------------

BAD_NAMES = ["", "Bad Name", "Bad:Name", "Bad\tName", "Bad\r\nName", "Ünïcode", "a@b", "(x)", "a,b"]
BAD_VALUES = ["a\r\nInjected: yes", "a\rb", "a\nb", "\r\n", "\n"]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("method", ["add", "insert_first", "set"])
def test_bad_names_are_refused(name: str, method: str) -> None:
    headers = sample()
    with pytest.raises(LocalProtocolError):
        getattr(headers, method)(name, "value")
    assert headers == sample()  # nothing changed


@pytest.mark.parametrize("value", BAD_VALUES)
@pytest.mark.parametrize("method", ["add", "insert_first", "set"])
def test_values_with_cr_or_lf_are_refused(value: str, method: str) -> None:
    headers = sample()
    with pytest.raises(LocalProtocolError):
        getattr(headers, method)("Subject", value)
    assert headers == sample()


@pytest.mark.parametrize("value", BAD_VALUES)
def test_constructor_checks_too(value: str) -> None:
    with pytest.raises(LocalProtocolError):
        Headers([("Subject", value)])
    with pytest.raises(LocalProtocolError):
        Headers([("Sub ject", "x")])


@pytest.mark.parametrize("name", ["!%*_+`'~.-", "X-A", "a", "1", "Subject"])
def test_every_token_is_a_valid_name(name: str) -> None:
    headers = Headers()
    headers.add(name, "v")
    assert headers.get(name) == "v"


# -- copy and equality -----------------------------------------------------------------------


def test_copy_is_independent() -> None:
    original = sample()
    copy = original.copy()
    assert copy == original and copy is not original
    copy.add("Subject", "new")
    copy.set("From", "<sip:carol@example.com>;tag=3")
    copy.remove_first("Via")
    assert original == sample()
    assert original.get("Subject") is None
    assert original.count("Via") == 2
    original.remove("Route")
    assert copy.get("Route") == "<sip:p1.example.com;lr>"


def test_copy_does_not_share_the_typed_view_cache() -> None:
    message = parse_message(INVITE)
    assert message.to.tag is None
    copy = message.headers.copy()
    copy.set("To", "Bob <sip:bob@biloxi.example.com>;tag=xyz")
    assert message.to.tag is None  # the original's cached To is still its own
    other = Request("INVITE", message.uri if isinstance(message, Request) else parse_uri("sip:a"))
    other.headers = copy
    assert other.to.tag == "xyz"


def test_equality_is_by_order_and_values_with_names_compared_as_keys() -> None:
    assert sample() == sample()
    # Names compare as lookup keys: case and compact form do not matter …
    assert Headers([("From", "x"), ("Via", "y")]) == Headers([("f", "x"), ("VIA", "y")])
    # … values, order and count do.
    assert Headers([("From", "x")]) != Headers([("From", "X")])
    assert Headers([("From", "x"), ("Via", "y")]) != Headers([("Via", "y"), ("From", "x")])
    assert Headers([("From", "x")]) != Headers([("From", "x"), ("From", "x")])
    assert Headers() == Headers()
    assert Headers() != Headers([("From", "x")])


def test_equality_with_other_types_and_hashing() -> None:
    assert Headers() != []
    assert Headers([("A", "b")]) != [("A", "b")]
    assert Headers([("A", "b")]).__eq__("x") is NotImplemented
    with pytest.raises(TypeError):
        hash(Headers())


def test_parsed_headers_equal_built_ones() -> None:
    message = parse_message(INVITE)
    built = Headers(list(message.headers))
    assert built == message.headers
    assert repr(built).startswith("Headers([('Via',")


# -- the typed views never go stale ---------------------------------------------------------


def test_typed_to_reflects_a_later_set() -> None:
    message = parse_message(INVITE)
    assert message.to.tag is None  # first access: parsed and cached
    message.headers.set("t", "Bob <sip:bob@biloxi.example.com>;tag=a6c85cf")
    assert message.to.tag == "a6c85cf"
    assert message.to.display_name == "Bob"


def test_typed_via_reflects_insert_first_and_remove_first() -> None:
    message = parse_message(INVITE)
    assert [via.host for via in message.via] == ["pc33.atlanta.example.com"]
    message.headers.insert_first("Via", "SIP/2.0/TCP proxy.example.com;branch=z9hG4bKp")
    assert [via.host for via in message.via] == ["proxy.example.com", "pc33.atlanta.example.com"]
    assert message.top_via.transport == "TCP"
    message.headers.remove_first("Via")
    assert message.top_via.host == "pc33.atlanta.example.com"
    message.headers.remove("v")
    assert message.via == ()


def test_typed_views_reflect_add_and_remove() -> None:
    message = parse_message(INVITE)
    assert message.route == ()
    assert message.max_forwards == 70
    assert message.cseq.number == 314159
    assert message.call_id == "a84b4c76e66710@pc33.atlanta.example.com"
    assert not message.contact_is_wildcard
    message.headers.add("Route", "<sip:p1.example.com;lr>")
    message.headers.set("Max-Forwards", "69")
    message.headers.set("CSeq", "314160 INVITE")
    message.headers.set("i", "other-call")
    message.headers.set("m", "*")
    routes: tuple[NameAddress, ...] = message.route
    assert [str(route.uri) for route in routes] == ["sip:p1.example.com;lr"]
    assert message.max_forwards == 69
    assert message.cseq.number == 314160
    assert message.call_id == "other-call"
    assert message.contact_is_wildcard and message.contact == ()
    message.headers.remove("Max-Forwards")
    assert message.max_forwards is None


def test_typed_view_of_a_message_built_in_code() -> None:
    uri = SipUri.parse("sip:bob@example.com")
    request = Request("OPTIONS", uri, [("From", "<sip:a@example.com>;tag=1")])
    assert request.from_.tag == "1"
    request.headers.set("From", "<sip:a@example.com>;tag=2")
    assert request.from_.tag == "2"
    request.headers = Headers([("From", "<sip:a@example.com>;tag=3")])
    assert request.from_.tag == "3"


def test_the_raw_index_reflects_changes() -> None:
    headers = sample()
    assert headers.index["via"] == [
        "SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
        "SIP/2.0/UDP b.example.com;branch=z9hG4bK2",
    ]
    headers.remove("Via")
    assert "via" not in headers.index
    headers.add("Subject", "x")
    assert headers.index["subject"] == ["x"]


def test_serialise_into_writes_names_as_written() -> None:
    parts: list[str] = []
    Headers([("f", "<sip:a@b>"), ("X-Y", "")]).serialise_into(parts)
    assert parts == ["f: <sip:a@b>", "X-Y: "]


def test_a_value_that_cannot_be_encoded_is_refused_when_added() -> None:
    headers = Headers()
    with pytest.raises(LocalProtocolError):
        headers.add("X-Bad", "\ud800")


def test_raw_octets_held_as_surrogate_escapes_are_written_back() -> None:
    request = Request("OPTIONS", SipUri.parse("sip:a@example.com"), [("X-Raw", "caf\udce9")])
    assert b"\r\nX-Raw: caf\xe9\r\n" in bytes(request)
