"""The call history: one JSON line per call, appended durably to a file.

Theory of operation
-------------------
The log must survive a power cut at any instant (a desk phone is unplugged, not shut down).
Three rules give that:

1. **One record, one ``write()``.**  A record is encoded to a single line ending in ``\\n``
   and handed to the kernel in one ``os.write`` on a descriptor opened with ``O_APPEND``, then
   ``fsync``-ed.  A crash can therefore lose the last line or leave a prefix of it (a *torn*
   line, without its ``\\n``), but never touch the lines before it.  The directory is
   ``fsync``-ed too when the file was just created, or the new name itself could be lost.
2. **A torn line is closed, not trusted.**  When the file does not end in ``\\n``, the next
   append writes one first (in the same ``write()``), so the new record starts on a line of
   its own and the torn one stays an isolated, unreadable line.  ``read()`` skips such lines
   with one warning each ("line N: …"); it never fails on them.
3. **Rotation replaces, never rewrites in place.**  When the log holds more than
   ``max_entries`` lines, the newest lines go to a temporary file in the same directory, which
   is ``fsync``-ed and then ``os.replace``-d over the log (an atomic rename), and the
   directory is ``fsync``-ed.  Interrupted at any point, the log is either the old file or the
   new one, both complete.

One process writes the log (the phone); readers (``phoneagent history``) may run at any time.

Record format (keys in this order; unknown or missing keys are an error)::

    {"time":"2026-11-23T23:59:01Z","direction":"outgoing","peer":"sip:bob@example.org",
     "duration":12.5,"end_reason":"remote-hangup","code":null,"media":{...}}
"""

from __future__ import annotations

import glob
import json
import logging
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "END_REASONS",
    "CallHistory",
    "CallRecord",
    "Direction",
    "HistoryFormatError",
    "read",
]

logger = logging.getLogger(__name__)

Direction = Literal["outgoing", "incoming"]
DIRECTIONS: tuple[Direction, ...] = ("outgoing", "incoming")

#: The end reasons the phone writes.  Others are accepted when read (a newer phone may add
#: some), so this documents rather than restricts.
END_REASONS = (
    "remote-hangup",
    "local-hangup",
    "busy",
    "declined",
    "unobtainable",
    "cancelled",
    "timeout",
    "failed",
    "missed",
    "rejected",
)

DEFAULT_MAX_ENTRIES = 10_000
#: Rotation keeps this share of ``max_entries``, so a full log is rewritten once every
#: ``max_entries / 10`` calls instead of on every call (an SD card wears with each rewrite).
ROTATION_KEEP_FRACTION = 0.9

FILE_MODE = 0o600  # peers' addresses are personal data
_KEYS = ("time", "direction", "peer", "duration", "end_reason", "code", "media")
_READ_CHUNK = 1 << 16


class HistoryFormatError(ValueError):
    """A history line or record field is not what the format allows."""


# -- the record ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call, as written to the history.

    ``time`` is when the call started (timezone-aware, stored in UTC); ``duration`` the
    seconds it was connected (0 when never answered); ``code`` the SIP status that ended it,
    if any; ``media`` the media statistics as an opaque mapping of JSON values (it is copied,
    so the record stays immutable in practice as well as in name).
    """

    time: datetime
    direction: Direction
    peer: str
    duration: float
    end_reason: str
    code: int | None = None
    media: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.time, datetime) or self.time.utcoffset() is None:
            raise HistoryFormatError(f"time: must be a timezone-aware datetime, not {self.time!r}")
        object.__setattr__(self, "time", self.time.astimezone(UTC))
        if self.direction not in DIRECTIONS:
            raise HistoryFormatError(
                f"direction: must be outgoing or incoming, not {self.direction!r}"
            )
        if not isinstance(self.peer, str) or not self.peer:
            raise HistoryFormatError(f"peer: must be a non-empty string, not {self.peer!r}")
        duration = self.duration
        if (
            isinstance(duration, bool)
            or not isinstance(duration, int | float)
            or not math.isfinite(duration)
            or duration < 0
        ):
            raise HistoryFormatError(f"duration: must be a number >= 0, not {duration!r}")
        object.__setattr__(self, "duration", float(duration))
        if not isinstance(self.end_reason, str) or not self.end_reason:
            raise HistoryFormatError(
                f"end_reason: must be a non-empty string, not {self.end_reason!r}"
            )
        code = self.code
        if code is not None and (
            isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 699
        ):
            raise HistoryFormatError(f"code: must be a SIP status 100..699 or null, not {code!r}")
        if not isinstance(self.media, Mapping):
            raise HistoryFormatError(f"media: must be an object, not {self.media!r}")
        # A round trip through strict JSON both proves the statistics can be written (before the
        # call ends, not when the log is read) and makes a private deep copy of them.
        try:
            media = json.loads(json.dumps(dict(self.media), allow_nan=False))
        except (TypeError, ValueError) as error:
            raise HistoryFormatError(f"media: not JSON-able: {error}") from error
        object.__setattr__(self, "media", media)
        try:
            self.to_json().encode("utf-8")
        except UnicodeEncodeError as error:  # a lone surrogate, say, from a bad decode
            raise HistoryFormatError(f"not writable as UTF-8: {error}") from error

    def to_json(self) -> str:
        """The record as one line of compact JSON, without the line end."""
        if self.time.microsecond:
            stamp = self.time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        else:
            stamp = self.time.strftime("%Y-%m-%dT%H:%M:%SZ")
        values = {
            "time": stamp,
            "direction": self.direction,
            "peer": self.peer,
            "duration": self.duration,
            "end_reason": self.end_reason,
            "code": self.code,
            "media": self.media,
        }
        # ensure_ascii=False keeps unicode peers readable; JSON escapes every control
        # character, so the line can never contain the "\n" that ends it.
        return json.dumps(values, ensure_ascii=False, allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> CallRecord:
        """Parse one line written by ``to_json()``; raises ``HistoryFormatError``."""
        if isinstance(text, bytes):
            # UTF-8 only: json.loads() would guess UTF-16 or -32 from the first bytes.
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as error:
                raise HistoryFormatError(f"not UTF-8: {error}") from error
        try:
            values = json.loads(text)
        except (ValueError, RecursionError) as error:
            # JSONDecodeError is a ValueError; garbage such as "[[[[…" nests too deep.
            raise HistoryFormatError(f"not JSON: {error}") from error
        if not isinstance(values, dict):
            raise HistoryFormatError(f"not a JSON object but {type(values).__name__}")
        unknown = sorted(set(values) - set(_KEYS))
        if unknown:
            raise HistoryFormatError(f"unknown key {unknown[0]!r}")
        missing = [key for key in _KEYS if key not in values]
        if missing:
            raise HistoryFormatError(f"missing key {missing[0]!r}")
        stamp = values["time"]
        if not isinstance(stamp, str):
            raise HistoryFormatError(f"time: must be an ISO 8601 string, not {stamp!r}")
        try:
            time = datetime.fromisoformat(stamp)
        except ValueError as error:
            raise HistoryFormatError(f"time: not ISO 8601: {stamp!r}") from error
        return cls(
            time=time,
            direction=values["direction"],
            peer=values["peer"],
            duration=values["duration"],
            end_reason=values["end_reason"],
            code=values["code"],
            media=values["media"],
        )


# -- reading ------------------------------------------------------------------------------------


def read(path: Path) -> tuple[list[CallRecord], list[str]]:
    """All records in ``path``, oldest first, and one warning per line that is not a record.

    Torn, truncated or garbage lines are skipped with a warning ``"line N: …"`` (N counts
    from 1); they never make the whole log unreadable.  Blank lines are skipped silently.
    A missing file raises ``FileNotFoundError``: the caller says what "no log yet" means.
    """
    data = Path(path).read_bytes()
    records: list[CallRecord] = []
    warnings: list[str] = []
    # Split on b"\n" only: str.splitlines() would also break at U+2028 and friends, which
    # JSON may carry unescaped inside a peer's display name.
    lines = data.split(b"\n")
    last = len(lines) - 1  # an unterminated tail; b"" when the file ends in "\n"
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(CallRecord.from_json(line))
        except HistoryFormatError as error:
            torn = " (no line end: torn by a crash?)" if index == last else ""
            warnings.append(f"line {index + 1}: {error}{torn}")
    return records, warnings


# -- writing ------------------------------------------------------------------------------------


class CallHistory:
    """The call log at ``path``, appended to by one process (the phone).

    ``max_entries`` bounds the number of lines: when an append makes it larger, the log is
    rotated to its newest ``ROTATION_KEEP_FRACTION * max_entries`` lines.
    """

    def __init__(self, path: Path, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self.path = Path(path)
        self.max_entries = max_entries
        # The number of lines in the log, counted once per file (identified by device and
        # inode) rather than on every append; a file replaced behind our back is recounted.
        self._line_count = 0
        self._counted_file: tuple[int, int] | None = None
        self._directory_ready = False

    def _make_directory(self) -> None:
        """Create the log's missing directories (mode 0700), durably.

        Under systemd the state directory exists; the XDG one of a phone run by hand may not.
        """
        missing = []
        directory = self.path.parent
        while not directory.exists():
            missing.append(directory)
            directory = directory.parent
        for new in reversed(missing):
            new.mkdir(mode=0o700, exist_ok=True)
            _fsync_directory(new.parent)
        self._directory_ready = True

    def append(self, record: CallRecord) -> None:
        """Write ``record`` as one line and make it durable before returning.

        Raises ``OSError`` when the disk refuses; then at most a torn line is left behind,
        which the next append closes off.  An ``OSError`` from the rotation that may follow is
        raised too, with the record already safely written.
        """
        line = record.to_json().encode("utf-8") + b"\n"
        if not self._directory_ready:
            self._make_directory()
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        created = True
        try:
            fd = os.open(self.path, flags | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            created = False
            fd = os.open(self.path, flags, FILE_MODE)
        try:
            status = os.fstat(fd)
            identity = (status.st_dev, status.st_ino)
            if created:
                self._line_count = 0
            elif identity != self._counted_file:
                self._line_count = _count_lines(fd)
            self._counted_file = identity
            if status.st_size and os.pread(fd, 1, status.st_size - 1) != b"\n":
                # The last append was torn by a crash: end that line so ours stands alone.
                line = b"\n" + line
            _write_all(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_directory(self.path.parent)
        self._line_count += 1
        if self._line_count > self.max_entries:
            self._rotate()

    def _rotate(self) -> None:
        """Replace the log by a copy holding only its newest lines (atomic, see the top)."""
        keep = max(1, int(self.max_entries * ROTATION_KEEP_FRACTION))
        lines = [line for line in self.path.read_bytes().split(b"\n") if line.strip()]
        newest = lines[-keep:]
        data = b"".join(line + b"\n" for line in newest)
        directory = self.path.parent
        prefix = f".{self.path.name}."
        # A copy left by a rotation that a crash interrupted is garbage: only we write here.
        for stale in directory.glob(f"{glob.escape(prefix)}*.tmp"):
            logger.info("removing %s, left by an interrupted rotation", stale)
            stale.unlink(missing_ok=True)
        # mkstemp creates the file with mode 0600, like the log itself.
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=".tmp")
        try:
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, self.path)
        except BaseException:
            # Also on KeyboardInterrupt: the original log is untouched; only the copy goes.
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync_directory(directory)
        status = self.path.stat()
        self._counted_file = (status.st_dev, status.st_ino)
        self._line_count = len(newest)
        logger.info("call history %s rotated: kept the newest %d calls", self.path, len(newest))


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` the whole of ``data``: one call unless the kernel writes it short.

    A regular file is written short only when the disk fills up; the rest then goes in
    further calls, and if those fail the line is torn, which the next append handles.
    """
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _count_lines(fd: int) -> int:
    """Non-blank lines in the open file, counted as ``read()`` and rotation see them."""
    chunks = []
    offset = 0
    while chunk := os.pread(fd, _READ_CHUNK, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return sum(1 for line in b"".join(chunks).split(b"\n") if line.strip())


def _fsync_directory(directory: Path) -> None:
    """Make a created or renamed name in ``directory`` durable (POSIX: fsync the directory)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
