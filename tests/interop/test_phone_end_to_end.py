"""The phone end to end on mocked hardware: Kamailio as registrar and proxy, baresip far end.

``phoneagent run`` (backend mock, console on a pty) registers with Kamailio.  Outgoing:
``hook off`` gives dial tone in the earpiece; ``keys 1002#`` dials baresip (registered
as 1002); ringback; baresip answers; audio both ways (tone detection on both
recordings); a key press reaches baresip as DTMF; ``hook on`` sends BYE.  Incoming:
baresip calls; the mock ringer follows the US cadence (2 s on, 4 s off); ``hook off``
answers; audio both ways; baresip hangs up; the phone plays busy until ``hook on``,
then is idle.  Both calls are in the call history.
"""

from __future__ import annotations

import json
import time
import wave
from pathlib import Path

import pytest

from phoneagent.media.goertzel import goertzel_power, signal_power
from tests.interop.baresip import BaresipPeer
from tests.interop.kamailio import KamailioServer
from tests.interop.phone import PhoneProcess
from tests.interop.test_calls_baresip import BARESIP_TONE, PHONE_TONE, newest, tone_windows

pytestmark = pytest.mark.interop

WINDOW = 160  # 20 ms at 8 kHz
CONSOLE_LAG = 0.3  # the pty is read every 0.2 s: event times are this late at most


def pcm_of(path: Path) -> bytes:
    with wave.open(str(path), "rb") as audio:
        return audio.readframes(audio.getnframes())


def dial_tone_windows(pcm: bytes) -> int:
    """20 ms windows carrying US dial tone (350 + 440 Hz, both present)."""
    count = 0
    for start in range(0, len(pcm) - 2 * WINDOW + 1, 2 * WINDOW):
        block = pcm[start : start + 2 * WINDOW]
        if signal_power(block) < 1e3:
            continue
        low, high = goertzel_power(block, 350), goertzel_power(block, 440)
        other = goertzel_power(block, 1000) + goertzel_power(block, 600)
        if low > 10 * other and high > 10 * other:
            count += 1
    return count


#: What else the earpiece carries besides the far end: US dial tone and ringback (350, 440,
#: 480 Hz; 480 Hz is too near 600 Hz at 20 ms resolution, 440 Hz stands for ringback).
OTHER_TONES = (350, 440)


def call_windows(path: Path, frequency: int, other: int) -> list[bool]:
    """For each 20 ms window: does ``frequency`` dominate ``other`` and every local tone?"""
    pcm = pcm_of(path)
    windows = []
    for start in range(0, len(pcm) - 2 * WINDOW + 1, 2 * WINDOW):
        block = pcm[start : start + 2 * WINDOW]
        rest = sum(goertzel_power(block, f) for f in (other, *OTHER_TONES))
        windows.append(signal_power(block) > 1e4 and goertzel_power(block, frequency) > 10 * rest)
    return windows


def assert_heard(windows: list[bool], who: str) -> None:
    """Two seconds of the far end's tone without a single 20 ms gap (the call lasts 2.5 s;
    tones before and after it may look like the far end in a window or two)."""
    longest = run = 0
    for carries in windows:
        run = run + 1 if carries else 0
        longest = max(longest, run)
    assert longest >= 100, f"{who}: the far end's tone for at most {longest * 20} ms unbroken"


def phone_config(kamailio: KamailioServer, heard: Path) -> str:
    return (
        "[account]\n"
        # The keypad's digits go to sip:DIGITS@ this domain, Kamailio's.
        f'uri = "sip:alice@127.0.0.1:{kamailio.port}"\n'
        'password = "secret"\n'
        "[network]\n"
        'listen = "127.0.0.1:0"\n'
        "[hardware]\n"
        'backend = "mock"\n'
        "[media]\n"
        f'play = "tone:{PHONE_TONE}"\n'
        f'record = "{heard}"\n'
        "[phone]\n"
        'tone_country = "us"\n'
        'dial_plan = ["911", "1xxx"]\n'
    )


def registered_pair(
    tmp_path: Path, kamailio: KamailioServer, heard: Path
) -> tuple[BaresipPeer, PhoneProcess]:
    bob = BaresipPeer(
        tmp_path / "baresip",
        tone_hz=BARESIP_TONE,
        account=(
            f"<sip:1002@127.0.0.1>;auth_pass=bobpw;outbound=\"sip:127.0.0.1:{kamailio.port}\";"
            "regint=600;answermode=manual"
        ),
    )
    phone = PhoneProcess(tmp_path / "phone", phone_config(kamailio, heard))
    return bob, phone


def wait_registered(kamailio: KamailioServer, user: str, bob: BaresipPeer) -> None:
    deadline = time.monotonic() + 10
    while not kamailio.contacts(user) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kamailio.contacts(user), f"baresip did not register:\n{bob.log_tail()}"


def test_lift_dial_talk_and_hang_up_on_the_keypad(tmp_path: Path) -> None:
    heard = tmp_path / "earpiece.wav"
    kamailio = KamailioServer(tmp_path / "kamailio", users={"alice": "secret", "1002": "bobpw"})
    with kamailio:
        bob, phone = registered_pair(tmp_path, kamailio, heard)
        with bob, phone:
            assert phone.wait_event("led")["name"] == "registered"
            wait_registered(kamailio, "1002", bob)
            assert phone.command("hook off") == "ok hook=off"
            assert phone.wait_event("tone") == {"name": "dial"}
            time.sleep(1.0)  # a second of dial tone in the earpiece
            assert phone.command("keys 1002") == "ok keys=1002"
            # "1xxx" in the dial plan: the fourth digit dials at once, no # or timeout.
            assert phone.wait_event("tone") == {"name": "off"}
            bob.wait_event("CALL_INCOMING")
            assert phone.wait_event("ringing")["line"]
            assert phone.wait_event("tone") == {"name": "ringback"}
            time.sleep(1.0)
            bob.command("accept")
            phone.wait_event("connected")
            bob.wait_event("CALL_ESTABLISHED")
            time.sleep(2.5)
            assert phone.command("key 5") == "ok key=5"
            assert bob.wait_event("CALL_DTMF_START")["param"] == "5"
            time.sleep(0.5)
            assert phone.command("hook on") == "ok hook=on"
            assert phone.wait_event("ended")["reason"] == "local-hangup"
            bob.wait_event("CALL_CLOSED")
            assert "phone=idle" in phone.command("status")
    pcm = pcm_of(heard)
    assert dial_tone_windows(pcm) >= 40, "less than 0.8 s of dial tone in the earpiece"
    assert_heard(call_windows(heard, BARESIP_TONE, PHONE_TONE), "the handset")
    assert_heard(
        tone_windows(newest(bob.recordings_of("dec")), PHONE_TONE, BARESIP_TONE), "baresip"
    )
    history = (tmp_path / "phone" / "state" / "phoneagent" / "history.jsonl").read_text()
    record = json.loads(history.splitlines()[-1])
    assert record["direction"] == "outgoing" and record["end_reason"] == "local-hangup"
    assert record["peer"].startswith("sip:1002@127.0.0.1") and record["duration"] > 2


def test_ring_answer_by_lifting_and_far_end_hangs_up(tmp_path: Path) -> None:
    heard = tmp_path / "earpiece.wav"
    kamailio = KamailioServer(tmp_path / "kamailio", users={"alice": "secret", "1002": "bobpw"})
    with kamailio:
        bob, phone = registered_pair(tmp_path, kamailio, heard)
        with bob, phone:
            phone.wait_event("registered")
            wait_registered(kamailio, "1002", bob)
            bob.command("dial", f"sip:alice@127.0.0.1:{kamailio.port}")
            assert phone.wait_event("incoming")["from"].startswith("sip:1002@127.0.0.1")
            assert phone.wait_event("ring") == {"state": "on"}
            rang = time.monotonic()
            assert phone.wait_event("ring") == {"state": "off"}
            on_for = time.monotonic() - rang
            assert 2.0 - CONSOLE_LAG <= on_for <= 2.0 + CONSOLE_LAG, on_for
            assert phone.wait_event("ring", timeout=6) == {"state": "on"}
            off_for = time.monotonic() - rang - on_for
            assert 4.0 - CONSOLE_LAG <= off_for <= 4.0 + CONSOLE_LAG, off_for
            assert phone.command("hook off") == "ok hook=off"
            assert phone.wait_event("ring") == {"state": "off"}
            phone.wait_event("connected")
            bob.wait_event("CALL_ESTABLISHED")
            time.sleep(2.5)
            bob.command("hangup")
            assert phone.wait_event("ended")["reason"] == "remote-hangup"
            assert phone.wait_event("tone") == {"name": "busy"}  # the far end cleared
            assert "phone=ended" in phone.command("status")
            assert phone.command("hook on") == "ok hook=on"
            phone.wait_line(lambda line: line.endswith("new=idle"), 5)
            assert "phone=idle" in phone.command("status")
    assert_heard(call_windows(heard, BARESIP_TONE, PHONE_TONE), "the handset")
    assert_heard(
        tone_windows(newest(bob.recordings_of("dec")), PHONE_TONE, BARESIP_TONE), "baresip"
    )


def test_sigterm_in_a_call_hangs_up_unregisters_and_exits_0(tmp_path: Path) -> None:
    heard = tmp_path / "earpiece.wav"
    kamailio = KamailioServer(tmp_path / "kamailio", users={"alice": "secret", "1002": "bobpw"})
    with kamailio:
        bob, phone = registered_pair(tmp_path, kamailio, heard)
        with bob, phone:
            phone.wait_event("registered")
            wait_registered(kamailio, "1002", bob)
            phone.command("hook off")
            phone.command("keys 1002")
            bob.wait_event("CALL_INCOMING")
            bob.command("accept")
            phone.wait_event("connected")
            assert kamailio.contacts("alice")
            assert phone.terminate() == 0
            bob.wait_event("CALL_CLOSED")  # the phone sent BYE on its way out
            assert not kamailio.contacts("alice"), "the phone did not unregister"
            assert "stopping" in phone.log_tail()
