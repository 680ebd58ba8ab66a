"""The phone's SIP user agent core: registration, keep-alives, OPTIONS, bad input (sans-IO).

Theory of operation
-------------------
``UserAgent`` is the one object the asyncio adapter talks to.  Bytes come in
with their source ``Peer`` and the time; ``SendAction``s (bytes and a
destination), ``UserAgentEvent``s and one timer deadline come out.  Inside,
layers compose as DESIGN.md draws them:

    bytes ─► parser ─► TransactionLayer ─► UserAgent ─► Registration / DigestClient
                                               └──────► OPTIONS answered, the rest 501

* A request that fails to parse is answered from its salvage (RFC 3261 §8.2.6 /
  RFC 4475), a broken response is dropped; the phone carries on either way.
* REGISTER: ``Registration`` says what to send; we add the Via (with ``rport``,
  RFC 3581), run it in a client transaction to the current target, answer a 401
  or 407 through ``DigestClient`` (new CSeq and branch, §22.2) and report the
  outcome back.  A timeout, transport error or 503 also moves to the next target
  of the RFC 3263 list (§4.3 of that RFC).
* Our public address is learnt from ``received``/``rport`` of REGISTER responses
  over UDP (and from STUN keep-alive answers); a change re-registers.
* Keep-alives (RFC 5626 §3.5.1, §4.4) while registered, every
  ``keepalive_interval`` seconds: over TCP/TLS a CRLFCRLF ping whose pong must
  come within ``KEEPALIVE_TIMEOUT``; over UDP a STUN binding request, or, when the
  registrar never answered STUN, an OPTIONS request.  A keep-alive that fails
  means the flow is dead: register again.
* OPTIONS to us is answered 200 with Allow, Accept and Supported (§11.2).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from phoneagent.sip import mwi
from phoneagent.sip.address import NameAddress
from phoneagent.sip.auth import Credentials, DigestClient
from phoneagent.sip.errors import RemoteProtocolError
from phoneagent.sip.framing import KEEPALIVE_PING
from phoneagent.sip.invite import (
    ALLOWED_METHODS,
    CallManager,
    CallSettings,
    ChallengeReceived,
    OutgoingCall,
)
from phoneagent.sip.message import KeepAlive, Request, Response
from phoneagent.sip.mwi import MessageSummary
from phoneagent.sip.parser import parse_datagram
from phoneagent.sip.registration import (
    Registered,
    Registration,
    RegistrationEvent,
    RegistrationFailed,
    RegistrationSettings,
    RegistrationState,
    Unregistered,
)
from phoneagent.sip.responses import make_error_response, make_response
from phoneagent.sip.stun import StunError, is_stun, make_binding_request, parse_stun
from phoneagent.sip.transaction import (
    AckReceived,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TimerSettings,
    TransactionKey,
    TransactionLayer,
    TransactionTimedOut,
    TransportFailed,
)
from phoneagent.sip.transport import Peer, Transport
from phoneagent.sip.uri import SipUri, TelUri, Uri
from phoneagent.sip.via import BRANCH_MAGIC_COOKIE, Via

#: Out of dialog we also take NOTIFY, for message-summary (RFC 3842).
UA_METHODS = (*ALLOWED_METHODS, "NOTIFY")

log = logging.getLogger(__name__)

ACCEPTED_BODIES = ("application/sdp",)
SUPPORTED_EXTENSIONS = ("path", "outbound")
KEEPALIVE_TIMEOUT = 10.0  # RFC 5626 §4.4.1: a pong is expected within 10 s
STUN_ATTEMPTS_BEFORE_OPTIONS = 2


@dataclass(frozen=True, slots=True)
class SendAction:
    """Bytes the adapter must send; ``server_name`` is the TLS name to verify."""

    data: bytes
    destination: Peer
    server_name: str | None = None


@dataclass(frozen=True, slots=True)
class UserAgentEvent:
    """Base of what the user agent reports to the application."""


@dataclass(frozen=True, slots=True)
class MessagesWaiting(UserAgentEvent):
    """A message-summary NOTIFY (RFC 3842) told us about voicemail."""

    summary: MessageSummary


@dataclass(frozen=True, slots=True)
class RegistrationChanged(UserAgentEvent):
    """``state`` is "registered", "unregistered" or "failed"."""

    state: str
    expires: int | None = None
    code: int | None = None
    reason: str | None = None
    retry_in: float | None = None


@dataclass(frozen=True, slots=True)
class TargetsNeeded(UserAgentEvent):
    """Every target of the server list failed: look the registrar up again."""


@dataclass(frozen=True, slots=True)
class UserAgentSettings:
    aor: SipUri
    registrar: SipUri
    transport: Transport
    credentials: tuple[Credentials, ...]
    instance_id: str
    expires: int = 600
    keepalive_interval: float = 25.0
    timers: TimerSettings = field(default_factory=TimerSettings)
    user_agent: str = "phoneagent"
    tls_server_name: str | None = None


class KeepAliveMode(Enum):
    STREAM_PING = "crlf"
    STUN = "stun"
    OPTIONS = "options"


class UserAgent:
    """See the module docstring."""

    def __init__(
        self,
        settings: UserAgentSettings,
        local: Peer,
        make_token: Callable[[], str] = lambda: secrets.token_hex(8),
    ) -> None:
        self.settings = settings
        self.local = local
        self._make_token = make_token
        self.transactions = TransactionLayer(settings.timers)
        self.digest = DigestClient(settings.credentials)
        contact = SipUri(
            "sips" if settings.aor.is_secure else "sip",
            settings.aor.user,
            None,
            local.host,
            local.port,
            ()
            if settings.transport is Transport.UDP
            else (("transport", settings.transport.value),),
        )
        self.registration = Registration(
            RegistrationSettings(
                aor=settings.aor,
                registrar=settings.registrar,
                contact=contact,
                instance_id=settings.instance_id,
                expires=settings.expires,
                # RFC 5626 §4.2.1: an outbound-capable UA always sends reg-id with its
                # instance id; a registrar without outbound support ignores both.
                reg_id=1,
            ),
            make_token,
        )
        self.calls = CallManager(
            self.transactions,
            contact=NameAddress(contact),
            make_via=self._make_via,
            make_token=make_token,
            settings=CallSettings(
                user_agent=settings.user_agent,
                allow=ALLOWED_METHODS,
            ),
        )
        self._call_events: list[object] = []
        self._targets: list[Peer] = []
        self._target_index = 0
        self._register_key: TransactionKey | None = None
        self._register_request: Request | None = None
        self._actions: list[SendAction] = []
        self._events: list[UserAgentEvent] = []
        self._keepalive_mode = (
            KeepAliveMode.STUN if settings.transport is Transport.UDP else KeepAliveMode.STREAM_PING
        )
        self._keepalive_at: float | None = None
        self._keepalive_deadline: float | None = None
        self._keepalive_stun_id: bytes | None = None
        self._keepalive_options_key: TransactionKey | None = None
        self._stun_unanswered = 0
        self._stun_answered_once = False
        self._stopping = False

    # -- wiring --------------------------------------------------------------------------

    @property
    def target(self) -> Peer | None:
        if self._target_index < len(self._targets):
            return self._targets[self._target_index]
        return None

    def set_targets(self, targets: list[Peer], now: float) -> None:
        """The registrar's addresses in the order RFC 3263 gives them."""
        self._targets = list(targets)
        self._target_index = 0
        self._flush_registration(now)

    def start(self, now: float) -> None:
        self.registration.start(now)
        self._flush_registration(now)

    def stop(self, now: float) -> None:
        """Unregister; the adapter waits for ``is_stopped`` (bounded by its own timeout)."""
        self._stopping = True
        self._keepalive_at = self._keepalive_deadline = None
        self.registration.stop(now)
        self._flush_registration(now)

    @property
    def is_stopped(self) -> bool:
        return self._stopping and self.registration.state in (
            RegistrationState.UNREGISTERED,
            RegistrationState.FAILED,
        )

    # -- input from the adapter ----------------------------------------------------------------

    def receive_datagram(self, data: bytes, source: Peer, now: float) -> None:
        if source.transport is Transport.UDP and is_stun(data):
            self.receive_stun(data, source, now)
            return
        try:
            message = parse_datagram(data)
        except RemoteProtocolError as error:
            log.info("malformed message from %s: %s", source, error.reason)
            answer = make_error_response(error, to_tag=self._make_token())
            if answer is not None:
                self._send_bytes(bytes(answer), source)
            return
        if isinstance(message, KeepAlive):
            return  # RFC 5626 pings come over streams, where the adapter answers them
        self.transactions.receive(message, source, now)
        self._process(now)

    def receive_stun(self, data: bytes, source: Peer, now: float) -> None:
        try:
            answer = parse_stun(data)
        except StunError as error:  # RFC 5389 §7.3: discarded silently
            log.debug("malformed STUN from %s: %s", source, error.reason)
            return
        if answer is None or answer.transaction_id != self._keepalive_stun_id:
            return
        self._keepalive_stun_id = None
        self._stun_unanswered = 0
        self._stun_answered_once = True
        self._keepalive_answered(now)
        if answer.mapped_address is not None:
            host, port = answer.mapped_address
            self.registration.address_learnt(host, port, now)
            self._flush_registration(now)

    def keepalive_pong(self, source: Peer, now: float) -> None:
        if self._keepalive_mode is KeepAliveMode.STREAM_PING and source == self.target:
            self._keepalive_answered(now)

    def connection_lost(self, peer: Peer, now: float) -> None:
        if peer == self.target and not self._stopping:
            self.registration.refresh_now(f"connection to {peer} lost", now)
            self._flush_registration(now)

    def transport_error(self, peer: Peer, now: float) -> None:
        self.transactions.transport_error(peer, now)
        self._process(now)

    # -- output to the adapter ------------------------------------------------------------------

    # -- calls ------------------------------------------------------------------------------

    def dial(
        self, target: Uri, sdp_offer: bytes, now: float, destination: Peer | None = None
    ) -> OutgoingCall | None:
        """Call ``target``, sent to ``destination`` (RFC 3263's answer for it) or, when
        None, to our registrar/outbound proxy target."""
        destination = destination or self.target
        if destination is None:
            return None
        call = self.calls.place_call(
            target, NameAddress(self.settings.aor), destination, now, sdp_offer=sdp_offer
        )
        self._process(now)
        return call

    def call_events(self) -> list[object]:
        """Call events (``phoneagent.sip.invite`` events) since the last call."""
        events, self._call_events = self._call_events, []
        return events

    def after_call_command(self, now: float) -> None:
        """Flush what a call command (answer, hangup, dtmf INFO …) queued."""
        self._process(now)

    def _make_via(self, destination: Peer) -> Via:
        """A top Via with a fresh branch and ``rport`` (RFC 3581); over TCP/TLS also
        ``alias`` (RFC 5923): requests for us may come back over this connection, since
        a phone behind NAT (or without a TLS certificate) cannot accept new ones."""
        parameters: tuple[tuple[str, str | None], ...] = (
            ("branch", f"{BRANCH_MAGIC_COOKIE}{self._make_token()}"),
            ("rport", None),
        )
        if destination.transport.is_reliable:
            parameters = (*parameters, ("alias", None))
        return Via(destination.transport.via_name, self.local.host, self.local.port, parameters)

    def actions(self) -> list[SendAction]:
        actions, self._actions = self._actions, []
        return actions

    def next_event(self) -> UserAgentEvent | None:
        return self._events.pop(0) if self._events else None

    def get_timer(self) -> float | None:
        deadlines = [
            deadline
            for deadline in (
                self.transactions.get_timer(),
                self.calls.get_timer(),
                self.registration.get_timer(),
                self._keepalive_at,
                self._keepalive_deadline,
            )
            if deadline is not None
        ]
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        self.transactions.handle_timer(now)
        self.calls.handle_timer(now)
        self._process(now)
        self.registration.handle_timer(now)
        self._flush_registration(now)
        if self._keepalive_deadline is not None and now >= self._keepalive_deadline:
            self._keepalive_failed(now)
        if self._keepalive_at is not None and now >= self._keepalive_at:
            self._send_keepalive(now)

    # -- transaction events --------------------------------------------------------------------

    def _process(self, now: float) -> None:
        for outgoing in self.transactions.messages_to_send():
            self._send_bytes(bytes(outgoing.message), outgoing.destination)
        while (event := self.transactions.next_event()) is not None:
            if self.calls.handle_event(event, now):
                continue
            if isinstance(event, ResponseReceived):
                self._response(event.key, event.request, event.response, now)
            elif isinstance(event, TransactionTimedOut | TransportFailed):
                code = 408 if isinstance(event, TransactionTimedOut) else 503
                self._request_failed(event.key, code, now)
            elif isinstance(event, RequestReceived):
                self._request(event.key, event.request, now)
            elif isinstance(event, AckReceived | StrayResponse):
                log.debug("ignored %s", type(event).__name__)
        for outgoing in self.transactions.messages_to_send():
            self._send_bytes(bytes(outgoing.message), outgoing.destination)
        while (call_event := self.calls.next_event()) is not None:
            if isinstance(call_event, ChallengeReceived) and isinstance(
                call_event.call, OutgoingCall
            ):
                retry = self.digest.answer(call_event.response, call_event.request)
                call_event.call.retry_with(retry, now)
                for outgoing in self.transactions.messages_to_send():
                    self._send_bytes(bytes(outgoing.message), outgoing.destination)
                continue
            self._call_events.append(call_event)

    def _request(self, key: TransactionKey, request: Request, now: float) -> None:
        rejection = self._screen(request)
        if rejection is not None:
            code, headers = rejection
            response = make_response(request, code, to_tag=self._make_token(), headers=headers)
        elif request.method == "NOTIFY":
            response = self._notify(request)
        elif request.method == "OPTIONS":
            response = make_response(
                request,
                200,
                to_tag=self._make_token(),
                headers=[
                    ("Allow", ", ".join(UA_METHODS)),
                    ("Allow-Events", mwi.EVENT),
                    ("Accept", ", ".join(ACCEPTED_BODIES)),
                    ("Supported", ", ".join(SUPPORTED_EXTENSIONS)),
                    ("User-Agent", self.settings.user_agent),
                ],
            )
        else:
            response = make_response(
                request,
                501,
                to_tag=self._make_token(),
                headers=[("Allow", ", ".join(UA_METHODS))],
            )
        self.transactions.respond(key, response, now)

    def _notify(self, request: Request) -> Response:
        """An out-of-dialog NOTIFY: the unsolicited message-summary most PBXs send to a
        registered phone (RFC 3842); any other event package is 489 (RFC 6665 §8.3.2)."""
        tag = self._make_token()
        try:
            event = request.event
            if event is None or event.package.lower() != mwi.EVENT:
                headers = [("Allow-Events", mwi.EVENT)]
                return make_response(request, 489, to_tag=tag, headers=headers)
            content_type = request.content_type
            if request.body and content_type is not None and (
                f"{content_type.type}/{content_type.subtype}" != mwi.CONTENT_TYPE
            ):
                headers = [("Accept", mwi.CONTENT_TYPE)]
                return make_response(request, 415, to_tag=tag, headers=headers)
            summary = mwi.MessageSummary.parse(request.body)
        except RemoteProtocolError as error:
            return make_response(request, error.status_hint or 400, to_tag=tag)
        self._events.append(MessagesWaiting(summary))
        return make_response(request, 200, to_tag=tag)

    @staticmethod
    def _screen(request: Request) -> tuple[int, list[tuple[str, str]]] | None:
        """RFC 3261 §8.2.2: checks a UAS makes before looking at the method.

        416 for a Request-URI scheme we do not serve (RFC 4475 §3.3.2), 420 with
        Unsupported for option tags in Require we do not know (§8.2.2.3, RFC 4475
        §3.3.5).  Broken values read here are a 400.
        """
        try:
            if not isinstance(request.uri, SipUri | TelUri):
                return 416, []
            unknown = [tag for tag in request.require if tag not in SUPPORTED_EXTENSIONS]
        except RemoteProtocolError:
            return 400, []
        if unknown:
            return 420, [("Unsupported", ", ".join(unknown))]
        return None

    def _response(
        self, key: TransactionKey, request: Request, response: Response, now: float
    ) -> None:
        if key == self._keepalive_options_key:
            if response.is_final:
                self._keepalive_options_key = None
                self._keepalive_answered(now)
            return
        if key != self._register_key or not response.is_final:
            return
        self._register_key = None
        if self.settings.transport is Transport.UDP:
            via = response.top_via
            if via.received is not None and via.rport is not None:
                self.registration.address_learnt(via.received, via.rport, now)
        if response.status_code in (401, 407):
            retry = self.digest.answer(response, request)
            if retry is None:
                reason = self.digest.last_failure or response.reason
                self.registration.authentication_failed(response.status_code, reason, now)
            else:
                self._send_register(self.registration.next_request_after_challenge(retry), now)
                return
        elif (
            response.status_code == 503 and self.registration.state is RegistrationState.REGISTERING
        ):
            self._next_target()
            self.registration.response_received(response, now)
        else:
            self.registration.response_received(response, now)
        self._flush_registration(now)

    def _request_failed(self, key: TransactionKey, code: int, now: float) -> None:
        if key == self._keepalive_options_key:
            self._keepalive_options_key = None
            self._keepalive_failed(now)
            return
        if key != self._register_key:
            return
        self._register_key = None
        self._next_target()
        reason = "Request Timeout" if code == 408 else "Service Unavailable (transport)"
        self.registration.request_failed(code, reason, now)
        self._flush_registration(now)

    # -- registration plumbing -----------------------------------------------------------------

    def _flush_registration(self, now: float) -> None:
        for request in self.registration.requests_to_send():
            # Credentials for a realm that challenged us before go along at once (§22.3).
            self._send_register(self.digest.authorize_preemptively(request), now)
        while (event := self.registration.next_event()) is not None:
            self._registration_event(event, now)

    def _send_register(self, request: Request, now: float) -> None:
        target = self.target
        if target is None:
            self.registration.request_failed(503, "no registrar address", now)
            self._events.append(TargetsNeeded())
            return
        via = self._make_via(target)
        request.headers.remove("Via")
        request.headers.insert_first("Via", str(via))
        self._register_request = request
        self._register_key = self.transactions.send_request(request, target, now)
        self._process(now)

    def _registration_event(self, event: RegistrationEvent, now: float) -> None:
        if isinstance(event, Registered):
            self._events.append(RegistrationChanged("registered", expires=event.expires))
            self._schedule_keepalive(now)
        elif isinstance(event, Unregistered):
            self._events.append(RegistrationChanged("unregistered"))
            self._keepalive_at = self._keepalive_deadline = None
        elif isinstance(event, RegistrationFailed):
            state = "failed"
            self._events.append(
                RegistrationChanged(
                    state, code=event.code, reason=event.reason, retry_in=event.retry_in
                )
            )
            self._keepalive_at = self._keepalive_deadline = None

    def _next_target(self) -> None:
        self._target_index += 1
        if self._target_index >= len(self._targets):
            self._target_index = 0
            if not self._stopping:  # no DNS lookups on the way out
                self._events.append(TargetsNeeded())

    # -- keep-alives ------------------------------------------------------------------------------

    def _schedule_keepalive(self, now: float) -> None:
        interval = self.settings.keepalive_interval
        if interval > 0 and self._keepalive_deadline is None:
            self._keepalive_at = now + interval

    def _send_keepalive(self, now: float) -> None:
        self._keepalive_at = None
        target = self.target
        if target is None or self.registration.state is not RegistrationState.REGISTERED:
            return
        if self._keepalive_mode is KeepAliveMode.STREAM_PING:
            self._send_bytes(KEEPALIVE_PING, target)
        elif self._keepalive_mode is KeepAliveMode.STUN:
            self._keepalive_stun_id = secrets.token_bytes(12)
            self._send_bytes(make_binding_request(self._keepalive_stun_id), target)
        else:
            self._send_options_ping(target, now)
        self._keepalive_deadline = now + min(KEEPALIVE_TIMEOUT, self.settings.keepalive_interval)

    def _send_options_ping(self, target: Peer, now: float) -> None:
        headers = [
            ("Via", str(self._make_via(target))),
            ("Max-Forwards", "70"),
            ("From", f"<{self.settings.aor}>;tag={self._make_token()}"),
            ("To", f"<{self.settings.aor}>"),
            ("Call-ID", f"{self._make_token()}@{self.local.host}"),
            ("CSeq", "1 OPTIONS"),
            ("User-Agent", self.settings.user_agent),
        ]
        request = Request("OPTIONS", self.settings.registrar, headers)
        self._keepalive_options_key = self.transactions.send_request(request, target, now)
        self._process(now)

    def _keepalive_answered(self, now: float) -> None:
        self._keepalive_deadline = None
        self._schedule_keepalive(now)

    def _keepalive_failed(self, now: float) -> None:
        self._keepalive_deadline = None
        self._keepalive_options_key = None  # a late timeout of that ping means nothing now
        if self._keepalive_mode is KeepAliveMode.STUN and not self._stun_answered_once:
            # A registrar that never answered STUN does not speak it: fall back to OPTIONS.
            self._keepalive_stun_id = None
            self._stun_unanswered += 1
            if self._stun_unanswered >= STUN_ATTEMPTS_BEFORE_OPTIONS:
                log.info("registrar does not answer STUN: keep-alives by OPTIONS")
                self._keepalive_mode = KeepAliveMode.OPTIONS
            self._schedule_keepalive(now)
            return
        # RFC 5626 §4.4.1/§4.4.2: a keep-alive that went unanswered means the flow failed.
        self._keepalive_stun_id = None
        log.warning("keep-alive to %s failed: registering again", self.target)
        self.registration.refresh_now("keep-alive failed", now)
        self._flush_registration(now)

    def _send_bytes(self, data: bytes, destination: Peer) -> None:
        server_name = self.settings.tls_server_name if destination.transport.is_secure else None
        self._actions.append(SendAction(data, destination, server_name))
