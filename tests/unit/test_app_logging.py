"""Logging set-up of ``phoneagent run``: journald priorities under systemd."""

from __future__ import annotations

import logging

import pytest

from phoneagent.app import configure_logging


@pytest.fixture(autouse=True)
def restore_root_logger():  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_under_systemd_each_line_carries_its_syslog_priority(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("debug", journal=True)
    log = logging.getLogger("phoneagent.test")
    log.warning("two\nlines")
    log.info("info")
    log.debug("debug")
    log.error("error")
    assert capsys.readouterr().err.splitlines() == [
        "<4>phoneagent.test: two",
        "<4>lines",
        "<6>phoneagent.test: info",
        "<7>phoneagent.test: debug",
        "<3>phoneagent.test: error",
    ]


def test_on_a_terminal_lines_have_time_and_level(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", journal=False)
    logging.getLogger("phoneagent.test").debug("hidden")
    logging.getLogger("phoneagent.test").info("shown")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(" INFO phoneagent.test: shown")
