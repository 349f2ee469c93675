"""The last good version of a clinician-owned file beside the rules (protocols, examples).

Each is re-read when the file changes, so a saved edit is used from the next decision. A
missing file: none. An invalid or unreadable one is logged with its findings and the last
good version of that file stays in use (none at all, if it never was good).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Generic, TypeVar

from ivr.flows.diagnostics import Diagnostic

log = logging.getLogger(__name__)
T = TypeVar("T")


class LastGood(Generic[T]):
    """``what``: the file's name in logs; ``kept(last)`` / ``without``: what is used
    instead of a rejected edit (the last good version, or nothing)."""

    def __init__(self, what: str, kept: Callable[[T], str], without: str) -> None:
        self.what, self.kept, self.without = what, kept, without
        self._cache: dict[str, tuple[tuple[Hashable, ...], T | None]] = {}

    def get(self, path: Path, check: Callable[[Path], tuple[T | None, list[Diagnostic]]],
            also: tuple[Hashable, ...] = ()) -> T | None:
        """The file's current good version; ``also``: what else it was checked against
        (a rules version), so a change there re-checks it too."""
        key = str(path)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        except OSError:
            log.exception("triage %s %s unreadable", self.what, path)
            return self._cache.get(key, ((), None))[1]
        signature = (stat.st_mtime_ns, stat.st_size, *also)
        cached = self._cache.get(key)
        if cached and cached[0] == signature:
            return cached[1]
        try:
            found, diags = check(path)
        except OSError:
            log.exception("triage %s %s unreadable", self.what, path)
            found, diags = None, []
        last = cached[1] if cached else None
        if found is None:
            for d in diags:
                log.error("%s", d)
            log.error("triage %s %s rejected; %s", self.what, path,
                      self.kept(last) if last is not None else self.without)
            found = last
        self._cache[key] = (signature, found)
        return found


__all__ = ["LastGood"]
