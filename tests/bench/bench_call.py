"""Benchmark: call set-up time against baresip, and the audio path's capture-to-wire delay.

Run from the repository root (baresip from Debian must be installed; scripts/test
installs it):

    .venv/bin/python tests/bench/bench_call.py [--calls 10] [--seconds 5]

1. Call set-up: ``phoneagent run`` dials a baresip that answers at once
   (``answermode=auto``); from the phone's SIP trace, the time from the INVITE
   leaving to its 200 OK arriving, and from the console's ``dial`` to
   ``event connected`` (SDP, RTP ports, INVITE, 200, ACK, media start).
2. Audio path, in this process: a ``MediaSession`` on real UDP sockets sends a
   tone to a local receiver for ``--seconds``.  Per 20 ms frame: how late the
   loop woke up against the absolute schedule, and the capture-to-wire delay —
   from reading the frame from the source to ``sendto`` returning (encode,
   packetise, send).  At the receiver: the deviation of packet arrival
   intervals from 20 ms (PEERS.md gives baresip's p99 as about 3.6 ms here).

3. Call cost, side by side: ``phoneagent run`` (mock hardware: a tone for a
   microphone, a WAV file for an earpiece) in a call with baresip for
   ``--call-seconds``; CPU seconds per call-minute (user + system, from
   /proc/PID/stat, during the call only) and resident memory of each process
   (PEERS.md: baresip ~1.0 CPU-s per call-minute, ~10.5 MB).

Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import socket
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from phoneagent.media.session import MediaSession  # noqa: E402
from phoneagent.sdp.offer_answer import (  # noqa: E402
    MediaPolicy,
    answer_offer,
    build_offer,
    process_answer,
)
from tests.interop.baresip import BaresipPeer  # noqa: E402
from tests.interop.phone import PhoneProcess  # noqa: E402

_TRACE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO phoneagent\.sip\.trace: (\w+)")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def describe(values: list[float], unit: str = "ms") -> str:
    if not values:
        return "n/a"
    return (
        f"median {statistics.median(values):7.3f} {unit}  p99 {percentile(values, 0.99):7.3f}  "
        f"max {max(values):7.3f}  (n={len(values)})"
    )


def invite_to_200(log: str) -> list[float]:
    """INVITE sent → 200 OK (to an INVITE) received, from the SIP trace."""
    lines = log.splitlines()
    results: list[float] = []
    sent_at: datetime | None = None
    for index, line in enumerate(lines):
        match = _TRACE.match(line)
        if match is None or index + 1 >= len(lines):
            continue
        moment = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
        first = lines[index + 1]
        if match.group(2) == "sending" and first.startswith("INVITE "):
            sent_at = moment
        elif match.group(2) == "received" and first.startswith("SIP/2.0 200") and sent_at:
            block = "\n".join(lines[index + 1 : index + 15])
            if re.search(r"^CSeq: \d+ INVITE", block, re.MULTILINE):
                results.append((moment - sent_at).total_seconds() * 1000)
                sent_at = None
    return results


def call_setup(calls: int, workdir: Path) -> tuple[list[float], list[float]]:
    account = "<sip:bob@127.0.0.1>;regint=0;answermode=auto"
    with BaresipPeer(workdir / "baresip", tone_hz=600, account=account) as bob:
        config = (
            "[account]\n"
            'uri = "sip:alice@127.0.0.1"\n'
            'password = "unused"\n'
            f'registrar = "sip:127.0.0.1:{bob.sip_port}"\n'
            "[network]\n"
            'listen = "127.0.0.1:0"\n'
        )
        console: list[float] = []
        with PhoneProcess(workdir / "phone", config, ("--sip-trace",)) as phone:
            for _ in range(calls):
                started = time.monotonic()
                phone.command(f"dial {bob.uri}")
                phone.wait_event("connected", timeout=10)
                console.append((time.monotonic() - started) * 1000)
                time.sleep(0.2)
                phone.command("hangup")
                phone.wait_event("ended", timeout=10)
                time.sleep(0.2)
        return invite_to_200(phone.log_tail(10_000_000)), console


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def call_cost(seconds: float, workdir: Path) -> dict[str, tuple[float, float]]:
    """(CPU-s per call-minute, RSS MB) of each side of one call of ``seconds``."""
    account = "<sip:bob@127.0.0.1>;regint=0;answermode=auto"
    with BaresipPeer(workdir / "baresip", tone_hz=600, account=account) as bob:
        config = (
            "[account]\n"
            'uri = "sip:alice@127.0.0.1"\n'
            'password = "unused"\n'
            f'registrar = "sip:127.0.0.1:{bob.sip_port}"\n'
            "[network]\n"
            'listen = "127.0.0.1:0"\n'
            "[media]\n"
            f'record = "{workdir / "earpiece.wav"}"\n'
        )
        with PhoneProcess(workdir / "phone", config) as phone:
            assert phone.process is not None and bob.process is not None
            pids = {"phoneagent": phone.process.pid, "baresip": bob.process.pid}
            phone.command(f"dial {bob.uri}")
            phone.wait_event("connected", timeout=10)
            time.sleep(1.0)  # past the set-up
            before = {name: process_cpu_seconds(pid) for name, pid in pids.items()}
            time.sleep(seconds)
            after = {name: process_cpu_seconds(pid) for name, pid in pids.items()}
            rss = {name: process_rss_mb(pid) for name, pid in pids.items()}
            phone.command("hangup")
            phone.wait_event("ended", timeout=10)
    return {
        name: ((after[name] - before[name]) * 60 / seconds, rss[name]) for name in pids
    }


async def audio_path(seconds: float) -> tuple[list[float], list[float], list[float]]:
    loop = asyncio.get_running_loop()
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    policy = MediaPolicy()
    offer = build_offer(policy, "127.0.0.1", sender.getsockname()[1], 1, 1)
    answer, _ = answer_offer(offer, policy, "127.0.0.1", receiver.getsockname()[1], 2, 1)
    negotiated = process_answer(offer, answer)
    capture_times: list[float] = []

    def source(samples: int) -> bytes:
        capture_times.append(time.perf_counter())
        return b"\x10\x00" * samples

    session = MediaSession(negotiated, source, lambda pcm: None, loop.time())
    lateness: list[float] = []
    capture_to_wire: list[float] = []
    arrivals: list[float] = []

    def on_readable() -> None:
        while True:
            try:
                receiver.recv(2048)
            except BlockingIOError:
                return
            arrivals.append(time.perf_counter())

    loop.add_reader(receiver.fileno(), on_readable)
    done = loop.create_future()
    end = loop.time() + seconds

    def tick() -> None:
        now = loop.time()
        due = session.next_deadline()
        lateness.append((now - due) * 1000)
        before = len(capture_times)
        for data, destination in session.handle_timer(now):
            sender.sendto(data, destination)
        session.rtcp_due(now)  # RTCP would go to the RTCP socket; not measured here
        if len(capture_times) > before:
            capture_to_wire.append((time.perf_counter() - capture_times[before]) * 1000)
        if now >= end:
            done.set_result(None)
        else:
            loop.call_at(session.next_deadline(), tick)

    loop.call_at(session.next_deadline(), tick)
    await done
    loop.remove_reader(receiver.fileno())
    receiver.close()
    sender.close()
    intervals = [(b - a) * 1000 for a, b in itertools.pairwise(arrivals)]
    deviation = [abs(interval - 20.0) for interval in intervals]
    return lateness, capture_to_wire, deviation


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--call-seconds", type=float, default=30.0)
    arguments = parser.parse_args()
    print(f"python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="bench-call-") as directory:
        invite, console = call_setup(arguments.calls, Path(directory))
    print(f"call set-up, INVITE sent -> 200 OK received: {describe(invite)}")
    print(f"call set-up, console dial -> event connected: {describe(console)}")
    lateness, capture, deviation = asyncio.run(audio_path(arguments.seconds))
    print(f"audio: timer lateness against the schedule:  {describe(lateness)}")
    print(f"audio: capture-to-wire (read, encode, send): {describe(capture)}")
    print(f"audio: arrival interval deviation from 20 ms: {describe(deviation)}")
    with tempfile.TemporaryDirectory(prefix="bench-call-") as directory:
        cost = call_cost(arguments.call_seconds, Path(directory))
    for name, (cpu, rss) in cost.items():
        print(f"call cost, {name:<10}: {cpu:5.2f} CPU-s per call-minute, RSS {rss:5.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
