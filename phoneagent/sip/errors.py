"""The two kinds of error of the SIP layer (see DESIGN.md, principle 5).

``RemoteProtocolError``: the peer sent something we cannot accept.  It carries
``status_hint`` — the status code a server should answer with (400, 505, 413 …),
or ``None`` where the RFC says the input is simply dropped (a response with a
status code above 699, a keep-alive mistaken for a message) — and whatever
could be salvaged of the mandatory headers, so that a 400 can still be built
and routed back (RFC 3261 §8.2.6 needs Via, From, To, Call-ID and CSeq).

``LocalProtocolError``: our own code misused an API (built a message with a
missing header, fed a closed decoder).  It is a bug on our side and never the
result of network input.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SalvagedHeaders:
    """Raw values of the headers needed to answer a broken request.

    Each list holds the header values in the order they appeared, exactly as
    received (unfolded); a field is empty where the header was missing or the
    message was too broken to find it.
    """

    method: str | None = None
    via: tuple[str, ...] = ()
    from_: tuple[str, ...] = ()
    to: tuple[str, ...] = ()
    call_id: tuple[str, ...] = ()
    cseq: tuple[str, ...] = ()
    is_request: bool = False
    extra: dict[str, str] = field(default_factory=dict)


class SipError(Exception):
    """Base of every error the SIP layer raises on purpose."""


class RemoteProtocolError(SipError):
    """The peer sent something malformed or unacceptable.

    ``status_hint`` is the response code to send (400 when in doubt), or
    ``None`` when the RFC says to drop the input without an answer.
    """

    def __init__(
        self,
        reason: str,
        status_hint: int | None = 400,
        salvaged: SalvagedHeaders | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_hint = status_hint
        self.salvaged = salvaged

    def with_salvage(self, salvaged: SalvagedHeaders) -> RemoteProtocolError:
        """Return a copy of this error that carries ``salvaged``."""
        return RemoteProtocolError(self.reason, self.status_hint, salvaged)

    def __repr__(self) -> str:
        return f"RemoteProtocolError({self.reason!r}, status_hint={self.status_hint!r})"


class LocalProtocolError(SipError):
    """Our own code used the SIP layer wrongly (a bug, never network input)."""
