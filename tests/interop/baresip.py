"""baresip 1.0 (Debian ``baresip``) as the far-end phone, headless, on loopback.

Its microphone is ``aufile`` playing a WAV of a sine of a chosen frequency (baresip's
``ausine`` insists on 48 kHz), its loudspeaker is
``aubridge`` (nothing), and ``sndfile`` records every call's decoded audio to WAV
files in ``recordings``, so a test can check what baresip heard.  It is driven
through ``ctrl_tcp``: netstrings of JSON commands in, netstrings of JSON events
out (../shared/PEERS.md).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import time
import wave
from array import array
from pathlib import Path

from tests.interop.kamailio import free_port


def free_port_pair() -> int:
    """A port P with P and P + 1 free (baresip listens for TLS on sip_listen + 1)."""
    for _ in range(50):
        port = free_port()
        with contextlib.suppress(OSError), socket.socket() as probe:
            probe.bind(("127.0.0.1", port + 1))
            return port
    raise RuntimeError("no free port pair")


class BaresipPeer:
    def __init__(
        self,
        workdir: Path,
        tone_hz: int,
        account: str | None = None,
        modules: tuple[str, ...] = (),
        extra_config: str = "",
    ) -> None:
        if shutil.which("baresip") is None:
            raise FileNotFoundError("baresip is not installed (apt-get install baresip)")
        self.workdir = workdir
        self.config_dir = workdir / "config"
        self.recordings = workdir / "recordings"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.recordings.mkdir(parents=True, exist_ok=True)
        self.sip_port = free_port_pair()
        self.control_port = free_port((socket.SOCK_STREAM,))
        rtp_first = free_port()
        self.tone_hz = tone_hz
        self.account = account or "<sip:bob@127.0.0.1>;regint=0;answermode=manual"
        (self.config_dir / "config").write_text(
            "poll_method\t\tepoll\n"
            f"sip_listen\t\t127.0.0.1:{self.sip_port}\n"
            "net_interface\t\t127.0.0.1\n"
            "dns_server\t\t127.0.0.1:53\n"
            f"audio_source\t\taufile,{self._write_tone(tone_hz)}\n"
            "audio_player\t\taubridge,nil\n"
            "audio_alert\t\taubridge,nil\n"
            f"rtp_ports\t\t{rtp_first & ~1}-{(rtp_first & ~1) + 40}\n"
            "module_path\t\t/usr/lib/baresip/modules\n"
            "module\t\t\tg711.so\n"
            "module\t\t\taufile.so\n"
            "module\t\t\taubridge.so\n"
            "module\t\t\tsndfile.so\n"
            "module_app\t\taccount.so\n"
            "module_app\t\tctrl_tcp.so\n"
            "module_app\t\tmenu.so\n"
            f"ctrl_tcp_listen\t\t127.0.0.1:{self.control_port}\n"
            f"snd_path\t\t{self.recordings}\n"
            + "".join(f"module\t\t\t{module}\n" for module in modules)
            + extra_config
        )
        (self.config_dir / "accounts").write_text(self.account + "\n")
        (self.config_dir / "contacts").write_text("")
        self.process: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None
        self._buffer = b""
        self.events: list[dict[str, object]] = []

    def _write_tone(self, frequency: int, seconds: int = 60) -> Path:
        """An 8 kHz mono 16-bit WAV of a sine (aufile loops it)."""
        path = self.workdir / f"tone-{frequency}.wav"
        step = 2 * math.pi * frequency / 8000
        samples = array("h", (int(8000 * math.sin(step * n)) for n in range(8000 * seconds)))
        with wave.open(str(path), "wb") as audio:
            audio.setnchannels(1)
            audio.setsampwidth(2)
            audio.setframerate(8000)
            audio.writeframes(samples.tobytes())
        return path

    @property
    def uri(self) -> str:
        return f"sip:bob@127.0.0.1:{self.sip_port}"

    def start(self, timeout: float = 10.0) -> None:
        log = (self.workdir / "baresip.log").open("ab")
        self.process = subprocess.Popen(
            ["baresip", "-f", str(self.config_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.control = socket.create_connection(("127.0.0.1", self.control_port), 1)
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"baresip exited:\n{self.log_tail()}") from None
                time.sleep(0.05)
        raise TimeoutError(f"baresip not ready:\n{self.log_tail()}")

    def command(self, command: str, params: str = "") -> None:
        assert self.control is not None
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.control.sendall(f"{len(body)}:".encode() + body + b",")

    def wait_event(self, event_type: str, timeout: float = 10.0) -> dict[str, object]:
        """Wait for an event such as CALL_INCOMING, CALL_ESTABLISHED, CALL_CLOSED."""
        assert self.control is not None
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event.get("type") == event_type:
                    del self.events[: index + 1]
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"baresip: no {event_type} in {timeout} s; got {self.events}\n{self.log_tail()}"
                )
            self.control.settimeout(min(remaining, 0.2))
            try:
                data = self.control.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise RuntimeError(f"baresip closed its control socket\n{self.log_tail()}")
            self._buffer += data
            self._parse_netstrings()

    def _parse_netstrings(self) -> None:
        while b":" in self._buffer:
            length_text, _, rest = self._buffer.partition(b":")
            length = int(length_text)
            if len(rest) < length + 1:
                return
            body, self._buffer = rest[:length], rest[length + 1 :]
            message = json.loads(body)
            if message.get("event"):
                self.events.append(message)

    def recordings_of(self, suffix: str) -> list[Path]:
        """WAV files sndfile wrote; ``dec`` is what baresip heard, ``enc`` what it sent."""
        return sorted(self.recordings.glob(f"*{suffix}*.wav"))

    def log_tail(self, characters: int = 3000) -> str:
        path = self.workdir / "baresip.log"
        return path.read_text(errors="replace")[-characters:] if path.exists() else ""

    def stop(self) -> None:
        if self.control is not None:
            with contextlib.suppress(OSError):
                self.control.close()
            self.control = None
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)

    def __enter__(self) -> BaresipPeer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
