"""Cheap eager checks of the headers every message must carry well formed.

``parse_message`` must reject a message whose Via, From, To, CSeq, Call-ID or
Request-URI is malformed (RFC 4475 §3.1.2), but building the typed objects for
all of them costs more than the rest of parsing together, and many messages
(retransmissions, responses to other transactions) are dropped before anyone
looks at them.  So each value is first matched against one compiled regular
expression that accepts only the *common, plainly valid* shape of that header
(no escapes, no IPv6, no comma lists, no quoted-pairs).  A value that matches is
certain to parse, so its object is built lazily on first access.  A value that
does not match is handed at once to the full parser, which either accepts it
(an unusual but valid form) or raises the precise ``RemoteProtocolError``.

The one property that matters — every value these patterns accept is accepted
by the full parsers — is checked by property tests in
``tests/unit/sip/test_roundtrip.py``.
"""

from __future__ import annotations

import re

# Character sets, deliberately narrower than the grammar (RFC 3261 §25.1).
_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_UNRESERVED = r"A-Za-z0-9\-_.!~*'()"
_USER = rf"[{_UNRESERVED}&=+$,;?/]+"
_USER_IN_ADDR_SPEC = rf"[{_UNRESERVED}&=+$/]+"  # no ";" "," "?" outside <>
_PASSWORD = rf"[{_UNRESERVED}&=+$,]*"
_PASSWORD_IN_ADDR_SPEC = rf"[{_UNRESERVED}&=+$]*"
_PARAM_CHARS = rf"[{_UNRESERVED}\[\]/:&+$]+"
_DEC_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_DEC_OCTET}(?:\.{_DEC_OCTET}){{3}}"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_TOP_LABEL = r"[A-Za-z](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_HOST = rf"(?:{_IPV4}|(?:{_LABEL}\.)*{_TOP_LABEL})"
_PORT = r"(?::[0-9]{1,4})?"  # five-digit ports go the full parser's way (range check)
_URI_PARAMS = rf"(?:;{_PARAM_CHARS}(?:={_PARAM_CHARS})?)*"

# SIP-URI without escapes, IPv6 or headers.
_SIP_URI = rf"sips?:(?:{_USER}(?::{_PASSWORD})?@)?{_HOST}{_PORT}{_URI_PARAMS}"
_SIP_ADDR_SPEC = rf"sips?:(?:{_USER_IN_ADDR_SPEC}(?::{_PASSWORD_IN_ADDR_SPEC})?@)?{_HOST}{_PORT}"

# Header parameters: SEMI token [ EQUAL ( token / quoted-string without quoted-pairs ) ]
_HEADER_PARAMS = rf'(?:[ \t]*;[ \t]*{_TOKEN}(?:[ \t]*=[ \t]*(?:{_TOKEN}|"[^"\\\r\n]*"))?)*[ \t]*'
_DISPLAY_NAME = rf'(?:"[^"\\\r\n]*"[ \t]*|(?:{_TOKEN}[ \t]+)*{_TOKEN}[ \t]*)?'

REQUEST_URI_RE = re.compile(_SIP_URI)
ADDRESS_RE = re.compile(rf"(?:{_DISPLAY_NAME}<{_SIP_URI}>|{_SIP_ADDR_SPEC}){_HEADER_PARAMS}")

# Via: the sent-by and parameters of a single via-parm.  The parameters whose values
# the full parser checks (received, rport, ttl, maddr, branch) only pass here in a
# shape that check accepts; others are plain tokens.
_VIA_PARAM = (
    rf"(?:branch={_TOKEN}|received={_IPV4}|rport(?:=[0-9]{{1,4}})?"
    rf"|(?!(?i:branch|received|rport|ttl|maddr)(?:[=;]|$)){_TOKEN}(?:={_TOKEN})?)"
)
VIA_RE = re.compile(rf"SIP/2\.0/(?:UDP|TCP|TLS|SCTP|WS|WSS) {_HOST}{_PORT}(?:;{_VIA_PARAM})*")

# CSeq: up to nine digits always fits in 32 bits.
CSEQ_RE = re.compile(rf"([0-9]{{1,9}}) ({_TOKEN})")
