"""Owner-only files written atomically: a reader never sees half a keyring or recording.

The data goes to a temporary file in the same folder (created 0600 by mkstemp),
is flushed to disk, then renamed over the target (``os.replace``) or linked to
it only if absent (``os.link``, so two processes creating a keyring at once
cannot both win and leave one of them holding keys that were never saved).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

PRIVATE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def private_dir(folder: Path, *, tighten: bool = False) -> Path:
    """``folder`` made mode 0700 (missing parents too, unlike ``mkdir -p``).

    ``tighten``: also close an existing ``folder`` to 0700 if this process owns it -
    for the state folder, which holds call records, journals, recordings and secrets
    (never for a folder that merely contains a database file: that may be shared).
    Sticky folders (``/tmp``) are never changed.
    """
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for part in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            part.mkdir(mode=PRIVATE_DIR_MODE)
    if not tighten:
        return folder
    with contextlib.suppress(OSError):
        info = folder.stat()
        if (info.st_uid == os.geteuid() and info.st_mode & 0o077
                and not info.st_mode & stat.S_ISVTX):
            folder.chmod(PRIVATE_DIR_MODE)
    return folder


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if absent, or close an existing one to 0600
    (a database file SQLite would otherwise create with the umask's 0644). A file owned
    by another user is left as it is (a report reading the line's database)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, PRIVATE_MODE)
    except PermissionError:
        return path
    try:
        info = os.fstat(fd)
        if info.st_uid == os.geteuid() and info.st_mode & 0o077:
            os.fchmod(fd, PRIVATE_MODE)
    finally:
        os.close(fd)
    return path


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` with mode 0600, atomically.

    ``exclusive``: fail with FileExistsError if ``path`` exists (create-once files).
    """
    if not path.parent.is_dir():
        private_dir(path.parent)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), PRIVATE_MODE)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if exclusive:
            os.link(tmp, path)
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a crash must not bring back the old file)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
