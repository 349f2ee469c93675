"""The line's knowledge base (``knowledge/answers/*.yaml``, one entry per file): read
with positions and validated, every finding at once as ``file:line:col``.

Clinicians own it as they own ``triage_rules.yaml``: each entry names its owner, its
source (a guideline, a leaflet), a review-by date and a status. The line speaks an
entry only while it is ``current`` and not past its review-by date; a ``disputed``
entry states the views (and is spoken with them), a ``withdrawn`` or expired one is
never spoken: the caller goes to a person instead. Example::

    id: visiting_hours          # = the file's name
    version: 3                  # raised at every change of the answer
    status: current             # current | disputed | withdrawn
    owner: Ward Nursing Council
    source: "City Hospital visitor policy, September 2026"
    review_by: 2027-06-30
    departments: [general]      # who answers for it, and the flows' topic filter
    topics: [visiting]
    title:                      # said when the line checks it understood the caller
      en-US: visiting hours
      zh-CN: 探视时间
    questions:                  # how callers ask, in their own words
      en-US: ["what are the visiting hours", "when can I visit my mother"]
      zh-CN: ["探视时间是几点", "什么时候可以去看病人"]
    answer:                     # written for the ear: short sentences, no tables
      en-US: >- ...
      zh-CN: >- ...
    views:                      # only when disputed: each view, said after the answer
      en-US: [...]
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ivr.departments import DEPARTMENTS
from ivr.findings import Finding
from ivr.flows.yaml_source import load_file

LANGUAGES = ("zh-CN", "en-US")
STATUSES = ("current", "disputed", "withdrawn")
ID = re.compile(r"^[a-z][a-z0-9_]*$")
FIELDS = {"id", "version", "status", "owner", "source", "review_by", "departments",
          "topics", "title", "questions", "answer", "views"}
# Spoken at the caller's rate: a long answer is lost on the phone. Words (en) or
# characters / 2 (zh) - about 90 s at the elderly rate.
MAX_SPOKEN_WORDS = 180
MAX_FILES = 2000  # a folder bigger than this is a mistake, not a knowledge base


@dataclass(frozen=True)
class Entry:
    id: str
    version: int
    status: str
    owner: str
    source: str
    review_by: dt.date | None
    departments: tuple[str, ...]
    topics: tuple[str, ...]
    questions: dict[str, tuple[str, ...]]
    answer: dict[str, str]
    views: dict[str, tuple[str, ...]] = field(default_factory=dict)
    title: dict[str, str] = field(default_factory=dict)
    file: str = ""

    def speakable(self, today: dt.date) -> bool:
        """May the line say it today: current or disputed, and reviewed in time."""
        return (self.status in ("current", "disputed") and self.review_by is not None
                and self.review_by >= today)

    def spoken(self, lang: str) -> str:
        """What the line says in ``lang`` (the answer, then a disputed entry's views);
        empty when the entry has nothing in that language."""
        text = self.answer.get(lang, "")
        if text and self.status == "disputed" and self.views.get(lang):
            text = " ".join([text, *self.views[lang]])
        return text

    @property
    def ref(self) -> str:
        """What a call record keeps: which entry, which version."""
        return f"{self.id}@{self.version}"


@dataclass
class KnowledgeBase:
    folder: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]


def load(folder: Path, today: dt.date | None = None) -> KnowledgeBase:
    """Every ``*.yaml`` of ``folder`` (sorted), with every finding. An entry with an
    error is left out (never spoken); the others are kept."""
    today = today or dt.date.today()
    kb = KnowledgeBase(folder)
    if not folder.is_dir():
        kb.findings.append(Finding(str(folder), 1, 1, severity="error", code="KBA000",
                                   message="no such knowledge folder"))
        return kb
    files = sorted(folder.glob("*.yaml"))
    if len(files) > MAX_FILES:
        kb.findings.append(Finding(str(folder), 1, 1, severity="error", code="KBA000",
                                   message=f"{len(files)} files: at most {MAX_FILES}"))
        return kb
    asked: dict[tuple[str, str], str] = {}  # (lang, question) -> entry id
    for path in files:
        entry, found = _load_entry(path, today)
        kb.findings.extend(found)
        if entry is None:
            continue
        if entry.id in kb.entries:
            kb.findings.append(Finding(str(path), 1, 1, severity="error", code="KBA004",
                                       message=f"entry id {entry.id!r} also in "
                                               f"{kb.entries[entry.id].file}"))
            continue
        for lang, questions in entry.questions.items():
            for q in questions:
                other = asked.setdefault((lang, " ".join(q.casefold().split())), entry.id)
                if other != entry.id:
                    kb.findings.append(Finding(
                        str(path), 1, 1, severity="warning", code="KBA005",
                        message=f"question {q!r} is also {other!r}'s"))
        kb.entries[entry.id] = entry
    return kb


def validate(folder: Path, today: dt.date | None = None) -> list[Finding]:
    return load(folder, today).findings


def _load_entry(path: Path, today: dt.date) -> tuple[Entry | None, list[Finding]]:
    findings: list[Finding] = []
    try:
        src = load_file(path)
    except OSError as exc:
        return None, [Finding(str(path), 1, 1, severity="error", code="KBA000",
                              message=exc.strerror or str(exc))]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, [Finding(str(path), line, col, severity="error", code="KBA001",
                              message=str(getattr(exc, "problem", None) or exc))]

    def find(at: tuple[str | int, ...], severity: str, code: str, message: str) -> None:
        line, col = src.where(at)
        findings.append(Finding(str(path), line, col, severity=severity, code=code,
                                message=message))

    for at, line, col in src.duplicates:
        findings.append(Finding(str(path), line, col, severity="error", code="KBA001",
                                message=f"duplicate key {at[-1]!r}"))
    data = src.data
    if not isinstance(data, dict):
        find((), "error", "KBA002", "an entry is a mapping (id, status, owner, source, "
             "review_by, questions, answer, ...)")
        return None, findings
    for key in sorted(set(data) - FIELDS, key=str):
        find((key,), "error", "KBA003", f"unknown field {key!r}")
    ident = str(data.get("id") or "")
    if not ID.match(ident):
        find(("id",), "error", "KBA006", f"id {ident!r}: lowercase letters, digits and _")
    elif ident != path.stem:
        find(("id",), "error", "KBA006", f"id {ident!r} must be the file's name "
             f"({path.stem!r})")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        find(("version",), "error", "KBA007", "version: a whole number from 1, raised at "
             "every change of the answer")
        version = 0
    status = str(data.get("status") or "")
    if status not in STATUSES:
        find(("status",), "error", "KBA008", f"status must be one of {', '.join(STATUSES)}")
    for key in ("owner", "source"):
        if not str(data.get(key) or "").strip():
            find((key,), "error", "KBA009", f"every entry names its {key}")
    review_by = data.get("review_by")
    if isinstance(review_by, dt.datetime):
        review_by = review_by.date()
    if not isinstance(review_by, dt.date):
        find(("review_by",), "error", "KBA010", "review_by must be a date (YYYY-MM-DD)")
        review_by = None
    elif review_by < today and status != "withdrawn":
        find(("review_by",), "error", "KBA011", f"expired: review was due "
             f"{review_by.isoformat()}; the line does not say it (callers go to a person) "
             "until its owner reviews it")
    departments = _strings(data.get("departments"), ("departments",), find)
    for i, dept in enumerate(departments):
        if dept not in DEPARTMENTS:
            find(("departments", i), "error", "KBA012", f"unknown department {dept!r}")
    if not departments:
        find(("departments",), "error", "KBA012", "departments: who answers for it")
    topics = _strings(data.get("topics"), ("topics",), find)
    questions = _per_language(data, "questions", find, listed=True)
    answers = _per_language(data, "answer", find, listed=False)
    titles = _per_language(data, "title", find, listed=False)
    views = _per_language(data, "views", find, listed=True) if "views" in data else {}
    if status == "disputed" and not views:
        find(("status",), "error", "KBA013", "a disputed entry states the views (views:)")
    if status != "disputed" and views:
        find(("views",), "warning", "KBA013", "views are only said for a disputed entry")
    for lang in LANGUAGES:
        if status == "withdrawn":
            continue
        for key, got in (("title", titles), ("questions", questions), ("answer", answers)):
            if not got.get(lang) and key in data:
                find((key,), "error", "KBA014", f"nothing in {lang}: every entry has a "
                     f"title, questions and an answer in {', '.join(LANGUAGES)}")
    for lang, text in answers.items():
        size = len(text) // 2 if lang == "zh-CN" else len(text.split())
        if size > MAX_SPOKEN_WORDS:
            find(("answer", lang), "error", "KBA015", f"{lang} answer too long to say "
                 f"({size} words; at most {MAX_SPOKEN_WORDS}): split the entry")
        if re.search(r"\|.*\||\t|^\s*[-*] ", text, re.M):
            find(("answer", lang), "error", "KBA016", f"{lang} answer has a table or a "
                 "list: write it for the ear, in sentences")
    findings.sort(key=lambda f: (f.line, f.col, f.code))
    if any(f.severity == "error" for f in findings):
        return None, findings
    return Entry(ident, int(version), status, str(data["owner"]).strip(),
                 str(data["source"]).strip(), review_by, tuple(departments), tuple(topics),
                 {k: tuple(v) for k, v in questions.items()},  # type: ignore[misc]
                 {k: str(v) for k, v in answers.items()},
                 {k: tuple(v) for k, v in views.items()}, {k: str(v) for k, v in titles.items()},
                 str(path)), findings


def _strings(value: Any, at: tuple[str | int, ...], find: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                              for v in value):
        find(at, "error", "KBA002", f"{at[-1]}: a list of names")
        return []
    return [v.strip() for v in value]


def _per_language(data: dict[str, Any], key: str, find: Any, *,
                  listed: bool) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        if value is not None or key != "views":
            find((key,), "error", "KBA002", f"{key}: one per language "
                 f"({', '.join(LANGUAGES)})")
        return {}
    out: dict[str, Any] = {}
    for lang, item in value.items():
        if lang not in LANGUAGES:
            find((key, lang), "error", "KBA017", f"language {lang!r} is not one of "
                 f"{', '.join(LANGUAGES)}")
            continue
        if listed:
            items = item if isinstance(item, list) else None
            if not items or not all(isinstance(x, str) and x.strip() for x in items):
                find((key, lang), "error", "KBA002", f"{key}.{lang}: a list of sentences")
                continue
            out[lang] = [" ".join(x.split()) for x in items]
        else:
            if not isinstance(item, str) or not item.strip():
                find((key, lang), "error", "KBA002", f"{key}.{lang}: the text to say")
                continue
            out[lang] = " ".join(item.split())
    return out


__all__ = ["LANGUAGES", "Entry", "Finding", "KnowledgeBase", "load", "validate"]
