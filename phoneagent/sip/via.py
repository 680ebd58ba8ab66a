"""The Via header (RFC 3261 §20.42, §18.2.2; RFC 3581 rport; RFC 5118 §4.5).

    Via           = ( "Via" / "v" ) HCOLON via-parm *(COMMA via-parm)
    via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
    sent-protocol = protocol-name SLASH protocol-version SLASH transport
    sent-by       = host [ COLON port ]
    via-received  = "received" EQUAL (IPv4address / IPv6address)
    response-port = "rport" [EQUAL 1*DIGIT]                      (RFC 3581)

RFC 5118 §4.5: ``received`` must be parsed whether or not an IPv6 address in it
carries brackets; we store it without them and never send them.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from phoneagent.sip.errors import RemoteProtocolError
from phoneagent.sip.grammar import (
    TOKEN_CHARS,
    Parameters,
    format_parameters,
    has_parameter,
    parameter_value,
    parse_parameters,
    remove_parameter,
    replace_parameter,
)

#: RFC 3261 §8.1.1.7: a branch starting with this cookie was made by an RFC 3261 element.
BRANCH_MAGIC_COOKIE = "z9hG4bK"

# SLASH = SWS "/" SWS; the transport is followed by LWS, then sent-by.
_VIA_HEAD_RE = re.compile(
    rf"([{TOKEN_CHARS}]+)[ \t]*/[ \t]*([{TOKEN_CHARS}]+)[ \t]*/[ \t]*([{TOKEN_CHARS}]+)[ \t]+"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._]+)"
    r"(?:[ \t]*:[ \t]*([0-9]{1,5}))?"
)
_HOSTNAME_RE = re.compile(
    r"(?:[A-Za-z0-9_](?:[A-Za-z0-9\-_]*[A-Za-z0-9_])?\.)*"
    r"[A-Za-z0-9_](?:[A-Za-z0-9\-_]*[A-Za-z0-9_])?\.?"
)


def _check_host(host: str, what: str) -> str:
    """Validate a host and return it without IPv6 brackets."""
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise RemoteProtocolError(f"bad IPv6 reference in {what}: {host!r}") from None
        return host[1:-1]
    if _HOSTNAME_RE.fullmatch(host) is None:
        raise RemoteProtocolError(f"bad host in {what}: {host!r}")
    return host


def _is_number_up_to(text: str, limit: int) -> bool:
    """ASCII digits only (``str.isdigit`` also takes "²"), short, and at most ``limit``."""
    digits = text.lstrip("0") or "0"
    return text.isascii() and text.isdigit() and len(digits) <= 5 and int(digits) <= limit


@dataclass(frozen=True, slots=True)
class Via:
    """One via-parm.  ``host`` is stored without IPv6 brackets."""

    transport: str
    host: str
    port: int | None = None
    parameters: Parameters = ()
    protocol_name: str = "SIP"
    protocol_version: str = "2.0"

    @classmethod
    def parse(cls, text: str) -> Via:
        value = text.strip(" \t")
        match = _VIA_HEAD_RE.match(value)
        if match is None:
            raise RemoteProtocolError(f"malformed Via: {text!r}")
        name, version, transport, host, port_text = match.groups()
        host = _check_host(host, "Via sent-by")
        port = None
        if port_text is not None:
            port = int(port_text)
            if port > 65535:
                raise RemoteProtocolError(f"Via port out of range: {text!r}")
        parameters = parse_parameters(value, match.end(), "Via")
        via = cls(transport.upper(), host, port, parameters, name.upper(), version)
        via._check_parameters()
        return via

    def _check_parameters(self) -> None:
        """Reject parameter values the grammar constrains (received, rport, ttl, maddr)."""
        received = parameter_value(self.parameters, "received")
        if received is not None:
            address = (
                received[1:-1] if received.startswith("[") and received.endswith("]") else received
            )
            try:
                # ipaddress accepts IPv6 zone ids ("fe80::1%eth0"); SIP's grammar does not.
                if "%" in address:
                    raise ValueError(address)
                ipaddress.ip_address(address)
            except ValueError:
                raise RemoteProtocolError(
                    f"Via received is not an IP address: {received[:60]!r}"
                ) from None
        rport = parameter_value(self.parameters, "rport")
        if rport is not None and not _is_number_up_to(rport, 65535):
            raise RemoteProtocolError(f"bad Via rport: {rport[:20]!r}")
        ttl = parameter_value(self.parameters, "ttl")
        if ttl is not None and not _is_number_up_to(ttl, 255):
            raise RemoteProtocolError(f"bad Via ttl: {ttl[:20]!r}")
        maddr = parameter_value(self.parameters, "maddr")
        if maddr is not None:
            # maddr = host: a name, an IPv4 address or an IPv6 reference (brackets optional).
            _check_host(f"[{maddr.strip('[]')}]" if ":" in maddr else maddr, "Via maddr")
        if has_parameter(self.parameters, "branch") and not parameter_value(
            self.parameters, "branch"
        ):
            raise RemoteProtocolError("empty Via branch")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port is None else f":{self.port}"
        return (
            f"{self.protocol_name}/{self.protocol_version}/{self.transport} {host}{port}"
            + format_parameters(self.parameters)
        )

    # -- parameters ----------------------------------------------------------

    @property
    def branch(self) -> str | None:
        return parameter_value(self.parameters, "branch")

    @property
    def has_rfc3261_branch(self) -> bool:
        """True when the branch carries the magic cookie of RFC 3261 §8.1.1.7."""
        branch = self.branch
        return branch is not None and branch.startswith(BRANCH_MAGIC_COOKIE)

    @property
    def received(self) -> str | None:
        """The ``received`` address, without IPv6 brackets."""
        received = parameter_value(self.parameters, "received")
        if received is not None and received.startswith("["):
            return received[1:-1]
        return received

    @property
    def rport_requested(self) -> bool:
        """True when ``rport`` is present, with or without a value (RFC 3581)."""
        return has_parameter(self.parameters, "rport")

    @property
    def rport(self) -> int | None:
        """The port filled in by the server that received the request (RFC 3581 §4)."""
        value = parameter_value(self.parameters, "rport")
        return None if value is None else int(value)

    @property
    def maddr(self) -> str | None:
        return parameter_value(self.parameters, "maddr")

    @property
    def ttl(self) -> int | None:
        value = parameter_value(self.parameters, "ttl")
        return None if value is None else int(value)

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return self.host, self.port

    def parameter(self, name: str) -> str | None:
        return parameter_value(self.parameters, name.lower())

    def with_parameter(self, name: str, value: str | None) -> Via:
        return replace(self, parameters=replace_parameter(self.parameters, name.lower(), value))

    def without_parameter(self, name: str) -> Via:
        return replace(self, parameters=remove_parameter(self.parameters, name.lower()))
