"""Calls between ``phoneagent run`` and a real baresip on loopback, audio checked both ways.

Each side sends a tone of its own (phoneagent 1000 Hz, baresip 600 Hz) and records
what it receives; the recordings are cut into 20 ms windows and Goertzel tells
whether each carries the far end's tone.  Audio passes when at least 95 % of the
windows (but the first and last 200 ms) carry it and no run of silent windows is
longer than 60 ms (DESIGN of issue 4: missing, one-way or choppy audio fails).
"""

from __future__ import annotations

import re
import socket
import time
import wave
from pathlib import Path

import pytest

from phoneagent.media.codecs import CODECS
from phoneagent.media.goertzel import goertzel_power, signal_power
from phoneagent.media.rtp import RtpPacket
from phoneagent.media.tones import sine
from tests.interop.baresip import BaresipPeer
from tests.interop.kamailio import KamailioServer
from tests.interop.phone import PhoneProcess
from tests.interop.sipp import SippPeer

pytestmark = pytest.mark.interop

PHONE_TONE = 1000
BARESIP_TONE = 600
WINDOW = 160  # 20 ms at 8 kHz


def tone_windows(path: Path, frequency: int, other: int) -> list[bool]:
    """For each 20 ms window: does ``frequency`` dominate (and not ``other``)?"""
    with wave.open(str(path), "rb") as audio:
        assert audio.getframerate() == 8000 and audio.getsampwidth() == 2
        pcm = audio.readframes(audio.getnframes())
    windows = []
    for start in range(0, len(pcm) - 2 * WINDOW + 1, 2 * WINDOW):
        block = pcm[start : start + 2 * WINDOW]
        wanted = goertzel_power(block, frequency)
        unwanted = goertzel_power(block, other)
        windows.append(signal_power(block) > 1e4 and wanted > 10 * unwanted)
    return windows


def assert_clean_audio(path: Path, frequency: int, other: int, who: str) -> None:
    # The first and last 200 ms may hold the start-up and the hang-up of the stream.
    windows = tone_windows(path, frequency, other)[10:-10]
    assert len(windows) >= 50, f"{who}: only {len(windows)} windows of audio recorded"
    share = sum(windows) / len(windows)
    longest_gap = run = 0
    for carries_tone in windows:
        run = 0 if carries_tone else run + 1
        longest_gap = max(longest_gap, run)
    assert share >= 0.95, f"{who}: the far end's tone in only {share:.1%} of 20 ms windows"
    assert longest_gap * 20 <= 60, f"{who}: a gap of {longest_gap * 20} ms in the audio"


def config(baresip: BaresipPeer, record: Path) -> str:
    return (
        "[account]\n"
        'uri = "sip:alice@127.0.0.1"\n'
        'password = "unused"\n'
        f'registrar = "sip:127.0.0.1:{baresip.sip_port}"\n'
        "[network]\n"
        'listen = "127.0.0.1:0"\n'
        "[media]\n"
        f'play = "tone:{PHONE_TONE}"\n'
        f'record = "{record}"\n'
    )


def config_with_silent_registrar(registrar: socket.socket, record: Path) -> str:
    """A phone whose registrar never answers: the far end is the only peer it talks to."""
    return (
        "[account]\n"
        'uri = "sip:alice@127.0.0.1"\n'
        'password = "unused"\n'
        f'registrar = "sip:127.0.0.1:{registrar.getsockname()[1]}"\n'
        "[network]\n"
        'listen = "127.0.0.1:0"\n'
        "[media]\n"
        f'record = "{record}"\n'
    )


def newest(paths: list[Path]) -> Path:
    """baresip's newest recording, once sndfile has finished it (bounded wait)."""
    assert paths, "baresip recorded nothing"
    path = max(paths, key=lambda candidate: candidate.stat().st_mtime)
    deadline = time.monotonic() + 5
    while True:
        try:
            with wave.open(str(path), "rb"):
                return path
        except (wave.Error, EOFError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_phoneagent_calls_baresip_audio_both_ways(tmp_path: Path) -> None:
    heard = tmp_path / "phone-heard.wav"
    with BaresipPeer(tmp_path / "baresip", tone_hz=BARESIP_TONE) as bob:
        with PhoneProcess(tmp_path / "phone", config(bob, heard)) as phone:
            assert phone.command(f"dial {bob.uri}").startswith("ok")
            bob.wait_event("CALL_INCOMING")
            phone.wait_event("ringing")
            bob.command("accept")
            phone.wait_event("connected")
            time.sleep(2.5)
            assert "call=connected" in phone.command("status")
            assert phone.command("hangup") == "ok"
            assert phone.wait_event("ended")["reason"] == "local-hangup"
            bob.wait_event("CALL_CLOSED")
        assert_clean_audio(heard, BARESIP_TONE, PHONE_TONE, "phoneagent heard")
        assert_clean_audio(
            newest(bob.recordings_of("dec")), PHONE_TONE, BARESIP_TONE, "baresip heard"
        )


def test_baresip_calls_phoneagent_and_hangs_up(tmp_path: Path) -> None:
    heard = tmp_path / "phone-heard.wav"
    with BaresipPeer(tmp_path / "baresip", tone_hz=BARESIP_TONE) as bob:
        with PhoneProcess(tmp_path / "phone", config(bob, heard)) as phone:
            status = phone.command("status")
            port = status.split("address=127.0.0.1:")[1].split()[0]
            bob.command("dial", f"sip:alice@127.0.0.1:{port}")
            incoming = phone.wait_event("incoming")
            assert incoming["from"].startswith("sip:bob@127.0.0.1")
            assert phone.command("answer") == "ok"
            phone.wait_event("connected")
            bob.wait_event("CALL_ESTABLISHED")
            time.sleep(2.5)
            bob.command("hangup")
            assert phone.wait_event("ended")["reason"] == "remote-hangup"
            assert "call=idle" in phone.command("status")
        assert_clean_audio(heard, BARESIP_TONE, PHONE_TONE, "phoneagent heard")
        assert_clean_audio(
            newest(bob.recordings_of("dec")), PHONE_TONE, BARESIP_TONE, "baresip heard"
        )


def test_cancel_before_answer(tmp_path: Path) -> None:
    with (
        BaresipPeer(tmp_path / "baresip", tone_hz=BARESIP_TONE) as bob,
        PhoneProcess(tmp_path / "phone", config(bob, tmp_path / "heard.wav")) as phone,
    ):
        phone.command(f"dial {bob.uri}")
        bob.wait_event("CALL_INCOMING")
        phone.wait_event("ringing")
        assert phone.command("hangup") == "ok"
        assert phone.wait_event("ended")["reason"] == "cancelled"
        bob.wait_event("CALL_CLOSED")


def test_busy_far_end(tmp_path: Path) -> None:
    with (
        BaresipPeer(tmp_path / "baresip", tone_hz=BARESIP_TONE) as bob,
        PhoneProcess(tmp_path / "phone", config(bob, tmp_path / "heard.wav")) as phone,
    ):
        phone.command(f"dial {bob.uri}")
        bob.wait_event("CALL_INCOMING")
        bob.command("hangup")  # an unanswered call hung up by the callee: 486 Busy Here
        ended = phone.wait_event("ended")
        assert ended["reason"] in ("busy", "declined")
        assert ended["code"] in ("486", "603")


def connected_call(bob: BaresipPeer, phone: PhoneProcess) -> None:
    assert phone.command(f"dial {bob.uri}").startswith("ok")
    bob.wait_event("CALL_INCOMING")
    bob.command("accept")
    phone.wait_event("connected")
    bob.wait_event("CALL_ESTABLISHED")


def test_dtmf_both_ways(tmp_path: Path) -> None:
    with (
        BaresipPeer(tmp_path / "baresip", tone_hz=BARESIP_TONE) as bob,
        PhoneProcess(tmp_path / "phone", config(bob, tmp_path / "heard.wav")) as phone,
    ):
        connected_call(bob, phone)
        for digit in "5#":
            assert phone.command(f"dtmf {digit}") == f"ok digits={digit}"
            assert bob.wait_event("CALL_DTMF_START")["param"] == digit
            time.sleep(0.3)
        for digit in "7*":
            bob.command("sndcode", digit)  # RFC 4733 telephone-events from baresip
            assert phone.wait_event("dtmf")["digit"] == digit
        phone.command("hangup")
        phone.wait_event("ended")


def test_reinvite_and_options_mid_call_leave_audio_unbroken(tmp_path: Path) -> None:
    heard = tmp_path / "phone-heard.wav"
    with BaresipPeer(tmp_path / "baresip", tone_hz=BARESIP_TONE) as bob:
        with PhoneProcess(tmp_path / "phone", config(bob, heard)) as phone:
            connected_call(bob, phone)
            time.sleep(1.0)
            # An OPTIONS to the phone in the middle of the call (a keep-alive of some PBX).
            port = int(phone.command("status").split("address=127.0.0.1:")[1].split()[0])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.bind(("127.0.0.1", 0))
                probe.settimeout(5)
                probe.sendto(options_request(probe.getsockname()[1], port), ("127.0.0.1", port))
                assert probe.recv(4096).startswith(b"SIP/2.0 200")
            # A re-INVITE from the far end: hold (a=sendonly), then resume.
            bob.command("hold")
            time.sleep(0.5)
            bob.command("resume")
            time.sleep(1.5)
            assert "call=connected" in phone.command("status")
            phone.command("hangup")
            phone.wait_event("ended")
        # Both re-INVITEs (hold, resume) reached the phone and were answered.
        assert phone.log_tail(2_000_000).count("call event ReofferReceived") == 2
        windows = tone_windows(heard, BARESIP_TONE, PHONE_TONE)
        # Audio before the hold and after the resume carries baresip's tone.
        assert sum(windows[10:50]) >= 38, "audio broken before the hold"
        assert sum(windows[-40:]) >= 36, "audio did not come back after the re-INVITE"


def options_request(local_port: int, phone_port: int) -> bytes:
    return (
        f"OPTIONS sip:alice@127.0.0.1:{phone_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK-midcall;rport\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:pbx@127.0.0.1>;tag=m1\r\n"
        "To: <sip:alice@127.0.0.1>\r\nCall-ID: midcall-options\r\nCSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def test_calls_through_kamailio_both_directions(tmp_path: Path) -> None:
    """Both phones register with Kamailio; each calls the other through it (record-routed)."""
    kamailio = KamailioServer(tmp_path / "kamailio", users={"alice": "secret", "bob": "bobpw"})
    with kamailio:
        proxy = f"sip:127.0.0.1:{kamailio.port}"
        account = (
            f'<sip:bob@127.0.0.1>;auth_pass=bobpw;outbound="{proxy}";regint=600;answermode=manual'
        )
        heard = tmp_path / "phone-heard.wav"
        phone_config = (
            "[account]\n"
            'uri = "sip:alice@127.0.0.1"\n'
            'password = "secret"\n'
            f'registrar = "{proxy}"\n'
            "[network]\n"
            'listen = "127.0.0.1:0"\n'
            "[media]\n"
            f'play = "tone:{PHONE_TONE}"\n'
            f'record = "{heard}"\n'
        )
        with (
            BaresipPeer(tmp_path / "baresip", tone_hz=BARESIP_TONE, account=account) as bob,
            PhoneProcess(tmp_path / "phone", phone_config) as phone,
        ):
            phone.wait_event("registered")
            deadline = time.monotonic() + 10  # baresip may register before we listen to it
            while not kamailio.contacts("bob") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert kamailio.contacts("bob"), "baresip did not register"
            # phoneagent -> Kamailio -> baresip
            assert phone.command(f"dial sip:bob@127.0.0.1:{kamailio.port}").startswith("ok")
            bob.wait_event("CALL_INCOMING")
            bob.command("accept")
            phone.wait_event("connected")
            time.sleep(2.5)
            bob.command("hangup")  # the BYE comes back along the record-routed path
            assert phone.wait_event("ended")["reason"] == "remote-hangup"
            bob.wait_event("CALL_CLOSED")  # baresip finishes its recording with the call
            assert_clean_audio(heard, BARESIP_TONE, PHONE_TONE, "phoneagent heard (outgoing)")
            assert_clean_audio(
                newest(bob.recordings_of("dec")), PHONE_TONE, BARESIP_TONE, "baresip heard (1)"
            )
            # baresip -> Kamailio -> phoneagent
            bob.command("dial", f"sip:alice@127.0.0.1:{kamailio.port}")
            phone.wait_event("incoming")
            assert phone.command("answer") == "ok"
            phone.wait_event("connected")
            bob.wait_event("CALL_ESTABLISHED")
            time.sleep(1.5)
            assert phone.command("hangup") == "ok"
            assert phone.wait_event("ended")["reason"] == "local-hangup"
            bob.wait_event("CALL_CLOSED")
        assert_clean_audio(heard, BARESIP_TONE, PHONE_TONE, "phoneagent heard (incoming)")
        assert_clean_audio(
            newest(bob.recordings_of("dec")), PHONE_TONE, BARESIP_TONE, "baresip heard (2)"
        )


def test_symmetric_rtp_and_an_ssrc_change_with_a_far_end_behind_nat(tmp_path: Path) -> None:
    """SIPp answers with an SDP naming port X; the far end's RTP comes from port Y, and
    changes SSRC half-way."""
    sdp_port_socket = udp_socket()  # X: what the SDP says
    media_socket = udp_socket()  # Y: where the far end's RTP really comes from
    silent_registrar = udp_socket()
    sdp_port = sdp_port_socket.getsockname()[1]
    heard = tmp_path / "heard.wav"
    try:
        with SippPeer(
            "uas_rtp_elsewhere.xml", tmp_path / "sipp", keys={"sdp_port": str(sdp_port)}
        ) as peer:
            time.sleep(0.2)
            # A registrar that never answers: SIPp plays only the called party.
            phone_config = config_with_silent_registrar(silent_registrar, heard)
            with PhoneProcess(tmp_path / "phone", phone_config) as phone:
                phone.command(f"dial sip:sipp@127.0.0.1:{peer.port}")
                phone.wait_event("connected")
                invite = (tmp_path / "sipp" / "messages.log").read_text()
                phone_rtp_port = int(re.search(r"m=audio (\d+) ", invite).group(1))  # type: ignore[union-attr]
                time.sleep(0.3)
                before = drain(sdp_port_socket)  # the phone follows the SDP until RTP comes
                # The far end's RTP (PCMA, 600 Hz) from port Y, 2 s of it; half-way a
                # B2BUA-style switch to a new SSRC, sequence and timestamp base, which
                # must not break the audio either.
                codec = CODECS.create("PCMA", 8000)
                start = time.monotonic()
                for index in range(100):
                    pcm = sine(BARESIP_TONE, 160, start=160 * index)
                    if index < 50:
                        ssrc, sequence, timestamp = 0xFEED, index, 160 * index
                    else:
                        ssrc, sequence, timestamp = 0xBEEF, 30000 + index, 7_000_000 + 160 * index
                    packet = RtpPacket(8, sequence, timestamp, ssrc, codec.encode(pcm))
                    media_socket.sendto(bytes(packet), ("127.0.0.1", phone_rtp_port))
                    time.sleep(max(0.0, start + 0.02 * (index + 1) - time.monotonic()))
                late = drain(sdp_port_socket)
                answered = drain(media_socket)
                phone.command("hangup")
                phone.wait_event("ended")
            assert peer.wait() == 0, peer.report()
        assert before > 0, "the phone never sent to the SDP's port first"
        assert late <= 2, f"{late} RTP packets still went to the SDP's port"
        assert answered >= 90, f"only {answered} of the phone's RTP packets reached port Y"
        assert_clean_audio(heard, BARESIP_TONE, PHONE_TONE, "phoneagent heard")
    finally:
        for sock in (sdp_port_socket, media_socket, silent_registrar):
            sock.close()


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


def drain(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            sock.recv(2048)
        except BlockingIOError:
            return count
        count += 1


def test_auto_answer_intercom(tmp_path: Path) -> None:
    heard = tmp_path / "heard.wav"
    with BaresipPeer(tmp_path / "baresip", tone_hz=BARESIP_TONE) as bob:
        intercom = config(bob, heard) + "[phone]\nauto_answer = true\nauto_answer_delay = 0.5\n"
        with PhoneProcess(tmp_path / "phone", intercom) as phone:
            port = phone.command("status").split("address=127.0.0.1:")[1].split()[0]
            bob.command("dial", f"sip:alice@127.0.0.1:{port}")
            phone.wait_event("incoming")
            rang_at = time.monotonic()
            phone.wait_event("connected")  # nobody typed "answer"
            # 0.5 s of ringing first (the console line may be read up to ~0.2 s late)
            assert time.monotonic() - rang_at >= 0.25
            bob.wait_event("CALL_ESTABLISHED")
            time.sleep(1.5)
            bob.command("hangup")
            phone.wait_event("ended")
        assert_clean_audio(heard, BARESIP_TONE, PHONE_TONE, "phoneagent heard")


def test_local_ringback_then_busy_tone_when_the_far_end_refuses(tmp_path: Path) -> None:
    """Call-progress tones are generated locally: US ringback (440+480 Hz) while the far end
    rings, then busy (480+620 Hz) after it refuses, until the handset goes down — what the
    user hears in the earpiece (the mock handset's recording)."""
    heard = tmp_path / "heard.wav"
    with (
        BaresipPeer(tmp_path / "baresip", tone_hz=BARESIP_TONE) as bob,
        PhoneProcess(tmp_path / "phone", config(bob, heard)) as phone,
    ):
        assert phone.command("hook off") == "ok hook=off"
        assert phone.wait_event("tone") == {"name": "dial"}
        phone.command(f"dial {bob.uri}")  # with the handset lifted: heard in the handset
        bob.wait_event("CALL_INCOMING")
        phone.wait_event("ringing")
        assert phone.wait_event("tone") == {"name": "off"}  # the dial tone stops
        assert phone.wait_event("tone") == {"name": "ringback"}
        time.sleep(1.5)
        bob.command("hangup")
        assert phone.wait_event("ended")["reason"] in ("busy", "declined")
        assert phone.wait_event("tone") == {"name": "busy"}
        time.sleep(1.5)
        assert phone.command("hook on") == "ok hook=on"
        assert phone.wait_event("tone") == {"name": "off"}
    with wave.open(str(heard), "rb") as audio:
        pcm = audio.readframes(audio.getnframes())
    window = 2 * 160
    blocks = [pcm[i : i + window] for i in range(0, len(pcm) - window + 1, window)]
    # 440 and 480 Hz share a bin at 20 ms resolution: tell ringback from busy by 620 Hz and
    # from dial tone (350+440 Hz) by 350 Hz.
    ringback = [
        goertzel_power(b, 440) > 10 * max(goertzel_power(b, 620), goertzel_power(b, 350))
        for b in blocks
    ]
    busy = [goertzel_power(b, 620) > 3 * goertzel_power(b, 440) for b in blocks[-60:]]
    assert sum(ringback) >= 45, "no ringback while the far end was ringing"
    assert sum(busy) >= 20, "no busy tone after the refusal (it cadences 0.5 s on, 0.5 s off)"


def test_an_invite_without_offer_gets_ours_in_the_200_and_the_answer_from_the_ack(
    tmp_path: Path,
) -> None:
    """RFC 3261 §13.2.1 (what PBXs send after a transfer): SIPp calls without SDP; the
    phone answers with its offer, takes SIPp's answer from the ACK and sends media."""
    heard = tmp_path / "heard.wav"
    silent_registrar = udp_socket()
    try:
        phone_config = config_with_silent_registrar(silent_registrar, heard)
        with PhoneProcess(tmp_path / "phone", phone_config) as phone:
            port = phone.command("status").split("address=127.0.0.1:")[1].split()[0]
            media = udp_socket()
            media_port = media.getsockname()[1]
            media.close()  # SIPp binds it
            with SippPeer(
                "uac_offerless_invite.xml",
                tmp_path / "sipp",
                media_port=media_port,
                remote=f"127.0.0.1:{port}",
            ) as peer:
                phone.wait_event("incoming")
                assert phone.command("answer") == "ok"
                phone.wait_event("connected")
                assert phone.wait_event("ended", timeout=15)["reason"] == "remote-hangup"
                assert peer.wait() == 0, peer.report()
            log = phone.log_tail(200_000)
        messages = (tmp_path / "sipp" / "messages.log").read_text()
        assert re.search(r"SIP/2.0 200 OK.*?m=audio \d+ RTP/AVP", messages, re.DOTALL), messages
        statistics = re.findall(r"call statistics: CallStatistics\(packets_sent=(\d+)", log)
        assert statistics and int(statistics[-1]) >= 75, log[-3000:]  # 2.5 s of 20 ms frames
    finally:
        silent_registrar.close()


def test_a_voicemail_server_lights_and_clears_the_message_waiting_led(tmp_path: Path) -> None:
    """RFC 3842 message-summary NOTIFYs, unsolicited as PBXs send them: 200 OK, the
    console reports them, the mock board's message-waiting LED follows, and the dial tone
    stutters while messages wait."""
    silent_registrar = udp_socket()
    try:
        config_text = config_with_silent_registrar(silent_registrar, tmp_path / "heard.wav")
        with PhoneProcess(tmp_path / "phone", config_text) as phone:
            port = phone.command("status").split("address=127.0.0.1:")[1].split()[0]
            with SippPeer(
                "uac_mwi_notify.xml", tmp_path / "sipp", remote=f"127.0.0.1:{port}"
            ) as peer:
                assert phone.wait_event("mwi") == {"waiting": "yes", "new": "2", "old": "8"}
                led = phone.wait_event("led")
                assert led == {"name": "message_waiting", "state": "on"}
                phone.command("hook off")  # voicemail waits: stutter dial tone
                assert phone.wait_event("tone") == {"name": "stutter"}
                phone.command("hook on")
                assert phone.wait_event("tone") == {"name": "off"}
                assert phone.wait_event("mwi") == {"waiting": "no", "new": "0", "old": "10"}
                assert phone.wait_event("led") == {"name": "message_waiting", "state": "off"}
                assert peer.wait() == 0, peer.report()
    finally:
        silent_registrar.close()
