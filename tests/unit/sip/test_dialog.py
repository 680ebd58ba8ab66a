"""Tests for phoneagent.sip.dialog: RFC 3261 §12 (creation, requests within, routing).

Messages are parsed from bytes shaped like RFC 3261 §24.2 (Alice calls Bob
through two record-routing proxies) and answered with ``make_response``.
"""

from __future__ import annotations

import logging

import pytest

from phoneagent.sip import NameAddress, Request, Response, make_response, parse_message
from phoneagent.sip.dialog import (
    Dialog,
    DialogId,
    DialogRegistry,
    DialogState,
    next_hop_uri,
)
from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from phoneagent.sip.uri import SipUri, parse_uri

ALICE_CONTACT = NameAddress.parse("<sip:alice@192.0.2.10:5060>")
BOB_CONTACT = "<sip:bob@192.0.2.20:5062;transport=udp>"
# The INVITE went alice -> p1 -> p2 -> bob: p2 put its Record-Route on top.
RECORD_ROUTE = ("<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>")


def invite(
    *,
    uri: str = "sip:bob@biloxi.example.com",
    transport: str = "UDP",
    to_tag: str | None = None,
    record_route: tuple[str, ...] = (),
    cseq: int = 314159,
    method: str = "INVITE",
    contact: str | None = "<sip:alice@192.0.2.10:5060>",
) -> Request:
    to = "Bob <sip:bob@biloxi.example.com>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/{transport} 192.0.2.10:5060;branch=z9hG4bK776asdhds",
        *(f"Record-Route: {route}" for route in record_route),
        "Max-Forwards: 70",
        f"To: {to}",
        "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774",
        "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
        f"CSeq: {cseq} {method}",
        *([f"Contact: {contact}"] if contact else []),
        "Content-Length: 0",
        "",
        "",
    ]
    message = parse_message("\r\n".join(lines).encode())
    assert isinstance(message, Request)
    return message


def response(
    request: Request,
    code: int,
    *,
    to_tag: str | None = "a6c85cf",
    contact: str | None = BOB_CONTACT,
    record_route: tuple[str, ...] = RECORD_ROUTE,
) -> Response:
    headers = [("Record-Route", route) for route in record_route]
    if contact is not None:
        headers.append(("Contact", contact))
    built = make_response(request, code, to_tag=to_tag, headers=headers)
    parsed = parse_message(bytes(built))
    assert isinstance(parsed, Response)
    return parsed


def uac_dialog(code: int = 200, **kwargs: object) -> Dialog:
    request = invite()
    return Dialog.from_uac_response(request, response(request, code, **kwargs))  # type: ignore[arg-type]


# -- DialogId --------------------------------------------------------------------------------


def test_dialog_id_of_a_received_request_names_our_tag_first() -> None:
    request = invite(to_tag="ours")
    assert DialogId.of_received_request(request) == DialogId(
        "a84b4c76e66710@pc33.atlanta.example.com", "ours", "1928301774"
    )
    assert DialogId.of_received_request(invite()) is None


def test_dialog_id_of_a_response_names_the_from_tag_first() -> None:
    request = invite()
    assert DialogId.of_received_response(response(request, 180)) == DialogId(
        "a84b4c76e66710@pc33.atlanta.example.com", "1928301774", "a6c85cf"
    )
    assert DialogId.of_received_response(response(request, 180, to_tag=None)) is None


# -- UAC (§12.1.2) ---------------------------------------------------------------------------


def test_uac_dialog_from_a_2xx() -> None:
    dialog = uac_dialog()
    assert dialog.state is DialogState.CONFIRMED
    assert dialog.id == DialogId("a84b4c76e66710@pc33.atlanta.example.com", "1928301774", "a6c85cf")
    assert str(dialog.local_address) == "Alice <sip:alice@atlanta.example.com>;tag=1928301774"
    assert str(dialog.remote_address) == "Bob <sip:bob@biloxi.example.com>;tag=a6c85cf"
    assert dialog.local_uri == parse_uri("sip:alice@atlanta.example.com")
    assert dialog.remote_uri == parse_uri("sip:bob@biloxi.example.com")
    assert dialog.local_seq == 314159
    assert dialog.remote_seq is None
    assert dialog.remote_target == parse_uri("sip:bob@192.0.2.20:5062;transport=udp")
    # §12.1.2: the Record-Route of the response, reversed.
    assert [str(route) for route in dialog.route_set] == [
        "<sip:p1.example.com;lr>",
        "<sip:p2.example.com;lr>",
    ]
    assert dialog.local_contact == ALICE_CONTACT
    assert dialog.secure is False
    assert dialog.is_uac


def test_uac_early_dialog_is_confirmed_by_the_2xx_which_recomputes_route_and_target() -> None:
    request = invite()
    dialog = Dialog.from_uac_response(request, response(request, 180, record_route=()))
    assert dialog.state is DialogState.EARLY
    assert dialog.route_set == ()
    dialog.confirm(
        response(
            request,
            200,
            contact="<sip:bob@192.0.2.21>",
            record_route=("<sip:p1.example.com;lr>",),
        )
    )
    assert dialog.state is DialogState.CONFIRMED
    assert dialog.remote_target == parse_uri("sip:bob@192.0.2.21")
    assert [str(route) for route in dialog.route_set] == ["<sip:p1.example.com;lr>"]


def test_uac_dialog_needs_a_to_tag_and_a_contact() -> None:
    request = invite()
    with pytest.raises(RemoteProtocolError):
        Dialog.from_uac_response(request, response(request, 200, to_tag=None))
    with pytest.raises(RemoteProtocolError):
        Dialog.from_uac_response(request, response(request, 200, contact=None))
    with pytest.raises(LocalProtocolError):
        Dialog.from_uac_response(request, response(request, 100))
    with pytest.raises(LocalProtocolError):
        Dialog.from_uac_response(request, response(request, 486))


def test_confirm_without_contact_leaves_the_early_dialog_as_it_was() -> None:
    request = invite()
    dialog = Dialog.from_uac_response(request, response(request, 183))
    with pytest.raises(RemoteProtocolError):
        dialog.confirm(response(request, 200, contact=None))
    assert dialog.state is DialogState.EARLY


def test_secure_flag_needs_a_sips_request_uri_over_tls() -> None:
    request = invite(uri="sips:bob@biloxi.example.com", transport="TLS")
    assert Dialog.from_uac_response(request, response(request, 200)).secure
    request = invite(uri="sips:bob@biloxi.example.com", transport="TCP")
    assert not Dialog.from_uac_response(request, response(request, 200)).secure
    request = invite(transport="TLS")
    assert not Dialog.from_uas_request(request, "t", ALICE_CONTACT).secure


# -- UAS (§12.1.1) ---------------------------------------------------------------------------


def test_uas_dialog_from_a_request() -> None:
    request = invite(record_route=RECORD_ROUTE)
    dialog = Dialog.from_uas_request(request, "bobtag", NameAddress.parse(BOB_CONTACT))
    assert dialog.state is DialogState.EARLY
    assert not dialog.is_uac
    assert dialog.id == DialogId("a84b4c76e66710@pc33.atlanta.example.com", "bobtag", "1928301774")
    assert str(dialog.local_address) == "Bob <sip:bob@biloxi.example.com>;tag=bobtag"
    assert str(dialog.remote_address) == "Alice <sip:alice@atlanta.example.com>;tag=1928301774"
    assert dialog.remote_seq == 314159
    assert dialog.local_seq is None
    assert dialog.remote_target == parse_uri("sip:alice@192.0.2.10:5060")
    # §12.1.1: the Record-Route of the request, as is.
    assert [str(route) for route in dialog.route_set] == list(RECORD_ROUTE)
    dialog.confirm()
    assert dialog.state is DialogState.CONFIRMED


def test_uas_dialog_refuses_what_cannot_make_a_dialog() -> None:
    with pytest.raises(RemoteProtocolError):
        Dialog.from_uas_request(invite(contact=None), "t", ALICE_CONTACT)
    with pytest.raises(RemoteProtocolError):
        Dialog.from_uas_request(invite(contact="*"), "t", ALICE_CONTACT)
    with pytest.raises(LocalProtocolError):
        Dialog.from_uas_request(invite(to_tag="x"), "t", ALICE_CONTACT)


def test_confirm_is_checked_against_the_role() -> None:
    uas = Dialog.from_uas_request(invite(), "t", ALICE_CONTACT)
    request = invite()
    with pytest.raises(LocalProtocolError):
        uas.confirm(response(request, 200))
    uac = Dialog.from_uac_response(request, response(request, 180))
    with pytest.raises(LocalProtocolError):
        uac.confirm()
    uac.confirm(response(request, 200))
    with pytest.raises(LocalProtocolError):  # twice
        uac.confirm(response(request, 200))


def test_state_changes_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="phoneagent.sip.dialog")
    dialog = Dialog.from_uas_request(invite(), "t", ALICE_CONTACT)
    dialog.confirm()
    dialog.terminate()
    dialog.terminate()  # already terminated: nothing more
    messages = [record.getMessage() for record in caplog.records]
    assert messages[-2:] == [
        "dialog a84b4c76e66710@pc33.atlanta.example.com t/1928301774: early -> confirmed",
        "dialog a84b4c76e66710@pc33.atlanta.example.com t/1928301774: confirmed -> terminated",
    ]


# -- requests within the dialog (§12.2.1.1) ----------------------------------------------------


def wire(request: Request) -> list[tuple[str, str]]:
    """The header lines of the request as serialised, in order."""
    head = bytes(request).decode().split("\r\n\r\n")[0]
    return [tuple(line.split(": ", 1)) for line in head.split("\r\n")[1:]]  # type: ignore[misc]


def test_bye_with_loose_routing() -> None:
    dialog = uac_dialog()
    bye = dialog.build_request("BYE")
    assert str(bye.uri) == "sip:bob@192.0.2.20:5062;transport=udp"
    assert wire(bye) == [
        ("Route", "<sip:p1.example.com;lr>"),
        ("Route", "<sip:p2.example.com;lr>"),
        ("Max-Forwards", "70"),
        ("From", "Alice <sip:alice@atlanta.example.com>;tag=1928301774"),
        ("To", "Bob <sip:bob@biloxi.example.com>;tag=a6c85cf"),
        ("Call-ID", "a84b4c76e66710@pc33.atlanta.example.com"),
        ("CSeq", "314160 BYE"),
        ("Content-Length", "0"),
    ]
    assert "via" not in bye.headers  # the caller adds it
    assert dialog.local_seq == 314160


def test_cseq_rises_except_for_ack_and_cancel() -> None:
    dialog = uac_dialog()
    reinvite = dialog.build_request(
        "INVITE", b"v=0\r\n", "application/sdp", [("User-Agent", "phoneagent")]
    )
    assert str(reinvite.cseq) == "314160 INVITE"
    assert reinvite.contact == (ALICE_CONTACT,)  # a target refresh request carries Contact
    assert reinvite.headers.get("content-type") == "application/sdp"
    assert reinvite.headers.get("user-agent") == "phoneagent"
    assert reinvite.body == b"v=0\r\n"
    info = dialog.build_request("INFO", b"Signal=5\r\n", "application/dtmf-relay")
    assert str(info.cseq) == "314161 INFO"
    assert info.contact == ()
    assert str(dialog.build_request("ACK").cseq) == "314161 ACK"
    assert str(dialog.build_request("ACK", cseq=314160).cseq) == "314160 ACK"
    assert str(dialog.build_request("CANCEL").cseq) == "314161 CANCEL"
    assert dialog.local_seq == 314161


def test_uas_local_sequence_starts_when_it_first_sends() -> None:
    dialog = Dialog.from_uas_request(
        invite(record_route=RECORD_ROUTE), "bobtag", NameAddress.parse(BOB_CONTACT)
    )
    dialog.confirm()
    with pytest.raises(LocalProtocolError):
        dialog.build_request("ACK")  # nothing sent yet: no number to reuse
    bye = dialog.build_request("BYE")
    assert str(bye.uri) == "sip:alice@192.0.2.10:5060"
    assert wire(bye)[:6] == [
        ("Route", "<sip:p2.example.com;lr>"),
        ("Route", "<sip:p1.example.com;lr>"),
        ("Max-Forwards", "70"),
        ("From", "Bob <sip:bob@biloxi.example.com>;tag=bobtag"),
        ("To", "Alice <sip:alice@atlanta.example.com>;tag=1928301774"),
        ("Call-ID", "a84b4c76e66710@pc33.atlanta.example.com"),
    ]
    assert str(bye.cseq) == "1 BYE"


def test_strict_router_goes_in_the_request_uri() -> None:
    # §12.2.1.1: no lr: the first route is the Request-URI (without the parameters a
    # Request-URI may not carry) and the remote target becomes the last Route.
    dialog = uac_dialog(
        record_route=("<sip:p2.example.com;lr>", "<sip:p1.example.com;method=INVITE>")
    )
    bye = dialog.build_request("BYE")
    assert str(bye.uri) == "sip:p1.example.com"
    assert [str(route) for route in bye.route] == [
        "<sip:p2.example.com;lr>",
        "<sip:bob@192.0.2.20:5062;transport=udp>",
    ]


def test_without_a_route_set_the_request_goes_to_the_remote_target() -> None:
    dialog = uac_dialog(record_route=())
    bye = dialog.build_request("BYE")
    assert str(bye.uri) == "sip:bob@192.0.2.20:5062;transport=udp"
    assert "route" not in bye.headers
    assert next_hop_uri(bye) == bye.uri


def test_next_hop_is_the_first_route() -> None:
    bye = uac_dialog().build_request("BYE")
    assert next_hop_uri(bye) == SipUri.parse("sip:p1.example.com;lr")


def test_build_request_misuse() -> None:
    dialog = uac_dialog()
    with pytest.raises(LocalProtocolError):
        dialog.build_request("INFO", b"x")  # a body needs a type
    with pytest.raises(LocalProtocolError):
        dialog.build_request("BYE", cseq=3)
    dialog.local_seq = 2**32 - 1
    with pytest.raises(LocalProtocolError):
        dialog.build_request("BYE")
    dialog.terminate()
    with pytest.raises(LocalProtocolError):
        dialog.build_request("ACK")


# -- requests received (§12.2.2) ---------------------------------------------------------------


def test_remote_sequence_numbers() -> None:
    dialog = uac_dialog()
    assert dialog.remote_seq is None
    assert dialog.receive_request(invite(to_tag="x", method="BYE", cseq=5)) is None
    assert dialog.remote_seq == 5
    assert dialog.receive_request(invite(to_tag="x", method="INFO", cseq=5)) is None
    assert dialog.receive_request(invite(to_tag="x", method="INFO", cseq=4)) == 500
    assert dialog.remote_seq == 5
    assert dialog.receive_request(invite(to_tag="x", method="ACK", cseq=1)) is None
    assert dialog.receive_request(invite(to_tag="x", method="INFO", cseq=9)) is None
    assert dialog.remote_seq == 9
    dialog.terminate()
    assert dialog.receive_request(invite(to_tag="x", method="BYE", cseq=10)) == 481


def test_refresh_target_takes_the_contact() -> None:
    dialog = uac_dialog()
    dialog.refresh_target(invite(to_tag="x", contact="<sip:bob@198.51.100.7>"))
    assert dialog.remote_target == parse_uri("sip:bob@198.51.100.7")
    dialog.refresh_target(invite(to_tag="x", contact=None))
    assert dialog.remote_target == parse_uri("sip:bob@198.51.100.7")


# -- the registry ----------------------------------------------------------------------------


def test_registry_finds_the_owner_of_a_request_or_response() -> None:
    request = invite()
    dialog = Dialog.from_uac_response(request, response(request, 200))
    registry: DialogRegistry[str] = DialogRegistry()
    registry.add(dialog.id, "call 1")
    with pytest.raises(LocalProtocolError):
        registry.add(dialog.id, "call 2")
    assert dialog.id in registry
    assert len(registry) == 1
    assert list(registry) == [dialog.id]
    assert registry.for_response(response(request, 200)) == "call 1"
    assert registry.for_response(response(request, 200, to_tag="other")) is None
    # Bob's BYE: his tag in From, ours in To.
    bye = parse_message(
        b"BYE sip:alice@192.0.2.10:5060 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.20:5062;branch=z9hG4bKbye1\r\n"
        b"From: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
        b"To: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
        b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
        b"CSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
    )
    assert isinstance(bye, Request)
    assert registry.for_request(bye) == "call 1"
    assert registry.for_request(invite()) is None  # no To tag
    assert registry.remove(dialog.id) == "call 1"
    assert registry.remove(dialog.id) is None
    assert registry.for_request(bye) is None
