"""DTLS-SRTP calls of the phone itself (``phoneagent run``) with baresip's dtls_srtp module.

``[media] srtp_keying = "dtls"``: the phone offers UDP/TLS/RTP/SAVP with
``a=setup:actpass`` and its certificate's fingerprint; the handshakes on the RTP
and the RTCP port give the SRTP and SRTCP keys; audio must pass both ways
(tone detection on both recordings).  And the other way round: baresip offers
DTLS-SRTP, the phone answers ``a=setup:active`` and is the DTLS client.  Both with
RTCP on its own port and with rtcp-mux (RFC 5761: then one association).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.interop.baresip import BaresipPeer
from tests.interop.phone import PhoneProcess
from tests.interop.test_calls_baresip import (
    BARESIP_TONE,
    PHONE_TONE,
    assert_clean_audio,
    config,
    newest,
)

pytestmark = pytest.mark.interop

BOB = "<sip:bob@127.0.0.1>;regint=0;answermode=manual;mediaenc=dtls_srtp"


def dtls_config(bob: BaresipPeer, heard: Path) -> str:
    return config(bob, heard).replace(
        "[media]\n", '[media]\nsrtp_keying = "dtls"\n', 1
    ).replace('password = "unused"\n', 'password = "unused"\nsrtp = "mandatory"\n', 1)


def dtls_peer(tmp_path: Path, mux: bool) -> BaresipPeer:
    return BaresipPeer(
        tmp_path / "baresip",
        tone_hz=BARESIP_TONE,
        account=BOB,
        modules=("dtls_srtp.so",),
        extra_config=f"rtcp_mux\t\t{'yes' if mux else 'no'}\n",
    )


def assert_dtls_on_both_sides(phone_log: str, bob: BaresipPeer, mux: bool) -> None:
    """Our certificate matched our fingerprint; one association with rtcp-mux (RFC 5764
    §4.1), else one per port; every SRTP and SRTCP packet of ours decrypted by baresip."""
    log = bob.log_tail(1_000_000)
    assert "dtls_srtp: verified sha-256 fingerprint OK" in log, log
    assert "DTLS-SRTP complete (audio/RTP)" in log
    assert "failed to decrypt" not in log, log
    assert "DTLS-SRTP rtp: " in phone_log, phone_log[-3000:]
    if mux:
        assert "RTP/RTCP multiplexing enabled" in log, log
        assert "DTLS-SRTP rtcp: " not in phone_log
    else:
        assert "DTLS-SRTP complete (audio/RTCP)" in log
        assert "DTLS-SRTP rtcp: " in phone_log


@pytest.mark.parametrize("mux", [False, True], ids=["rtcp-own-port", "rtcp-mux"])
def test_phone_calls_baresip_with_dtls_srtp(tmp_path: Path, mux: bool) -> None:
    heard = tmp_path / "phone-heard.wav"
    with dtls_peer(tmp_path, mux) as bob:
        with PhoneProcess(tmp_path / "phone", dtls_config(bob, heard)) as phone:
            assert phone.command(f"dial {bob.uri}").startswith("ok")
            bob.wait_event("CALL_INCOMING")
            bob.command("accept")
            phone.wait_event("connected")
            # With mux, long enough for baresip's first RTCP report (libre: every 5 s) to
            # reach us on the RTP port: its SRTCP must be told from SRTP and decrypted.
            time.sleep(7.0 if mux else 3.0)
            assert phone.command("hangup") == "ok"
            phone.wait_event("ended")
            bob.wait_event("CALL_CLOSED")
            log = phone.log_tail(200_000)
        assert "media encrypted with" in log
        assert_dtls_on_both_sides(log, bob, mux)
        if mux:
            statistics = log[log.index("call statistics:") :]
            assert "remote_fraction_lost=None" not in statistics, statistics[:600]
        assert_clean_audio(heard, BARESIP_TONE, PHONE_TONE, "phoneagent heard")
        assert_clean_audio(
            newest(bob.recordings_of("dec")), PHONE_TONE, BARESIP_TONE, "baresip heard"
        )


@pytest.mark.parametrize("mux", [False, True], ids=["rtcp-own-port", "rtcp-mux"])
def test_baresip_calls_the_phone_with_dtls_srtp(tmp_path: Path, mux: bool) -> None:
    heard = tmp_path / "phone-heard.wav"
    with dtls_peer(tmp_path, mux) as bob:
        with PhoneProcess(tmp_path / "phone", dtls_config(bob, heard)) as phone:
            port = phone.command("status").split("address=127.0.0.1:")[1].split()[0]
            bob.command("dial", f"sip:alice@127.0.0.1:{port}")
            phone.wait_event("incoming")
            assert phone.command("answer") == "ok"
            phone.wait_event("connected")
            bob.wait_event("CALL_ESTABLISHED")
            time.sleep(3.0)
            bob.command("hangup")
            assert phone.wait_event("ended")["reason"] == "remote-hangup"
            log = phone.log_tail(200_000)
        assert_dtls_on_both_sides(log, bob, mux)
        assert_clean_audio(heard, BARESIP_TONE, PHONE_TONE, "phoneagent heard")
        assert_clean_audio(
            newest(bob.recordings_of("dec")), PHONE_TONE, BARESIP_TONE, "baresip heard"
        )
