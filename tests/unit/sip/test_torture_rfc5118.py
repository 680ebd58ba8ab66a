"""Every RFC 5118 IPv6 torture message, handled as the RFC says (corpus/rfc5118/INDEX.md).

The archive uses bare LF; the wire form is CRLF (``lf_to_crlf``).  Three messages
declare a Content-Length that does not match their body (INDEX.md: errors in the
RFC, not tests).  Their raw form is judged by our datagram framing rule — a body
shorter than declared is a 400, a longer one is cut — and the message itself is
then checked with the Content-Length corrected, as the RFC intends it valid.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable

import pytest

from phoneagent.sip import RemoteProtocolError, Request, SipUri, parse_message
from tests.helpers import corpus_file, lf_to_crlf


def wire(tag: str, fix_length: bool = False) -> bytes:
    data = lf_to_crlf(corpus_file("rfc5118", tag).read_bytes())
    if fix_length:
        head, _, body = data.partition(b"\r\n\r\n")
        head = re.sub(rb"Content-Length: *[0-9]+", b"Content-Length: %d" % len(body), head)
        data = head + b"\r\n\r\n" + body
    return data


def sip_uri(message: Request) -> SipUri:
    assert isinstance(message.uri, SipUri)
    return message.uri


def check_ipv6_good(message: Request) -> None:
    assert sip_uri(message).host == "2001:db8::10"
    assert message.top_via.host == "2001:db8::9:1"
    contact_uri = message.contact[0].uri
    assert isinstance(contact_uri, SipUri) and contact_uri.is_ipv6


def check_port_ambiguous(message: Request) -> None:
    # RFC 5118 §4.3: "5070" is the last group of the address, not a port.
    uri = sip_uri(message)
    assert uri.host == "2001:db8::10:5070" and uri.port is None


def check_port_unambiguous(message: Request) -> None:
    uri = sip_uri(message)
    assert uri.host == "2001:db8::10" and uri.port == 5070


def check_received_with_delim(message: Request) -> None:
    assert message.top_via.received == "2001:db8::9:255"  # stored without brackets


def check_received_no_delim(message: Request) -> None:
    assert message.top_via.received == "2001:db8::9:255"


def check_mult_ip_in_header(message: Request) -> None:
    hosts = [(via.host, via.port) for via in message.via]
    assert hosts == [("2001:db8::9:1", 6050), ("192.0.2.1", None), ("2001:db8::9:255", None)]
    assert message.via[2].received == "192.0.2.200"


def check_sdp_body(message: Request) -> None:
    assert message.content_type is not None and message.content_type.mime_type == "application/sdp"
    assert b"IP6" in message.body


def check_ipv4_mapped(message: Request) -> None:
    assert b"::ffff:192.0.2.2" in message.body or b"IP6" in message.body


def check_three_colons(message: Request) -> None:
    # §4.10: tolerate the extra colon of the RFC 3261 ABNF bug.
    uri = sip_uri(message)
    assert ipaddress.IPv6Address(uri.host) == ipaddress.IPv6Address("2001:db8::192.0.2.1")


def check_two_colons(message: Request) -> None:
    assert ipaddress.IPv6Address(sip_uri(message).host) == ipaddress.IPv6Address(
        "2001:db8::c000:201"
    )


#: tag → (status hint raised for the raw wire form, or "parses"; check of the valid form)
EXPECTED: dict[str, tuple[int | str, Callable[[Request], None] | None]] = {
    "ipv6-good": ("parses", check_ipv6_good),
    "ipv6-bad": (400, None),  # IPv6 without [ ] in the Request-URI
    "port-ambiguous": ("parses", check_port_ambiguous),
    "port-unambiguous": ("parses", check_port_unambiguous),
    "via-received-param-with-delim": ("parses", check_received_with_delim),
    "via-received-param-no-delim": ("parses", check_received_no_delim),
    "ipv6-in-sdp": (400, check_sdp_body),  # declares 268 octets, carries 251
    "mult-ip-in-header": ("parses", check_mult_ip_in_header),
    "mult-ip-in-sdp": ("parses", check_sdp_body),  # declares 181 octets, carries 189: cut
    "ipv4-mapped-ipv6": ("parses", check_ipv4_mapped),  # declares 236, carries 245: cut
    "ipv6-bug-abnf-3-colons": ("parses", check_three_colons),
    "ipv6-correct-abnf-2-colons": ("parses", check_two_colons),
}


def test_the_table_names_every_corpus_file() -> None:
    index = json.loads(corpus_file("rfc5118", "index.json").read_text())
    assert sorted(entry["tag"] for entry in index) == sorted(EXPECTED)


@pytest.mark.parametrize("tag", sorted(EXPECTED))
def test_ipv6_torture_message(tag: str) -> None:
    raw_outcome, check = EXPECTED[tag]
    data = wire(tag)
    if raw_outcome == "parses":
        message = parse_message(data)
    else:
        with pytest.raises(RemoteProtocolError) as caught:
            parse_message(data)
        assert caught.value.status_hint == raw_outcome, caught.value.reason
        if check is None:
            return
        message = parse_message(wire(tag, fix_length=True))
    assert isinstance(message, Request)
    if check is not None:
        check(message)
    again = parse_message(bytes(message))
    assert again.body == message.body
