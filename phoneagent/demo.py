"""``phoneagent demo``: two phones on mocked hardware call each other over SIPS and SRTP.

No server is needed: both phones run in this process on loopback, each with its
own TLS listener (certificates from a CA made for the run), SRTP mandatory and
no registrar.  Alice lifts her handset, hears dial tone and dials Bob on her
keypad (speed dial ``2``); Bob's ringer rings, he lifts his handset; each one's
microphone sends a tone of its own (Alice 1000 Hz, Bob 600 Hz) and each
earpiece is checked, 20 ms at a time, for the other's tone.  Alice hangs up and
Bob hears the busy tone.  The call flow is printed with what each user hears;
the exit status is 0 only if audio passed both ways.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from phoneagent.app import Phone
from phoneagent.certificates import TlsFiles, make_tls_files
from phoneagent.config import parse_config
from phoneagent.hal.mock import MockHardware
from phoneagent.media.goertzel import goertzel_power, signal_power

log = logging.getLogger(__name__)

ALICE_TONE = 1000
BOB_TONE = 600
WINDOW = 160  # 20 ms at 8 kHz
STEP_TIMEOUT = 10.0  # seconds any one step of the call flow may take
#: What "heard" means: the far end's tone dominates in this share of 20 ms windows.
HEARD_SHARE = 0.9

Print = Callable[[str], None]


def _config(name: str, microphone: str, tls: TlsFiles, extra: str = "") -> str:
    return f"""
[account]
uri = "sips:{name}@127.0.0.1"
password = "unused"
register = false
transport = "tls"
srtp = "mandatory"
[network]
listen = "127.0.0.1:0"
[tls]
ca_file = "{tls.ca_certificate}"
certificate = "{tls.server_certificate}"
private_key = "{tls.server_key}"
[hardware]
backend = "mock"
[console]
port = ""
[media]
play = "{microphone}"
srtp_suites = ["AEAD_AES_128_GCM", "AES_CM_128_HMAC_SHA1_80"]
[history]
path = "{tls.ca_certificate.parent.parent / f"{name}-history.jsonl"}"
{extra}
"""


def share_of_windows(pcm: bytes, frequency: int, other: int) -> float:
    """In how many 20 ms windows ``frequency`` dominates (and ``other`` does not)."""
    windows = [pcm[i : i + 2 * WINDOW] for i in range(0, len(pcm) - 2 * WINDOW + 1, 2 * WINDOW)]
    if not windows:
        return 0.0
    hits = sum(
        1
        for block in windows
        if signal_power(block) > 1e4
        and goertzel_power(block, frequency) > 10 * goertzel_power(block, other)
    )
    return hits / len(windows)


class _Watcher:
    """Collects a phone's console events and lets the flow wait for one."""

    def __init__(self, who: str, phone: Phone, say: Print) -> None:
        self.who = who
        self.say = say
        self.events: list[tuple[str, dict[str, object]]] = []
        self.changed = asyncio.Event()
        phone.observers.append(self._observe)

    def _observe(self, name: str, fields: dict[str, object]) -> None:
        self.events.append((name, fields))
        self.changed.set()
        if name == "tone" and fields.get("name") != "off":
            self.say(f"  {self.who} hears the {fields['name']} tone")
        elif name == "ring" and fields.get("state") == "on":
            if not any(n == "ring" for n, _ in self.events[:-1]):
                self.say(f"  {self.who}'s phone rings")
        elif name == "state":
            self.say(f"  {self.who}'s phone: {fields['old']} -> {fields['new']}")

    async def wait_for(self, event: str, **match: object) -> dict[str, object]:
        async with asyncio.timeout(STEP_TIMEOUT):
            seen = 0
            while True:
                for event_name, fields in self.events[seen:]:
                    if event_name == event and all(fields.get(k) == v for k, v in match.items()):
                        return fields
                seen = len(self.events)
                self.changed.clear()
                await self.changed.wait()


async def run_demo(
    seconds: float = 3.0, say: Print = print, *, bob_microphone: str = f"tone:{BOB_TONE}"
) -> int:
    """The demo call; ``bob_microphone`` (``[media] play``) lets a test break one direction."""
    with tempfile.TemporaryDirectory(prefix="phoneagent-demo-") as directory:
        tls = make_tls_files(Path(directory) / "tls")
        say("phoneagent demo: two phones on loopback, SIP over TLS (sips:), SRTP mandatory")
        bob = Phone(parse_config(_config("bob", bob_microphone, tls)))
        alice: Phone | None = None
        try:
            await bob.start()
            assert bob.ua is not None
            bob_uri = f"sips:bob@127.0.0.1:{bob.ua.local.port}"
            speed_dial = f'[phone]\nspeed_dials = {{ "2" = "{bob_uri}" }}'
            alice_config = _config("alice", f"tone:{ALICE_TONE}", tls, speed_dial)
            alice = Phone(parse_config(alice_config))
            await alice.start()
            return await _call(alice, bob, bob_uri, seconds, say)
        finally:
            if alice is not None:
                await alice.stop()
            await bob.stop()


async def _call(alice: Phone, bob: Phone, bob_uri: str, seconds: float, say: Print) -> int:
    alice_watch, bob_watch = _Watcher("alice", alice, say), _Watcher("bob", bob, say)
    alice_hw, bob_hw = alice.hardware, bob.hardware
    assert isinstance(alice_hw, MockHardware) and isinstance(bob_hw, MockHardware)
    say("alice lifts her handset")
    alice_hw.lift_handset()
    await alice_watch.wait_for("tone", name="dial")
    say(f"alice dials 2# on her keypad (speed dial 2: {bob_uri})")
    alice_hw.dial("2#")
    await bob_watch.wait_for("incoming")
    await bob_watch.wait_for("ring", state="on")
    await alice_watch.wait_for("tone", name="ringback")
    say("bob lifts his handset")
    bob_hw.lift_handset()
    await alice_watch.wait_for("state", new="connected")
    await bob_watch.wait_for("state", new="connected")
    alice_start, bob_start = len(alice_hw.audio.played), len(bob_hw.audio.played)
    say(f"connected; they talk for {seconds:g} s (alice sends {ALICE_TONE} Hz, bob {BOB_TONE} Hz)")
    await asyncio.sleep(seconds)
    alice_heard = share_of_windows(bytes(alice_hw.audio.played[alice_start:]), BOB_TONE, ALICE_TONE)
    bob_heard = share_of_windows(bytes(bob_hw.audio.played[bob_start:]), ALICE_TONE, BOB_TONE)
    assert alice.calls is not None
    connected = alice.calls.connected_line()
    suite = connected.srtp.suite if connected is not None and connected.srtp else "none"
    say("alice hangs up")
    alice_hw.hang_up()
    await alice_watch.wait_for("ended")
    await bob_watch.wait_for("ended")
    await bob_watch.wait_for("tone", name="busy")
    say("bob hangs up")
    bob_hw.hang_up()
    await bob_watch.wait_for("state", new="idle")
    say(f"signalling: SIP over TLS; media: SRTP {suite}")
    say(f"alice heard bob's {BOB_TONE} Hz in {alice_heard:.0%} of 20 ms windows")
    say(f"bob heard alice's {ALICE_TONE} Hz in {bob_heard:.0%} of 20 ms windows")
    if suite == "none":
        say("FAILED: the call was not encrypted")
        return 1
    if alice_heard < HEARD_SHARE or bob_heard < HEARD_SHARE:
        say("FAILED: audio did not pass both ways")
        return 1
    say("OK: audio passed both ways over SIPS and SRTP")
    return 0


def main(seconds: float = 3.0) -> int:
    try:
        return asyncio.run(run_demo(seconds))
    except TimeoutError:
        print("FAILED: a step of the call flow did not happen in time", file=sys.stderr)
        return 1
