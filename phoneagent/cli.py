"""The ``phoneagent`` command line.

    phoneagent run --config FILE            the phone (until SIGTERM)
    phoneagent check-config --config FILE   validate a config file and exit

Every subcommand takes ``--config FILE``; ``simulate``, ``demo`` and ``history``
arrive with the issues that build them.  A bad config exits with status 2 and
one line naming the key and its line, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from phoneagent import __version__
from phoneagent.config import Config, ConfigError, load_config

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
        choices=["debug", "info", "warning", "error"],
        help="override [log] level",
    )
    run.add_argument(
        "--sip-trace", action="store_true", help="log every SIP message sent and received"
    )
    add("check-config", "validate the config file and exit")
    return parser


def _load(path: Path) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if arguments.command is None:
        parser.print_help()
        return 0
    config = _load(arguments.config)
    if config is None:
        return EXIT_CONFIG_ERROR
    if arguments.command == "check-config":
        account = config.account
        print(f"ok: {arguments.config} is valid ({account.uri} over {account.transport})")
        return 0
    # The event loop's imports (asyncio, ssl, dnspython) only when the phone runs.
    from phoneagent.app import configure_logging, run_phone  # noqa: PLC0415

    configure_logging(
        arguments.log_level or config.log.level, journal="JOURNAL_STREAM" in os.environ
    )
    if arguments.sip_trace:
        config = replace(config, log=replace(config.log, sip_trace=True))
    return asyncio.run(run_phone(config))


if __name__ == "__main__":
    sys.exit(main())
