"""A real ``phoneagent run`` process for interop tests, driven through its console on a pty.

The console is the phone's service port: the test reads ``event …`` lines and
sends commands exactly as a technician with a serial cable would.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import subprocess
import sys
import time
import tty
from pathlib import Path

from phoneagent.console import parse_fields, split_words


class PhoneProcess:
    """``phoneagent run --config FILE`` with the console on a fresh pty."""

    def __init__(self, workdir: Path, config_body: str, extra_args: tuple[str, ...] = ()) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)  # no echo, no CR/LF translation: bytes as the UART carries them
        self.config_path = workdir / "phone.toml"
        self.config_path.write_text(
            config_body + f'\n[console]\nport = "{os.ttyname(self.slave)}"\n'
        )
        self.log_path = workdir / "phone.log"
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self.lines: list[str] = []
        self.started_at = 0.0

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "phoneagent",
                "run",
                "--config",
                str(self.config_path),
                "--log-level",
                "debug",
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # The call history goes to the test's directory, not the user's state directory.
            env={**os.environ, "XDG_STATE_HOME": str(self.config_path.parent / "state")},
        )
        log.close()

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Until the console answers: opening the port discards what was typed before."""
        deadline = time.monotonic() + timeout
        while True:
            os.write(self.master, b"help\r\n")
            try:
                self.wait_line(lambda line: line.startswith("ok commands="), 0.3)
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    # -- console -------------------------------------------------------------------------

    def _read_lines(self, timeout: float) -> None:
        readable, _, _ = select.select([self.master], [], [], max(0.0, timeout))
        if not readable:
            return
        try:
            self._buffer += os.read(self.master, 65536)
        except OSError:
            return
        while b"\r\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\r\n", 1)
            self.lines.append(line.decode("utf-8", "replace"))

    def wait_line(self, predicate: object, timeout: float) -> str:
        """The first unread console line for which ``predicate(line)`` is true."""
        assert callable(predicate)
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            while seen < len(self.lines):
                line = self.lines[seen]
                if predicate(line):
                    del self.lines[seen]  # other lines stay for later waits
                    return line
                seen += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"no matching console line in {timeout} s; got {self.lines!r}\n"
                    f"--- phone log ---\n{self.log_tail()}"
                )
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"phoneagent exited:\n{self.log_tail()}")
            self._read_lines(min(remaining, 0.2))

    def wait_event(self, name: str, timeout: float = 10.0) -> dict[str, str]:
        """Wait for ``event NAME …`` and return its fields."""
        line = self.wait_line(lambda text: text.split(" ")[:2] == ["event", name], timeout)
        return dict(parse_fields(split_words(line)[2:]))

    def command(self, text: str, timeout: float = 5.0) -> str:
        """Send one command line and return its answer (``ok …`` or ``error …``)."""
        os.write(self.master, text.encode() + b"\r\n")
        return self.wait_line(lambda line: line.startswith(("ok", "error")), timeout)

    # -- lifetime ----------------------------------------------------------------------------

    def terminate(self, timeout: float = 10.0) -> int:
        process, self.process = self.process, None
        if process is None:
            return 0
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout)
        return process.returncode

    def close(self) -> None:
        self.terminate()
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def log_tail(self, characters: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except FileNotFoundError:
            return ""

    def __enter__(self) -> PhoneProcess:
        self.start()
        self.wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
