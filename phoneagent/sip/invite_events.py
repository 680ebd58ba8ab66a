"""Events of the INVITE sessions (see ``invite``), one frozen dataclass each, and why calls end.

Every event names its ``call``; the phone answers with that call's commands
(``answer``, ``hangup``, ``accept_reoffer`` …).  ``EndReason`` sums up the
outcome of a call for the person using the phone; ``end_reason_for`` maps the
final response to an INVITE onto it (RFC 3261 §21: 486 and 600 busy, 603
declined, 408 and 480 nobody answered).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from phoneagent.sip.message import Request, Response

if TYPE_CHECKING:
    from phoneagent.sip.invite_session import Call

__all__ = [
    "END_REASONS",
    "CallAcknowledged",
    "CallAnswered",
    "CallEnded",
    "CallEvent",
    "CallProgress",
    "CallRinging",
    "ChallengeReceived",
    "EndReason",
    "IncomingCallReceived",
    "InfoReceived",
    "ReofferAnswered",
    "ReofferReceived",
    "ReofferRejected",
    "end_reason_for",
]


class EndReason(StrEnum):
    LOCAL_HANGUP = "local-hangup"
    REMOTE_HANGUP = "remote-hangup"
    BUSY = "busy"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    NO_ANSWER = "no-answer"
    FAILED = "failed"


#: Final responses with a reason of their own; every other one means "failed".
END_REASONS: Mapping[int, EndReason] = {
    486: EndReason.BUSY,
    600: EndReason.BUSY,
    603: EndReason.DECLINED,
    408: EndReason.NO_ANSWER,
    480: EndReason.NO_ANSWER,
}


def end_reason_for(status_code: int) -> EndReason:
    """Why a call ended, from the final response to its INVITE (not after our CANCEL)."""
    return END_REASONS.get(status_code, EndReason.FAILED)


@dataclass(frozen=True, slots=True)
class CallEvent:
    """Base of what ``CallManager.next_event()`` returns; ``call`` is the call concerned."""

    call: Call


@dataclass(frozen=True, slots=True)
class IncomingCallReceived(CallEvent):
    """A new INVITE: ``ring``, ``answer`` or ``reject`` the call.  ``sdp`` is the offer."""

    sdp: bytes | None


@dataclass(frozen=True, slots=True)
class CallProgress(CallEvent):
    """A provisional response other than 180 (100, 181, 182, 183 …)."""

    code: int
    early_media_sdp: bytes | None = None


@dataclass(frozen=True, slots=True)
class CallRinging(CallEvent):
    """180 Ringing; with SDP when the far end plays early media."""

    early_media_sdp: bytes | None


@dataclass(frozen=True, slots=True)
class CallAnswered(CallEvent):
    """A 2xx to our INVITE confirmed the call; ``sdp`` is the answer (or, for an
    INVITE without an offer, the offer: then call ``acknowledge``)."""

    sdp: bytes | None


@dataclass(frozen=True, slots=True)
class CallEnded(CallEvent):
    """The call is over; ``code`` is the status that ended it, when one did."""

    reason: EndReason
    code: int | None


@dataclass(frozen=True, slots=True)
class ChallengeReceived(CallEvent):
    """A 401 or 407 to our INVITE: call ``retry_with`` (credentials added) or with None."""

    response: Response
    request: Request


@dataclass(frozen=True, slots=True)
class ReofferReceived(CallEvent):
    """A re-INVITE or UPDATE with a new offer (None: a re-INVITE asking for ours)."""

    method: str
    sdp: bytes | None


@dataclass(frozen=True, slots=True)
class ReofferAnswered(CallEvent):
    """The 2xx to our re-INVITE; ``sdp`` is the answer."""

    sdp: bytes | None


@dataclass(frozen=True, slots=True)
class ReofferRejected(CallEvent):
    """Our re-INVITE failed; the session is unchanged.  For 491, retry after ``retry_after``."""

    code: int
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class InfoReceived(CallEvent):
    """An INFO within the call (DTMF: ``Signal=5`` / ``Duration=160`` lines)."""

    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class CallAcknowledged(CallEvent):
    """The ACK for our 2xx to an INVITE; ``sdp`` is the answer when our 2xx had the offer."""

    sdp: bytes | None
