"""Lexical pieces of the SIP grammar shared by the header parsers (RFC 3261 §25.1).

The functions here work on one header value that was already unfolded (every
CRLF + WSP replaced by a single SP).  They return plain strings and tuples and
raise ``RemoteProtocolError`` (400) on input that does not fit the grammar;
nothing else escapes them.
"""

from __future__ import annotations

import re

from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"
TOKEN_RE = re.compile(f"[{TOKEN_CHARS}]+")

# word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" /
#           "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}" )
WORD_CHARS = TOKEN_CHARS + r"()<>:\\\"/\[\]?{}"
CALL_ID_RE = re.compile(f"[{WORD_CHARS}]+(?:@[{WORD_CHARS}]+)?")

# quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
# qdtext        = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
# quoted-pair   = "\" (%x00-09 / %x0B-0C / %x0E-7F)
QUOTED_STRING = r'"(?:[^"\\\r\n]|\\[^\r\n])*"'
QUOTED_STRING_RE = re.compile(QUOTED_STRING)
_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.DOTALL)

# generic-param = token [ EQUAL gen-value ];  gen-value = token / host / quoted-string
# SEMI = SWS ";" SWS, EQUAL = SWS "=" SWS.  A host may be an IPv6 reference, so the
# value also admits ":" "[" "]".
_PARAM = (
    rf"[ \t]*;[ \t]*([{TOKEN_CHARS}]+)"
    rf"(?:[ \t]*=[ \t]*({QUOTED_STRING}|[{TOKEN_CHARS}:\[\]]+))?[ \t]*"
)
_PARAM_RE = re.compile(_PARAM)
_PARAMS_RE = re.compile(f"(?:{_PARAM})*[ \t]*")

# A comma-separated list element is made of quoted strings, <...> spans and other text.
_LIST_PIECE_RE = re.compile(r'"(?:[^"\\]|\\.)*"?|<[^>]*>?|,|[^,"<]+', re.DOTALL)

Parameters = tuple[tuple[str, str | None], ...]


def is_token(text: str) -> bool:
    """True when ``text`` is a non-empty RFC 3261 token."""
    return TOKEN_RE.fullmatch(text) is not None


def unquote(quoted: str) -> str:
    """Strip the quotes of a quoted-string and undo its quoted-pairs."""
    inner = quoted[1:-1]
    if "\\" not in inner:
        return inner
    return _QUOTED_PAIR_RE.sub(r"\1", inner)


def quote(text: str) -> str:
    """Make a quoted-string carrying ``text`` (escaping only ``"`` and ``\\``)."""
    if "\r" in text or "\n" in text:
        # quoted-pair cannot carry CR or LF: the value would split the header.
        raise LocalProtocolError(f"CR or LF cannot be quoted: {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def split_list(value: str, header: str) -> list[str]:
    """Split a header value on the commas that separate list elements.

    Commas inside quoted strings and inside ``<...>`` do not count.  Elements
    are stripped of surrounding whitespace; an empty element (``a,,b``) is an
    error, since no list header of RFC 3261 allows one.
    """
    if "," not in value:
        stripped = value.strip(" \t")
        if not stripped:
            raise RemoteProtocolError(f"empty {header} header value")
        return [stripped]
    elements: list[str] = []
    current: list[str] = []
    for piece in _LIST_PIECE_RE.findall(value):
        if piece == ",":
            elements.append("".join(current).strip(" \t"))
            current = []
        else:
            current.append(piece)
    elements.append("".join(current).strip(" \t"))
    if any(not element for element in elements):
        raise RemoteProtocolError(f"empty element in {header} list: {value!r}")
    return elements


def parse_parameters(text: str, position: int, context: str) -> Parameters:
    """Parse ``*( SEMI generic-param )`` from ``text[position:]`` to its end.

    Names are lowercased (they compare case-insensitively); values keep their
    case, and quoted values keep their quotes so that they serialise back
    unchanged.  A flag parameter has the value ``None``.
    """
    if position >= len(text):
        return ()
    # One match validates the whole run; findall then yields the same pieces in order.
    if _PARAMS_RE.fullmatch(text, position) is None:
        raise RemoteProtocolError(f"malformed parameters in {context}: {text[position:][:80]!r}")
    # A value is never empty, so "" from findall means a flag parameter.
    return tuple((name.lower(), value or None) for name, value in _PARAM_RE.findall(text, position))


def format_parameters(parameters: Parameters) -> str:
    """Serialise parameters as ``;name=value`` pieces (flags as ``;name``)."""
    return "".join(
        f";{name}" if value is None else f";{name}={value}" for name, value in parameters
    )


def parameter_value(parameters: Parameters, name: str) -> str | None:
    """The value of the first parameter ``name`` (unquoted), or None."""
    for key, value in parameters:
        if key == name:
            if value is not None and value.startswith('"'):
                return unquote(value)
            return value
    return None


def has_parameter(parameters: Parameters, name: str) -> bool:
    """True when a parameter ``name`` is present (as a flag or with a value)."""
    return any(key == name for key, _ in parameters)


def replace_parameter(parameters: Parameters, name: str, value: str | None) -> Parameters:
    """Return ``parameters`` with ``name`` set to ``value`` (added at the end if new)."""
    if has_parameter(parameters, name):
        return tuple((key, value if key == name else old) for key, old in parameters)
    return (*parameters, (name, value))


def remove_parameter(parameters: Parameters, name: str) -> Parameters:
    """Return ``parameters`` without any parameter called ``name``."""
    return tuple((key, value) for key, value in parameters if key != name)


def parse_delta_seconds(text: str, what: str) -> int:
    """delta-seconds = 1*DIGIT, bounded to 2**32 - 1 as RFC 3261 §20.19 implies."""
    stripped = text.strip(" \t")
    if not stripped.isascii() or not stripped.isdigit():
        raise RemoteProtocolError(f"{what} is not a number of seconds: {text!r}")
    if len(stripped) > 10 or int(stripped) > 0xFFFFFFFF:
        raise RemoteProtocolError(f"{what} is too large: {text!r}")
    return int(stripped)
