"""SIP dialogs (RFC 3261 §12): the state two user agents share for one call.

Theory of operation
-------------------
A dialog is identified by the Call-ID and the two tags (§12, ``DialogId``);
each side names its own tag first.  It holds what §12.1 says both sides keep:
the local and remote URIs (the From and To of the initial request, with the
tags), the local and remote CSeq numbers, the remote target (the peer's
Contact), the route set (the Record-Route of the initial exchange) and the
``secure`` flag::

    EARLY ──confirm (2xx)──► CONFIRMED ──terminate──► TERMINATED
      └─────────────────terminate────────────────────────┘

* UAC (§12.1.2): ``Dialog.from_uac_response(invite, response)`` for a 1xx with a
  To tag (an early dialog; with forking there may be several, one per tag) or a
  2xx.  The route set is the response's Record-Route *reversed*; the remote
  target is its Contact.  A 2xx confirms an early dialog and recomputes both
  (§13.2.2.4): ``confirm(response)``.
* UAS (§12.1.1): ``Dialog.from_uas_request(invite, local_tag, local_contact)``.
  The route set is the request's Record-Route *as is*; the remote target its
  Contact; the remote sequence number its CSeq; the local one starts empty.
  The UAS confirms when it sends its 2xx: ``confirm()``.
* Requests within the dialog (§12.2.1.1): ``build_request`` fills in To, From,
  Call-ID, CSeq (the local number plus one, except for ACK and CANCEL, which
  reuse the number of the request they go with), Max-Forwards, the Request-URI
  and Route.  With an empty route set, or a first route carrying ``lr`` (loose
  routing, §16.12), the Request-URI is the remote target and Route the whole
  route set; otherwise (a strict router, RFC 2543) the Request-URI is the first
  route and Route holds the rest followed by the remote target.  The caller adds
  the Via: its branch and sent-by belong to the transport, not the dialog.
* Requests received (§12.2.2): ``receive_request`` answers the status to reject
  with — 500 for a CSeq lower than the last one seen — or None, and records the
  number.  Target refresh (§12.2, RFC 3311, RFC 6141 §3.3): ``refresh_target``
  takes the remote target from a Contact; the INVITE and UPDATE code calls it
  when the refresh is accepted (our 2xx sent, or a 2xx to ours received), so a
  rejected re-INVITE leaves the target alone.
* ``DialogRegistry`` finds what belongs to the dialog of an incoming message; a
  request with a To tag that matches nothing is answered 481 by the caller
  (§12.2.2).  (It is not RFC 3261's "dialog set", which is the dialogs one
  forked INVITE creates.)

Every state change is logged at DEBUG as ``dialog <call-id> <local>/<remote>: old -> new``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from enum import Enum
from typing import Generic, TypeVar

from phoneagent.sip.address import NameAddress
from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from phoneagent.sip.fields import MAX_CSEQ, CSeq
from phoneagent.sip.headers import Headers
from phoneagent.sip.message import Message, Request, Response
from phoneagent.sip.uri import SipUri, Uri

__all__ = [
    "MAX_FORWARDS",
    "TARGET_REFRESH_METHODS",
    "Dialog",
    "DialogId",
    "DialogRegistry",
    "DialogState",
    "next_hop_uri",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Max-Forwards of the requests we originate (§8.1.1.6).
MAX_FORWARDS = "70"
#: Methods that carry a Contact and may change the remote target (§12.2, RFC 3311, RFC 6665).
TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})
#: Methods that reuse the CSeq number of the request they belong to (§12.2.1.1).
_SAME_CSEQ_METHODS = frozenset({"ACK", "CANCEL"})
#: Request-URI parameters §19.1.1's table does not allow (stripped on strict routing).
_NOT_IN_REQUEST_URI = ("method",)


@dataclass(frozen=True, slots=True)
class DialogId:
    """Call-ID, local tag and remote tag (§12): each side names its own tag first.

    A tag missing from an RFC 2543 peer's From is the empty string.
    """

    call_id: str
    local_tag: str
    remote_tag: str

    @classmethod
    def of_received_request(cls, request: Request) -> DialogId | None:
        """The dialog a received request belongs to (§12.2.2): None without a To tag."""
        local_tag = request.to.tag
        if local_tag is None:
            return None
        return cls(request.call_id, local_tag, request.from_.tag or "")

    @classmethod
    def of_received_response(cls, response: Response) -> DialogId | None:
        """The dialog a response to our request belongs to: None without a To tag."""
        remote_tag = response.to.tag
        if remote_tag is None:
            return None
        return cls(response.call_id, response.from_.tag or "", remote_tag)

    def __str__(self) -> str:
        return f"{self.call_id} {self.local_tag}/{self.remote_tag}"


class DialogState(Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class DialogInput(Enum):
    CONFIRM = "confirm (2xx)"
    TERMINATE = "terminate"


_S = DialogState
_I = DialogInput

#: §12: a dialog starts early (a 1xx) or confirmed (a 2xx); both may end.
DIALOG_TRANSITIONS: dict[tuple[DialogState, DialogInput], DialogState] = {
    (_S.EARLY, _I.CONFIRM): _S.CONFIRMED,
    (_S.EARLY, _I.TERMINATE): _S.TERMINATED,
    (_S.CONFIRMED, _I.TERMINATE): _S.TERMINATED,
}


def _single_contact(message: Message, what: str) -> NameAddress:
    """The Contact that sets a remote target (§12.1.1, §12.1.2): exactly one is expected."""
    contacts = message.contact
    if message.contact_is_wildcard or not contacts:
        raise RemoteProtocolError(f"{what} without a usable Contact")
    if len(contacts) > 1:
        logger.info("%s with %d Contacts: the first is the remote target", what, len(contacts))
    return contacts[0]


def _is_secure(request: Request) -> bool:
    """§12.1.1 and §12.1.2: a SIPS Request-URI on a request carried over TLS."""
    uri = request.uri
    return isinstance(uri, SipUri) and uri.is_secure and request.top_via.transport == "TLS"


def next_hop_uri(request: Request) -> Uri:
    """Where a request goes next (§8.1.2): its first Route, else its Request-URI."""
    routes = request.route
    return routes[0].uri if routes else request.uri


class Dialog:
    """One dialog; see the module docstring.  Built with the two constructors."""

    def __init__(
        self,
        dialog_id: DialogId,
        *,
        local_address: NameAddress,
        remote_address: NameAddress,
        local_contact: NameAddress,
        remote_target: Uri,
        route_set: Iterable[NameAddress],
        local_seq: int | None,
        remote_seq: int | None,
        secure: bool,
        is_uac: bool,
        state: DialogState,
    ) -> None:
        if state is DialogState.TERMINATED:
            raise LocalProtocolError("a dialog cannot start terminated")
        self.id = dialog_id
        self.local_address = local_address  # our From (UAC) / To (UAS), with our tag
        self.remote_address = remote_address  # the peer's, with its tag
        self.local_contact = local_contact
        self.remote_target = remote_target
        self.route_set: tuple[NameAddress, ...] = tuple(route_set)
        self.local_seq = local_seq
        self.remote_seq = remote_seq
        self.secure = secure
        self.is_uac = is_uac  # our role in the request that created the dialog
        self.state: DialogState = state
        logger.debug("dialog %s: created %s", dialog_id, state.value)

    # -- construction (§12.1) ------------------------------------------------------------------

    @classmethod
    def from_uac_response(cls, request: Request, response: Response) -> Dialog:
        """The dialog a 101-199 with a To tag (early) or a 2xx (confirmed) creates (§12.1.2).

        ``request`` is the INVITE we sent.  Raises RemoteProtocolError when the
        response cannot create a dialog (no To tag, no Contact).
        """
        if response.status_code <= 100 or response.status_code >= 300:
            raise LocalProtocolError(f"a {response.status_code} does not create a dialog")
        dialog_id = DialogId.of_received_response(response)
        if dialog_id is None:
            raise RemoteProtocolError(f"{response.status_code} without a To tag")
        return cls(
            dialog_id,
            local_address=request.from_,
            remote_address=response.to,
            local_contact=_single_contact(request, "our request"),
            remote_target=_single_contact(response, f"{response.status_code}").uri,
            route_set=reversed(response.record_route),
            local_seq=request.cseq.number,
            remote_seq=None,
            secure=_is_secure(request),
            is_uac=True,
            state=DialogState.CONFIRMED if response.is_success else DialogState.EARLY,
        )

    @classmethod
    def from_uas_request(
        cls, request: Request, local_tag: str, local_contact: NameAddress
    ) -> Dialog:
        """The dialog we create by answering ``request`` (§12.1.1), early until ``confirm()``.

        ``local_tag`` is the To tag of every response we send to it.  Raises
        RemoteProtocolError for a request that cannot create a dialog (no Contact).
        """
        if request.to.tag is not None:
            raise LocalProtocolError("a request with a To tag belongs to an existing dialog")
        return cls(
            DialogId(request.call_id, local_tag, request.from_.tag or ""),
            local_address=request.to.with_tag(local_tag),
            remote_address=request.from_,
            local_contact=local_contact,
            remote_target=_single_contact(request, request.method).uri,
            route_set=request.record_route,
            local_seq=None,
            remote_seq=request.cseq.number,
            secure=_is_secure(request),
            is_uac=False,
            state=DialogState.EARLY,
        )

    # -- state ---------------------------------------------------------------------------------

    @property
    def local_uri(self) -> Uri:
        return self.local_address.uri

    @property
    def remote_uri(self) -> Uri:
        return self.remote_address.uri

    def confirm(self, response: Response | None = None) -> None:
        """EARLY -> CONFIRMED: a 2xx was received (UAC, pass it) or sent (UAS, pass nothing).

        The UAC recomputes the route set and the remote target from the 2xx
        (§13.2.2.4); a 2xx without Contact raises RemoteProtocolError and
        leaves the dialog as it was.
        """
        if self.is_uac:
            if response is None or not response.is_success:
                raise LocalProtocolError("a UAC dialog is confirmed by the 2xx it received")
            target = _single_contact(response, f"{response.status_code}").uri
            self._transition(DialogInput.CONFIRM)
            self.remote_target = target
            self.route_set = tuple(reversed(response.record_route))
        else:
            if response is not None:
                raise LocalProtocolError("a UAS dialog is confirmed by sending its 2xx")
            self._transition(DialogInput.CONFIRM)

    def terminate(self) -> None:
        """Any state -> TERMINATED (BYE, a final failure, 481/408 to a request)."""
        if self.state is not DialogState.TERMINATED:
            self._transition(DialogInput.TERMINATE)

    def _transition(self, event: DialogInput) -> None:
        new = DIALOG_TRANSITIONS.get((self.state, event))
        if new is None:
            raise LocalProtocolError(
                f"dialog {self.id}: {event.value} is not allowed in state {self.state.value}"
            )
        self._set_state(new)

    def _set_state(self, new: DialogState) -> None:
        old = self.state
        self.state = new
        logger.debug("dialog %s: %s -> %s", self.id, old.value, new.value)

    # -- requests we send (§12.2.1) ------------------------------------------------------------

    def build_request(
        self,
        method: str,
        body: bytes = b"",
        content_type: str | None = None,
        extra_headers: Iterable[tuple[str, str]] = (),
        *,
        cseq: int | None = None,
    ) -> Request:
        """A request within this dialog (§12.2.1.1), without a Via.

        The local CSeq number goes up by one, except for ACK and CANCEL, which
        take ``cseq`` (the number of the INVITE they belong to) or the current
        local number.  Target refresh requests carry our Contact.
        """
        if self.state is DialogState.TERMINATED:
            raise LocalProtocolError(f"dialog {self.id} is terminated: no {method}")
        if body and content_type is None:
            raise LocalProtocolError(f"{method} with a body needs a Content-Type")
        if method in _SAME_CSEQ_METHODS:
            number = cseq if cseq is not None else self.local_seq
            if number is None:
                raise LocalProtocolError(f"{method} before any request in dialog {self.id}")
        else:
            if cseq is not None:
                raise LocalProtocolError(f"only ACK and CANCEL take a CSeq number, not {method}")
            # §12.2.1.1 / §8.1.1.5: an empty local number starts anywhere below 2**31.
            number = 1 if self.local_seq is None else self.local_seq + 1
            if number > MAX_CSEQ:
                raise LocalProtocolError(f"dialog {self.id}: CSeq number space exhausted")
            self.local_seq = number
        request_uri, routes = self._request_target()
        headers = Headers()
        for route in routes:
            headers.add("Route", str(route))
        headers.add("Max-Forwards", MAX_FORWARDS)
        headers.add("From", str(self.local_address))
        headers.add("To", str(self.remote_address))
        headers.add("Call-ID", self.id.call_id)
        headers.add("CSeq", str(CSeq(number, method)))
        if method in TARGET_REFRESH_METHODS:
            headers.add("Contact", str(self.local_contact))
        for name, value in extra_headers:
            headers.add(name, value)
        if content_type is not None:
            headers.add("Content-Type", content_type)
        return Request(method, request_uri, headers, body)

    def _request_target(self) -> tuple[Uri, tuple[NameAddress, ...]]:
        """Request-URI and Route values (§12.2.1.1): loose or strict routing."""
        if not self.route_set:
            return self.remote_target, ()
        first = self.route_set[0].uri
        if isinstance(first, SipUri) and first.has_parameter("lr"):
            return self.remote_target, self.route_set
        # A strict router (RFC 2543): it expects itself in the Request-URI.
        request_uri = first
        if isinstance(request_uri, SipUri):
            for name in _NOT_IN_REQUEST_URI:
                request_uri = request_uri.without_parameter(name)
            request_uri = replace(request_uri, headers=())
        return request_uri, (*self.route_set[1:], NameAddress(self.remote_target))

    # -- requests we receive (§12.2.2) ---------------------------------------------------------

    def receive_request(self, request: Request) -> int | None:
        """Check a request received in this dialog: the status to reject it with, or None.

        §12.2.2: a CSeq number lower than the last one is out of order (500);
        otherwise it becomes the remote sequence number.  ACK and CANCEL share
        the number of their INVITE and are not checked.  A terminated dialog
        answers 481.
        """
        if self.state is DialogState.TERMINATED:
            return 481
        if request.method in _SAME_CSEQ_METHODS:
            return None
        number = request.cseq.number
        if self.remote_seq is not None and number < self.remote_seq:
            logger.info(
                "dialog %s: %s with CSeq %d after %d: out of order (500)",
                self.id,
                request.method,
                number,
                self.remote_seq,
            )
            return 500
        self.remote_seq = number
        return None

    def refresh_target(self, message: Message) -> None:
        """Take the remote target from ``message``'s Contact, if it has one (§12.2).

        For an accepted target refresh: a re-INVITE or UPDATE we answer 2xx,
        or the 2xx to one we sent.  A message without Contact changes nothing.
        """
        contacts = message.contact
        if contacts and contacts[0].uri != self.remote_target:
            logger.debug("dialog %s: remote target %s", self.id, contacts[0].uri)
            self.remote_target = contacts[0].uri

    def __repr__(self) -> str:
        return f"<Dialog {self.id} {self.state.value}>"


class DialogRegistry(Generic[T]):
    """What belongs to each dialog (a ``Dialog``, a call …), found by ``DialogId``."""

    def __init__(self) -> None:
        self._items: dict[DialogId, T] = {}

    def add(self, dialog_id: DialogId, item: T) -> None:
        if dialog_id in self._items:
            raise LocalProtocolError(f"dialog {dialog_id} is already registered")
        self._items[dialog_id] = item

    def remove(self, dialog_id: DialogId) -> T | None:
        return self._items.pop(dialog_id, None)

    def get(self, dialog_id: DialogId | None) -> T | None:
        return None if dialog_id is None else self._items.get(dialog_id)

    def for_request(self, request: Request) -> T | None:
        """The owner of the dialog a received request names (None: not ours, 481)."""
        return self.get(DialogId.of_received_request(request))

    def for_response(self, response: Response) -> T | None:
        """The owner of the dialog a response to our request names."""
        return self.get(DialogId.of_received_response(response))

    def __contains__(self, dialog_id: object) -> bool:
        return dialog_id in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[DialogId]:
        return iter(list(self._items))
