"""RFC 3842 message-summary bodies: the RFC's examples, and bad ones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phoneagent.sip.errors import RemoteProtocolError
from phoneagent.sip.mwi import MessageSummary


def test_the_rfc_3842_example() -> None:
    summary = MessageSummary.parse(
        b"Messages-Waiting: yes\r\n"
        b"Message-Account: sip:alice@vmail.example.com\r\n"
        b"Voice-Message: 2/8 (0/2)\r\n"
    )
    assert summary.waiting and summary.account == "sip:alice@vmail.example.com"
    assert (summary.new_voice, summary.old_voice) == (2, 8)


def test_none_waiting_and_unknown_lines_ignored() -> None:
    summary = MessageSummary.parse(b"messages-waiting:no\nX-Thing: 7\nFax-Message: 0/1\n")
    assert not summary.waiting and summary.counts == {"fax": (0, 1)}
    assert summary.new_voice == 0


@pytest.mark.parametrize(
    "body",
    [
        b"Voice-Message: 1/0\r\n",  # no Messages-Waiting
        b"Messages-Waiting: maybe\r\n",
        b"Messages-Waiting: yes\r\nVoice-Message: lots\r\n",
        b"Messages-Waiting: yes\xff\r\n",
        b"Messages-Waiting: yes\r\n" + b"x" * 9000,
    ],
)
def test_bad_bodies_are_remote_errors(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        MessageSummary.parse(body)


@given(st.binary(max_size=600) | st.text(max_size=300).map(str.encode))
def test_any_body_parses_or_raises_remote_protocol_error(body: bytes) -> None:
    try:
        summary = MessageSummary.parse(b"Messages-Waiting: yes\r\n" + body)
    except RemoteProtocolError:
        return
    assert isinstance(summary.waiting, bool)
    assert all(new >= 0 and old >= 0 for new, old in summary.counts.values())
