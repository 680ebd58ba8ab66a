"""Registration against SIPp registrars that misbehave in the ways real ones do.

Each scenario (tests/interop/sipp/register_*.xml) is a registrar; the real
``phoneagent run`` registers with it, and the test reads the console's events.
T1 is shrunk to 50 ms so that timer F fires after 3.2 s.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import pytest

from tests.interop.phone import PhoneProcess
from tests.interop.sipp import SippPeer

pytestmark = pytest.mark.interop


def config_for(peer: SippPeer) -> str:
    return (
        "[account]\n"
        'uri = "sip:alice@127.0.0.1"\n'
        'password = "secret"\n'
        f'registrar = "sip:127.0.0.1:{peer.port}"\n'
        "[network]\n"
        'listen = "127.0.0.1:0"\n'
        "[timers]\n"
        "t1 = 0.05\n"
    )


def run(scenario: str, tmp_path: Path, expectations) -> None:  # type: ignore[no-untyped-def]
    with SippPeer(scenario, tmp_path / "sipp") as peer:
        time.sleep(0.2)  # SIPp binds its port
        with PhoneProcess(tmp_path / "phone", config_for(peer)) as phone:
            expectations(phone)
            code = peer.wait()
        assert code == 0, f"SIPp failed ({code}):\n{peer.report()}"


def test_401_then_200(tmp_path: Path) -> None:
    run("register_401.xml", tmp_path, lambda phone: phone.wait_event("registered"))


def test_407_from_a_proxy(tmp_path: Path) -> None:
    run("register_407.xml", tmp_path, lambda phone: phone.wait_event("registered"))
    # SIPp's verifyauth reads only Authorization: recompute the proxy credentials here,
    # with hashlib alone (RFC 2617 §3.2.2, qop=auth), from what SIPp received.
    received = (tmp_path / "sipp" / "messages.log").read_text()
    match = re.search(r"^Proxy-Authorization: Digest (.*)$", received, re.MULTILINE)
    assert match is not None
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', match.group(1)))
    assert (fields["username"], fields["realm"], fields["qop"]) == ("alice", "proxy.test", "auth")

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1 = md5("alice:proxy.test:secret")
    ha2 = md5(f"REGISTER:{fields['uri']}")
    expected = md5(f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:auth:{ha2}")
    assert fields["response"] == expected


def test_423_asks_again_with_min_expires(tmp_path: Path) -> None:
    def expect(phone: PhoneProcess) -> None:
        assert phone.wait_event("registered")["expires"] == "1800"

    run("register_423.xml", tmp_path, expect)


def test_stale_nonce_is_answered_without_failing(tmp_path: Path) -> None:
    def expect(phone: PhoneProcess) -> None:
        phone.wait_event("registered")
        assert not [line for line in phone.lines if "registration-failed" in line]

    run("register_stale.xml", tmp_path, expect)


def test_403_is_reported_and_not_retried(tmp_path: Path) -> None:
    # SIPp fails the run if another REGISTER arrives during its 3 s pause.
    def expect(phone: PhoneProcess) -> None:
        assert phone.wait_event("registration-failed")["code"] == "403"

    run("register_403.xml", tmp_path, expect)


def test_503_retry_after_is_honoured(tmp_path: Path) -> None:
    def expect(phone: PhoneProcess) -> None:
        assert phone.wait_event("registration-failed")["code"] == "503"
        failed = time.monotonic()
        phone.wait_event("registered", timeout=15)
        # Retry-After: 3.  The console line may be read up to ~0.2 s after it was written,
        # and the phone's own backoff would have retried within 2 s: 2.5 s tells them apart.
        assert time.monotonic() - failed >= 2.5

    run("register_503.xml", tmp_path, expect)


def test_registrar_that_never_answers_times_out_then_backs_off(tmp_path: Path) -> None:
    def expect(phone: PhoneProcess) -> None:
        assert phone.wait_event("registration-failed", timeout=10)["code"] == "408"
        # timer F = 64 * T1 = 3.2 s after the REGISTER, which left after the process started
        assert time.monotonic() - phone.started_at >= 3.2
        phone.wait_event("registered", timeout=10)

    run("register_no_answer.xml", tmp_path, expect)


def test_shortened_expiry_is_refreshed_in_time(tmp_path: Path) -> None:
    def expect(phone: PhoneProcess) -> None:
        assert phone.wait_event("registered")["expires"] == "4"
        first = time.monotonic()
        assert phone.wait_event("registered", timeout=5)["expires"] == "4"
        assert time.monotonic() - first < 4.0  # refreshed before the binding expired

    run("register_shorter_expiry.xml", tmp_path, expect)
