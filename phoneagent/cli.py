"""The ``phoneagent`` command line.

Subcommands join as the issues that build them land (``run``, ``check-config``,
``simulate``, ``demo``, ``history``); each takes ``--config FILE``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from phoneagent import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phoneagent",
        description="A SIP desk phone for the Raspberry Pi: keypad, hook switch, handset "
        "and a SIP/SRTP stack of its own.",
    )
    parser.add_argument("--version", action="version", version=f"phoneagent {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if arguments.command is None:
        parser.print_help()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
