"""Keeping one address-of-record registered (RFC 3261 §10, RFC 5626, RFC 3581).

Theory of operation
-------------------
``Registration`` decides *when* to send which REGISTER; the user agent core
adds the Via, runs the transaction, answers digest challenges through
``auth.DigestClient`` and feeds the outcome back here.  It never does I/O and
takes the time as an argument.

    UNREGISTERED --start--> REGISTERING --2xx--> REGISTERED --refresh timer--> REGISTERING
          ^                   |  ^  |                 |
          |           failure |  |  | 423: retry with Min-Expires at once
          |                   v  |  v                 | connection lost / address changed /
          |              WAITING_RETRY                |   keep-alive failed: register at once
          |                                           v
          +----------- final response -------- UNREGISTERING <--stop-- (any)
    403, or a challenge our credentials cannot answer: FAILED (no automatic retry)

* §10.2.1: the Request-URI is the registrar; To and From carry the AOR; one
  Call-ID for every REGISTER of this client (§10.2.4 "SHOULD"), CSeq +1 each time.
* The Contact carries ``+sip.instance`` (RFC 5626 §4.1) and, when the registrar
  supports outbound, ``reg-id``; its address is the public one learnt from the
  Via ``received``/``rport`` of the last response (RFC 3581) once known.
* The granted expiry is the ``expires`` of our own Contact in the 2xx (§10.2.4),
  else its Expires header, else what we asked for; we refresh when
  ``REFRESH_FRACTION`` of it has passed, and never later than 5 s before.
* 423 (§10.2.8): ask again at once with the Min-Expires the registrar wants.
* Failures (timeouts, 5xx, 408, transport errors, other 4xx/6xx) retry with a
  capped exponential backoff, randomised to 50–100 % (RFC 5626 §4.5 style);
  a 503's Retry-After is honoured when it asks for longer.
* 403 stops: hammering a registrar that said "forbidden" helps nobody.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from phoneagent.sip.address import NameAddress
from phoneagent.sip.errors import LocalProtocolError
from phoneagent.sip.fields import CSeq
from phoneagent.sip.grammar import quote
from phoneagent.sip.headers import Headers
from phoneagent.sip.message import Request, Response
from phoneagent.sip.uri import SipUri

log = logging.getLogger(__name__)

REFRESH_FRACTION = 0.8
REFRESH_MARGIN = 5.0  # seconds before expiry at the latest


class RegistrationState(Enum):
    UNREGISTERED = "unregistered"
    REGISTERING = "registering"
    REGISTERED = "registered"
    WAITING_RETRY = "waiting-retry"
    UNREGISTERING = "unregistering"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RegistrationEvent:
    """Base of what a Registration reports to the user agent."""


@dataclass(frozen=True, slots=True)
class Registered(RegistrationEvent):
    expires: int
    contact: str


@dataclass(frozen=True, slots=True)
class Unregistered(RegistrationEvent):
    pass


@dataclass(frozen=True, slots=True)
class RegistrationFailed(RegistrationEvent):
    """A REGISTER failed; ``retry_in`` is None when no retry is scheduled."""

    code: int
    reason: str
    retry_in: float | None


@dataclass(frozen=True, slots=True)
class RegistrationSettings:
    aor: SipUri
    registrar: SipUri
    contact: SipUri  # our address as we know it now (updated by address_learnt)
    instance_id: str  # "urn:uuid:…", stable across reboots
    expires: int = 600
    reg_id: int | None = None  # RFC 5626 outbound; None when not used
    retry_base: float = 2.0
    retry_max: float = 300.0
    user_agent: str = "phoneagent"


class Registration:
    """The REGISTER client of one account.  See the module docstring."""

    def __init__(
        self,
        settings: RegistrationSettings,
        make_token: Callable[[], str],
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._make_token = make_token
        self._rng = rng or random.Random()
        self.state = RegistrationState.UNREGISTERED
        self.call_id = f"{make_token()}@{settings.contact.host}"
        self._from_tag = make_token()
        self._cseq = 0
        self._contact = settings.contact
        self._sent_contact = settings.contact  # the Contact of the last REGISTER sent
        self._requested_expires = settings.expires
        self._pending: list[Request] = []
        self._events: list[RegistrationEvent] = []
        self._timer: float | None = None
        self._failures = 0
        self.granted_expires: int | None = None
        self.expires_at: float | None = None
        self.last_failure: tuple[int, str] | None = None

    # -- inputs ----------------------------------------------------------------------

    def start(self, now: float) -> None:
        if self.state not in (RegistrationState.UNREGISTERED, RegistrationState.FAILED):
            raise LocalProtocolError(f"start() while {self.state.value}")
        self._failures = 0
        self._register(now)

    def stop(self, now: float) -> None:
        """Unregister (Expires: 0) when registered or registering, else just stop."""
        if (
            self.state
            in (
                RegistrationState.REGISTERED,
                RegistrationState.REGISTERING,
                RegistrationState.WAITING_RETRY,
            )
            and self.granted_expires is not None
        ):
            self._timer = None
            self._set_state(RegistrationState.UNREGISTERING)
            self._pending.append(self._build_register(0))
        else:
            self._timer = None
            self._set_state(RegistrationState.UNREGISTERED)

    def response_received(self, response: Response, now: float) -> None:
        """The final response to our last REGISTER (after any digest round)."""
        code = response.status_code
        if response.is_provisional:
            return
        if self.state is RegistrationState.UNREGISTERING:
            self._finish_unregister()
            return
        if self.state is not RegistrationState.REGISTERING:
            log.debug("registration: response %d ignored while %s", code, self.state.value)
            return
        if response.is_success:
            self._registered(response, now)
        elif code == 423 and response.min_expires is not None:
            self._requested_expires = max(self._requested_expires, response.min_expires)
            log.info("registrar wants at least %d s (423): asking again", response.min_expires)
            self._register(now)
        elif code == 403:
            self._fail(code, response.reason or "Forbidden", now, retry=False)
        else:
            retry_after = response.retry_after.seconds if response.retry_after else None
            self._fail(code, response.reason, now, retry=True, at_least=retry_after)

    def authentication_failed(self, code: int, reason: str, now: float) -> None:
        """Our credentials were refused (or could not answer the challenge): stop."""
        if self.state is RegistrationState.UNREGISTERING:
            self._finish_unregister()
        else:
            self._fail(code, reason, now, retry=False)

    def request_failed(self, code: int, reason: str, now: float) -> None:
        """Timer F, a transport error or no usable target: 408/503-like, retried."""
        if self.state is RegistrationState.UNREGISTERING:
            self._finish_unregister()
        elif self.state is RegistrationState.REGISTERING:
            self._fail(code, reason, now, retry=True)

    def refresh_now(self, reason: str, now: float) -> None:
        """Register again at once: connection lost, keep-alive failed, address changed."""
        if self.state in (RegistrationState.REGISTERED, RegistrationState.WAITING_RETRY):
            log.info("registering again: %s", reason)
            self._register(now)

    def address_learnt(self, host: str, port: int, now: float) -> None:
        """The registrar saw us at host:port (Via received/rport): register that address.

        While a REGISTER is in progress the new Contact goes out right after its 2xx
        (the binding just granted is the one for the Contact that was sent).
        """
        contact = self._contact
        if contact.host == host and (contact.port or 5060) == port:
            return
        self._contact = SipUri(
            contact.scheme, contact.user, None, host, port, contact.parameters, ()
        )
        log.info("public address is now %s:%d", host, port)
        if self.state is RegistrationState.REGISTERED:
            self._register(now)

    def handle_timer(self, now: float) -> None:
        if self._timer is None or now < self._timer:
            return
        self._timer = None
        if self.state in (RegistrationState.REGISTERED, RegistrationState.WAITING_RETRY):
            self._register(now)

    # -- outputs ---------------------------------------------------------------------

    def get_timer(self) -> float | None:
        return self._timer

    def requests_to_send(self) -> list[Request]:
        pending, self._pending = self._pending, []
        return pending

    def next_event(self) -> RegistrationEvent | None:
        return self._events.pop(0) if self._events else None

    @property
    def contact(self) -> SipUri:
        return self._contact

    def next_request_after_challenge(self, request: Request) -> Request:
        """Give a REGISTER re-sent with credentials its new CSeq (§22.2)."""
        self._cseq += 1
        request.headers.set("CSeq", str(CSeq(self._cseq, "REGISTER")))
        return request

    # -- internals -------------------------------------------------------------------

    def _register(self, now: float) -> None:
        self._timer = None
        self._set_state(RegistrationState.REGISTERING)
        self._pending.append(self._build_register(self._requested_expires))

    def _registered(self, response: Response, now: float) -> None:
        granted = self._granted_expiry(response)
        if granted == 0:
            self._fail(response.status_code, "registrar removed our binding", now, retry=True)
            return
        self._failures = 0
        self.granted_expires = granted
        self.expires_at = now + granted
        refresh_in = max(1.0, min(granted * REFRESH_FRACTION, granted - REFRESH_MARGIN))
        self._timer = now + refresh_in
        self._set_state(RegistrationState.REGISTERED)
        self._events.append(Registered(granted, str(self._sent_contact)))
        if self._contact != self._sent_contact:
            log.info("registering the public address %s learnt meanwhile", self._contact)
            self._register(now)

    def _granted_expiry(self, response: Response) -> int:
        for address in response.contact:
            if address.uri == self._sent_contact and address.expires is not None:
                return address.expires
        if response.expires is not None:
            return response.expires
        return self._requested_expires

    def _fail(
        self, code: int, reason: str, now: float, *, retry: bool, at_least: int | None = None
    ) -> None:
        self.last_failure = (code, reason)
        self.granted_expires = None
        self.expires_at = None
        if not retry:
            self._timer = None
            self._set_state(RegistrationState.FAILED)
            self._events.append(RegistrationFailed(code, reason, None))
            return
        self._failures += 1
        ceiling = min(self.settings.retry_max, self.settings.retry_base * 2 ** (self._failures - 1))
        delay = ceiling * self._rng.uniform(0.5, 1.0)
        if at_least is not None:
            delay = max(delay, min(float(at_least), self.settings.retry_max))
        self._timer = now + delay
        self._set_state(RegistrationState.WAITING_RETRY)
        self._events.append(RegistrationFailed(code, reason, delay))

    def _finish_unregister(self) -> None:
        self.granted_expires = None
        self.expires_at = None
        self._timer = None
        self._set_state(RegistrationState.UNREGISTERED)
        self._events.append(Unregistered())

    def _build_register(self, expires: int) -> Request:
        settings = self.settings
        self._cseq += 1
        if expires > 0:
            self._sent_contact = self._contact  # an un-REGISTER removes what was registered
        contact = NameAddress(
            self._sent_contact,
            None,
            (
                ("+sip.instance", quote(f"<{settings.instance_id}>")),
                *((("reg-id", str(settings.reg_id)),) if settings.reg_id is not None else ()),
            ),
        )
        headers = Headers()
        headers.add("Max-Forwards", "70")
        headers.add("From", str(NameAddress(settings.aor, None, (("tag", self._from_tag),))))
        headers.add("To", str(NameAddress(settings.aor)))
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", str(CSeq(self._cseq, "REGISTER")))
        headers.add("Contact", str(contact))
        headers.add("Expires", str(expires))
        headers.add("Supported", "path, outbound" if settings.reg_id is not None else "path")
        headers.add("User-Agent", settings.user_agent)
        return Request("REGISTER", settings.registrar, headers)

    def _set_state(self, new: RegistrationState) -> None:
        if new is not self.state:
            log.debug("registration %s: %s -> %s", self.settings.aor, self.state.value, new.value)
            self.state = new
