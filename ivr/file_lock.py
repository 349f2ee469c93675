"""One exclusive lock file shared by processes: secrets, migrations, the journal.

``flock`` on a file that is never replaced (0600); closing the descriptor releases it,
so a process that dies mid-way never leaves it held."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def locked(lock: Path) -> Iterator[None]:
    """Hold ``lock`` exclusively for the block (waits for another holder)."""
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
