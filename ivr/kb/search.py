"""Which knowledge-base entry answers what the caller said, in their own words.

Each entry's question variants are embedded once with the meaning screen's pinned
multilingual sentence encoder (:mod:`ivr.triage.semantic`); the caller's words are
compared with every variant (both languages: callers mix them) and, as a check that
needs no model, by shared words (English) or character pairs (Chinese). An entry is
chosen only when it is clearly the best: close enough in meaning (``MIN_MEANING``) and
ahead of the next entry (``MIN_LEAD``); otherwise nothing is, and the caller is
offered a person. Only entries the line may say today are searched.

The thresholds were set on ``tests/kb/dev.jsonl``; the line's figure is measured on
sealed batches (``tests/kb/fresh/``) written before the run (``ivr kb eval``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ivr.kb.entries import Entry, KnowledgeBase
from ivr.triage.normalize import is_cjk, normalise
from ivr.triage.semantic import SentenceModel, sentence_model

MIN_MEANING = 0.53  # cosine of the closest question variant (dev set: no non-entry above 0.52)
SURE = 0.75  # at or above: said at once; below: the line first checks it understood
MIN_LEAD = 0.03  # over the next entry's closest variant
MIN_WORDS = 0.34  # without the encoder: weighted share of the variant's words heard
_WORD = re.compile(r"[a-z0-9]+")
_HAN = re.compile(r"[\u4e00-\u9fff]+")
STOP = frozenset("""a an the i im me my we our you your to of for in on at is are am be
do does did can could should would will shall may might it its this that there what when
where how who which please hi hello yes no and or but if so just about with have has had
get got any some""".split())


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def terms(text: str) -> list[str]:
    """English content words (stemmed), and Chinese character pairs (single
    characters for a one-character run)."""
    text = normalise(text)
    out = [_stem(w) for w in _WORD.findall(text) if w not in STOP]
    if is_cjk(text):
        for run in _HAN.findall(text):
            out.extend(run[i:i + 2] for i in range(max(1, len(run) - 1)))
    return out


@dataclass(frozen=True)
class Match:
    entry: Entry
    score: float  # closeness in meaning (or word overlap without the encoder)
    lead: float  # over the runner-up entry
    question: str  # the variant it came closest to
    runner_up: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"entry": self.entry.ref, "score": round(self.score, 3),
                "lead": round(self.lead, 3), "question": self.question,
                "runner_up": self.runner_up}


class KbIndex:
    """The searchable form of a knowledge base (built at load and at each reload)."""

    def __init__(self, kb: KnowledgeBase, today: dt.date | None = None,
                 model: SentenceModel | bool | None = True) -> None:
        today = today or dt.date.today()
        self.kb = kb
        self.entries = [e for e in kb.entries.values() if e.speakable(today)]
        self._variants: list[tuple[int, str]] = [
            (i, q) for i, e in enumerate(self.entries)
            for qs in e.questions.values() for q in qs]
        self._terms = [Counter(terms(q)) for _i, q in self._variants]
        docs = Counter(t for c in self._terms for t in c)
        n = max(1, len(self._terms))
        self._idf = {t: math.log(1 + n / df) for t, df in docs.items()}
        self.model: SentenceModel | None = (sentence_model() if model is True
                                            else model or None)
        self._vectors: np.ndarray | None = None
        if self.model is not None and self._variants:
            self._vectors = self.model.encode([q for _i, q in self._variants])

    def _word_scores(self, heard: Counter[str]) -> np.ndarray:
        out = np.zeros(len(self._variants), dtype=np.float32)
        for k, counts in enumerate(self._terms):
            total = sum(self._idf[t] for t in counts)
            shared = sum(self._idf[t] for t in counts if t in heard)
            out[k] = shared / total if total else 0.0
        return out

    def find(self, words: str, topics: Iterable[str] = ()) -> Match | None:
        """The entry that answers ``words`` (only among ``topics`` when given), or None."""
        ranked = self.rank(words, topics)
        if not ranked:
            return None
        best = ranked[0]
        threshold = MIN_MEANING if self._vectors is not None else MIN_WORDS
        if best.score < threshold or best.lead < MIN_LEAD:
            return None
        return best

    def rank(self, words: str, topics: Iterable[str] = ()) -> list[Match]:
        """Entries by how close their nearest variant is to ``words`` (best first)."""
        wanted = set(topics)
        if not words.strip() or not self._variants:
            return []
        if self._vectors is not None:
            assert self.model is not None
            scores = self._vectors @ self.model.encode([words])[0]
        else:
            scores = self._word_scores(Counter(terms(words)))
        best: dict[int, tuple[float, str]] = {}
        for (i, question), score in zip(self._variants, scores, strict=True):
            entry = self.entries[i]
            if wanted and not wanted & (set(entry.topics) | set(entry.departments)):
                continue
            if i not in best or score > best[i][0]:
                best[i] = (float(score), question)
        order = sorted(best.items(), key=lambda kv: -kv[1][0])
        out = []
        for rank, (i, (score, question)) in enumerate(order):
            nxt = order[rank + 1] if rank + 1 < len(order) else None
            lead = score - nxt[1][0] if nxt else score
            out.append(Match(self.entries[i], score, lead, question,
                             self.entries[nxt[0]].id if nxt else ""))
        return out
