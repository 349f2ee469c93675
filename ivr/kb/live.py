"""The knowledge base the running line answers from, reloaded when its files change.

Like flows and rules, an edit takes effect on the next question without a restart,
and a broken edit loses nothing: an entry whose file no longer validates keeps its
last good version (while that is still within its review-by date), and the finding
is logged with its ``file:line:col``. A withdrawn or expired entry goes at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from pathlib import Path

from ivr.kb.entries import Entry, KnowledgeBase, load
from ivr.kb.search import KbIndex

log = logging.getLogger(__name__)

CHECK_SECONDS = 2.0  # how often the folder is looked at (one stat per file)


class LiveKnowledge:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._index: KbIndex | None = None
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._day: dt.date | None = None
        self._checked = 0.0
        self._good: dict[str, Entry] = {}

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        try:
            files = sorted(self.folder.glob("*.yaml"))
            return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        except OSError:
            return ()

    def index(self) -> KbIndex:
        """The current index (built on first use, rebuilt after a change or at a new
        day, when review-by dates may have passed). Blocking: call it in a thread."""
        with self._lock:
            now = time.monotonic()
            today = dt.date.today()
            if self._index is not None and now - self._checked < CHECK_SECONDS \
                    and self._day == today:
                return self._index
            self._checked = now
            signature = self._scan()
            if self._index is not None and signature == self._signature \
                    and self._day == today:
                return self._index
            kb = load(self.folder, today)
            for finding in kb.findings:
                log.warning("knowledge base: %s", finding)
            broken = {Path(f.file).stem for f in kb.errors}
            for ident in broken - set(kb.entries):
                last = self._good.get(ident)
                if last is not None and last.speakable(today):
                    kb.entries[ident] = last
                    log.warning("knowledge base: %s keeps its last good version %s",
                                ident, last.ref)
            self._good = dict(kb.entries)
            self._index = KbIndex(KnowledgeBase(self.folder, kb.entries, kb.findings), today)
            self._signature, self._day = signature, today
            log.info("knowledge base: %d entries speakable from %s",
                     len(self._index.entries), self.folder)
            return self._index


_LIVE: dict[Path, LiveKnowledge] = {}
_FOLDER: Path | None = None
_REGISTRY_LOCK = threading.Lock()


def use(folder: Path) -> None:
    """The folder this process's calls answer from (the engine calls it at start)."""
    global _FOLDER
    _FOLDER = folder


def current() -> LiveKnowledge:
    """The knowledge of this process (``use``'s folder, else setting engine.knowledge)."""
    global _FOLDER
    with _REGISTRY_LOCK:
        if _FOLDER is None:
            from ivr.settings import load_settings

            _FOLDER = load_settings().engine.knowledge
        live = _LIVE.get(_FOLDER)
        if live is None:
            live = _LIVE[_FOLDER] = LiveKnowledge(_FOLDER)
        return live
