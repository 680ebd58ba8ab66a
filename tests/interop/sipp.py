"""SIPp (Debian ``sip-tester``) as a scripted SIP peer on loopback."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

from tests.interop.kamailio import free_port

SCENARIOS = Path(__file__).resolve().parent / "sipp"


class SippPeer:
    """One SIPp run of ``scenario`` (a file in tests/interop/sipp) as a server on 127.0.0.1."""

    def __init__(
        self,
        scenario: str,
        workdir: Path,
        *,
        timeout: float = 30.0,
        keys: dict[str, str] | None = None,
        media_port: int | None = None,
        remote: str | None = None,
        service: str = "alice",
    ) -> None:
        if shutil.which("sipp") is None:
            raise FileNotFoundError("sipp is not installed (apt-get install sip-tester)")
        self.scenario = SCENARIOS / scenario
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.timeout = timeout
        if keys:
            # SIPp 3.6's -key keywords are not accepted in message bodies: fill them in here.
            text = self.scenario.read_text()
            for key, value in keys.items():
                text = text.replace(f"[{key}]", value)
            self.scenario = workdir / self.scenario.name
            self.scenario.write_text(text)
        self.media_port = media_port  # SIPp's own RTP port (-mp), for SDP it writes
        self.remote = remote  # "host:port" to call: SIPp as the calling party
        self.service = service  # the user part SIPp calls ([service])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "sipp",
                "-sf",
                str(self.scenario),
                "-i",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-m",
                "1",
                "-nostdin",
                "-timeout",
                f"{int(self.timeout)}s",
                "-timeout_error",
                "-trace_err",
                "-trace_msg",
                "-error_file",
                str(self.workdir / "errors.log"),
                "-message_file",
                str(self.workdir / "messages.log"),
                *(["-mi", "127.0.0.1", "-mp", str(self.media_port)] if self.media_port else []),
                *(["-s", self.service, self.remote] if self.remote else []),
            ],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait(self, timeout: float | None = None) -> int:
        assert self.process is not None
        return self.process.wait(timeout if timeout is not None else self.timeout + 5)

    def report(self) -> str:
        parts = []
        for name in ("errors.log", "messages.log"):
            path = self.workdir / name
            if path.exists():
                parts.append(f"--- {name} ---\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def __enter__(self) -> SippPeer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
