"""Secure calls: SIP over TLS through Kamailio's TLS listener and SDES-SRTP media, with baresip.

Both phones register over TLS (the test's own CA); phoneagent calls baresip with SRTP
mandatory (RTP/SAVP, a=crypto); baresip holds and resumes (two re-INVITEs in the SRTP
call); each side must hear the other's tone before and after, and a capture of
the loopback traffic (tshark) must show RTP on the call's ports whose payloads do not
carry either tone — the audio on the wire is encrypted.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from phoneagent.certificates import make_tls_files
from phoneagent.media.codecs import CODECS
from phoneagent.media.goertzel import goertzel_power
from tests.interop.baresip import BaresipPeer
from tests.interop.kamailio import KamailioServer
from tests.interop.phone import PhoneProcess
from tests.interop.test_calls_baresip import (
    BARESIP_TONE,
    PHONE_TONE,
    newest,
    tone_windows,
)

pytestmark = pytest.mark.interop


def start_capture(path: Path) -> subprocess.Popen[bytes]:
    if shutil.which("tshark") is None:
        raise FileNotFoundError("tshark is not installed (apt-get install tshark)")
    capture = subprocess.Popen(
        ["tshark", "-q", "-i", "lo", "-f", "udp", "-a", "duration:30", "-w", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    time.sleep(1.0)  # tshark needs a moment before it captures
    return capture


def stop_capture(capture: subprocess.Popen[bytes]) -> None:
    if capture.poll() is None:
        capture.send_signal(signal.SIGINT)
        try:
            capture.wait(10)
        except subprocess.TimeoutExpired:
            capture.kill()
            capture.wait(5)


def rtp_payloads(pcap: Path, port: int) -> list[bytes]:
    """The RTP payloads tshark finds on ``port`` (either direction)."""
    result = subprocess.run(
        [
            "tshark",
            "-r",
            str(pcap),
            "-d",
            f"udp.port=={port},rtp",
            "-Y",
            "rtp",
            "-T",
            "fields",
            "-e",
            "rtp.payload",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [
        bytes.fromhex(line.replace(":", "")) for line in result.stdout.splitlines() if line.strip()
    ]


def test_sips_and_srtp_call_through_kamailio_tls(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    kamailio = KamailioServer(
        tmp_path / "kamailio",
        users={"alice": "secret", "bob": "bobpw"},
        tls_certificate=tls.server_certificate,
        tls_private_key=tls.server_key,
    )
    with kamailio:
        tls_proxy = f"sip:127.0.0.1:{kamailio.tls_port};transport=tls"
        bob_account = (
            f'<sip:bob@127.0.0.1;transport=tls>;auth_pass=bobpw;outbound="{tls_proxy}";'
            "mediaenc=srtp-mand;regint=600;answermode=manual"
        )
        heard = tmp_path / "phone-heard.wav"
        phone_config = (
            "[account]\n"
            'uri = "sip:alice@127.0.0.1"\n'
            'password = "secret"\n'
            f'registrar = "sip:localhost:{kamailio.tls_port};transport=tls"\n'
            'transport = "tls"\n'
            'srtp = "mandatory"\n'
            "[network]\n"
            'listen = "127.0.0.1:0"\n'
            "[tls]\n"
            f'ca_file = "{tls.ca_certificate}"\n'
            "[media]\n"
            f'play = "tone:{PHONE_TONE}"\n'
            f'record = "{heard}"\n'
        )
        pcap = tmp_path / "call.pcap"
        with (
            BaresipPeer(
                tmp_path / "baresip",
                tone_hz=BARESIP_TONE,
                account=bob_account,
                modules=("srtp.so",),
                extra_config=f"sip_cafile\t\t{tls.ca_certificate}\n",
            ) as bob,
            PhoneProcess(tmp_path / "phone", phone_config, ("--sip-trace",)) as phone,
        ):
            phone.wait_event("registered")
            deadline = time.monotonic() + 10
            while not kamailio.contacts("bob") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert kamailio.contacts("bob"), f"baresip did not register:\n{bob.log_tail()}"
            capture = start_capture(pcap)
            try:
                target = f"sip:bob@127.0.0.1:{kamailio.tls_port};transport=tls"
                assert phone.command(f"dial {target}").startswith("ok")
                bob.wait_event("CALL_INCOMING")
                bob.command("accept")
                phone.wait_event("connected")
                time.sleep(2.0)
                # Re-INVITEs in an SRTP call (hold, resume): keys carried on, audio resumes.
                bob.command("hold")
                time.sleep(0.5)
                bob.command("resume")
                time.sleep(2.0)
                assert "call=connected" in phone.command("status")
                assert phone.command("hangup") == "ok"
                phone.wait_event("ended")
            finally:
                stop_capture(capture)
            log = phone.log_tail(5_000_000)
        assert "media encrypted with AES_CM_128_HMAC_SHA1_80" in log
        assert "m=audio" in log and "RTP/SAVP" in log
        assert log.count("call event ReofferReceived") == 2
        for path, tone, other, who in (
            (heard, BARESIP_TONE, PHONE_TONE, "phoneagent heard"),
            (newest(bob.recordings_of("dec")), PHONE_TONE, BARESIP_TONE, "baresip heard"),
        ):
            windows = tone_windows(path, tone, other)
            assert sum(windows[10:90]) >= 76, f"{who}: audio broken before the hold"
            assert sum(windows[-60:]) >= 57, f"{who}: audio did not come back after resume"
        # On the wire: our RTP port carries packets, and none of their payloads decodes
        # to either tone (they would, in the clear, in nearly every packet).
        our_port = int(re.findall(r"m=audio (\d+) RTP/SAVP", log)[0])
        payloads = rtp_payloads(pcap, our_port)
        assert len(payloads) > 150, f"only {len(payloads)} RTP packets captured"
        codec = CODECS.create("PCMU", 8000)
        tonal = 0
        for payload in payloads:
            pcm = codec.decode(payload[:160])
            total = sum(goertzel_power(pcm, f) for f in (PHONE_TONE, BARESIP_TONE))
            energy = sum(
                int.from_bytes(pcm[i : i + 2], "little", signed=True) ** 2
                for i in range(0, len(pcm), 2)
            )
            # A pure tone puts 1/N of the energy into its Goertzel bin (N samples); noise
            # spreads it over every bin.
            if energy and total / energy * (len(pcm) // 2) > 0.5:
                tonal += 1
        assert tonal <= len(payloads) // 100, f"{tonal} payloads carry a tone in clear"
