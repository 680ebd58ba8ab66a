"""Call control on a real (sans-IO) user agent and loopback RTP ports, without a far end."""

from __future__ import annotations

import asyncio

from phoneagent.call_control import CallAudio, CallControl
from phoneagent.config import parse_config
from phoneagent.phone import events as phone
from phoneagent.sip.auth import Credentials
from phoneagent.sip.transport import Peer, Transport
from phoneagent.sip.ua import UserAgent, UserAgentSettings


def make_control() -> tuple[CallControl, UserAgent, list[phone.PhoneInput]]:
    config = parse_config(
        '[account]\nuri = "sip:alice@127.0.0.1"\npassword = "x"\nregister = false\n'
        '[network]\nlisten = "127.0.0.1:0"\n'
    )
    ua = UserAgent(
        UserAgentSettings(
            aor=config.account.uri,
            registrar=config.account.registrar,
            transport=Transport.UDP,
            credentials=(Credentials("alice", "x"),),
            instance_id="urn:uuid:00000000-0000-0000-0000-000000000001",
        ),
        Peer(Transport.UDP, "127.0.0.1", 5999),
    )
    reported: list[phone.PhoneInput] = []
    lines = iter(range(1, 100))
    control = CallControl(
        config,
        ua,
        reported.append,
        lambda name, **fields: None,
        lambda: None,
        audio=CallAudio(lambda line, samples: b"\0\0" * samples, lambda line, pcm: None),
        new_line=lambda: next(lines),
    )
    return control, ua, reported


def invites(ua: UserAgent) -> list[bytes]:
    return [action.data for action in ua.actions() if action.data.startswith(b"INVITE ")]


def test_a_call_hung_up_before_its_invite_left_never_leaves() -> None:
    async def main() -> None:
        control, ua, _ = make_control()
        control.execute(phone.PlaceCall(1, "sip:bob@127.0.0.1:5998"))
        control.execute(phone.HangUpCall(1))  # the handset went down at once
        await asyncio.sleep(0.2)
        assert invites(ua) == []
        assert control.lines == {}
        # The next call goes out normally.
        control.execute(phone.PlaceCall(2, "sip:bob@127.0.0.1:5998"))
        await asyncio.sleep(0.2)
        assert len(invites(ua)) == 1
        assert list(control.lines) == [2]
        control.close()

    asyncio.run(main())


def test_a_target_that_is_no_address_reports_number_unobtainable() -> None:
    async def main() -> None:
        control, ua, reported = make_control()
        control.execute(phone.PlaceCall(1, "mailto:bob@example.org"))
        await asyncio.sleep(0.05)
        assert reported == [phone.CallEnded(1, "unobtainable", None)]
        assert invites(ua) == []

    asyncio.run(main())


def test_targets() -> None:
    async def main() -> None:
        control, _, _ = make_control()
        assert str(control.target_of("1002")) == "sip:1002@127.0.0.1"
        assert str(control.target_of("*21#")) == "sip:*21%23@127.0.0.1"
        assert str(control.target_of("+4930123")) == "sip:+4930123@127.0.0.1;user=phone"
        assert str(control.target_of("sips:bob@example.org")) == "sips:bob@example.org"

    asyncio.run(main())
