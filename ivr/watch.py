"""Hot reload's shared part: poll some files, reload when they change.

The flow store (``dialplans/``, ``prompts/``) and the triage rules store
(``triage_rules.yaml``) both keep their last good version and swap in a new one
only when it validates; this module only notices the change. Polling (once a
second by default) needs no inotify and sees a file replaced by rename, deleted,
or written in place. The reload runs in a worker thread, so validating a large
file never holds up the calls on the event loop, and one reload at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path

log = logging.getLogger(__name__)

Signature = tuple[tuple[str, int, int, int], ...]


def signature(files: Iterable[Path]) -> Signature:
    """(path, mtime, size, inode) of each file that exists: any edit, a rename over
    the file, or its removal changes it."""
    out = []
    for f in sorted(files):
        with contextlib.suppress(OSError):  # gone (or unreadable) between listing and stat
            st = f.stat()
            out.append((str(f), st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(out)


class Watcher:
    """Calls ``reload`` in a thread within ``interval`` seconds of ``current()`` changing.

    ``reload`` must call :meth:`mark` before it reads the files, so a change made
    while it reads is seen at the next poll; an exception it raises is logged and
    the poll goes on (the store keeps serving what it had).
    """

    def __init__(self, what: str, current: Callable[[], Hashable],
                 reload: Callable[[], object], kept: str = "version") -> None:
        self.what = what  # for the log: "flow reload failed; still serving the last good set"
        self.kept = kept
        self.current = current
        self.reload = reload
        self.seen: Hashable | None = None
        self._task: asyncio.Task[None] | None = None

    def mark(self) -> None:
        self.seen = self.current()

    def changed(self) -> bool:
        return self.current() != self.seen

    async def poll(self, interval: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval)
            if self.changed():
                try:
                    await asyncio.to_thread(self.reload)
                except Exception:
                    log.exception("%s reload failed; still serving the last good %s",
                                  self.what, self.kept)

    def start(self, interval: float = 1.0) -> None:
        self._task = asyncio.create_task(self.poll(interval))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
