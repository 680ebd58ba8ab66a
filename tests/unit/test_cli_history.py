"""``phoneagent history``: the newest calls of the log named by ``[history] path``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from phoneagent.cli import main, show_history
from phoneagent.history import CallHistory, CallRecord

CONFIG = """\
[account]
uri = "sip:alice@example.org"
password = "secret"

[history]
path = "calls.jsonl"
"""

START = datetime(2026, 11, 23, 23, 59, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def utc_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC here, so the printed times do not depend on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "phoneagent.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def fill(path: Path, count: int) -> list[CallRecord]:
    log = CallHistory(path)
    records = []
    for number in range(count):
        item = CallRecord(
            time=START + timedelta(minutes=number),
            direction="outgoing" if number % 2 == 0 else "incoming",
            peer=f"sip:{'bob' * (number % 3 + 1)}@example.org",
            duration=number * 61.4,
            end_reason="remote-hangup" if number % 2 == 0 else "busy",
            code=None if number % 2 == 0 else 486,
            media={"seq": number},
        )
        log.append(item)
        records.append(item)
    return records


def test_no_log_yet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--config", str(write_config(tmp_path))]) == 0
    assert capsys.readouterr() == ("no calls yet\n", "")


def test_newest_first_aligned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(tmp_path / "calls.jsonl", 3)
    assert main(["history", "--config", str(write_config(tmp_path))]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines() == [
        "2026-11-24 00:01:01  → sip:bobbobbob@example.org  2:03  remote-hangup",
        "2026-11-24 00:00:01  ← sip:bobbob@example.org     1:01  busy (486)",
        "2026-11-23 23:59:01  → sip:bob@example.org        0:00  remote-hangup",
    ]


def test_limit_shows_the_newest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(tmp_path / "calls.jsonl", 25)
    config = str(write_config(tmp_path))
    assert main(["history", "--config", config]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 20  # the default
    assert lines[0].startswith("2026-11-24 00:23:01")
    assert main(["history", "--config", config, "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line[:19] for line in lines] == ["2026-11-24 00:23:01", "2026-11-24 00:22:01"]
    assert lines[0].endswith("24:34  remote-hangup")  # 24 × 61.4 s = 1473.6 s, rounded


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_limit_must_be_a_positive_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["history", "--config", str(write_config(tmp_path)), "--limit", value])
    assert exit_info.value.code == 2
    assert "--limit" in capsys.readouterr().err


def test_json_prints_the_records_oldest_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = fill(tmp_path / "calls.jsonl", 5)
    config = str(write_config(tmp_path))
    assert main(["history", "--config", config, "--json", "--limit", "3"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines == [item.to_json() for item in records[2:]]
    assert [json.loads(line)["media"]["seq"] for line in lines] == [2, 3, 4]


def test_unreadable_lines_are_warned_about_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "calls.jsonl"
    fill(path, 2)
    with path.open("ab") as file:
        file.write(b'{"time": "2026-11-2')  # torn by a power cut
    assert show_history(path) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2
    assert err.startswith(f"{path}: line 3: not JSON")
    assert len(err.splitlines()) == 1


def test_unicode_peers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "calls.jsonl"
    CallHistory(path).append(
        CallRecord(START, "incoming", "sip:jürgen@例え.jp", 0, "missed", None, {})
    )
    assert show_history(path, limit=5) == 0
    assert capsys.readouterr().out == "2026-11-23 23:59:01  ← sip:jürgen@例え.jp  0:00  missed\n"


def test_an_unreadable_log_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "calls.jsonl"
    directory.mkdir()  # unreadable even for root (CI), unlike a file of mode 0
    assert show_history(directory) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"phoneagent history: cannot read {directory}: Is a directory\n"


def test_a_bad_config_is_the_usual_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "phoneagent.toml"
    path.write_text(CONFIG.replace('"calls.jsonl"', "7"), encoding="utf-8")
    assert main(["history", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("config error: history.path (line 6)")
