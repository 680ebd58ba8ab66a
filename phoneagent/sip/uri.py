"""URIs of the SIP layer: ``sip:``/``sips:`` (RFC 3261 §19.1), ``tel:`` (RFC 3966), the rest.

Theory of operation
-------------------
``parse_uri(text)`` looks at the scheme (case-insensitively) and hands the text to
``SipUri``, ``TelUri`` or ``AbsoluteUri``.  Each is a frozen dataclass holding the
*unescaped* parts; ``str(uri)`` writes the canonical form back, %-escaping exactly
the characters the grammar does not allow literally in each part.  Escapes decode
as UTF-8 with ``surrogateescape``, so arbitrary octets survive a round trip.

Parsing is split with ``str.find`` and each part is checked by one precompiled
regex; nothing loops per character unless there is something to escape.  Any
text that does not fit the grammar raises ``RemoteProtocolError`` (status hint
400) and nothing else; constructing a URI wrongly in our own code raises
``LocalProtocolError``.

``==`` follows the RFCs' comparison rules (RFC 3261 §19.1.4, RFC 3966 §4), not
field-by-field identity: compare ``dataclasses.astuple`` for that.  Note that
§19.1.4 equality is not transitive (``;security=on`` vs ``=off`` vs absent).
"""

from __future__ import annotations

import ipaddress
import re
import string
from dataclasses import dataclass, replace
from functools import lru_cache

from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError

UriParameters = tuple[tuple[str, str | None], ...]
UriHeaders = tuple[tuple[str, str], ...]

# -- character sets (RFC 3261 §25.1) -----------------------------------------------
# unreserved  =  alphanum / mark
# mark        =  "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
UNRESERVED = frozenset(string.ascii_letters + string.digits + "-_.!~*'()")
# user             =  1*( unreserved / escaped / user-unreserved )
# user-unreserved  =  "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
USER_SAFE = UNRESERVED | frozenset("&=+$,;?/")
# password         =  *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
PASSWORD_SAFE = UNRESERVED | frozenset("&=+$,")
# paramchar        =  param-unreserved / unreserved / escaped
# param-unreserved =  "[" / "]" / "/" / ":" / "&" / "+" / "$"
PARAMETER_SAFE = UNRESERVED | frozenset("[]/:&+$")
# hname  =  1*( hnv-unreserved / unreserved / escaped )
# hvalue =  *( hnv-unreserved / unreserved / escaped )
# hnv-unreserved  =  "[" / "]" / "/" / "?" / ":" / "+" / "$"
HEADER_SAFE = UNRESERVED | frozenset("[]/?:+$")
# RFC 3966: isdn-subaddress = ";isub=" 1*uric; uric = reserved / unreserved / pct-encoded;
# reserved = ";" / "/" / "?" / ":" / "@" / "&" / "=" / "+" / "$" / ",".  A literal ";"
# cannot be told from the next parameter, so it is left out.
_ISUB_SAFE = UNRESERVED | frozenset("/?:@&=+$,")


def _char_class(chars: frozenset[str]) -> str:
    return "".join(re.escape(char) for char in sorted(chars))


_USER, _PASSWORD = _char_class(USER_SAFE), _char_class(PASSWORD_SAFE)
_PARAM, _HNV = _char_class(PARAMETER_SAFE), _char_class(HEADER_SAFE)

# Parsing lets "%" through the class; _unescape() checks escaped = "%" HEXDIG HEXDIG.
_USER_RE = re.compile(f"[{_USER}%]+")
_PASSWORD_RE = re.compile(f"[{_PASSWORD}%]*")
# uri-parameters = *( ";" uri-parameter );  other-param = pname [ "=" pvalue ]
# pname = 1*paramchar;  pvalue = 1*paramchar   (transport-, user-, method-, ttl-, maddr- and
# lr-param are all special cases of other-param's syntax)
_PARAMETERS_RE = re.compile(f"(?:;[{_PARAM}%]+(?:=[{_PARAM}%]+)?)*")
# headers = "?" header *( "&" header );  header = hname "=" hvalue
_HEADERS_RE = re.compile(f"[{_HNV}%]+=[{_HNV}%]*(?:&[{_HNV}%]+=[{_HNV}%]*)*")

# hostname     =  *( domainlabel "." ) toplabel [ "." ]
# domainlabel  =  alphanum / alphanum *( alphanum / "-" ) alphanum
# toplabel     =  ALPHA / ALPHA *( alphanum / "-" ) alphanum
# Leniency: "_" is accepted wherever alphanum is.  RFC 1123 forbids it, but real
# deployments put it in host names (SRV-style "_sip._udp" labels, Windows hosts).
_DOMAIN_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_\-]*[A-Za-z0-9_])?"
_TOP_LABEL = r"[A-Za-z](?:[A-Za-z0-9_\-]*[A-Za-z0-9_])?"
_HOSTNAME = rf"(?:{_DOMAIN_LABEL}\.)*{_TOP_LABEL}\.?"
# IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT, as corrected by RFC 5954
# §4.1 to dec-octets: no value over 255, no leading zero (which some stacks read as octal).
_DEC_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_DEC_OCTET}(?:\.{_DEC_OCTET}){{3}}"
_IPV4_RE = re.compile(_IPV4)
_HOST_RE = re.compile(f"{_IPV4}|{_HOSTNAME}")
_HOSTPORT_RE = re.compile(f"({_IPV4}|{_HOSTNAME})(?::([0-9]{{1,5}}))?")
# IPv6reference = "[" IPv6address "]": the characters here, the grammar by ipaddress.
_IPV6_CHARS_RE = re.compile(r"[0-9A-Fa-f:.]+")
# RFC 5118 §4.10: RFC 3261's IPv6address ABNF wrongly allows "::" ":" before an embedded
# IPv4 address ("2001:db8:::192.0.2.1"); be robust and drop the extra colon.
_THREE_COLONS_RE = re.compile(r":::(?=[0-9]{1,3}(?:\.[0-9]{1,3}){3}$)")

# scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_WHITESPACE_RE = re.compile(r"\s")
_BAD_ESCAPE_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPE_RUN_RE = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _ascii_lower(text: str) -> str:
    """Lower-case A-Z only: the RFCs' case-insensitivity is ASCII's."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def _show(text: str) -> str:
    return repr(text if len(text) <= 200 else text[:200] + "…")


def _error(text: str, problem: str) -> RemoteProtocolError:
    if _WHITESPACE_RE.search(text) is not None:
        problem = "whitespace"  # no URI grammar admits it: the likely root cause
    return RemoteProtocolError(f"{problem} in URI {_show(text)}", status_hint=400)


# -- escaping ----------------------------------------------------------------------


def _decode_run(match: re.Match[str]) -> str:
    return bytes.fromhex(match.group().replace("%", "")).decode("utf-8", "surrogateescape")


def _unescape(part: str, uri_text: str) -> str:
    if "%" not in part:
        return part
    if _BAD_ESCAPE_RE.search(part) is not None:
        raise _error(uri_text, "'%' not followed by two hex digits")
    return _ESCAPE_RUN_RE.sub(_decode_run, part)


def unescape(text: str) -> str:
    """Decode ``escaped = "%" HEXDIG HEXDIG`` (RFC 3261 §25.1) as UTF-8, octets that are
    not UTF-8 as lone surrogates (``surrogateescape``: ``escape`` turns them back).
    A ``%`` without two hex digits raises RemoteProtocolError."""
    return _unescape(text, text)


_Escaper = tuple[re.Pattern[str], tuple[str, ...]]


@lru_cache(maxsize=32)
def _escaper(allowed: frozenset[str]) -> _Escaper:
    safe = frozenset(char for char in allowed if len(char) == 1 and char.isascii())
    pattern = re.compile(f"[{_char_class(safe)}]*" if safe else "")
    table = tuple(chr(octet) if chr(octet) in safe else f"%{octet:02X}" for octet in range(256))
    return pattern, table


def _escape(text: str, escaper: _Escaper) -> str:
    pattern, table = escaper
    if pattern.fullmatch(text) is not None:
        return text  # the common case: nothing to escape
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as error:
        raise LocalProtocolError(f"cannot escape {text!r}: {error.reason}") from error
    return "".join(map(table.__getitem__, data))


def escape(text: str, allowed: frozenset[str]) -> str:
    """%-escape the UTF-8 octets of each character not in ``allowed`` (its ASCII members).

    A lone surrogate of ``surrogateescape`` (U+DC80–U+DCFF) becomes the octet it
    stands for; any other lone surrogate is a LocalProtocolError."""
    return _escape(text, _escaper(allowed))


_USER_ESCAPER, _PASSWORD_ESCAPER = _escaper(USER_SAFE), _escaper(PASSWORD_SAFE)
_PARAM_ESCAPER, _HEADER_ESCAPER = _escaper(PARAMETER_SAFE), _escaper(HEADER_SAFE)


# -- hosts and ports ---------------------------------------------------------------


def _ipv6_host(inner: str) -> str | None:
    """The IPv6 address of an IPv6reference (without brackets), or None if invalid."""
    if _IPV6_CHARS_RE.fullmatch(inner) is None:
        return None
    if ":::" in inner:
        inner = _THREE_COLONS_RE.sub("::", inner, count=1)
    try:
        ipaddress.IPv6Address(inner)
    except ValueError:
        return None
    return inner


def _host_key(host: str) -> str:
    """Hosts compare case-insensitively, IPv6 addresses as addresses (§19.1.4)."""
    if ":" in host:
        return ipaddress.IPv6Address(host).compressed
    return _ascii_lower(host)


def _parse_port(port_text: str, text: str) -> int:
    # port = 1*DIGIT   (isdigit() alone would accept non-ASCII digits)
    if not (port_text.isascii() and port_text.isdigit()):
        raise _error(text, "bad port" if port_text else "empty port")
    significant = port_text.lstrip("0")
    port = int(significant or "0") if len(significant) <= 5 else 65536
    if port > 65535:
        raise _error(text, "bad port")
    return port


def _parse_hostport(text: str, start: int, end: int) -> tuple[str, int | None]:
    # hostport = host [ ":" port ];  host = hostname / IPv4address / IPv6reference
    if start == end:
        raise _error(text, "empty host")
    if text[start] == "[":
        close = text.find("]", start, end)
        if close < 0:
            raise _error(text, "unterminated IPv6 reference")
        host = _ipv6_host(text[start + 1 : close])
        if host is None:
            raise _error(text, "bad IPv6 address")
        if close + 1 == end:
            return host, None
        if text[close + 1] != ":":
            raise _error(text, "junk after IPv6 reference")
        return host, _parse_port(text[close + 2 : end], text)
    colon = text.find(":", start, end)
    host = text[start : end if colon < 0 else colon]
    if colon >= 0 and text.find(":", colon + 1, end) >= 0 and _ipv6_host(text[start:end]):
        raise _error(text, "IPv6 address not enclosed in [ ] (RFC 5118 §4.2)")
    if not host:
        raise _error(text, "empty host")
    if _HOST_RE.fullmatch(host) is None:
        raise _error(text, f"bad host {_show(host)}")
    return host, None if colon < 0 else _parse_port(text[colon + 1 : end], text)


def _split_scheme(text: str) -> tuple[str, int]:
    if text.startswith("sip:"):  # the common case, without a regex
        return "sip", 4
    colon = text.find(":")
    if colon < 0:
        raise _error(text, "no scheme")
    scheme = text[:colon]
    if _SCHEME_RE.fullmatch(scheme) is None:
        raise _error(text, "bad scheme")
    return scheme.lower(), colon + 1


# -- sip: and sips: ----------------------------------------------------------------

# §19.1.4: these parameters must match when present in either URI (others: only when in both).
_MUST_MATCH = frozenset({"user", "ttl", "method", "maddr", "transport"})


def _fold_parameters(parameters: UriParameters) -> dict[str, str | None]:
    """Name → case-folded value; the first occurrence of a name wins."""
    folded: dict[str, str | None] = {}
    for name, value in parameters:
        folded.setdefault(name, None if value is None else _ascii_lower(value))
    return folded


@dataclass(frozen=True, slots=True, eq=False)
class SipUri:
    """A ``sip:`` or ``sips:`` URI (RFC 3261 §19.1.1), every part unescaped.

    ``host`` holds an IPv6 address without brackets; ``parameters`` keep their
    order with lower-case names (value None for a flag like ``lr``); ``headers``
    keep order and case.  ``==`` and ``hash`` follow RFC 3261 §19.1.4 (see
    ``__eq__``).
    """

    scheme: str
    user: str | None
    password: str | None
    host: str
    port: int | None = None
    parameters: UriParameters = ()
    headers: UriHeaders = ()

    def __post_init__(self) -> None:
        if self.scheme not in ("sip", "sips"):
            raise LocalProtocolError(f"SipUri scheme must be 'sip' or 'sips', not {self.scheme!r}")
        if self.user == "":
            raise LocalProtocolError("SipUri user must be None or non-empty")
        if self.password is not None and self.user is None:
            raise LocalProtocolError("SipUri password without a user")
        if ":" in self.host:
            if self.host.startswith("[") or _ipv6_host(self.host) != self.host:
                raise LocalProtocolError(f"bad IPv6 host {self.host!r} (give it without [ ])")
        elif _HOST_RE.fullmatch(self.host) is None:
            raise LocalProtocolError(f"bad SipUri host {self.host!r}")
        if self.port is not None and not 0 <= self.port <= 65535:
            raise LocalProtocolError(f"SipUri port out of range: {self.port}")
        for name, value in self.parameters:
            if not name or name != _ascii_lower(name) or value == "":
                raise LocalProtocolError(f"bad SipUri parameter {name!r}={value!r}")
        for name, _ in self.headers:
            if not name:
                raise LocalProtocolError("SipUri header with an empty name")

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse a SIP-URI or SIPS-URI; RemoteProtocolError (400) if it is anything else."""
        scheme, start = _split_scheme(text)
        if scheme not in ("sip", "sips"):
            raise _error(text, "not a SIP URI")
        return _parse_sip(text, scheme, start)

    def __str__(self) -> str:
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(_escape(self.user, _USER_ESCAPER))
            if self.password is not None:
                parts += (":", _escape(self.password, _PASSWORD_ESCAPER))
            parts.append("@")
        parts.append(self.host_port)
        for name, value in self.parameters:
            parts += (";", _escape(name, _PARAM_ESCAPER))
            if value is not None:
                parts += ("=", _escape(value, _PARAM_ESCAPER))
        separator = "?"
        for name, value in self.headers:
            parts += (separator, _escape(name, _HEADER_ESCAPER))
            parts += ("=", _escape(value, _HEADER_ESCAPER))
            separator = "&"
        return "".join(parts)

    def __eq__(self, other: object) -> bool:
        """RFC 3261 §19.1.4 URI comparison.

        * ``sip`` never equals ``sips``;
        * user and password: case-sensitive, after unescaping (a URI with
          userinfo never equals one without);
        * host: case-insensitive, IPv6 compared as addresses; a name never
          equals the address it resolves to;
        * port: an omitted port is not the default port (5060 or 5061);
        * ``user``, ``ttl``, ``method``, ``maddr`` and ``transport`` parameters
          must match if present in either URI, other parameters only if present
          in both; values compare case-insensitively;
        * header components: all present in both, names case-insensitive,
          values case-sensitive, order irrelevant.
        """
        if not isinstance(other, SipUri):
            return NotImplemented
        if (
            self.scheme != other.scheme
            or self.user != other.user
            or self.password != other.password
            or self.port != other.port
            or _host_key(self.host) != _host_key(other.host)
        ):
            return False
        if self.headers or other.headers:
            mine = sorted((_ascii_lower(name), value) for name, value in self.headers)
            if mine != sorted((_ascii_lower(name), value) for name, value in other.headers):
                return False
        if not (self.parameters or other.parameters):
            return True
        mine_folded, theirs = _fold_parameters(self.parameters), _fold_parameters(other.parameters)
        for name, value in mine_folded.items():
            if name in theirs:
                if theirs[name] != value:
                    return False
            elif name in _MUST_MATCH:
                return False
        return all(name in mine_folded for name in theirs.keys() & _MUST_MATCH)

    def __hash__(self) -> int:
        # Only parts that equal URIs always share (parameters and headers may differ).
        return hash((self.scheme, self.user, _host_key(self.host), self.port))

    # -- helpers -------------------------------------------------------------------

    @property
    def is_secure(self) -> bool:
        """True for a ``sips:`` URI (RFC 3261 §19.1: TLS on every hop)."""
        return self.scheme == "sips"

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host

    @property
    def is_ip_address(self) -> bool:
        return self.is_ipv6 or _IPV4_RE.fullmatch(self.host) is not None

    @property
    def host_port(self) -> str:
        """``host [":" port]`` as written in a URI or Via: ``[2001:db8::1]:5060``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def transport(self) -> str | None:
        """The ``transport`` parameter, lower-cased (RFC 3261 §19.1.1), or None."""
        value = self.parameter("transport")
        return None if value is None else _ascii_lower(value)

    def parameter(self, name: str) -> str | None:
        """The value of the first parameter ``name``; None if absent or a flag."""
        key = _ascii_lower(name)
        for parameter_name, value in self.parameters:
            if parameter_name == key:
                return value
        return None

    def has_parameter(self, name: str) -> bool:
        key = _ascii_lower(name)
        return any(parameter_name == key for parameter_name, _ in self.parameters)

    def with_parameter(self, name: str, value: str | None = None) -> SipUri:
        """A copy with parameter ``name`` set (in place of the first one, or appended)."""
        key = _ascii_lower(name)
        updated: list[tuple[str, str | None]] = []
        placed = False
        for parameter in self.parameters:
            if parameter[0] != key:
                updated.append(parameter)
            elif not placed:  # later duplicates of the name go away
                updated.append((key, value))
                placed = True
        if not placed:
            updated.append((key, value))
        return replace(self, parameters=tuple(updated))

    def without_parameter(self, name: str) -> SipUri:
        key = _ascii_lower(name)
        return replace(self, parameters=tuple(p for p in self.parameters if p[0] != key))


_set_field = object.__setattr__


def _parse_sip(text: str, scheme: str, start: int) -> SipUri:
    # SIP-URI  =  "sip:" [ userinfo ] hostport uri-parameters [ headers ]
    # SIPS-URI =  "sips:" [ userinfo ] hostport uri-parameters [ headers ]
    # userinfo =  ( user / telephone-subscriber ) [ ":" password ] "@"
    # No part but userinfo may hold an unescaped "@", so userinfo ends at the first one;
    # the user may contain ";", "?" and "/" (RFC 4475 semiuri), but never ":".
    user = password = None
    at = text.find("@", start)
    if at >= 0:
        colon = text.find(":", start, at)
        user_text = text[start : at if colon < 0 else colon]
        if _USER_RE.fullmatch(user_text) is None:
            raise _error(text, "bad user part" if user_text else "empty user part")
        user = _unescape(user_text, text)
        if colon >= 0:
            password_text = text[colon + 1 : at]
            if _PASSWORD_RE.fullmatch(password_text) is None:
                raise _error(text, "bad password")
            password = _unescape(password_text, text)
        start = at + 1
    # Neither host, port nor parameters may hold "?", nor host and port ";".
    question = text.find("?", start)
    end = len(text) if question < 0 else question
    semicolon = text.find(";", start, end)
    hostport_end = end if semicolon < 0 else semicolon
    match = _HOSTPORT_RE.fullmatch(text, start, hostport_end)
    if match is None:  # IPv6 references, odd ports and every error
        host, port = _parse_hostport(text, start, hostport_end)
    else:
        host, port_text = match.groups()
        port = None if port_text is None else _parse_port(port_text, text)
    parameters: UriParameters = ()
    if semicolon >= 0:
        parameter_text = text[semicolon:end]
        if _PARAMETERS_RE.fullmatch(parameter_text) is None:
            raise _error(text, "bad URI parameter")
        items = (item.partition("=") for item in parameter_text[1:].split(";"))
        parameters = tuple(
            (_ascii_lower(_unescape(name, text)), _unescape(value, text) if equals else None)
            for name, equals, value in items
        )
    headers: UriHeaders = ()
    if question >= 0:
        header_text = text[question + 1 :]
        if _HEADERS_RE.fullmatch(header_text) is None:
            raise _error(text, "bad URI headers")
        headers = tuple(
            (_unescape(name, text), _unescape(value, text))
            for name, _, value in (item.partition("=") for item in header_text.split("&"))
        )
    # Every part is checked: skip __post_init__'s checks on this hot path, setting the
    # frozen fields the way the dataclass's own __init__ does.
    uri = object.__new__(SipUri)
    _set_field(uri, "scheme", scheme)
    _set_field(uri, "user", user)
    _set_field(uri, "password", password)
    _set_field(uri, "host", host)
    _set_field(uri, "port", port)
    _set_field(uri, "parameters", parameters)
    _set_field(uri, "headers", headers)
    return uri


# -- tel: (RFC 3966) ---------------------------------------------------------------

# global-number-digits = "+" *phonedigit DIGIT *phonedigit
# local-number-digits  = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex
# phonedigit           = DIGIT / [ visual-separator ]
# phonedigit-hex       = HEXDIG / "*" / "#" / [ visual-separator ]
# visual-separator     = "-" / "." / "(" / ")"
# (The lookaheads demand the one DIGIT/HEXDIG without a backtracking-prone *x*.)
_GLOBAL_NUMBER = r"\+(?=[\-.()]*[0-9])[0-9\-.()]+"
_GLOBAL_NUMBER_RE = re.compile(_GLOBAL_NUMBER)
_LOCAL_NUMBER_RE = re.compile(r"(?=[\-.()]*[0-9A-Fa-f*#])[0-9A-Fa-f*#\-.()]+")
# context    = ";phone-context=" descriptor;  descriptor = domainname / global-number-digits
_DESCRIPTOR_RE = re.compile(f"{_GLOBAL_NUMBER}|{_HOSTNAME}")
# extension  = ";ext=" 1*phonedigit
_EXTENSION_RE = re.compile(r"[0-9\-.()]+")
# parameter  = ";" pname ["=" pvalue ];  pname = 1*( alphanum / "-" );  pvalue = 1*paramchar
_TEL_NAME_RE = re.compile(r"[A-Za-z0-9\-]+")
_TEL_VALUE_RE = re.compile(f"[{_PARAM}%]+")
_ISUB_RE = re.compile(f"[{_char_class(_ISUB_SAFE)}%]+")
_ISUB_ESCAPER = _escaper(_ISUB_SAFE)
_DROP_SEPARATORS = str.maketrans("", "", "-.()")
# RFC 3261 §19.1.6: in a SIP user part, isdn-subaddress and post-dial come first, in that order.
_SIP_USER_ORDER = {"isub": "0", "postd": "1"}


def _tel_value_valid(name: str, value: str | None) -> bool:
    if name == "phone-context":
        return value is not None and _DESCRIPTOR_RE.fullmatch(value) is not None
    if name == "ext":
        return value is not None and _EXTENSION_RE.fullmatch(value) is not None
    return value != "" and (name != "isub" or value is not None)


def _tel_value_key(name: str, value: str | None) -> tuple[bool, str]:
    # RFC 3966 §4: phone-context as a host name or digit by digit without visual
    # separators, the extension digit by digit, everything case-insensitively.
    if value is None:
        return False, ""
    if name == "ext" or (name == "phone-context" and value.startswith("+")):
        value = value.translate(_DROP_SEPARATORS)
    return True, _ascii_lower(value)


@dataclass(frozen=True, slots=True, eq=False)
class TelUri:
    """A ``tel:`` URI (RFC 3966): the number as written plus parameters.

    Parameter names are lower-case, values unescaped (None for a bare name),
    in their original order.  ``==`` and ``hash`` follow RFC 3966 §4.
    """

    number: str
    parameters: UriParameters = ()

    def __post_init__(self) -> None:
        pattern = _GLOBAL_NUMBER_RE if self.number.startswith("+") else _LOCAL_NUMBER_RE
        if pattern.fullmatch(self.number) is None:
            raise LocalProtocolError(f"bad telephone number {self.number!r}")
        for name, value in self.parameters:
            if _TEL_NAME_RE.fullmatch(name) is None or name != name.lower():
                raise LocalProtocolError(f"bad tel parameter name {name!r}")
            if not _tel_value_valid(name, value):
                raise LocalProtocolError(f"bad tel parameter {name}={value!r}")
        if not self.is_global and not self.has_parameter("phone-context"):
            raise LocalProtocolError("a local tel number needs a phone-context (RFC 3966 §5.1.5)")

    @classmethod
    def parse(cls, text: str) -> TelUri:
        """Parse ``telephone-uri = "tel:" telephone-subscriber`` (RFC 3966 §3)."""
        # telephone-subscriber = global-number / local-number
        # global-number        = global-number-digits *par
        # local-number         = local-number-digits *par context *par
        # par                  = parameter / extension / isdn-subaddress
        scheme, start = _split_scheme(text)
        if scheme != "tel":
            raise _error(text, "not a tel URI")
        number, *items = text[start:].split(";")
        pattern = _GLOBAL_NUMBER_RE if number.startswith("+") else _LOCAL_NUMBER_RE
        if pattern.fullmatch(number) is None:
            raise _error(text, "bad telephone number")
        parameters: list[tuple[str, str | None]] = []
        for item in items:
            name, equals, value_text = item.partition("=")
            if _TEL_NAME_RE.fullmatch(name) is None:
                raise _error(text, "bad tel parameter name")
            name = name.lower()
            checker = _ISUB_RE if name == "isub" else _TEL_VALUE_RE
            value = _unescape(value_text, text) if checker.fullmatch(value_text) else None
            if (equals and value is None) or not _tel_value_valid(name, value):
                raise _error(text, f"bad value of tel parameter {name!r}")
            parameters.append((name, value))
        if not number.startswith("+") and all(name != "phone-context" for name, _ in parameters):
            raise _error(text, "local number without phone-context")
        return cls(number, tuple(parameters))

    def __str__(self) -> str:
        parts = ["tel:", self.number]
        for name, value in self.parameters:
            parts += (";", name)
            if value is not None:
                escaper = _ISUB_ESCAPER if name == "isub" else _PARAM_ESCAPER
                parts += ("=", _escape(value, escaper))
        return "".join(parts)

    def _comparison_key(self) -> tuple[bool, str, tuple[tuple[str, tuple[bool, str]], ...]]:
        parameters = sorted((name, _tel_value_key(name, value)) for name, value in self.parameters)
        return self.is_global, _ascii_lower(self.digits), tuple(parameters)

    def __eq__(self, other: object) -> bool:
        """RFC 3966 §4: both global or both local; numbers equal without visual separators;
        the same parameter names in any order, values compared case-insensitively
        (phone-context as a host name or as digits, ext as digits)."""
        if not isinstance(other, TelUri):
            return NotImplemented
        return self._comparison_key() == other._comparison_key()

    def __hash__(self) -> int:
        return hash(self._comparison_key())

    @property
    def is_global(self) -> bool:
        return self.number.startswith("+")

    @property
    def digits(self) -> str:
        """The number without visual separators (a global number keeps its ``+``)."""
        return self.number.translate(_DROP_SEPARATORS)

    def parameter(self, name: str) -> str | None:
        key = name.lower()
        return next((value for n, value in self.parameters if n == key), None)

    def has_parameter(self, name: str) -> bool:
        key = name.lower()
        return any(n == key for n, _ in self.parameters)

    def to_sip(self, host: str, port: int | None = None) -> SipUri:
        """The equivalent SIP URI at gateway ``host`` (RFC 3261 §19.1.6).

        The user part is the telephone-subscriber (number and ``;name=value``
        parameters) and the URI gets ``user=phone``.  As §19.1.6 advises, the
        case-insensitive telephone-subscriber is folded to lower case and its
        parameters sorted by name (``isub`` and ``postd`` first), so that equal
        tel URIs give equal SIP URIs.  ``host`` is an IPv6 address without [ ].
        """
        ordered = sorted(self.parameters, key=lambda p: _SIP_USER_ORDER.get(p[0], "2" + p[0]))
        user = _ascii_lower(self.number) + "".join(
            f";{name}" if value is None else f";{name}={_ascii_lower(value)}"
            for name, value in ordered
        )
        return SipUri("sip", user, None, host, port, (("user", "phone"),))


# -- any other scheme --------------------------------------------------------------

_ABSOLUTE_BAD_RE = re.compile(r"[\s\x00-\x1f\x7f<>]")


@dataclass(frozen=True, slots=True)
class AbsoluteUri:
    """A URI of any other scheme (``absoluteURI`` of RFC 3261 §25.1), kept opaque.

    ``scheme`` is lower-case, ``rest`` the text after the colon as received.
    Equality is the dataclass's: scheme case-insensitive (stored lower-case),
    rest exact.
    """

    scheme: str
    rest: str

    def __post_init__(self) -> None:
        if _SCHEME_RE.fullmatch(self.scheme) is None or self.scheme != self.scheme.lower():
            raise LocalProtocolError(f"bad URI scheme {self.scheme!r}")
        if self.scheme in ("sip", "sips", "tel"):
            raise LocalProtocolError(f"use SipUri or TelUri for {self.scheme!r}")
        if not self.rest or _ABSOLUTE_BAD_RE.search(self.rest) is not None:
            raise LocalProtocolError(f"bad URI text {self.rest!r}")

    @classmethod
    def parse(cls, text: str) -> AbsoluteUri:
        """Parse ``scheme ":" rest``: rest non-empty, without whitespace, controls or <>."""
        scheme, start = _split_scheme(text)
        if scheme in ("sip", "sips", "tel"):
            raise _error(text, "not an opaque URI")
        rest = text[start:]
        if not rest:
            raise _error(text, "nothing after the scheme")
        if _ABSOLUTE_BAD_RE.search(rest) is not None:
            raise _error(text, "forbidden character")
        return cls(scheme, rest)

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"


Uri = SipUri | TelUri | AbsoluteUri


def parse_uri(text: str) -> Uri:
    """Parse any URI, dispatching on its scheme (case-insensitive).

    Raises RemoteProtocolError (status hint 400) on malformed text, and nothing else.
    """
    scheme, start = _split_scheme(text)
    if scheme in ("sip", "sips"):
        return _parse_sip(text, scheme, start)
    if scheme == "tel":
        return TelUri.parse(text)
    return AbsoluteUri.parse(text)
