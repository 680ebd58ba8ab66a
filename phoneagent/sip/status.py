"""SIP status codes: their registered reason phrases and their classes.

Theory of operation
-------------------
RFC 3261 §7.2 and §21 divide the status codes 100–699 into six classes by
their first digit.  The class is what drives behaviour: RFC 3261 §8.1.3.2 has
a UAC treat an unrecognised code as the ``x00`` code of its class (an unknown
499 is handled as 400), so callers branch on :class:`StatusClass`, never on a
phrase.

The reason phrase is for humans (§7.2: the Status-Code is for automata, the
Reason-Phrase for the human user, and a client need not examine it; §21: the
listed phrases are only recommendations).  We still send the registered
phrase, from :data:`REASON_PHRASES` — a copy of the IANA registry "Session
Initiation Protocol (SIP) Parameters → Response Codes", which RFC 3261 §27.4
created and later RFCs extended.  The phrases are copied exactly; each group
cites the RFC that registered it.

For a code the registry does not hold, :func:`reason_phrase` returns the name
of its class after the titles of RFC 3261 §21 ("Provisional", "Successful",
"Redirection", "Request Failure", "Server Failure", "Global Failure").  We do
not borrow the ``x00`` phrase: "Trying" on an unknown 1xx or "Bad Request" on
an unknown 4xx would tell the reader something the sender never said, while
the class name is true of every code in the class.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from phoneagent.sip.errors import LocalProtocolError

__all__ = ["REASON_PHRASES", "StatusClass", "reason_phrase"]

# Status-Code = 3DIGIT, with the first digit 1–6 (RFC 3261 §7.2, §25.1).
LOWEST_STATUS_CODE = 100
HIGHEST_STATUS_CODE = 699

REASON_PHRASES: Mapping[int, str] = MappingProxyType(
    {
        # --- 1xx Provisional -------------------------------------------------
        # RFC 3261 §21.1
        100: "Trying",
        180: "Ringing",
        181: "Call Is Being Forwarded",
        182: "Queued",
        183: "Session Progress",
        # RFC 6228
        199: "Early Dialog Terminated",
        # --- 2xx Successful --------------------------------------------------
        # RFC 3261 §21.2
        200: "OK",
        # RFC 3265 registered it; RFC 6665 deprecated it (the registry
        # now reads "Accepted (Deprecated)", the phrase itself is "Accepted").
        202: "Accepted",
        # RFC 5839
        204: "No Notification",
        # --- 3xx Redirection -------------------------------------------------
        # RFC 3261 §21.3
        300: "Multiple Choices",
        301: "Moved Permanently",
        302: "Moved Temporarily",
        305: "Use Proxy",
        380: "Alternative Service",
        # --- 4xx Request Failure ---------------------------------------------
        # RFC 3261 §21.4 (409 and 411 were RFC 2543 codes that RFC 3261
        # dropped; they are not in the registry)
        400: "Bad Request",
        401: "Unauthorized",
        402: "Payment Required",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        406: "Not Acceptable",
        407: "Proxy Authentication Required",
        408: "Request Timeout",
        410: "Gone",
        # RFC 3903
        412: "Conditional Request Failed",
        # RFC 3261 §21.4
        413: "Request Entity Too Large",
        414: "Request-URI Too Long",
        415: "Unsupported Media Type",
        416: "Unsupported URI Scheme",
        # RFC 4412
        417: "Unknown Resource-Priority",
        # RFC 3261 §21.4
        420: "Bad Extension",
        421: "Extension Required",
        # RFC 4028
        422: "Session Interval Too Small",
        # RFC 3261 §21.4
        423: "Interval Too Brief",
        # RFC 6442
        424: "Bad Location Information",
        # RFC 8876
        425: "Bad Alert Message",
        # RFC 8224 (first RFC 4474; RFC 8224 kept 428 and 438 and
        # renamed 436 "Bad Identity-Info" and 437 "Unsupported Certificate")
        428: "Use Identity Header",
        # RFC 3892
        429: "Provide Referrer Identity",
        # RFC 5626
        430: "Flow Failed",
        # RFC 5079
        433: "Anonymity Disallowed",
        # RFC 8224
        436: "Bad Identity Info",
        437: "Unsupported Credential",
        438: "Invalid Identity Header",
        # RFC 5626
        439: "First Hop Lacks Outbound Support",
        # RFC 5393
        440: "Max-Breadth Exceeded",
        # RFC 6086
        469: "Bad Info Package",
        # RFC 5360
        470: "Consent Needed",
        # RFC 3261 §21.4
        480: "Temporarily Unavailable",
        481: "Call/Transaction Does Not Exist",
        482: "Loop Detected",
        483: "Too Many Hops",
        484: "Address Incomplete",
        485: "Ambiguous",
        486: "Busy Here",
        487: "Request Terminated",
        488: "Not Acceptable Here",
        # RFC 6665 (first RFC 3265)
        489: "Bad Event",
        # RFC 3261 §21.4
        491: "Request Pending",
        493: "Undecipherable",
        # RFC 3329
        494: "Security Agreement Required",
        # --- 5xx Server Failure ----------------------------------------------
        # RFC 3261 §21.5
        500: "Server Internal Error",
        501: "Not Implemented",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Server Time-out",
        505: "Version Not Supported",
        513: "Message Too Large",
        # RFC 8599
        555: "Push Notification Service Not Supported",
        # RFC 3312
        580: "Precondition Failure",
        # --- 6xx Global Failure ----------------------------------------------
        # RFC 3261 §21.6
        600: "Busy Everywhere",
        603: "Decline",
        604: "Does Not Exist Anywhere",
        606: "Not Acceptable",
        # RFC 8197
        607: "Unwanted",
        # RFC 8688
        608: "Rejected",
    }
)
"""Every code of the IANA SIP Response Codes registry, with its exact phrase."""


class StatusClass(enum.Enum):
    """The six classes of RFC 3261 §7.2; the value is the leading digit."""

    PROVISIONAL = 1
    SUCCESSFUL = 2
    REDIRECTION = 3
    REQUEST_FAILURE = 4
    SERVER_FAILURE = 5
    GLOBAL_FAILURE = 6

    @classmethod
    def of(cls, code: int) -> StatusClass:
        """Return the class of ``code``.

        Raises ``LocalProtocolError`` outside 100–699: a received out-of-range
        code is the message parser's business (RFC 3261 §7.2), so by the time
        a code reaches here it must be valid.
        """
        _check_range(code)
        return cls(code // 100)

    @property
    def phrase(self) -> str:
        """The class's name after the titles of RFC 3261 §21, e.g. "Request Failure"."""
        return _CLASS_PHRASES[self]


_CLASS_PHRASES: Mapping[StatusClass, str] = MappingProxyType(
    {
        StatusClass.PROVISIONAL: "Provisional",
        StatusClass.SUCCESSFUL: "Successful",
        StatusClass.REDIRECTION: "Redirection",
        StatusClass.REQUEST_FAILURE: "Request Failure",
        StatusClass.SERVER_FAILURE: "Server Failure",
        StatusClass.GLOBAL_FAILURE: "Global Failure",
    }
)


def reason_phrase(code: int) -> str:
    """Return the reason phrase to send with ``code``.

    The registered phrase when IANA lists the code, otherwise the name of its
    class (see the module docstring for why not the ``x00`` phrase).  Raises
    ``LocalProtocolError`` outside 100–699.
    """
    _check_range(code)
    registered = REASON_PHRASES.get(code)
    if registered is not None:
        return registered
    return StatusClass.of(code).phrase


def _check_range(code: int) -> None:
    # bool is an int subclass; True would otherwise pass as 1 and fail oddly.
    if isinstance(code, bool) or not LOWEST_STATUS_CODE <= code <= HIGHEST_STATUS_CODE:
        raise LocalProtocolError(f"status code {code!r} is outside 100-699")
