"""Message waiting (RFC 3842): the ``application/simple-message-summary`` body.

A voicemail server tells the phone about waiting messages in a NOTIFY for the
``message-summary`` event package — in a subscription (RFC 3842 §3) or, as most
PBXs are configured to do for desk phones (Asterisk, FreeSWITCH, Kamailio with a
voicemail box), unsolicited to the registered contact.  The body (§5.2)::

    Messages-Waiting: yes
    Message-Account: sip:alice@vmail.example.com
    Voice-Message: 2/8 (0/2)

``Messages-Waiting`` is required; each ``<class>-Message`` line gives new/old
(urgent new/urgent old) counts.  Unknown lines are ignored as §5.2 asks; a body
without a readable ``Messages-Waiting`` is a 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from phoneagent.sip.errors import RemoteProtocolError

__all__ = ["CONTENT_TYPE", "EVENT", "MessageSummary"]

EVENT = "message-summary"
CONTENT_TYPE = "application/simple-message-summary"
MAX_BODY = 8192

_COUNTS_RE = re.compile(r"([0-9]+)/([0-9]+)(?:\s*\(([0-9]+)/([0-9]+)\))?")
_CLASSES = ("voice", "fax", "pager", "multimedia", "text", "none")


@dataclass(frozen=True, slots=True)
class MessageSummary:
    waiting: bool
    account: str | None = None
    #: By message class (``voice``, ``fax`` …): (new, old).
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def new_voice(self) -> int:
        return self.counts.get("voice", (0, 0))[0]

    @property
    def old_voice(self) -> int:
        return self.counts.get("voice", (0, 0))[1]

    @classmethod
    def parse(cls, body: bytes) -> MessageSummary:
        if len(body) > MAX_BODY:
            raise RemoteProtocolError("message-summary body too large", 413)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise RemoteProtocolError("message-summary body is not UTF-8", 400) from None
        waiting: bool | None = None
        account: str | None = None
        counts: dict[str, tuple[int, int]] = {}
        for line in text.splitlines():
            name, colon, value = line.partition(":")
            if not colon:
                continue
            name, value = name.strip().lower(), value.strip()
            if name == "messages-waiting":
                if value.lower() not in ("yes", "no"):
                    raise RemoteProtocolError(f"Messages-Waiting: {value[:20]!r}", 400)
                waiting = value.lower() == "yes"
            elif name == "message-account":
                account = value or None
            elif (kind := name.removesuffix("-message")) != name and kind in _CLASSES:
                match = _COUNTS_RE.fullmatch(value)
                if match is None:
                    raise RemoteProtocolError(f"{name}: {value[:30]!r} is not new/old", 400)
                counts[kind] = (int(match.group(1)), int(match.group(2)))
        if waiting is None:
            raise RemoteProtocolError("message-summary without Messages-Waiting", 400)
        return cls(waiting, account, counts)
