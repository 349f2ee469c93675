"""What the caller said, in their own words: an extractive summary for the agent.

Nothing is written that the caller did not say: the summary is a choice of the caller's
own sentences (masked as the transcript is), in the order they were said, preferring
those that carry what triage heard (its reasons and symptoms) and the longer ones;
bare menu answers ("two", "[pressed 1]") are left out unless nothing else was said.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

MAX_SENTENCES = 3
MAX_CHARS = 160  # per sentence shown; longer ones are cut at a word with an ellipsis
_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s*")
_PRESSED = re.compile(r"^\[pressed [0-9*#]+\]$")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _words(text: str) -> int:
    """Words, counting each CJK character as one (Chinese has no spaces)."""
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    return len(re.findall(r"[^\W\d_]+|\d+", re.sub(r"[\u4e00-\u9fff]", " ", text))) + cjk


def _cut(sentence: str) -> str:
    if len(sentence) <= MAX_CHARS:
        return sentence
    head = sentence[:MAX_CHARS]
    space = head.rfind(" ")
    return (head[:space] if space > MAX_CHARS // 2 else head).rstrip() + "…"


def caller_sentences(transcript: Iterable[Mapping[str, Any]]) -> list[str]:
    """The caller's sentences, in order, each once."""
    seen: set[str] = set()
    out = []
    for line in transcript:
        if line.get("who") != "caller":
            continue
        for sentence in _SENTENCE_END.split(str(line.get("text", "")).strip()):
            sentence = sentence.strip()
            key = _norm(sentence)
            if sentence and key not in seen:
                seen.add(key)
                out.append(sentence)
    return out


def summarize(transcript: Iterable[Mapping[str, Any]], cues: Iterable[str] = (),
              limit: int = MAX_SENTENCES) -> list[str]:
    """Up to ``limit`` of the caller's sentences: those naming a cue (triage reasons,
    symptoms: ``chest_pain`` matches "chest pain") first, then the longest, shown in
    the order said."""
    sentences = caller_sentences(transcript)
    spoken = [s for s in sentences if not _PRESSED.match(s) and _words(s) > 2]
    pool = spoken or sentences
    terms = {_norm(c).replace("_", " ") for c in cues if c}
    terms = {t for t in terms if len(t) >= 2}

    def score(index: int) -> tuple[int, int, int]:
        text = _norm(pool[index])
        return (sum(t in text for t in terms), _words(pool[index]), -index)

    chosen = sorted(sorted(range(len(pool)), key=score, reverse=True)[:limit])
    return [_cut(pool[i]) for i in chosen]
