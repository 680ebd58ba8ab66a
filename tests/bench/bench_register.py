"""Benchmark: time from process start to the REGISTER's 200 OK against a local Kamailio.

Run from the repository root (Kamailio from Debian must be installed; scripts/test
installs it):

    .venv/bin/python tests/bench/bench_register.py [--runs 5]

For UDP, TCP and TLS it starts one Kamailio on loopback, then starts
``phoneagent run`` ``--runs`` times and measures, for each run:

* start → registered: from spawning the process to the ``event registered`` line
  on its console (a pty) — what a user waits for after plugging the phone in;
* SIP only: from the phone's "phoneagent: … over …" start line to its
  "registered" line in its own log (both timestamps from the phone's clock) —
  the REGISTER, the 401 challenge, the digest answer and the 200 OK.

It prints the median, minimum and maximum of each.  These are figures, not
assertions.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from phoneagent.certificates import make_tls_files  # noqa: E402
from tests.interop.kamailio import KamailioServer  # noqa: E402
from tests.interop.phone import PhoneProcess  # noqa: E402

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ phoneagent\.app: (.*)$", re.M)


def config(server: KamailioServer, transport: str, ca_file: Path) -> str:
    port = server.tls_port if transport == "tls" else server.port
    host = "localhost" if transport == "tls" else "127.0.0.1"
    return (
        "[account]\n"
        'uri = "sip:alice@127.0.0.1"\n'
        'password = "secret"\n'
        f'registrar = "sip:{host}:{port};transport={transport}"\n'
        f'transport = "{transport}"\n'
        "[network]\n"
        'listen = "127.0.0.1:0"\n'
        "[tls]\n"
        f'ca_file = "{ca_file}"\n'
    )


def sip_only_seconds(log: str) -> float | None:
    started = registered = None
    for stamp, text in _STAMP.findall(log):
        moment = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
        if text.startswith("phoneagent: ") and started is None:
            started = moment
        elif text.startswith("registered") and registered is None:
            registered = moment
    if started is None or registered is None:
        return None
    return (registered - started).total_seconds()


def measure(transport: str, runs: int, workdir: Path) -> tuple[list[float], list[float]]:
    tls = make_tls_files(workdir / "tls")
    server = KamailioServer(
        workdir / f"kamailio-{transport}",
        tls_certificate=tls.server_certificate,
        tls_private_key=tls.server_key,
    )
    totals: list[float] = []
    sip_only: list[float] = []
    with server:
        for run in range(runs):
            phone = PhoneProcess(
                workdir / f"{transport}-{run}", config(server, transport, tls.ca_certificate)
            )
            with phone:
                phone.wait_event("registered", timeout=15)
                totals.append(time.monotonic() - phone.started_at)
            seconds = sip_only_seconds(phone.log_tail(200_000))
            if seconds is not None:
                sip_only.append(seconds)
    return totals, sip_only


def describe(values: list[float]) -> str:
    if not values:
        return "n/a"
    milliseconds = [value * 1000 for value in values]
    return (
        f"median {statistics.median(milliseconds):7.1f} ms  "
        f"min {min(milliseconds):7.1f}  max {max(milliseconds):7.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    version = sys.version.split()[0]
    print(f"python {version}; {arguments.runs} runs per transport; Kamailio on loopback")
    with tempfile.TemporaryDirectory(prefix="bench-register-") as directory:
        for transport in ("udp", "tcp", "tls"):
            totals, sip_only = measure(transport, arguments.runs, Path(directory))
            print(f"{transport:4} start -> registered: {describe(totals)}")
            print(f"{transport:4} SIP only (REGISTER, 401, REGISTER, 200): {describe(sip_only)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
