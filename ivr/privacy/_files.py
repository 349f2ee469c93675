"""Owner-only files written atomically: a reader never sees half a keyring or recording.

The data goes to a temporary file in the same folder (created 0600 by mkstemp),
is flushed to disk, then renamed over the target (``os.replace``) or linked to
it only if absent (``os.link``, so two processes creating a keyring at once
cannot both win and leave one of them holding keys that were never saved).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PRIVATE_MODE = 0o600


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` with mode 0600, atomically.

    ``exclusive``: fail with FileExistsError if ``path`` exists (create-once files).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
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
