"""The ``phoneagent`` command line.

    phoneagent run --config FILE            the phone (until SIGTERM)
    phoneagent check-config --config FILE   validate a config file and exit
    phoneagent history --config FILE        the newest calls ([history] path)
    phoneagent simulate --config FILE       one phone on mocked hardware, keys from the terminal
    phoneagent demo [--config FILE]         two simulated phones call each other (SIPS, SRTP)

Every subcommand takes ``--config FILE`` (the demo needs none: it makes its own
two phones).  A bad config exits with status 2 and one line naming the key and
its line, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from phoneagent import __version__, history
from phoneagent.config import LOG_LEVELS, Config, ConfigError, load_config

DEFAULT_CONFIG = Path("/etc/phoneagent/phoneagent.toml")
EXIT_CONFIG_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phoneagent",
        description="A SIP desk phone for the Raspberry Pi: keypad, hook switch, handset "
        "and a SIP/SRTP stack of its own.",
    )
    parser.add_argument("--version", action="version", version=f"phoneagent {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--config",
            type=Path,
            default=DEFAULT_CONFIG,
            metavar="FILE",
            help=f"the TOML config file (default {DEFAULT_CONFIG})",
        )
        return sub

    run = add("run", "run the phone until SIGTERM")
    run.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="override [log] level",
    )
    run.add_argument(
        "--sip-trace", action="store_true", help="log every SIP message sent and received"
    )
    add("check-config", "validate the config file and exit")
    simulate = add("simulate", "one phone on mocked hardware, driven from the terminal")
    simulate.add_argument("--log-level", choices=LOG_LEVELS)
    simulate.add_argument(
        "--alsa", action="store_true", help="handset audio on [audio]'s ALSA devices, not files"
    )
    demo = commands.add_parser(
        "demo",
        help="two simulated phones call each other over SIPS and SRTP; exit 0 if audio passed",
        description="Two phones on mocked hardware, on loopback, call each other from the "
        "keypad over SIP over TLS with SRTP; exits 0 only if audio passed both ways.",
    )
    demo.add_argument("--config", type=Path, default=None, metavar="FILE", help="only [log]")
    demo.add_argument(
        "--seconds", type=float, default=3.0, help="how long the call lasts (default 3)"
    )
    history_command = add("history", "show the call history ([history] path), newest call first")
    history_command.add_argument(
        "--limit",
        type=_positive_int,
        default=20,
        metavar="N",
        help="show the newest N calls (default 20)",
    )
    history_command.add_argument(
        "--json",
        action="store_true",
        help="print the records as JSON lines, oldest first like the file",
    )
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _load(path: Path) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return None


def show_history(path: Path, limit: int = 20, as_json: bool = False) -> int:
    """``phoneagent history``: the newest ``limit`` calls of the log at ``path``.

    One aligned line per call, newest first (local time, → outgoing or ← incoming, peer,
    connected time m:ss, end reason and SIP code); ``as_json`` prints the records' JSON lines
    instead, oldest first as in the file, for scripts.  Lines of the log that cannot be read
    (torn by a power cut, say) are reported on stderr and skipped.  Returns the exit status:
    0, also when there is no log yet; 1 when the log exists but cannot be read.
    """
    try:
        records, warnings = history.read(path)
    except FileNotFoundError:
        records, warnings = [], []
    except OSError as error:  # typically the service's 0600 log read by another user
        print(f"phoneagent history: cannot read {path}: {error.strerror}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(f"{path}: {warning}", file=sys.stderr)
    if not records:
        if not as_json:
            print("no calls yet")
        return 0
    newest = records[-limit:]
    if as_json:
        for record in newest:
            print(record.to_json())
        return 0
    rows = []
    for record in reversed(newest):
        seconds = round(record.duration)
        reason = record.end_reason
        if record.code is not None:
            reason += f" ({record.code})"
        rows.append(
            (
                record.time.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                "→" if record.direction == "outgoing" else "←",
                record.peer,
                f"{seconds // 60}:{seconds % 60:02d}",
                reason,
            )
        )
    peer_width = max(len(row[2]) for row in rows)
    duration_width = max(len(row[3]) for row in rows)
    for time, arrow, peer, duration, reason in rows:
        print(f"{time}  {arrow} {peer:<{peer_width}}  {duration:>{duration_width}}  {reason}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if arguments.command is None:
        parser.print_help()
        return 0
    if arguments.command == "demo":
        return _demo(arguments.config, arguments.seconds)
    config = _load(arguments.config)
    if config is None:
        return EXIT_CONFIG_ERROR
    if arguments.command == "check-config":
        account = config.account
        print(f"ok: {arguments.config} is valid ({account.uri} over {account.transport})")
        return 0
    if arguments.command == "history":
        return show_history(config.history.path, arguments.limit, as_json=arguments.json)
    # The event loop's imports (asyncio, ssl, dnspython) only when the phone runs.
    from phoneagent.app import configure_logging, run_phone  # noqa: PLC0415

    configure_logging(
        arguments.log_level or config.log.level, journal="JOURNAL_STREAM" in os.environ
    )
    if arguments.command == "simulate":
        from phoneagent.simulate import run_simulator  # noqa: PLC0415

        return asyncio.run(run_simulator(config, alsa=arguments.alsa))
    if arguments.sip_trace:
        config = replace(config, log=replace(config.log, sip_trace=True))
    return asyncio.run(run_phone(config))


def _demo(config_path: Path | None, seconds: float) -> int:
    level = "warning"
    if config_path is not None:
        config = _load(config_path)
        if config is None:
            return EXIT_CONFIG_ERROR
        level = config.log.level
    from phoneagent import demo  # noqa: PLC0415
    from phoneagent.app import configure_logging  # noqa: PLC0415

    configure_logging(level, journal=False)
    return demo.main(seconds)


if __name__ == "__main__":
    sys.exit(main())
