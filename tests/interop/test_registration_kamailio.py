"""``phoneagent run`` registering with a real Kamailio over UDP, TCP and TLS (loopback).

Each test starts its own Kamailio (free ports, its own TLS CA and certificate),
runs the real phoneagent process with its console on a pty, and stops both.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from phoneagent.certificates import make_tls_files
from tests.interop.kamailio import KamailioServer
from tests.interop.phone import PhoneProcess
from tests.interop.tcp_relay import TcpRelay

pytestmark = pytest.mark.interop


def phone_config(
    kamailio: KamailioServer, transport: str, ca_file: Path | None, **extra: str
) -> str:
    port = kamailio.tls_port if transport == "tls" else kamailio.port
    host = "localhost" if transport == "tls" else "127.0.0.1"  # TLS checks the name
    lines = [
        "[account]",
        'uri = "sip:alice@127.0.0.1"',
        'password = "secret"',
        f'registrar = "sip:{host}:{port};transport={transport}"',
        f'transport = "{transport}"',
        f"expires = {extra.pop('expires', '600')}",
        f"keepalive_interval = {extra.pop('keepalive_interval', '25')}",
        "[network]",
        'listen = "127.0.0.1:0"',
        "[timers]",
        "t1 = 0.1",
    ]
    if ca_file is not None:
        lines += ["[tls]", f'ca_file = "{ca_file}"']
    return "\n".join(lines) + "\n"


@pytest.fixture
def tls_files(tmp_path: Path):  # type: ignore[no-untyped-def]
    return make_tls_files(tmp_path / "tls")


@pytest.fixture
def kamailio(tmp_path: Path, tls_files) -> Iterator[KamailioServer]:  # type: ignore[no-untyped-def]
    server = KamailioServer(
        tmp_path / "kamailio",
        tls_certificate=tls_files.server_certificate,
        tls_private_key=tls_files.server_key,
    )
    with server:
        yield server


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_registers_within_a_second_and_unregisters_on_sigterm(
    transport: str,
    kamailio: KamailioServer,
    tls_files,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    config = phone_config(kamailio, transport, tls_files.ca_certificate)
    with PhoneProcess(tmp_path / "phone", config) as phone:
        # How fast is tests/bench/bench_register.py's business; here only that it happens.
        event = phone.wait_event("registered", timeout=10)
        assert event["expires"] == "600"
        (contact,) = kamailio.contacts()
        assert "alice@127.0.0.1" in contact
        status = phone.command("status")
        assert status.startswith("ok registration=registered address=127.0.0.1:")
        assert "call=idle" in status
        assert phone.terminate() == 0
        wait_for(lambda: kamailio.contacts() == [], 5, "the binding to be removed")


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_stream_registration_survives_a_kamailio_restart(
    transport: str,
    kamailio: KamailioServer,
    tls_files,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    config = phone_config(kamailio, transport, tls_files.ca_certificate)
    with PhoneProcess(tmp_path / "phone", config) as phone:
        phone.wait_event("registered", timeout=10)
        kamailio.restart()  # drops the connection and every binding
        assert kamailio.contacts() == []
        restarted = time.monotonic()
        phone.wait_event("registered", timeout=30)
        wait_for(lambda: len(kamailio.contacts()) == 1, 5, "the binding to come back")
        assert time.monotonic() - restarted < 30


def test_udp_binding_lost_comes_back_by_the_next_refresh(
    tmp_path: Path,
    tls_files,  # type: ignore[no-untyped-def]
) -> None:
    # The registrar grants 10 s, so the phone refreshes within 8 s.
    server = KamailioServer(tmp_path / "kamailio", max_expires=10, min_expires=5)
    with server:
        config = phone_config(server, "udp", None, expires="600")
        with PhoneProcess(tmp_path / "phone", config) as phone:
            event = phone.wait_event("registered", timeout=10)
            assert event["expires"] == "10"  # the registrar shortened the expiry
            server.restart()
            assert server.contacts() == []
            phone.wait_event("registered", timeout=12)
            wait_for(lambda: len(server.contacts()) == 1, 5, "the binding to come back")


def test_wrong_password_reports_registration_failed(
    tmp_path: Path,
    kamailio: KamailioServer,
    tls_files,  # type: ignore[no-untyped-def]
) -> None:
    config = phone_config(kamailio, "udp", None).replace('password = "secret"', 'password = "nope"')
    with PhoneProcess(tmp_path / "phone", config, ("--sip-trace",)) as phone:
        event = phone.wait_event("registration-failed", timeout=10)
        assert event["code"] == "401"
        log = phone.log_tail(100_000)
        assert "REGISTER sip:" in log and "WWW-Authenticate: Digest" in log  # --sip-trace
        assert "nope" not in log  # the password never reaches the log
        assert kamailio.contacts() == []


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_connection_reset_registers_again(
    transport: str,
    kamailio: KamailioServer,
    tls_files,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    """A reset connection (a NAT that forgot us) is noticed at once and the phone registers
    again over a new connection — not only at the next refresh."""
    upstream_port = kamailio.tls_port if transport == "tls" else kamailio.port
    with TcpRelay(("127.0.0.1", upstream_port)) as relay:
        host = "localhost" if transport == "tls" else "127.0.0.1"
        config = phone_config(kamailio, transport, tls_files.ca_certificate).replace(
            f'registrar = "sip:{host}:{upstream_port};',
            f'registrar = "sip:{host}:{relay.port};',
        )
        with PhoneProcess(tmp_path / "phone", config) as phone:
            phone.wait_event("registered", timeout=10)
            assert relay.accepted == 1
            relay.reset_all()
            reset = time.monotonic()
            phone.wait_event("registered", timeout=30)
            assert relay.accepted == 2  # a new connection carried the new REGISTER
            assert time.monotonic() - reset < 30
