"""``phoneagent demo`` and ``phoneagent simulate``: whole phones on mocked hardware, on loopback.

The demo is the README's main command: two phones call each other from the keypad
over SIPS and SRTP and it exits 0 only if audio passed both ways — so it is run
here as the user runs it, and once more with one microphone silenced, where it
must fail.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from phoneagent.demo import run_demo
from phoneagent.media.goertzel import goertzel_power, signal_power


def test_the_demo_passes_as_the_readme_runs_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "phoneagent", "demo", "--seconds", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for line in (
        "alice hears the dial tone",
        "bob's phone rings",
        "alice hears the ringback tone",
        "bob hears the busy tone",
        "signalling: SIP over TLS; media: SRTP AEAD_AES_128_GCM",
        "OK: audio passed both ways over SIPS and SRTP",
    ):
        assert line in out, out
    assert out.index("dial tone") < out.index("rings") < out.index("busy tone")


def test_the_demo_fails_when_audio_does_not_pass_both_ways() -> None:
    said: list[str] = []
    status = asyncio.run(run_demo(1.0, said.append, bob_microphone="silence"))
    assert status == 1
    assert "FAILED: audio did not pass both ways" in said
    assert any(line.startswith("bob heard alice's 1000 Hz in 100%") for line in said), said


def test_simulate_lifts_the_handset_from_the_terminal(tmp_path: Path) -> None:
    config = tmp_path / "phone.toml"
    config.write_text(
        '[account]\nuri = "sip:alice@127.0.0.1"\npassword = "x"\nregister = false\n'
        '[network]\nlisten = "127.0.0.1:0"\n[console]\nport = ""\n'
        f'[history]\npath = "{tmp_path / "history.jsonl"}"\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "phoneagent", "simulate", "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdin is not None
        time.sleep(1.0)
        process.stdin.write("h\n")  # lift the handset
        process.stdin.flush()
        time.sleep(1.0)
        process.stdin.write("*78\n")  # do not disturb on, at the keypad
        process.stdin.flush()
        time.sleep(1.0)
        process.stdin.write(" q\n")  # put it down and quit
        process.stdin.flush()
        out, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    assert process.returncode == 0, out
    assert "phone: idle -> dial-tone" in out
    assert "you hear: dial tone" in out
    assert "dnd: state=on" in out


def test_simulate_plays_dial_tone_on_an_alsa_device(tmp_path: Path) -> None:
    """``--alsa``: the handset's earpiece is a sound card — here ALSA's ``file`` plugin
    (per-test ``ALSA_CONFIG_PATH``), whose output must carry US dial tone."""
    played = tmp_path / "played.raw"
    asound = tmp_path / "asound.conf"
    asound.write_text(
        "pcm.handset {\n  type asym\n"
        f'  playback.pcm {{ type file slave.pcm {{ type null }} file "{played}" format "raw" }}\n'
        '  capture.pcm { type file slave.pcm { type null } file "/dev/null" '
        'infile "/dev/zero" format "raw" }\n}\n'
    )
    config = tmp_path / "phone.toml"
    config.write_text(
        '[account]\nuri = "sip:alice@127.0.0.1"\npassword = "x"\nregister = false\n'
        '[network]\nlisten = "127.0.0.1:0"\n[console]\nport = ""\n'
        '[audio]\ncapture_device = "handset"\nplayback_device = "handset"\n'
        f'[history]\npath = "{tmp_path / "history.jsonl"}"\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "phoneagent", "simulate", "--alsa", "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "ALSA_CONFIG_PATH": str(asound)},
    )
    try:
        assert process.stdin is not None
        time.sleep(1.0)
        process.stdin.write("h\n")
        process.stdin.flush()
        time.sleep(1.5)
        process.stdin.write(" q\n")
        process.stdin.flush()
        out, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    assert process.returncode == 0, out
    assert "you hear: dial tone" in out
    # The card plays silence when nothing is queued (and the null device behind the file
    # plugin takes audio faster than real time): count the 20 ms periods of dial tone.
    pcm = played.read_bytes()
    periods = [pcm[i : i + 320] for i in range(0, len(pcm) - 319, 320)]
    dial_tone = [
        block
        for block in periods
        if signal_power(block) > 1e4
        and goertzel_power(block, 350) > 10 * goertzel_power(block, 1000)
        and goertzel_power(block, 440) > 10 * goertzel_power(block, 1000)
    ]
    assert len(dial_tone) >= 40, f"only {len(dial_tone)} periods of dial tone on the card"
