"""Parsing one SIP message from bytes (RFC 3261 §7, §18.3; RFC 4475; RFC 5118).

Theory of operation
-------------------
``parse_message(data)`` takes the bytes of one message — a whole UDP datagram,
or one message that ``framing.StreamDecoder`` cut out of a TCP/TLS stream — and
returns a ``Request`` or a ``Response``.  It decides at once whether the message
is acceptable at all:

* the start line (§7.1, §7.2), with exactly one SP between the elements (RFC 4475
  §3.1.2.9/10 allow rejecting more), the Request-URI (§19.1.1: no headers in it)
  and the version (a well-formed version other than SIP/2.0 is answered 505);
* the header section: folding undone (§7.3.1), names checked as tokens, no bare
  CR or LF;
* framing (§18.3): on a datagram a body shorter than its Content-Length is an
  error, extra octets are discarded (RFC 4475 dblreq), a missing Content-Length
  means "the rest of the datagram"; several or non-numeric values are errors;
* the headers that identify a transaction and dialog (§8.1.1): Via, From, To,
  Call-ID, CSeq — present once (Via at least once), well formed, and the CSeq
  method equal to the request method (RFC 4475 §3.1.2.17).

The checks of the last point run first through ``validation``'s patterns for
the common shape and fall back to the full parsers only when those say no, so
the typed objects of a plain message are built lazily, on first access.

Failures raise ``RemoteProtocolError`` carrying the raw Via/From/To/Call-ID/CSeq
found, so that ``responses.make_error_response`` can still answer; for a
response the status hint is always ``None`` (responses are dropped, never
answered).  Nothing else is ever raised, whatever the input.
"""

from __future__ import annotations

import re

from phoneagent.sip.address import NameAddress
from phoneagent.sip.errors import RemoteProtocolError, SalvagedHeaders
from phoneagent.sip.fields import CSeq
from phoneagent.sip.grammar import CALL_ID_RE, TOKEN_CHARS, TOKEN_RE, split_list
from phoneagent.sip.headers import Headers, header_key
from phoneagent.sip.message import (
    ENCODING,
    ENCODING_ERRORS,
    SIP_VERSION,
    KeepAlive,
    Request,
    Response,
)
from phoneagent.sip.uri import SipUri, parse_uri
from phoneagent.sip.validation import ADDRESS_RE, CSEQ_RE, REQUEST_URI_RE, VIA_RE
from phoneagent.sip.via import Via

_VERSION_RE = re.compile(r"SIP/[0-9]+\.[0-9]+", re.IGNORECASE)
_STATUS_CODE_RE = re.compile(r"[0-9]{3}")
# LWS = [*WSP CRLF] 1*WSP: a line break followed by whitespace is one SP (§7.3.1).
_FOLD_RE = re.compile(r"[ \t]*\r\n[ \t]+")
# message-header = field-name HCOLON field-value CRLF;  HCOLON = *( SP / HTAB ) ":" SWS
_HEADER_NAMES_RE = re.compile(rf"[{TOKEN_CHARS}]+(?:\n[{TOKEN_CHARS}]+)*")
_SINGLE_VALUED = ("call-id", "cseq", "from", "to", "max-forwards", "content-length")
_REQUIRED = (
    ("via", "Via"),
    ("from", "From"),
    ("to", "To"),
    ("call-id", "Call-ID"),
    ("cseq", "CSeq"),
)
_MAX_CONTENT_LENGTH_DIGITS = 9


def parse_datagram(data: bytes) -> Request | Response | KeepAlive:
    """Classify and parse one UDP datagram: a message, or a CRLF keep-alive."""
    if data and not data.strip(b"\r\n"):
        return KeepAlive(data)
    return parse_message(data)


def parse_message(data: bytes) -> Request | Response:
    """Parse one SIP message.  Raises ``RemoteProtocolError`` and nothing else."""
    if not data.strip(b"\r\n"):
        raise RemoteProtocolError("keep-alive or empty data, not a SIP message", None)
    start = 0
    while data.startswith(b"\r\n", start):  # §7.5: ignore CRLFs before the start line
        start += 2
    end_of_headers = data.find(b"\r\n\r\n", start)
    if end_of_headers >= 0:
        head, body = data[start:end_of_headers], data[end_of_headers + 4 :]
    elif data.endswith(b"\r\n"):
        # RFC 5118 §4.10's messages end after the last header with no blank line; on a
        # datagram that is unambiguous, so tolerate it (the message has no body).
        head, body = data[start:-2], b""
    else:
        raise _salvage(RemoteProtocolError("no end of headers (CRLF CRLF)"), data[start:])
    text = head.decode(ENCODING, ENCODING_ERRORS)
    start_line, _, header_text = text.partition("\r\n")
    is_request = not _is_status_line(start_line)
    entries: list[tuple[str, str, str]] = []
    try:
        message = _parse_start_line(start_line)
        index = _split_headers(header_text, entries)
        headers = Headers._from_parsed(entries, index)
        message.headers = headers
        message.body = _frame_body(index, body)
        _check_core_headers(message, index)
    except RemoteProtocolError as error:
        if not is_request:
            error = RemoteProtocolError(error.reason, None)
        raise _salvage(error, head, entries, is_request, start_line) from None
    return message


def _is_status_line(line: str) -> bool:
    """§7.1: "SIP" in the version is case-insensitive, so is this test."""
    return line[:4].upper() == "SIP/"


def _parse_start_line(line: str) -> Request | Response:
    if _is_status_line(line):
        # Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF
        parts = line.split(" ", 2)
        if len(parts) < 2 or _STATUS_CODE_RE.fullmatch(parts[1]) is None:
            raise RemoteProtocolError(f"malformed status line: {line[:80]!r}", None)
        if parts[0].upper() != SIP_VERSION:
            raise RemoteProtocolError(f"unsupported version in response: {parts[0]!r}", None)
        code = int(parts[1])
        if not 100 <= code <= 699:
            raise RemoteProtocolError(f"status code out of range: {code}", None)
        # RFC 4475 noreason: the phrase may be empty; a missing SP before it is tolerated.
        return Response._from_parsed(code, parts[2] if len(parts) == 3 else "")
    # Request-Line = Method SP Request-URI SP SIP-Version CRLF
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise RemoteProtocolError(f"malformed request line: {line[:80]!r}")
    method, uri_text, version = parts
    if TOKEN_RE.fullmatch(method) is None:
        raise RemoteProtocolError(f"method is not a token: {method[:40]!r}")
    if version.upper() != SIP_VERSION:
        if _VERSION_RE.fullmatch(version):
            raise RemoteProtocolError(f"unsupported SIP version {version!r}", 505)
        raise RemoteProtocolError(f"malformed SIP version {version[:20]!r}")
    if REQUEST_URI_RE.fullmatch(uri_text):
        return Request._from_parsed(method, uri_text, None)  # certain to parse: build it lazily
    uri = parse_uri(uri_text)
    if isinstance(uri, SipUri) and uri.headers:
        # §19.1.1, table 1: headers are not allowed in a Request-URI (RFC 4475 escruri).
        raise RemoteProtocolError("header components are not allowed in a Request-URI")
    return Request._from_parsed(method, uri_text, uri)


def _split_headers(text: str, entries: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    """Fill ``entries`` with (name, key, value) and return the values by key."""
    if "\r\n " in text or "\r\n\t" in text:
        text = _FOLD_RE.sub(" ", text)
    if not text:
        return {}
    lines = text.split("\r\n")
    if text.count("\r") != len(lines) - 1 or text.count("\n") != len(lines) - 1:
        raise RemoteProtocolError("bare CR or LF in the header section")
    index: dict[str, list[str]] = {}
    names: list[str] = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise RemoteProtocolError(f"header line without a colon: {line[:60]!r}")
        name = name.rstrip(" \t")
        value = value.strip(" \t")
        key = header_key(name)
        entries.append((name, key, value))
        values = index.get(key)
        if values is None:
            index[key] = [value]
        else:
            values.append(value)
        names.append(name)
    # All names checked by one match: a line starting with whitespace (folding before
    # the first header) or an empty or non-token name fails it.
    if _HEADER_NAMES_RE.fullmatch("\n".join(names)) is None:
        _explain_bad_names(names)
    return index


def _explain_bad_names(names: list[str]) -> None:
    """Raise the error that names the first bad header name."""
    for name in names:
        if TOKEN_RE.fullmatch(name) is None:
            raise RemoteProtocolError(f"header name is not a token: {name[:60]!r}")
    raise RemoteProtocolError("malformed header section")


def _frame_body(index: dict[str, list[str]], body: bytes) -> bytes:
    values = index.get("content-length")
    if values is None:
        return body  # §18.3: on a datagram the body runs to the end of the packet
    if len(values) > 1:
        raise RemoteProtocolError("several Content-Length headers")
    value = values[0]
    if not value.isascii() or not value.isdigit():
        raise RemoteProtocolError(f"Content-Length is not a non-negative number: {value[:20]!r}")
    if len(value) > _MAX_CONTENT_LENGTH_DIGITS:
        raise RemoteProtocolError(f"Content-Length too large: {value[:20]!r}", 513)
    declared = int(value)
    if declared > len(body):
        raise RemoteProtocolError(
            f"Content-Length {declared} is larger than the {len(body)} octets received"
        )
    return body[:declared] if declared < len(body) else body


def _check_core_headers(message: Request | Response, index: dict[str, list[str]]) -> None:
    for key in _SINGLE_VALUED:
        values = index.get(key)
        if values is not None and len(values) > 1:
            raise RemoteProtocolError(f"several {key} headers")
    for key, name in _REQUIRED:
        if key not in index:
            raise RemoteProtocolError(f"missing {name} header")
    for value in index["via"]:
        if VIA_RE.fullmatch(value) is None:
            for element in split_list(value, "Via"):
                Via.parse(element)
    for key, name in (("from", "From"), ("to", "To")):
        value = index[key][0]
        if ADDRESS_RE.fullmatch(value) is None:
            NameAddress.parse(value, name)
    call_id = index["call-id"][0]
    if CALL_ID_RE.fullmatch(call_id) is None:
        raise RemoteProtocolError(f"malformed Call-ID: {call_id[:60]!r}")
    cseq_text = index["cseq"][0]
    match = CSEQ_RE.fullmatch(cseq_text)
    cseq_method = match.group(2) if match is not None else CSeq.parse(cseq_text).method
    if isinstance(message, Request) and cseq_method != message.method:
        raise RemoteProtocolError(
            f"CSeq method {cseq_method[:40]!r} does not match the request method"
        )


def _salvage(
    error: RemoteProtocolError,
    head: bytes,
    entries: list[tuple[str, str, str]] | None = None,
    is_request: bool | None = None,
    start_line: str | None = None,
) -> RemoteProtocolError:
    """Attach the raw Via/From/To/Call-ID/CSeq values that could be found to ``error``."""
    if not entries:
        text = head.decode(ENCODING, ENCODING_ERRORS)
        lines = _FOLD_RE.sub(" ", text).split("\r\n")
        start_line = lines[0]
        entries = []
        for line in lines[1:]:
            colon = line.find(":")
            if colon > 0 and line[:1] not in (" ", "\t"):
                name = line[:colon].rstrip(" \t")
                entries.append((name, header_key(name), line[colon + 1 :].strip(" \t")))
    if is_request is None:
        is_request = not _is_status_line(start_line or "")
    if not is_request and error.status_hint is not None:
        error = RemoteProtocolError(error.reason, None)

    def values(key: str) -> tuple[str, ...]:
        return tuple(value for _, entry_key, value in entries if entry_key == key)

    method = (start_line or "").split(" ", 1)[0] if is_request else None
    return error.with_salvage(
        SalvagedHeaders(
            method=method or None,
            via=values("via"),
            from_=values("from"),
            to=values("to"),
            call_id=values("call-id"),
            cseq=values("cseq"),
            is_request=is_request,
        )
    )
