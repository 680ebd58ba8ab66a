"""Hold and call waiting by flash-hook, with two baresip far ends (on mocked hardware).

Alice (the phone) calls Bob from the handset; a flash puts Bob on hold (a re-INVITE with
``a=sendonly``: Bob stops hearing Alice), a second flash resumes him.  Then Carol
calls: Alice hears the call-waiting beep over Bob, flashes — Bob is held, Carol
answered, and Alice hears Carol's tone instead of Bob's; a flash swaps back to Bob.
Hanging up ends Bob's call and rings Alice back for the held Carol.  A held call hears
silence: the handset carries one call both ways (tests/unit/test_app_audio.py).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from phoneagent.media.goertzel import goertzel_power, signal_power
from tests.interop.baresip import BaresipPeer
from tests.interop.phone import PhoneProcess
from tests.interop.test_calls_baresip import BARESIP_TONE, PHONE_TONE, config, newest
from tests.interop.test_phone_end_to_end import pcm_of

pytestmark = pytest.mark.interop

CAROL_TONE = 850
WINDOW = 160


def share(pcm: bytes, frequency: int, others: tuple[int, ...]) -> float:
    """The share of 20 ms windows in which ``frequency`` dominates every one of ``others``."""
    windows = [pcm[i : i + 2 * WINDOW] for i in range(0, len(pcm) - 2 * WINDOW + 1, 2 * WINDOW)]
    if not windows:
        return 0.0
    hits = 0
    for block in windows:
        wanted = goertzel_power(block, frequency)
        clear = all(wanted > 10 * goertzel_power(block, f) for f in others)
        if signal_power(block) > 1e4 and clear:
            hits += 1
    return hits / len(windows)


def test_flash_holds_resumes_and_takes_a_waiting_call(tmp_path: Path) -> None:
    heard = tmp_path / "earpiece.wav"
    with (
        BaresipPeer(tmp_path / "bob", tone_hz=BARESIP_TONE) as bob,
        BaresipPeer(
            tmp_path / "carol",
            tone_hz=CAROL_TONE,
            account="<sip:carol@127.0.0.1>;regint=0;answermode=manual",
        ) as carol,
        PhoneProcess(tmp_path / "phone", config(bob, heard), ("--sip-trace",)) as phone,
    ):
        port = phone.command("status").split("address=127.0.0.1:")[1].split()[0]
        assert phone.command("hook off") == "ok hook=off"
        phone.command(f"dial {bob.uri}")
        bob.wait_event("CALL_INCOMING")
        bob.command("accept")
        phone.wait_event("connected")
        time.sleep(1.5)

        # Hold and resume by flash.
        assert phone.command("flash") == "ok"
        phone.wait_line(lambda line: line == "event state old=connected new=on-hold", 5)
        time.sleep(1.5)
        phone.command("flash")
        phone.wait_line(lambda line: line == "event state old=on-hold new=connected", 5)
        time.sleep(1.5)

        # Call waiting: Carol calls while Alice talks to Bob.
        mark = len(pcm_of(heard))
        carol.command("dial", f"sip:alice@127.0.0.1:{port}")
        phone.wait_event("incoming")
        assert phone.wait_line(lambda line: line == "event tone name=call_waiting", 5)
        time.sleep(1.0)
        phone.command("flash")  # Bob held, Carol answered
        carol.wait_event("CALL_ESTABLISHED")
        time.sleep(2.0)
        with_carol = pcm_of(heard)[mark:]
        phone.command("flash")  # back to Bob, Carol held
        time.sleep(2.0)
        back_to_bob = pcm_of(heard)[len(pcm_of(heard)) - 2 * 8000 * 1 :]

        # Hang up: Bob's call ends, the phone rings back for Carol.
        phone.command("hook on")
        bob.wait_event("CALL_CLOSED")
        assert phone.wait_event("ring", timeout=5) == {"state": "on"}
        phone.command("hook off")
        time.sleep(1.5)
        phone.command("hook on")
        carol.wait_event("CALL_CLOSED")
        trace = phone.log_tail(2_000_000)

    # Carol's tone reached the earpiece once she was answered (the last second of her part).
    assert share(with_carol[-16000:], CAROL_TONE, (BARESIP_TONE, PHONE_TONE)) >= 0.8
    assert share(back_to_bob, BARESIP_TONE, (CAROL_TONE, PHONE_TONE)) >= 0.8
    # The holds went out as RFC 3264 §8.4 re-offers: sendonly (answered recvonly), then
    # sendrecv again; Bob heard Alice before the hold.
    assert re.search(r"a=sendonly.*?SIP/2.0 200 OK.*?a=recvonly", trace, re.DOTALL), trace[-4000:]
    assert trace.count("INVITE sip:") >= 4  # Bob's call, hold, resume, the swaps back to Bob
    bob_windows = windows_of(pcm_of(newest(bob.recordings_of("dec"))), PHONE_TONE, BARESIP_TONE)
    assert longest_run(bob_windows, True) >= 50
    carol_heard = pcm_of(newest(carol.recordings_of("dec")))
    assert longest_run(windows_of(carol_heard, PHONE_TONE, CAROL_TONE), True) >= 50


def windows_of(pcm: bytes, frequency: int, other: int) -> list[bool]:
    return [
        share(pcm[i : i + 2 * WINDOW], frequency, (other,)) == 1.0
        for i in range(0, len(pcm) - 2 * WINDOW + 1, 2 * WINDOW)
    ]


def longest_run(windows: list[bool], value: bool) -> int:
    longest = run = 0
    for window in windows:
        run = run + 1 if window == value else 0
        longest = max(longest, run)
    return longest
