"""Addresses in headers: From, To, Contact, Route, Record-Route (RFC 3261 §20, §25.1).

    name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
    addr-spec    = SIP-URI / SIPS-URI / absoluteURI
    display-name = *(token LWS)/ quoted-string
    from-spec    = ( name-addr / addr-spec ) *( SEMI from-param )

§20.10: when the URI is not enclosed in angle brackets, every ``;`` parameter
after it belongs to the header, not to the URI; a URI containing a comma,
question mark or semicolon must therefore be enclosed.  RFC 4475 §3.1.1.6
(lwsdisp) asks us to accept a display name directly followed by ``<``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from phoneagent.sip.grammar import (
    QUOTED_STRING_RE,
    TOKEN_CHARS,
    Parameters,
    format_parameters,
    has_parameter,
    parameter_value,
    parse_delta_seconds,
    parse_parameters,
    quote,
    remove_parameter,
    replace_parameter,
    split_list,
    unquote,
)
from phoneagent.sip.uri import Uri, parse_uri

# display-name as *(token LWS): tokens separated by whitespace.
_TOKEN_DISPLAY_RE = re.compile(f"[{TOKEN_CHARS}]+(?:[ \t]+[{TOKEN_CHARS}]+)*")
_TOKEN_ONLY_RE = re.compile(f"[{TOKEN_CHARS}]+")
# In addr-spec form the URI runs to the first ";" or whitespace.
_ADDR_SPEC_END_RE = re.compile(r"[;\s]")
# qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_QVALUE_RE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


@dataclass(frozen=True, slots=True)
class NameAddress:
    """One address with its header parameters (``tag``, ``expires``, ``q``, ``lr`` …).

    ``display_name`` is None when absent and the unquoted text otherwise.
    """

    uri: Uri
    display_name: str | None = None
    parameters: Parameters = ()

    @classmethod
    def parse(cls, text: str, header: str = "address") -> NameAddress:
        """Parse ``( name-addr / addr-spec ) *( SEMI generic-param )``."""
        value = text.strip(" \t")
        display_name: str | None = None
        if value.startswith('"'):
            match = QUOTED_STRING_RE.match(value)
            if match is None:
                raise RemoteProtocolError(f"unterminated quoted display name in {header}: {text!r}")
            display_name = unquote(match.group(0))
            rest = value[match.end() :].lstrip(" \t")
            if not rest.startswith("<"):
                raise RemoteProtocolError(f"quoted display name without <URI> in {header}")
            return cls._parse_bracketed(rest, display_name, header)
        bracket = value.find("<")
        if bracket >= 0:
            before = value[:bracket].rstrip(" \t")
            if before:
                if _TOKEN_DISPLAY_RE.fullmatch(before) is None:
                    raise RemoteProtocolError(
                        f"display name is neither tokens nor quoted in {header}"
                    )
                display_name = before
            return cls._parse_bracketed(value[bracket:], display_name, header)
        # addr-spec: no brackets, so the URI cannot contain ";" "," "?" or spaces.
        end_match = _ADDR_SPEC_END_RE.search(value)
        uri_text = value if end_match is None else value[: end_match.start()]
        if "," in uri_text or "?" in uri_text:
            raise RemoteProtocolError(f"URI with ',' or '?' must be enclosed in <> in {header}")
        uri = parse_uri(uri_text)
        position = len(uri_text)
        parameters = parse_parameters(value, position, header)
        return cls(uri, None, parameters)

    @classmethod
    def _parse_bracketed(cls, value: str, display_name: str | None, header: str) -> NameAddress:
        close = value.find(">")
        if close < 0:
            raise RemoteProtocolError(f"missing '>' in {header}")
        uri_text = value[1:close]
        if uri_text != uri_text.strip(" \t") or not uri_text:
            raise RemoteProtocolError(f"whitespace inside <URI> in {header}")
        uri = parse_uri(uri_text)
        parameters = parse_parameters(value, close + 1, header)
        return cls(uri, display_name, parameters)

    def __str__(self) -> str:
        if self.display_name is None:
            head = f"<{self.uri}>"
        elif self.display_name and _TOKEN_ONLY_RE.fullmatch(self.display_name):
            head = f"{self.display_name} <{self.uri}>"
        else:
            head = f"{quote(self.display_name)} <{self.uri}>"
        return head + format_parameters(self.parameters)

    # -- parameters ----------------------------------------------------------

    def parameter(self, name: str) -> str | None:
        """The (unquoted) value of header parameter ``name``."""
        return parameter_value(self.parameters, name.lower())

    def has_parameter(self, name: str) -> bool:
        return has_parameter(self.parameters, name.lower())

    def with_parameter(self, name: str, value: str | None) -> NameAddress:
        return replace(self, parameters=replace_parameter(self.parameters, name.lower(), value))

    def without_parameter(self, name: str) -> NameAddress:
        return replace(self, parameters=remove_parameter(self.parameters, name.lower()))

    @property
    def tag(self) -> str | None:
        """The ``tag`` of a From or To header (RFC 3261 §19.3)."""
        return self.parameter("tag")

    def with_tag(self, tag: str) -> NameAddress:
        return self.with_parameter("tag", tag)

    @property
    def expires(self) -> int | None:
        """A Contact's ``expires`` parameter in seconds (RFC 3261 §20.10)."""
        raw = self.parameter("expires")
        if raw is None:
            return None
        return parse_delta_seconds(raw, "Contact expires")

    @property
    def q(self) -> float | None:
        """A Contact's ``q`` preference, 0 to 1 (``qvalue`` of RFC 3261 §25.1)."""
        raw = self.parameter("q")
        if raw is None:
            return None
        if _QVALUE_RE.fullmatch(raw) is None:
            raise RemoteProtocolError(f"bad q value {raw!r}")
        return float(raw)


def parse_address_list(value: str, header: str) -> list[NameAddress]:
    """Parse a comma-separated list of addresses (Contact, Route, Record-Route)."""
    return [NameAddress.parse(element, header) for element in split_list(value, header)]


def make_address(
    uri: Uri, display_name: str | None = None, **parameters: str | None
) -> NameAddress:
    """Build a NameAddress; keyword arguments become header parameters in order."""
    if display_name is not None and ("\r" in display_name or "\n" in display_name):
        raise LocalProtocolError("display name contains CR or LF")
    return NameAddress(uri, display_name, tuple((k.lower(), v) for k, v in parameters.items()))
