"""The call history (phoneagent/history.py): durable JSON lines that survive crashes.

Crashes are simulated three ways: half a line written by hand (a torn append), a failure
injected inside rotation's temporary copy, and a real writer process killed with SIGKILL.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from phoneagent import history
from phoneagent.history import CallHistory, CallRecord, HistoryFormatError, read
from tests.helpers import REPO_ROOT

START = datetime(2026, 11, 23, 23, 59, 1, tzinfo=UTC)
MEDIA = {
    "packets_sent": 600,
    "packets_received": 598,
    "packets_lost": 2,
    "jitter_ms": 3.25,
    "srtp_suite": None,
}


def record(number: int = 0, **changes: Any) -> CallRecord:
    values: dict[str, Any] = {
        "time": START + timedelta(minutes=number),
        "direction": "outgoing",
        "peer": f"sip:bob{number}@example.org",
        "duration": 12.5,
        "end_reason": "remote-hangup",
        "code": None,
        "media": dict(MEDIA, seq=number),
    }
    values.update(changes)
    return CallRecord(**values)


def sequence_numbers(records: list[CallRecord]) -> list[int]:
    return [int(item.media["seq"]) for item in records]


# -- the record ---------------------------------------------------------------------------------


def test_record_json_is_one_compact_line_with_utc_z_time() -> None:
    line = record(code=486, end_reason="busy").to_json()
    assert "\n" not in line
    assert line.startswith('{"time":"2026-11-23T23:59:01Z","direction":"outgoing",')
    assert json.loads(line)["code"] == 486
    assert CallRecord.from_json(line) == record(code=486, end_reason="busy")


def test_record_time_is_stored_in_utc() -> None:
    berlin = timezone(timedelta(hours=1))
    local = record(time=datetime(2026, 11, 24, 0, 59, 1, tzinfo=berlin))
    assert local.time == START
    assert local.time.tzinfo is UTC
    precise = record(time=START.replace(microsecond=250_000))
    assert '"2026-11-23T23:59:01.250000Z"' in precise.to_json()
    assert CallRecord.from_json(precise.to_json()) == precise


def test_record_media_is_copied() -> None:
    media: dict[str, Any] = {"packets_sent": 1, "nested": {"a": [1, 2]}}
    item = record(media=media)
    media["nested"]["a"].append(3)
    assert item.media == {"packets_sent": 1, "nested": {"a": [1, 2]}}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"time": datetime(2026, 11, 23)}, "time: must be a timezone-aware datetime"),
        ({"direction": "sideways"}, "direction: must be outgoing or incoming"),
        ({"peer": ""}, "peer: must be a non-empty string"),
        ({"duration": -1}, "duration: must be a number >= 0"),
        ({"duration": float("nan")}, "duration: must be a number >= 0"),
        ({"duration": True}, "duration: must be a number >= 0"),
        ({"end_reason": ""}, "end_reason: must be a non-empty string"),
        ({"code": 99}, "code: must be a SIP status 100..699 or null"),
        ({"code": "486"}, "code: must be a SIP status 100..699 or null"),
        ({"media": [1, 2]}, "media: must be an object"),
        ({"media": {"when": START}}, "media: not JSON-able"),
        ({"media": {"jitter_ms": float("inf")}}, "media: not JSON-able"),
        ({"peer": "sip:\udc80@example.org"}, "not writable as UTF-8"),
    ],
)
def test_invalid_record_fields_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(HistoryFormatError, match=message):
        record(**changes)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"time":"2026-11-23T23:59:01Z"', "not JSON"),
        ("[1, 2]", "not a JSON object but list"),
        (record().to_json()[:-1] + ',"extra":1}', "unknown key 'extra'"),
        (record().to_json().replace(',"code":null', ""), "missing key 'code'"),
        (record().to_json().replace("2026-11-23T23:59:01Z", "yesterday"), "time: not ISO 8601"),
        (record().to_json().replace('"2026-11-23T23:59:01Z"', "1"), "time: must be an ISO"),
        (record().to_json().replace("2026-11-23T23:59:01Z", "2026-11-23T23:59:01"), "aware"),
        (record().to_json().replace('"duration":12.5', '"duration":"12"'), "duration"),
    ],
)
def test_from_json_is_strict(line: str, message: str) -> None:
    with pytest.raises(HistoryFormatError, match=message):
        CallRecord.from_json(line)


def test_from_json_accepts_integer_durations_and_any_end_reason() -> None:
    line = record().to_json().replace('"duration":12.5', '"duration":0')
    line = line.replace("remote-hangup", "transferred")
    parsed = CallRecord.from_json(line)
    assert parsed.duration == 0.0
    assert isinstance(parsed.duration, float)
    assert parsed.end_reason == "transferred"


# -- append and read ----------------------------------------------------------------------------


def test_append_read_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    log = CallHistory(path)
    written = [
        record(0),
        record(1, direction="incoming", duration=0, end_reason="missed"),
        record(2, end_reason="busy", code=486, duration=0),
    ]
    for item in written:
        log.append(item)
    records, warnings = read(path)
    assert records == written
    assert warnings == []
    assert path.read_bytes().count(b"\n") == 3
    assert path.read_bytes().endswith(b"\n")


def test_read_of_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read(tmp_path / "history.jsonl")


def test_unicode_peers_survive(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    peers = [
        "sip:jürgen@beispiel.de",
        '"Zoë \u2028 Ω" <sip:zoe@例え.jp>',  # U+2028 is a line separator to str.splitlines()
        "sip:😀@example.org",
    ]
    log = CallHistory(path)
    for number, peer in enumerate(peers):
        log.append(record(number, peer=peer))
    records, warnings = read(path)
    assert [item.peer for item in records] == peers
    assert warnings == []
    assert "jürgen".encode() in path.read_bytes()  # stored as UTF-8, not \\u escapes


def test_file_is_created_with_mode_0600_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    old = os.umask(0)
    try:
        CallHistory(path).append(record())
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o600


def test_missing_directories_are_created_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "phoneagent" / "history.jsonl"
    CallHistory(path).append(record())
    assert read(path) == ([record()], [])
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700


def test_directory_is_synced_only_when_the_file_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    real = history._fsync_directory

    def spy(directory: Path) -> None:
        synced.append(directory)
        real(directory)

    monkeypatch.setattr(history, "_fsync_directory", spy)
    log = CallHistory(tmp_path / "history.jsonl")
    log.append(record(0))
    log.append(record(1))
    assert synced == [tmp_path]


def test_each_append_is_one_write_and_one_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "history.jsonl"
    log = CallHistory(path)
    log.append(record(0))
    calls: list[str] = []
    real_write, real_fsync = os.write, os.fsync

    def write(fd: int, data: Any) -> int:
        calls.append(f"write {bytes(data)!r}")
        return real_write(fd, data)

    def fsync(fd: int) -> None:
        calls.append("fsync")
        real_fsync(fd)

    monkeypatch.setattr(history.os, "write", write)
    monkeypatch.setattr(history.os, "fsync", fsync)
    log.append(record(1))
    monkeypatch.undo()
    line = record(1).to_json().encode() + b"\n"
    assert calls == [f"write {line!r}", "fsync"]


# -- torn lines ---------------------------------------------------------------------------------


def test_torn_last_line_is_a_warning_and_the_next_append_starts_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    whole = record(0).to_json().encode() + b"\n"
    torn = record(1).to_json().encode()[:40]  # a power cut in the middle of an append
    path.write_bytes(whole + torn)

    records, warnings = read(path)
    assert records == [record(0)]
    assert len(warnings) == 1
    assert warnings[0].startswith("line 2: not JSON")
    assert "torn" in warnings[0]

    CallHistory(path).append(record(2))
    assert path.read_bytes() == whole + torn + b"\n" + record(2).to_json().encode() + b"\n"
    records, warnings = read(path)
    assert records == [record(0), record(2)]
    assert len(warnings) == 1
    assert warnings[0].startswith("line 2: not JSON")


def test_garbage_lines_are_skipped_with_one_warning_each(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    lines = [
        record(0).to_json().encode(),
        b"\xff\xfe not utf-8",
        b"",  # blank lines are no records and no warnings
        b'{"time": 1}',
        record(1).to_json().encode(),
        b"\x00\x00\x00",  # what some file systems leave after a power cut
        b"[" * 100_000,  # nests deeper than the parser recurses
        record(2).to_json().encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    records, warnings = read(path)
    assert records == [record(0), record(1), record(2)]
    assert [warning.split(":")[0] for warning in warnings] == [
        "line 2",
        "line 4",
        "line 6",
        "line 7",
    ]
    assert warnings[0].startswith("line 2: not UTF-8")
    assert warnings[1] == "line 4: missing key 'direction'"
    assert warnings[2].startswith("line 6: not JSON")
    assert warnings[3].startswith("line 7: not JSON")


# -- rotation -----------------------------------------------------------------------------------


def test_rotation_keeps_the_newest_entries(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    log = CallHistory(path, max_entries=10)
    for number in range(10):
        log.append(record(number))
    assert len(read(path)[0]) == 10
    log.append(record(10))  # the 11th call: rotate to the newest 90 %
    records, warnings = read(path)
    assert sequence_numbers(records) == list(range(2, 11))
    assert warnings == []
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(tmp_path.iterdir()) == [path]

    # The count carries on from the rotation: one more call fills the log, the next rotates.
    log.append(record(11))
    assert sequence_numbers(read(path)[0]) == list(range(2, 12))
    log.append(record(12))
    assert sequence_numbers(read(path)[0]) == list(range(4, 13))


def test_a_new_writer_counts_the_existing_lines(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    first = CallHistory(path, max_entries=5)
    for number in range(5):
        first.append(record(number))
    CallHistory(path, max_entries=5).append(record(5))  # a restarted phone
    assert sequence_numbers(read(path)[0]) == [2, 3, 4, 5]


def test_a_file_removed_behind_the_writers_back_is_counted_afresh(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    log = CallHistory(path, max_entries=3)
    for number in range(3):
        log.append(record(number))
    path.unlink()  # the user cleared the history
    for number in range(3, 6):
        log.append(record(number))
    assert sequence_numbers(read(path)[0]) == [3, 4, 5]


def _fail_writes_to_temporary_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up half-way through rotation's copy (only .tmp files are affected)."""
    real_write = os.write

    def write(fd: int, data: Any) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp"):
            real_write(fd, bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(history.os, "write", write)


def _fail_replace(monkeypatch: pytest.MonkeyPatch) -> None:
    def replace(source: Any, target: Any) -> None:
        raise KeyboardInterrupt  # a crash between fsync of the copy and the rename

    monkeypatch.setattr(history.os, "replace", replace)


@pytest.mark.parametrize(
    ("inject", "error"),
    [(_fail_writes_to_temporary_files, OSError), (_fail_replace, KeyboardInterrupt)],
)
def test_interrupted_rotation_leaves_the_original_intact(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    inject: Any,
    error: type[BaseException],
) -> None:
    path = tmp_path / "history.jsonl"
    log = CallHistory(path, max_entries=4)
    for number in range(4):
        log.append(record(number))
    before = path.read_bytes()

    inject(monkeypatch)
    with pytest.raises(error):
        log.append(record(4))  # written, then the rotation fails
    monkeypatch.undo()

    assert path.read_bytes() == before + record(4).to_json().encode() + b"\n"
    assert sorted(tmp_path.iterdir()) == [path], "the half-written copy is removed"
    assert read(path) == ([record(number) for number in range(5)], [])

    log.append(record(5))  # the next append rotates successfully
    assert sequence_numbers(read(path)[0]) == [3, 4, 5]
    assert sorted(tmp_path.iterdir()) == [path]


def test_a_stale_copy_from_a_crashed_rotation_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    stale = tmp_path / ".history.jsonl.abc123.tmp"
    stale.write_bytes(b"half a copy")
    log = CallHistory(path, max_entries=2)
    for number in range(3):
        log.append(record(number))
    assert sorted(tmp_path.iterdir()) == [path]


# -- a real crash -------------------------------------------------------------------------------

WRITER = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from phoneagent.history import CallHistory, CallRecord

log = CallHistory(Path(sys.argv[1]), max_entries=int(sys.argv[2]))
number = 0
while True:
    log.append(CallRecord(
        time=datetime.now(UTC), direction="incoming", peer="sip:carol@example.org " + "x" * 300,
        duration=number / 7, end_reason="remote-hangup", code=None,
        media={"seq": number, "padding": "p" * (number % 2000)},
    ))
    number += 1
"""


@pytest.mark.parametrize("max_entries", [100_000, 25], ids=["appending", "rotating"])
def test_a_writer_killed_mid_run_leaves_only_complete_lines(
    tmp_path: Path, max_entries: int
) -> None:
    path = tmp_path / "history.jsonl"
    environment = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(max_entries)],
        env=environment,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while not (path.exists() and path.stat().st_size > 20_000):
            assert writer.poll() is None, writer.stderr.read() if writer.stderr else ""
            assert time.monotonic() < deadline, "the writer wrote too little in 20 s"
            time.sleep(0.01)
        time.sleep(0.1)  # let it run on, so the kill lands at an arbitrary point
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        if writer.stderr:
            writer.stderr.close()
    assert writer.returncode == -signal.SIGKILL

    data = path.read_bytes()
    *complete, tail = data.split(b"\n")
    for line in complete:  # every line that got its "\n" is a whole record
        CallRecord.from_json(line)
    records, warnings = read(path)
    assert len(warnings) == (0 if tail == b"" else 1)  # at most the last line is torn
    assert len(records) >= 2
    numbers = sequence_numbers(records)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "no line lost"
    if max_entries < 100_000:
        assert len(records) <= max_entries + 1

    # The phone restarts and appends after the crash, cleanly.
    CallHistory(path, max_entries=max_entries).append(record(numbers[-1] + 1))
    records, warnings = read(path)
    assert sequence_numbers(records)[-1] == numbers[-1] + 1
    assert len(warnings) == (0 if tail == b"" else 1)
