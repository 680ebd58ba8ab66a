"""A real Kamailio registrar on loopback, started and stopped by the tests.

Kamailio 5.6 from Debian (`kamailio`, `kamailio-tls-modules`), configured without a
database: usrloc in memory, digest passwords fixed in the script, nathelper's
``fix_nated_register`` for TCP/TLS so that a phone is reached over its own
connection (../shared/PEERS.md), STUN answered on the UDP port, ``ctl`` for
``kamcmd ul.dump``.  Ports are chosen free by the OS (bind to port 0, then handed
to Kamailio), everything binds to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

MODULES_DIRS = [
    "/usr/lib/x86_64-linux-gnu/kamailio/modules",
    "/usr/lib/aarch64-linux-gnu/kamailio/modules",
    "/usr/lib/arm-linux-gnueabihf/kamailio/modules",
    "/usr/lib/kamailio/modules",
]


def modules_dir() -> str:
    for candidate in MODULES_DIRS:
        if Path(candidate, "registrar.so").exists():
            return candidate
    raise FileNotFoundError("Kamailio's modules are not installed (apt-get install kamailio)")


def free_port(kinds: tuple[int, ...] = (socket.SOCK_DGRAM, socket.SOCK_STREAM)) -> int:
    """A port the OS calls free for every socket kind in ``kinds`` on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kinds[0]) as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                for kind in kinds[1:]:
                    with socket.socket(socket.AF_INET, kind) as other:
                        other.bind(("127.0.0.1", port))
                # baresip-style peers use port + 1 for TLS: keep it clear too.
                return port
            except OSError:
                continue
    raise RuntimeError("no free port found")


@dataclass
class KamailioServer:
    """One Kamailio process; use as a context manager."""

    workdir: Path
    users: dict[str, str] = field(default_factory=lambda: {"alice": "secret"})
    tls_certificate: Path | None = None
    tls_private_key: Path | None = None
    min_expires: int = 10
    max_expires: int = 3600
    extra_register_route: str = ""
    port: int = 0
    tls_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        if self.tls_certificate is not None and not self.tls_port:
            self.tls_port = free_port((socket.SOCK_STREAM,))
        self.log_path = self.workdir / "kamailio.log"

    @property
    def control_socket(self) -> Path:
        return self.workdir / "ctl.sock"

    def config_text(self) -> str:
        checks = "\n".join(
            f'        if ($fU == "{user}" && pv_www_authenticate("$td", "{password}", "0")) '
            "{ $var(ok) = 1; }"
            for user, password in self.users.items()
        )
        tls = self.tls_certificate is not None
        listen_tls = f"listen=tls:127.0.0.1:{self.tls_port}\nenable_tls=yes\n" if tls else ""
        load_tls = 'loadmodule "tls.so"\n' if tls else ""
        tls_params = f'modparam("tls", "config", "{self.workdir / "tls.cfg"}")\n' if tls else ""
        return f"""#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=2
listen=udp:127.0.0.1:{self.port}
listen=tcp:127.0.0.1:{self.port}
{listen_tls}alias="127.0.0.1:{self.port}"
dns=no
rev_dns=no
tcp_connection_lifetime=3605
tcp_accept_aliases=yes
mpath="{modules_dir()}/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "auth.so"
loadmodule "nathelper.so"
loadmodule "ctl.so"
loadmodule "stun.so"
{load_tls}modparam("ctl", "binrpc", "unix:{self.control_socket}")
modparam("usrloc", "db_mode", 0)
modparam("registrar", "min_expires", {self.min_expires})
modparam("registrar", "max_expires", {self.max_expires})
modparam("registrar", "received_avp", "$avp(RECEIVED)")
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
{tls_params}
request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (!sanity_check()) {{ exit; }}
    if (is_method("REGISTER")) {{
        $var(ok) = 0;
{checks}
        if ($var(ok) == 0) {{ www_challenge("$td", "1"); exit; }}
        consume_credentials();
        if (proto == TCP || proto == TLS) {{ fix_nated_register(); }}
{self.extra_register_route}
        if (!save("location")) {{ sl_reply_error(); }}
        exit;
    }}
    # A proxy for calls between registered phones (RFC 3261 §16, loose routing).
    if (has_totag()) {{
        if (loose_route()) {{ t_relay(); exit; }}
        if (is_method("ACK") && t_check_trans()) {{ t_relay(); }}
        exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    if (is_method("OPTIONS") && uri == myself && $rU == $null) {{
        sl_send_reply("200", "OK"); exit;
    }}
    record_route();
    if (uri == myself) {{
        if (!lookup("location")) {{ sl_send_reply("404", "Not Found"); exit; }}
    }}
    if (!t_relay()) {{ sl_reply_error(); }}
}}
"""

    def write_config(self) -> Path:
        path = self.workdir / "kamailio.cfg"
        path.write_text(self.config_text())
        if self.tls_certificate is not None:
            (self.workdir / "tls.cfg").write_text(
                "[server:default]\n"
                "method = TLSv1.2+\n"
                "verify_certificate = no\n"
                "require_certificate = no\n"
                f"certificate = {self.tls_certificate}\n"
                f"private_key = {self.tls_private_key}\n"
                "\n[client:default]\n"
                "verify_certificate = no\n"
                "require_certificate = no\n"
            )
        return path

    def start(self, timeout: float = 10.0) -> None:
        if shutil.which("kamailio") is None:
            raise FileNotFoundError("kamailio is not installed (apt-get install kamailio)")
        config = self.write_config()
        with contextlib.suppress(FileNotFoundError):
            self.control_socket.unlink()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                "kamailio",
                "-f",
                str(config),
                "-DD",
                "-E",
                "-m",
                "64",
                "-M",
                "8",
                "-P",
                str(self.workdir / "kamailio.pid"),
                "-Y",
                str(self.workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"kamailio exited:\n{self.log_path.read_text()[-3000:]}")
            if self._answers_options():
                return
            time.sleep(0.05)
        raise TimeoutError(f"kamailio not ready:\n{self.log_path.read_text()[-3000:]}")

    def _answers_options(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.settimeout(0.2)
            probe.bind(("127.0.0.1", 0))
            local = probe.getsockname()[1]
            probe.sendto(
                (
                    f"OPTIONS sip:127.0.0.1:{self.port} SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-probe{time.time_ns()}\r\n"
                    "From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\n"
                    f"Call-ID: probe-{time.time_ns()}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                    "Content-Length: 0\r\n\r\n"
                ).encode(),
                ("127.0.0.1", self.port),
            )
            try:
                return probe.recv(4096).startswith(b"SIP/2.0 200")
            except OSError:
                return False

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)

    def restart(self) -> None:
        self.stop()
        self.start()

    def contacts(self, user: str = "alice") -> list[str]:
        """The contacts Kamailio holds for ``user`` (kamcmd ul.dump)."""
        result = subprocess.run(
            ["kamcmd", "-s", f"unix:{self.control_socket}", "ul.dump"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        contacts: list[str] = []
        in_user = False
        for line in result.stdout.splitlines():
            stripped = line.strip()
            if stripped.startswith("AoR:"):
                in_user = stripped.split(":", 1)[1].strip().split("@")[0] == user
            elif in_user and stripped.startswith("Address:"):
                contacts.append(stripped.split(":", 1)[1].strip())
        return contacts

    def __enter__(self) -> KamailioServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
