"""Operations acknowledged to a call but not yet in the database, on local disk.

The recorder writes behind the call (``ivr.store.write_behind``): a step's event is
queued and the call goes on. So that a crash of the engine loses none of them, each
operation is first appended, as one JSON line, to this process's *in-flight log*
``<journal>.inflight-<pid>.<token>.<n>.jsonl`` beside the outage journal. The append
is a plain ``write`` (no fsync): once it returns the line is in the kernel, so it
survives the process being killed (``kill -9``, an exception, the OOM killer). A power
cut or kernel crash loses what the kernel had not yet flushed (by default up to
about 30 s of acknowledged operations that the database had not committed either);
the outage journal (``ivr.store.journal``), which fsyncs every line, is the part
that survives a power cut.

While the process lives it holds an exclusive ``flock`` on each of its log files.
When the writer has put everything queued into the database (or the journal) the
log is truncated; under steady load, when a segment passes ``SEGMENT_BYTES`` a new
one starts and the old one is deleted once its operations are written. A process
starting later (the restarted engine, ``ivr db replay``, another engine sharing the
folder) takes the logs whose lock it can get: their owner died. Their operations are
put back in order through the normal write path (``apply_op`` is idempotent: a line
written before the crash and again now changes nothing; a torn last line is skipped)
and the files removed.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.store.journal import parse_op

log = logging.getLogger(__name__)

Op = dict[str, Any]

SEGMENT_BYTES = 4 * 1024 * 1024  # a new file past this: the old one goes once written

_NAME = re.compile(r"\.inflight-(\d+)\.([0-9a-f]+)\.(\d+)\.jsonl$")


def encode(op: Op) -> bytes:
    """One operation as the line the log (and the journal) keep."""
    return (json.dumps(op, ensure_ascii=False, separators=(",", ":"), default=str)
            + "\n").encode()


@dataclass
class _Segment:
    number: int
    path: Path
    fd: int
    size: int = 0


@dataclass
class InflightLog:
    """This process's in-flight log beside ``journal_path`` (see the module doc)."""

    journal_path: Path
    segment_bytes: int = SEGMENT_BYTES
    _token: str = field(default_factory=lambda: secrets.token_hex(4))
    _segments: list[_Segment] = field(default_factory=list)

    def _open(self, number: int) -> _Segment:
        folder = self.journal_path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / (f"{self.journal_path.stem}.inflight-{os.getpid()}.{self._token}."
                         f"{number}.jsonl")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours: a fresh name
        segment = _Segment(number, path, fd)
        self._segments.append(segment)
        return segment

    def append(self, line: bytes) -> int:
        """Append one encoded operation; the number of the segment it went to."""
        segment = self._segments[-1] if self._segments else self._open(0)
        if segment.size and segment.size + len(line) > self.segment_bytes:
            segment = self._open(segment.number + 1)
        view = memoryview(line)
        while view:
            view = view[os.write(segment.fd, view):]
        segment.size += len(line)
        return segment.number

    def written(self, below: int | None) -> None:
        """Everything in segments numbered below ``below`` is in the database: delete
        them; ``None``: everything appended is, so the current one is emptied too."""
        keep = []
        for segment in self._segments:
            if below is None and segment is self._segments[-1]:
                if segment.size:
                    os.ftruncate(segment.fd, 0)
                    segment.size = 0
                keep.append(segment)
            elif below is None or segment.number < below:
                _remove(segment)
            else:
                keep.append(segment)
        self._segments = keep

    def close(self) -> None:
        """Everything written: the files go (call only after the writer drained)."""
        for segment in self._segments:
            _remove(segment)
        self._segments = []

    def abandon(self) -> None:
        """Close without deleting: what is in the files is replayed by the next process."""
        for segment in self._segments:
            os.close(segment.fd)
        self._segments = []


def _remove(segment: _Segment) -> None:
    try:
        segment.path.unlink()
    except FileNotFoundError:
        pass
    os.close(segment.fd)


@dataclass
class Orphan:
    """The logs a dead process left: their operations in order, and how many lines
    could not be read (a line torn by the crash)."""

    paths: list[Path]
    ops: list[Op]
    torn: int
    _fds: list[int]

    def done(self) -> None:
        """Its operations are written: remove the files and let go of their locks."""
        for path, fd in zip(self.paths, self._fds, strict=True):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            os.close(fd)

    def release(self) -> None:
        """Not written (the write failed): leave the files for the next try."""
        for fd in self._fds:
            os.close(fd)


def orphans(journal_path: Path) -> list[Orphan]:
    """The in-flight logs beside ``journal_path`` whose owner is gone (their lock was
    free), one :class:`Orphan` per dead process, each locked until ``done``/``release``."""
    folder = journal_path.parent
    if not folder.is_dir():
        return []
    groups: dict[tuple[str, str], list[tuple[int, Path]]] = {}
    for path in folder.glob(f"{journal_path.stem}.inflight-*.jsonl"):
        m = _NAME.search(path.name)
        if m is not None:
            groups.setdefault((m[1], m[2]), []).append((int(m[3]), path))
    found = []
    for files in groups.values():
        paths, fds, ops, torn = [], [], [], 0
        for _number, path in sorted(files):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)  # alive: its owner writes it
                break
            paths.append(path)
            fds.append(fd)
            with os.fdopen(os.dup(fd), "rb") as f:
                for raw in f.read().splitlines(keepends=True):
                    op = parse_op(raw)
                    if op is None:
                        torn += 1
                    else:
                        ops.append(op)
        else:
            if paths:
                found.append(Orphan(paths, ops, torn, fds))
            continue
        for fd in fds:  # part of a live process's logs: none of it is ours
            os.close(fd)
    return found
