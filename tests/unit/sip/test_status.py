"""Tests for phoneagent.sip.status: the IANA registry copy and status classes."""

from __future__ import annotations

import pytest

from phoneagent.sip.errors import LocalProtocolError
from phoneagent.sip.status import REASON_PHRASES, StatusClass, reason_phrase

# The IANA "Session Initiation Protocol (SIP) Parameters → Response Codes"
# registry, typed out independently of the module so that a slip in either is
# caught.  (202 is listed there as "Accepted (Deprecated)"; the phrase is
# "Accepted".)
REGISTRY: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    199: "Early Dialog Terminated",
    200: "OK",
    202: "Accepted",
    204: "No Notification",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    305: "Use Proxy",
    380: "Alternative Service",
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
    412: "Conditional Request Failed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    417: "Unknown Resource-Priority",
    420: "Bad Extension",
    421: "Extension Required",
    422: "Session Interval Too Small",
    423: "Interval Too Brief",
    424: "Bad Location Information",
    425: "Bad Alert Message",
    428: "Use Identity Header",
    429: "Provide Referrer Identity",
    430: "Flow Failed",
    433: "Anonymity Disallowed",
    436: "Bad Identity Info",
    437: "Unsupported Credential",
    438: "Invalid Identity Header",
    439: "First Hop Lacks Outbound Support",
    440: "Max-Breadth Exceeded",
    469: "Bad Info Package",
    470: "Consent Needed",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    489: "Bad Event",
    491: "Request Pending",
    493: "Undecipherable",
    494: "Security Agreement Required",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    555: "Push Notification Service Not Supported",
    580: "Precondition Failure",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
    607: "Unwanted",
    608: "Rejected",
}


@pytest.mark.parametrize(("code", "phrase"), sorted(REGISTRY.items()))
def test_registered_phrase(code: int, phrase: str) -> None:
    assert REASON_PHRASES[code] == phrase
    assert reason_phrase(code) == phrase


def test_table_is_exactly_the_registry() -> None:
    assert dict(REASON_PHRASES) == REGISTRY
    # Registry size per class: 6 + 3 + 5 + 46 + 9 + 6.
    assert len(REASON_PHRASES) == 75


def test_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        REASON_PHRASES[299] = "Nope"  # type: ignore[index]


# 409 Conflict and 411 Length Required were RFC 2543 codes that RFC 3261 dropped.
@pytest.mark.parametrize("code", [409, 411])
def test_dropped_rfc2543_codes_are_not_registered(code: int) -> None:
    assert code not in REASON_PHRASES
    assert reason_phrase(code) == "Request Failure"


@pytest.mark.parametrize(
    ("low", "high", "status_class"),
    [
        (100, 199, StatusClass.PROVISIONAL),
        (200, 299, StatusClass.SUCCESSFUL),
        (300, 399, StatusClass.REDIRECTION),
        (400, 499, StatusClass.REQUEST_FAILURE),
        (500, 599, StatusClass.SERVER_FAILURE),
        (600, 699, StatusClass.GLOBAL_FAILURE),
    ],
)
def test_class_boundaries(low: int, high: int, status_class: StatusClass) -> None:
    assert StatusClass.of(low) is status_class
    assert StatusClass.of(high) is status_class
    assert all(StatusClass.of(code) is status_class for code in range(low, high + 1))
    assert status_class.value == low // 100


def test_every_registered_code_is_in_its_class() -> None:
    for code in REASON_PHRASES:
        assert StatusClass.of(code).value == code // 100


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        (101, "Provisional"),
        (189, "Provisional"),
        (299, "Successful"),
        (201, "Successful"),
        (399, "Redirection"),
        (499, "Request Failure"),
        (418, "Request Failure"),
        (599, "Server Failure"),
        (511, "Server Failure"),
        (699, "Global Failure"),
        (601, "Global Failure"),
    ],
)
def test_unregistered_code_gets_its_class_name(code: int, phrase: str) -> None:
    assert code not in REASON_PHRASES
    assert reason_phrase(code) == phrase
    assert StatusClass.of(code).phrase == phrase


def test_every_code_in_range_has_a_phrase() -> None:
    for code in range(100, 700):
        phrase = reason_phrase(code)
        assert phrase
        # Reason-Phrase = *(reserved / unreserved / escaped / UTF8-NONASCII /
        # UTF8-CONT / SP / HTAB) (RFC 3261 §25.1): no CR or LF.
        assert "\r" not in phrase
        assert "\n" not in phrase


@pytest.mark.parametrize("code", [-1, 0, 1, 99, 700, 999, 1000, True])
def test_out_of_range_is_our_bug(code: int) -> None:
    with pytest.raises(LocalProtocolError):
        StatusClass.of(code)
    with pytest.raises(LocalProtocolError):
        reason_phrase(code)
