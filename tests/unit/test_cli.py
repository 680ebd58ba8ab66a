"""The ``phoneagent`` command line, run in-process with ``cli.main([...])``.

A bad config must end the program with status 2 and exactly one line on stderr
naming the key and its line, never a traceback (DESIGN.md principle 10).  One
test runs ``python -m phoneagent`` as a real process to prove that end to end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from phoneagent import __version__
from phoneagent.cli import EXIT_CONFIG_ERROR, main
from phoneagent.config import default_config_text
from tests.helpers import REPO_ROOT

GOOD = """\
# a phone on the lab PBX
[account]
uri = "sip:alice@example.org"
password = "secret"
transport = "udp"
"""

BAD_TRANSPORT = """\
# the transport is wrong on line 5
[account]
uri = "sip:alice@example.org"
password = "secret"
transport = "sctp"
"""


def write(tmp_path: Path, text: str | bytes, name: str = "phoneagent.toml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The single line a failed command printed to stderr (and nothing on stdout)."""
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    assert err.endswith("\n")
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("config error: ")
    return lines[0]


# -- help ---------------------------------------------------------------------------------------


def test_no_arguments_prints_help_and_returns_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("usage: phoneagent")
    assert "check-config" in out and "run" in out
    assert err == ""


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["check-config", "--help"]])
def test_help_prints_help_and_exits_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:  # argparse ends --help by exiting
        main(argv)
    assert exit_info.value.code == 0
    out, err = capsys.readouterr()
    assert out.startswith("usage: phoneagent")
    assert "--config FILE" in out or "COMMAND" in out
    assert err == ""


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"phoneagent {__version__}"


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["dance"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# -- check-config with a good file --------------------------------------------------------------


def test_check_config_with_a_good_file_prints_ok_and_returns_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD)
    assert main(["check-config", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == f"ok: {path} is valid (sip:alice@example.org over udp)\n"
    assert err == ""


def test_the_documented_default_config_passes_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, default_config_text())
    assert main(["check-config", "--config", str(path)]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def test_a_byte_order_mark_is_tolerated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf" + GOOD.encode())
    assert main(["check-config", "--config", str(path)]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


# -- check-config with a broken file: status 2, one line ----------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "line", "problem"),
    [
        pytest.param(BAD_TRANSPORT, "account.transport", 5, '"sctp"', id="bad-transport"),
        pytest.param(
            GOOD + 'colour = "red"\n', "account.colour", 6, "unknown key", id="unknown-key"
        ),
        pytest.param(
            GOOD + "\n[timers]\nt1 = 0.5\nt2 = 0.1\n",
            "timers.t2",
            9,
            "timers.t1",
            id="checked-between-keys",
        ),
        pytest.param(
            GOOD + '\n[network]\nlisten = "localhost:5060"\n',
            "network.listen",
            8,
            "not an IP address",
            id="bad-listen-address",
        ),
        pytest.param(GOOD + "[sound]\nvolume = 11\n", "sound", 6, "unknown", id="unknown-section"),
        pytest.param(
            GOOD.replace('uri = "sip:alice@example.org"\n', ""),
            "account.uri",
            None,
            "required",
            id="missing-required-key",
        ),
    ],
)
def test_a_broken_config_prints_one_line_naming_key_and_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    text: str,
    key: str,
    line: int | None,
    problem: str,
) -> None:
    path = write(tmp_path, text)
    assert main(["check-config", "--config", str(path)]) == EXIT_CONFIG_ERROR == 2
    message = one_error_line(capsys)
    assert message.startswith(f"config error: {key}")
    if line is not None:
        assert message.startswith(f"config error: {key} (line {line})"), message
    assert problem in message


def test_a_toml_syntax_error_names_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD.replace('transport = "udp"', "transport = udp"))
    assert main(["check-config", "--config", str(path)]) == 2
    message = one_error_line(capsys)
    assert message.startswith("config error: line 5")
    assert "invalid TOML" in message


def test_a_multi_line_string_value_still_gives_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD.replace('transport = "udp"', 'transport = """udp\nsctp"""'))
    assert main(["check-config", "--config", str(path)]) == 2
    assert one_error_line(capsys).startswith("config error: account.transport (line 5)")


def test_a_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nowhere.toml"
    assert main(["check-config", "--config", str(path)]) == 2
    message = one_error_line(capsys)
    assert str(path) in message and "cannot read" in message


def test_a_directory_instead_of_a_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", "--config", str(tmp_path)]) == 2
    assert "cannot read" in one_error_line(capsys)


def test_a_file_that_is_not_utf8_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD.encode() + b'username = "al\xe9x"\n')
    assert main(["check-config", "--config", str(path)]) == 2
    message = one_error_line(capsys)
    assert "line 6" in message
    assert "UTF-8" in message


def test_run_with_a_broken_config_stops_before_starting_the_phone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, BAD_TRANSPORT)
    assert main(["run", "--config", str(path)]) == 2
    assert one_error_line(capsys).startswith("config error: account.transport (line 5)")


# -- the real process ---------------------------------------------------------------------------


def test_python_m_phoneagent_check_config_end_to_end(tmp_path: Path) -> None:
    path = write(tmp_path, BAD_TRANSPORT)
    completed = subprocess.run(
        [sys.executable, "-m", "phoneagent", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.splitlines() == [
        'config error: account.transport (line 5): must be one of udp, tcp, tls, not "sctp"'
    ]
