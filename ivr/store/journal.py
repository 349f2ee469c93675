"""Call records kept on local disk while the database is away, and put back later.

When a write cannot reach the database, the recorder appends the operation (the
JSON-able dict that ``apply_op`` takes) as one line to ``records.jsonl`` and
fsyncs it before the call goes on; until the journal is drained, later
operations follow it there, so their order is kept. ``replay`` applies the
lines oldest first (``apply_op`` is idempotent: a line applied twice changes
nothing) and keeps only what is left, rewriting the file atomically (a temporary
file renamed over it). A crash at any point therefore loses no line and doubles
no row.

A line that cannot be read (torn by a crash in the middle of writing it) or that
the database refuses for a reason other than being unreachable is reported,
moved to ``records.rejected.jsonl`` with the reason, and replay goes on.

The files hold masked transcripts and sealed numbers: mode 0600 in a 0700
folder. Several processes may share a journal (the engine, ``ivr-eagi``
scripts, ``ivr db replay``): each append and each replay holds an exclusive
``flock`` on ``records.jsonl.lock``, a file that is never replaced.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from ivr.file_lock import locked
from ivr.privacy._files import private_dir
from ivr.store.database import is_unreachable, redacted

if TYPE_CHECKING:
    from ivr.settings import Settings

log = logging.getLogger(__name__)

Op = dict[str, Any]


def journal_path(url: str, state_dir: Path, configured_url: str | None = None) -> Path:
    """``<state_dir>/journal/records.jsonl`` for the line's own database (``configured_url``).
    A journal belongs to one database: any other URL (a test's, a simulation's) gets its
    own file, so its replay can never pour the line's records into the wrong database."""
    folder = state_dir / "journal"
    if configured_url is not None and make_url(url) == make_url(configured_url):
        return folder / "records.jsonl"
    digest = hashlib.sha256(redacted(url).encode()).hexdigest()[:12]
    return folder / f"records-{digest}.jsonl"


def default_journal_path(url: str, settings: Settings) -> Path:
    """The journal the engine, ``ivr-eagi`` and ``ivr db replay`` share for ``url``."""
    return journal_path(url, settings.state_dir, settings.database_url)


@dataclass
class ReplayResult:
    applied: int = 0
    rejected: int = 0  # unreadable lines and operations the database refused
    remaining: int = 0  # still journalled: the database went away again
    error: str = ""  # why replay stopped before the end

    def __str__(self) -> str:
        text = f"{self.applied} applied, {self.rejected} rejected, {self.remaining} left"
        return f"{text} ({self.error})" if self.error else text


class Journal:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.rejected_path = self.path.with_name(f"{self.path.stem}.rejected.jsonl")
        self.lock_path = self.path.with_name(f"{self.path.name}.lock")

    def pending(self) -> bool:
        """Anything waiting to be replayed (one ``stat``: cheap enough before every write)."""
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def append(self, op: Op) -> None:
        """Add ``op`` as one line, on disk (fsynced) before this returns."""
        line = json.dumps(op, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        with self._locked():
            _append_synced(self.path, line.encode())

    def lines(self) -> list[bytes]:
        try:
            return self.path.read_bytes().splitlines(keepends=True)
        except FileNotFoundError:
            return []

    def ops(self) -> list[Op]:
        """The readable operations waiting, oldest first."""
        return [op for op in map(parse_op, self.lines()) if op is not None]

    def replay(self, apply: Callable[[Op], None]) -> ReplayResult:
        """Apply the journalled operations in order; stop at the first one that finds the
        database unreachable and keep it and the rest for the next replay."""
        result = ReplayResult()
        with self._locked():
            lines = self.lines()
            done = 0
            for number, raw in enumerate(lines, 1):
                op = parse_op(raw)
                if op is None:
                    torn = number == len(lines) and not raw.endswith(b"\n")
                    self._reject(raw, number, "torn: the writer died mid-line" if torn
                                 else "not a record operation")
                    result.rejected += 1
                else:
                    try:
                        apply(op)
                    except Exception as exc:
                        if is_unreachable(exc):
                            result.error = f"database unreachable: {_first_line(exc)}"
                            break
                        self._reject(raw, number, f"{type(exc).__name__}: {_first_line(exc)}")
                        result.rejected += 1
                    else:
                        result.applied += 1
                done = number
            result.remaining = len(lines) - done
            if done:
                _replace_synced(self.path, b"".join(lines[done:]))
        return result

    def _reject(self, raw: bytes, number: int, reason: str) -> None:
        log.warning("journal %s: line %d skipped (%s), kept in %s", self.path, number, reason,
                    self.rejected_path)
        entry = {"rejected_at": datetime.now(UTC).isoformat(), "line_number": number,
                 "reason": reason, "line": raw.decode("utf-8", "replace")}
        _append_synced(self.rejected_path, (json.dumps(entry, ensure_ascii=False) + "\n")
                       .encode())

    @contextmanager
    def _locked(self) -> Iterator[None]:
        private_dir(self.path.parent)  # 0700, its missing parents too
        with locked(self.lock_path):
            yield


def parse_op(raw: bytes) -> Op | None:
    """One journal line as an operation; None for a torn last line or junk."""
    if not raw.endswith(b"\n"):  # the writer died mid-line
        return None
    try:
        op = json.loads(raw)
    except ValueError:
        return None
    return op if isinstance(op, dict) and "op" in op else None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _append_synced(path: Path, data: bytes) -> None:
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # a torn line stays on its own line, not glued to this one
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)


def _replace_synced(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)
