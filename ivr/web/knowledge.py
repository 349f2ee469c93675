"""The clinician-owned drug and guideline file (``knowledge/drugs_guidelines.yaml``):
loaded with positions, validated, and searched by name or synonym in zh-CN and en-US.

The file is the clinicians' (a named owner, a version, per entry a source and a
review-by date): the line only shows it. An entry past its review-by date is still
shown, marked expired, and ``validate`` reports it, so nobody reads stale advice as
current without being told. Example layout::

    version: "2026-12.1"
    owner: Pharmacy and Therapeutics Committee
    entries:
      - id: paracetamol
        kind: drug                     # drug | guideline
        names: {en-US: [paracetamol, acetaminophen], zh-CN: [对乙酰氨基酚, 扑热息痛]}
        text: {en-US: "...", zh-CN: "..."}
        source: "WHO Model Formulary 2008"
        owner: Pharmacy
        review_by: 2027-06-30
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ivr.findings import Finding  # one positioned finding for every file people edit
from ivr.flows.yaml_source import Source, load_file

LANGUAGES = ("zh-CN", "en-US")
KINDS = ("drug", "guideline")
ID = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_RESULTS = 8


@dataclass(frozen=True)
class Entry:
    id: str
    kind: str
    names: dict[str, tuple[str, ...]]
    text: dict[str, str]
    source: str
    owner: str
    review_by: dt.date | None
    line: int = 0

    def expired(self, today: dt.date) -> bool:
        """Past its review-by date (or never given one): shown, but flagged."""
        return self.review_by is None or self.review_by < today

    def name(self, lang: str) -> str:
        for code in (lang, *LANGUAGES):
            if self.names.get(code):
                return self.names[code][0]
        return self.id

    def as_dict(self, lang: str, today: dt.date, matched: str = "") -> dict[str, Any]:
        text = self.text.get(lang) or next((self.text[c] for c in LANGUAGES
                                            if self.text.get(c)), "")
        return {"id": self.id, "kind": self.kind, "name": self.name(lang),
                "matched": matched, "names": {k: list(v) for k, v in self.names.items()},
                "text": text, "source": self.source, "owner": self.owner,
                "review_by": self.review_by.isoformat() if self.review_by else None,
                "expired": self.expired(today)}


@dataclass
class KnowledgeFile:
    path: Path
    version: str = ""
    owner: str = ""
    entries: list[Entry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


class KnowledgeError(ValueError):
    """The file cannot be read at all (missing, not YAML)."""


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def load(path: Path, today: dt.date | None = None) -> KnowledgeFile:
    """The file with every finding (all at once); KnowledgeError if it cannot be read."""
    today = today or dt.date.today()
    try:
        src = load_file(path)
    except OSError as exc:
        raise KnowledgeError(f"{path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise KnowledgeError(f"{where}: {getattr(exc, 'problem', None) or exc}") from None
    out = KnowledgeFile(path)
    findings = out.findings

    def find(at: tuple[str | int, ...], severity: str, code: str, message: str) -> None:
        line, col = src.where(at)
        findings.append(Finding(str(path), line, col, severity=severity, code=code,
                                message=message))

    for at, line, col in src.duplicates:
        findings.append(Finding(str(path), line, col, severity="error", code="KB001",
                                message=f"duplicate key {at[-1]!r}"))
    data = src.data if isinstance(src.data, dict) else {}
    if not isinstance(src.data, dict):
        find((), "error", "KB002", "expected a mapping with version, owner and entries")
    for key in ("version", "owner"):
        if not str(data.get(key) or "").strip():
            find((key,), "error", "KB003", f"the file needs its {key}")
    out.version, out.owner = str(data.get("version") or ""), str(data.get("owner") or "")
    entries = data.get("entries")
    if not isinstance(entries, list):
        find(("entries",), "error", "KB002", "entries must be a list")
        entries = []
    seen_ids: set[str] = set()
    seen_names: dict[str, str] = {}
    for i, raw in enumerate(entries):
        entry = _entry(src, i, raw, find, today)
        if entry is None:
            continue
        if entry.id in seen_ids:
            find(("entries", i, "id"), "error", "KB004", f"entry id {entry.id!r} repeated")
        seen_ids.add(entry.id)
        for names in entry.names.values():
            for name in names:
                other = seen_names.setdefault(_norm(name), entry.id)
                if other != entry.id:
                    find(("entries", i, "names"), "warning", "KB005",
                         f"name {name!r} also names {other!r}: a search shows both")
        out.entries.append(entry)
    findings.sort(key=lambda f: (f.line, f.col, f.code))
    return out


def _entry(src: Source, i: int, raw: Any, find: Any, today: dt.date) -> Entry | None:
    at: tuple[str | int, ...] = ("entries", i)
    if not isinstance(raw, dict):
        find(at, "error", "KB002", "an entry must be a mapping")
        return None
    ident = str(raw.get("id") or "")
    if not ID.match(ident):
        find((*at, "id"), "error", "KB006", f"entry id {ident!r}: lowercase letters, "
             "digits and _")
    label = ident or f"#{i + 1}"
    unknown = set(raw) - {"id", "kind", "names", "text", "source", "owner", "review_by"}
    for key in sorted(unknown, key=str):
        find((*at, key), "error", "KB007", f"entry {label}: unknown field {key!r}")
    kind = str(raw.get("kind") or "")
    if kind not in KINDS:
        find((*at, "kind"), "error", "KB008", f"entry {label}: kind must be one of "
             f"{', '.join(KINDS)}")
    names: dict[str, tuple[str, ...]] = {}
    texts: dict[str, str] = {}
    for field_name, store in (("names", names), ("text", texts)):
        value = raw.get(field_name)
        if not isinstance(value, dict) or not value:
            find((*at, field_name), "error", "KB009",
                 f"entry {label}: {field_name} per language ({', '.join(LANGUAGES)})")
            continue
        for lang, item in value.items():
            if lang not in LANGUAGES:
                find((*at, field_name, lang), "error", "KB010",
                     f"entry {label}: language {lang!r} is not one of {', '.join(LANGUAGES)}")
                continue
            if field_name == "names":
                items = item if isinstance(item, list) else [item]
                store[lang] = tuple(str(x).strip() for x in items if str(x).strip())
            else:
                store[lang] = str(item or "").strip()
    for lang in LANGUAGES:
        if not names.get(lang) or not texts.get(lang):
            find((*at,), "warning", "KB011", f"entry {label}: nothing in {lang}: a search "
                 f"in {lang} shows the other language")
    source = str(raw.get("source") or "").strip()
    if not source:
        find((*at,), "error", "KB012", f"entry {label}: every entry names its source")
    owner = str(raw.get("owner") or "").strip()
    if not owner:
        find((*at,), "error", "KB013", f"entry {label}: every entry names its clinical owner")
    review_by = _date(raw.get("review_by"))
    if review_by is None:
        find((*at, "review_by"), "error", "KB014",
             f"entry {label}: review_by must be a date (YYYY-MM-DD)")
    elif review_by < today:
        find((*at, "review_by"), "warning", "KB015",
             f"entry {label}: expired: review was due {review_by.isoformat()} (shown as "
             "expired until the owner reviews it)")
    return Entry(ident or f"entry_{i + 1}", kind, names, texts, source, owner, review_by,
                 src.where(at)[0])


def validate(path: Path, today: dt.date | None = None) -> list[Finding]:
    """Every finding in the file: errors, and warnings such as expired entries."""
    try:
        return load(path, today).findings
    except KnowledgeError as exc:
        return [Finding(str(path), 1, 1, severity="error", code="KB000", message=str(exc))]


def search(kb: KnowledgeFile, query: str, lang: str = "zh-CN",
           today: dt.date | None = None, limit: int = MAX_RESULTS) -> list[dict[str, Any]]:
    """Entries whose name or synonym (any language) matches ``query``: exact, then
    prefix, then inside a name, then inside the text; in ``lang`` where written."""
    today = today or dt.date.today()
    q = _norm(query)
    if not q:
        return []
    ranked: list[tuple[int, int, dict[str, Any]]] = []
    for order, entry in enumerate(kb.entries):
        best: tuple[int, str] | None = None
        for names in entry.names.values():
            for name in names:
                n = _norm(name)
                rank = 0 if n == q else 1 if n.startswith(q) else 2 if q in n else None
                if rank is not None and (best is None or rank < best[0]):
                    best = (rank, name)
        if best is None and any(q in _norm(t) for t in entry.text.values()):
            best = (3, "")
        if best is not None:
            ranked.append((best[0], order, entry.as_dict(lang, today, best[1])))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [r[2] for r in ranked[:limit]]
