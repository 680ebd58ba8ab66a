"""Building a response to a request (RFC 3261 §8.2.6), also for requests too broken to parse.

§8.2.6.2: the response copies every Via (in order), From, Call-ID and CSeq of
the request, and To — adding a tag when the request's To had none, except
that a 100 Trying need not carry one.  §8.2.6.1: a 100 Trying copies the
request's Timestamp header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from phoneagent.sip.address import NameAddress
from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from phoneagent.sip.headers import Headers
from phoneagent.sip.message import Request, Response
from phoneagent.sip.status import reason_phrase

_UNPRINTABLE_RE = re.compile(r"[^\x20-\x7e]")
_MAX_DETAIL = 100


def make_response(
    request: Request,
    status_code: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> Response:
    """A response to ``request``; ``headers`` are appended after the copied ones."""
    copied = Headers()
    for value in request.headers.get_all("via"):
        copied.add("Via", value)
    copied.add("From", request.headers.get("from") or _missing("From"))
    copied.add("To", _to_with_tag(request.headers.get("to") or _missing("To"), to_tag, status_code))
    copied.add("Call-ID", request.headers.get("call-id") or _missing("Call-ID"))
    copied.add("CSeq", request.headers.get("cseq") or _missing("CSeq"))
    timestamp = request.headers.get("timestamp")
    if status_code == 100 and timestamp is not None:
        copied.add("Timestamp", timestamp)
    for name, value in headers:
        copied.add(name, value)
    return Response(
        status_code, reason if reason is not None else reason_phrase(status_code), copied, body
    )


def make_error_response(
    error: RemoteProtocolError, *, to_tag: str | None = None
) -> Response | None:
    """The response a server sends for a request ``parse_message`` rejected.

    Returns None when no response must be sent (the input was a response, or
    the RFC says to drop it) or when the request is too broken to be answered:
    without a Call-ID, CSeq, From, To and Via a response could not be matched
    or routed (§8.2.6.2, §18.2.2).  Where a header appears several times (RFC
    4475 multi01) the first one is echoed, as the client most likely wrote it.
    """
    salvaged = error.salvaged
    if error.status_hint is None or salvaged is None or not salvaged.is_request:
        return None
    if not all((salvaged.via, salvaged.from_, salvaged.to, salvaged.call_id, salvaged.cseq)):
        return None
    headers = Headers()
    try:
        for value in salvaged.via:
            headers.add("Via", value)
        headers.add("From", salvaged.from_[0])
        headers.add("To", _to_with_tag(salvaged.to[0], to_tag, error.status_hint))
        headers.add("Call-ID", salvaged.call_id[0])
        headers.add("CSeq", salvaged.cseq[0])
    except LocalProtocolError:
        return None  # a salvaged value that cannot even be written back
    detail = _UNPRINTABLE_RE.sub("?", error.reason)[:_MAX_DETAIL]
    reason = f"{reason_phrase(error.status_hint)} ({detail})"
    return Response(error.status_hint, reason, headers)


def _to_with_tag(to_value: str, to_tag: str | None, status_code: int) -> str:
    if to_tag is None or status_code == 100:
        return to_value
    try:
        address = NameAddress.parse(to_value, "To")
    except RemoteProtocolError:
        return to_value  # a broken To (the reason for a 400) is echoed as it came
    if address.tag is not None:
        return to_value
    return str(address.with_tag(to_tag))


def _missing(name: str) -> str:
    raise LocalProtocolError(f"cannot respond to a request without {name}")
