"""SIP requests and responses (RFC 3261 §7) and typed views of their headers.

A ``Message`` holds its ``Headers`` (text, in order, as received or added) and
its body.  Typed properties (``via``, ``from_``, ``to``, ``cseq``, ``contact``,
``www_authenticate`` …) parse a header on first access and cache the result in
the ``Headers`` object until it changes; they raise ``RemoteProtocolError`` and
nothing else, so a malformed optional header fails only the code that looks at
it.  ``bytes(message)`` serialises, always with a Content-Length that matches the
body.  Parsing bytes into these objects is ``parser.parse_message``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar, overload

from phoneagent.sip.address import NameAddress, parse_address_list
from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from phoneagent.sip.fields import (
    AuthParameters,
    CSeq,
    EventHeader,
    MediaType,
    ReasonHeader,
    RetryAfter,
    parse_sip_date,
    parse_token_list,
)
from phoneagent.sip.grammar import CALL_ID_RE, TOKEN_RE, parse_delta_seconds, split_list
from phoneagent.sip.headers import Headers, header_key
from phoneagent.sip.uri import Uri, parse_uri
from phoneagent.sip.via import Via

T = TypeVar("T")

SIP_VERSION = "SIP/2.0"
_VERSION_RE = re.compile(r"SIP/[0-9]+\.[0-9]+", re.IGNORECASE)
_STATUS_CODE_RE = re.compile(r"[0-9]{3}")
_SINGLE_VALUED = ("call-id", "cseq", "from", "to", "max-forwards", "content-length")
ENCODING = "utf-8"
ENCODING_ERRORS = "surrogateescape"  # arbitrary octets in headers survive a round trip


# -- builders for the typed views ------------------------------------------------------------


def _single(parse: Callable[[str], T], name: str) -> Callable[[Headers], T]:
    key = header_key(name)

    def build(headers: Headers) -> T:
        values = headers.get_all(key)
        if not values:
            raise RemoteProtocolError(f"missing {name} header")
        if len(values) > 1:
            raise RemoteProtocolError(f"several {name} headers")
        return parse(values[0])

    return build


def _optional(parse: Callable[[str], T], key: str) -> Callable[[Headers], T | None]:
    def build(headers: Headers) -> T | None:
        value = headers.get(key)
        return None if value is None else parse(value)

    return build


def _list_of(parse: Callable[[str], T], key: str, name: str) -> Callable[[Headers], tuple[T, ...]]:
    def build(headers: Headers) -> tuple[T, ...]:
        return tuple(
            parse(element) for value in headers.get_all(key) for element in split_list(value, name)
        )

    return build


def _address_list(key: str, name: str) -> Callable[[Headers], tuple[NameAddress, ...]]:
    def build(headers: Headers) -> tuple[NameAddress, ...]:
        return tuple(
            address for value in headers.get_all(key) for address in parse_address_list(value, name)
        )

    return build


def _auth_list(key: str, name: str) -> Callable[[Headers], tuple[AuthParameters, ...]]:
    # Challenges and credentials are not comma lists: their parameters use commas.
    def build(headers: Headers) -> tuple[AuthParameters, ...]:
        return tuple(AuthParameters.parse(value, name) for value in headers.get_all(key))

    return build


def _token_list(key: str, name: str) -> Callable[[Headers], tuple[str, ...]]:
    def build(headers: Headers) -> tuple[str, ...]:
        return tuple(
            token for value in headers.get_all(key) for token in parse_token_list(value, name)
        )

    return build


def _build_via(headers: Headers) -> tuple[Via, ...]:
    return tuple(
        Via.parse(element)
        for value in headers.get_all("via")
        for element in split_list(value, "Via")
    )


def _build_contact(headers: Headers) -> tuple[bool, tuple[NameAddress, ...]]:
    values = headers.get_all("contact")
    if any(value.strip(" \t") == "*" for value in values):
        if len(values) != 1:
            raise RemoteProtocolError("Contact: * must be the only Contact value")
        return True, ()
    return False, tuple(
        address for value in values for address in parse_address_list(value, "Contact")
    )


def _check_call_id(value: str) -> str:
    if CALL_ID_RE.fullmatch(value) is None:
        raise RemoteProtocolError(f"malformed Call-ID: {value!r}")
    return value


def _parse_content_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    if not value.isascii() or not value.isdigit():
        raise RemoteProtocolError(f"Content-Length is not a non-negative number: {value!r}")
    if len(value) > 9:
        raise RemoteProtocolError(f"Content-Length too large: {value!r}", 513)
    return int(value)


def _parse_max_forwards(headers: Headers) -> int | None:
    value = headers.get("max-forwards")
    if value is None:
        return None
    digits = value.lstrip("0") or "0"  # RFC 4475 wsinv writes 0068
    if not value.isascii() or not value.isdigit() or len(digits) > 3 or int(digits) > 255:
        raise RemoteProtocolError(f"Max-Forwards must be 0-255: {value!r}")
    return int(value)


class TypedHeader(Generic[T]):
    """A typed view of a header: parsed on first access, cached until the headers change."""

    def __init__(self, key: str, build: Callable[[Headers], T], doc: str) -> None:
        self.key = key
        self.build = build
        self.__doc__ = doc

    @overload
    def __get__(self, message: None, owner: type[Message]) -> TypedHeader[T]: ...
    @overload
    def __get__(self, message: Message, owner: type[Message]) -> T: ...
    def __get__(self, message: Message | None, owner: type[Message]) -> T | TypedHeader[T]:
        if message is None:
            return self
        return message.headers.cached(self.key, self.build)


def _delta_seconds(name: str) -> Callable[[str], int]:
    return lambda value: parse_delta_seconds(value, name)


class Message:
    """Common part of requests and responses: headers, body and typed views."""

    __slots__ = ("body", "headers")

    def __init__(self, headers: Headers | Iterable[tuple[str, str]] | None, body: bytes) -> None:
        if headers is None:
            headers = Headers()
        elif not isinstance(headers, Headers):
            headers = Headers(headers)
        self.headers: Headers = headers
        self.body: bytes = body

    def start_line(self) -> str:
        raise NotImplementedError

    def __bytes__(self) -> bytes:
        """The message on the wire; Content-Length always matches the body."""
        lines = [self.start_line()]
        length = str(len(self.body))
        wrote_length = False
        for name, value in self.headers:
            if header_key(name) != "content-length":
                lines.append(f"{name}: {value}")
            elif not wrote_length:
                lines.append(f"{name}: {length}")
                wrote_length = True
        if not wrote_length:
            lines.append(f"Content-Length: {length}")
        lines.append("\r\n")
        return "\r\n".join(lines).encode(ENCODING, ENCODING_ERRORS) + self.body

    # The headers parser.parse_message checks before it accepts a message.
    via = TypedHeader("via", _build_via, "Every Via value, topmost first (RFC 3261 §20.42).")
    from_ = TypedHeader("from", _single(lambda v: NameAddress.parse(v, "From"), "From"), "From.")
    to = TypedHeader("to", _single(lambda v: NameAddress.parse(v, "To"), "To"), "To.")
    call_id = TypedHeader("call-id", _single(_check_call_id, "Call-ID"), "Call-ID.")
    cseq = TypedHeader("cseq", _single(CSeq.parse, "CSeq"), "CSeq (RFC 3261 §20.16).")
    content_length = TypedHeader(
        "content-length", _parse_content_length, "The declared Content-Length, None when absent."
    )

    @property
    def top_via(self) -> Via:
        """The topmost Via: where a response goes (RFC 3261 §18.2.2)."""
        vias = self.via
        if not vias:
            raise RemoteProtocolError("missing Via")
        return vias[0]

    # Headers parsed on first access.
    max_forwards = TypedHeader(
        "max-forwards", _parse_max_forwards, "Max-Forwards (0-255, RFC 3261 §20.22), or None."
    )
    route = TypedHeader("route", _address_list("route", "Route"), "Route addresses in order.")
    record_route = TypedHeader(
        "record-route", _address_list("record-route", "Record-Route"), "Record-Route addresses."
    )
    content_type = TypedHeader(
        "content-type", _optional(MediaType.parse, "content-type"), "Content-Type, or None."
    )
    expires = TypedHeader(
        "expires", _optional(_delta_seconds("Expires"), "expires"), "Expires seconds, or None."
    )
    min_expires = TypedHeader(
        "min-expires",
        _optional(_delta_seconds("Min-Expires"), "min-expires"),
        "Min-Expires seconds (RFC 3261 §20.23), or None.",
    )
    www_authenticate = TypedHeader(
        "www-authenticate",
        _auth_list("www-authenticate", "WWW-Authenticate"),
        "Challenges of a 401 (RFC 3261 §22.2).",
    )
    proxy_authenticate = TypedHeader(
        "proxy-authenticate",
        _auth_list("proxy-authenticate", "Proxy-Authenticate"),
        "Challenges of a 407 (RFC 3261 §22.3).",
    )
    authorization = TypedHeader(
        "authorization", _auth_list("authorization", "Authorization"), "Credentials."
    )
    proxy_authorization = TypedHeader(
        "proxy-authorization",
        _auth_list("proxy-authorization", "Proxy-Authorization"),
        "Credentials for a proxy.",
    )
    allow = TypedHeader("allow", _token_list("allow", "Allow"), "Allowed methods.")
    supported = TypedHeader("supported", _token_list("supported", "Supported"), "Option tags.")
    require = TypedHeader("require", _token_list("require", "Require"), "Required option tags.")
    proxy_require = TypedHeader(
        "proxy-require", _token_list("proxy-require", "Proxy-Require"), "Proxy-Require tags."
    )
    unsupported = TypedHeader(
        "unsupported", _token_list("unsupported", "Unsupported"), "Unsupported option tags."
    )
    event = TypedHeader("event", _optional(EventHeader.parse, "event"), "Event (RFC 6665).")
    reason_headers = TypedHeader(
        "reason",
        _list_of(ReasonHeader.parse, "reason", "Reason"),
        "Reason values (RFC 3326), e.g. why a call was cancelled.",
    )
    retry_after = TypedHeader(
        "retry-after", _optional(RetryAfter.parse, "retry-after"), "Retry-After, or None."
    )
    date = TypedHeader(
        "date", _optional(parse_sip_date, "date"), "Date (GMT only, RFC 3261 §20.17), or None."
    )

    @property
    def contact(self) -> tuple[NameAddress, ...]:
        """Contact addresses in order; empty for ``Contact: *`` (see contact_is_wildcard)."""
        return self.headers.cached("contact", _build_contact)[1]

    @property
    def contact_is_wildcard(self) -> bool:
        """True for ``Contact: *`` (RFC 3261 §10.2.2: remove every binding)."""
        return self.headers.cached("contact", _build_contact)[0]


class Request(Message):
    """A SIP request.  ``method`` is case-sensitive (RFC 3261 §7.1)."""

    __slots__ = ("_uri", "_uri_text", "method")

    def __init__(
        self,
        method: str,
        uri: Uri,
        headers: Headers | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        if TOKEN_RE.fullmatch(method) is None:
            raise LocalProtocolError(f"not a valid method: {method!r}")
        super().__init__(headers, body)
        self.method = method
        self._uri: Uri | None = uri
        self._uri_text: str | None = None  # the Request-URI as received, for a faithful copy

    @classmethod
    def _from_parsed(cls, method: str, uri_text: str, uri: Uri | None) -> Request:
        """A request whose start line the parser checked; ``uri`` None = parse on access."""
        request = cls.__new__(cls)
        request.method = method
        request._uri = uri
        request._uri_text = uri_text
        return request

    @property
    def uri(self) -> Uri:
        """The Request-URI (parsed on first access when the parser could defer it)."""
        uri = self._uri
        if uri is None:
            assert self._uri_text is not None  # set together by _from_parsed
            uri = self._uri = parse_uri(self._uri_text)
        return uri

    @uri.setter
    def uri(self, value: Uri) -> None:
        self._uri = value
        self._uri_text = None

    def start_line(self) -> str:
        uri = self._uri_text if self._uri_text is not None else str(self._uri)
        return f"{self.method} {uri} {SIP_VERSION}"

    def __repr__(self) -> str:
        uri = self._uri_text if self._uri_text is not None else self._uri
        return f"<Request {self.method} {uri}>"


class Response(Message):
    """A SIP response."""

    __slots__ = ("reason", "status_code")

    def __init__(
        self,
        status_code: int,
        reason: str,
        headers: Headers | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        if not 100 <= status_code <= 699:
            raise LocalProtocolError(f"status code out of range: {status_code}")
        if "\r" in reason or "\n" in reason:
            raise LocalProtocolError("reason phrase contains CR or LF")
        try:
            reason.encode(ENCODING, ENCODING_ERRORS)
        except UnicodeEncodeError:
            raise LocalProtocolError(f"reason phrase cannot be encoded: {reason!r}") from None
        super().__init__(headers, body)
        self.status_code = status_code
        self.reason = reason

    @classmethod
    def _from_parsed(cls, status_code: int, reason: str) -> Response:
        response = cls.__new__(cls)
        response.status_code = status_code
        response.reason = reason
        return response

    @property
    def is_provisional(self) -> bool:
        return self.status_code < 200

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def is_final(self) -> bool:
        return self.status_code >= 200

    def start_line(self) -> str:
        return f"{SIP_VERSION} {self.status_code} {self.reason}"

    def __repr__(self) -> str:
        return f"<Response {self.status_code} {self.reason}>"


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """A datagram of bare CRLFs (RFC 5626 §3.5.1 style keep-alive), not a message."""

    data: bytes

    @property
    def is_ping(self) -> bool:
        """A double CRLF asks for a pong (a single CRLF) in return."""
        return len(self.data) >= 4
