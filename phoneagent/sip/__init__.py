"""phoneagent's SIP stack (RFC 3261 and friends), sans-IO.

The message layer: ``parse_message`` / ``parse_datagram`` turn bytes into
``Request`` / ``Response`` objects, ``bytes(message)`` turns them back, and
``RemoteProtocolError`` (with a ``status_hint``) is the only exception bad
input can raise.
"""

from phoneagent.sip.address import NameAddress, make_address
from phoneagent.sip.errors import (
    LocalProtocolError,
    RemoteProtocolError,
    SalvagedHeaders,
    SipError,
)
from phoneagent.sip.fields import (
    AuthParameters,
    CSeq,
    EventHeader,
    MediaType,
    ReasonHeader,
    RetryAfter,
)
from phoneagent.sip.framing import (
    KEEPALIVE_PING,
    KEEPALIVE_PONG,
    KeepAlivePing,
    KeepAlivePong,
    MessageFramed,
    StreamDecoder,
)
from phoneagent.sip.headers import COMPACT_FORMS, Headers, header_key
from phoneagent.sip.message import KeepAlive, Message, Request, Response, TypedHeader
from phoneagent.sip.parser import parse_datagram, parse_message
from phoneagent.sip.responses import make_error_response, make_response
from phoneagent.sip.status import REASON_PHRASES, StatusClass, reason_phrase
from phoneagent.sip.uri import AbsoluteUri, SipUri, TelUri, Uri, parse_uri
from phoneagent.sip.via import BRANCH_MAGIC_COOKIE, Via

__all__ = [
    "BRANCH_MAGIC_COOKIE",
    "COMPACT_FORMS",
    "KEEPALIVE_PING",
    "KEEPALIVE_PONG",
    "REASON_PHRASES",
    "AbsoluteUri",
    "AuthParameters",
    "CSeq",
    "EventHeader",
    "Headers",
    "KeepAlive",
    "KeepAlivePing",
    "KeepAlivePong",
    "LocalProtocolError",
    "MediaType",
    "Message",
    "MessageFramed",
    "NameAddress",
    "ReasonHeader",
    "RemoteProtocolError",
    "Request",
    "Response",
    "RetryAfter",
    "SalvagedHeaders",
    "SipError",
    "SipUri",
    "StatusClass",
    "StreamDecoder",
    "TelUri",
    "TypedHeader",
    "Uri",
    "Via",
    "header_key",
    "make_address",
    "make_error_response",
    "make_response",
    "parse_datagram",
    "parse_message",
    "parse_uri",
    "reason_phrase",
]
