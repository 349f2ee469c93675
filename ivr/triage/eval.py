"""Evaluate a triager on a labelled set; compare it with agents' dispositions.

A labelled line (JSONL)::

    {"text": "孩子发烧三天了", "lang": "zh", "urgency": 3, "department": "pediatrics",
     "tags": ["pediatric"], "context": {},
     "red_flag": false, "category": "fever", "group": "child", "speaker": "relative"}

``red_flag`` (default: urgency 1), ``category`` (default: the first tag, else the
kind), ``group`` (infant, child, adult, elderly, pregnant) and ``speaker`` (self,
relative) are optional; the fresh batches (``tests/triage/fresh/``) carry them all.

Each case is one *kind*: ``red`` (a red flag or crisis: must reach urgency 1),
``clinical`` (urgency 2-3) or ``admin`` (urgency 4). *Over-triage* is a non-red
case sent to the emergency or crisis lane (given urgency 1), counted apart for
clinical and administrative calls; the fairness table gives recall and both
over-triage shares by language, patient group and speaker.

The bars a release must clear (``ivr triage eval`` exits 1 below them):
red-flag recall = 100 % (every utterance labelled urgency 1 is given urgency 1)
and department accuracy >= 90 %.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.triage.decision import TriageDecision, Triager
from ivr.triage.normalize import BOUNDARY, normalise

RED_FLAG_RECALL_BAR = 1.0
DEPARTMENT_ACCURACY_BAR = 0.90


class LabelError(ValueError):
    """A line of a labelled or dispositions file is not usable."""


@dataclass(frozen=True)
class Case:
    text: str
    lang: str
    urgency: int
    department: str
    tags: tuple[str, ...] = ()
    context: dict[str, object] = field(default_factory=dict)
    line: int = 0
    red_flag: bool | None = None
    category: str = ""
    group: str = ""
    speaker: str = ""

    @property
    def is_red(self) -> bool:
        return self.urgency == 1 if self.red_flag is None else self.red_flag

    @property
    def kind(self) -> str:
        """red, clinical or admin."""
        if self.is_red:
            return "red"
        return "admin" if self.urgency == 4 else "clinical"


GROUPS = ("infant", "child", "adult", "elderly", "pregnant")
SPEAKERS = ("self", "relative")


@dataclass(frozen=True)
class Slice:
    """Figures for one subset of the cases."""

    cases: int
    red: int
    red_hit: int
    clinical: int
    clinical_over: int
    admin: int
    admin_over: int
    full_match: int

    @staticmethod
    def of(outcomes: list[Outcome]) -> Slice:
        red = [o for o in outcomes if o.case.kind == "red"]
        clin = [o for o in outcomes if o.case.kind == "clinical"]
        adm = [o for o in outcomes if o.case.kind == "admin"]
        return Slice(len(outcomes), len(red), sum(o.decision.urgency == 1 for o in red),
                     len(clin), sum(o.decision.urgency == 1 for o in clin),
                     len(adm), sum(o.decision.urgency == 1 for o in adm),
                     sum(o.department_ok and o.urgency_ok for o in outcomes))

    @property
    def recall(self) -> float | None:
        return self.red_hit / self.red if self.red else None

    @property
    def clinical_over_triage(self) -> float | None:
        return self.clinical_over / self.clinical if self.clinical else None

    @property
    def admin_over_triage(self) -> float | None:
        return self.admin_over / self.admin if self.admin else None

    def as_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)
        return {"cases": self.cases, "red_flags": self.red, "red_flags_found": self.red_hit,
                "recall": r(self.recall), "clinical": self.clinical,
                "clinical_to_emergency": self.clinical_over,
                "clinical_over_triage": r(self.clinical_over_triage),
                "admin": self.admin, "admin_to_emergency": self.admin_over,
                "admin_over_triage": r(self.admin_over_triage),
                "full_match": round(self.full_match / self.cases, 4) if self.cases else None}


@dataclass(frozen=True)
class Outcome:
    case: Case
    decision: TriageDecision

    @property
    def department_ok(self) -> bool:
        return self.decision.department == self.case.department

    @property
    def urgency_ok(self) -> bool:
        return self.decision.urgency == self.case.urgency


@dataclass
class Report:
    outcomes: list[Outcome]

    def _share(self, hits: int, total: int) -> float:
        return hits / total if total else 1.0

    @property
    def red_flag_cases(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.case.is_red]

    @property
    def red_flag_recall(self) -> float:
        cases = self.red_flag_cases
        return self._share(sum(o.decision.urgency == 1 for o in cases), len(cases))

    @property
    def red_flag_precision(self) -> float:
        given = [o for o in self.outcomes if o.decision.urgency == 1]
        return self._share(sum(o.case.is_red for o in given), len(given))

    @property
    def overall(self) -> Slice:
        return Slice.of(self.outcomes)

    def sliced(self, key: str) -> dict[str, Slice]:
        """Figures by one attribute of the case: lang, category, group, speaker or kind."""
        buckets: dict[str, list[Outcome]] = {}
        for o in self.outcomes:
            buckets.setdefault(getattr(o.case, key) or "-", []).append(o)
        order = {"group": GROUPS, "speaker": SPEAKERS}.get(key, ())
        names = [n for n in order if n in buckets] + sorted(set(buckets) - set(order))
        return {n: Slice.of(buckets[n]) for n in names}

    def has(self, key: str) -> bool:
        return any(getattr(o.case, key) for o in self.outcomes)

    @property
    def department_accuracy(self) -> float:
        return self._share(sum(o.department_ok for o in self.outcomes), len(self.outcomes))

    @property
    def urgency_accuracy(self) -> float:
        return self._share(sum(o.urgency_ok for o in self.outcomes), len(self.outcomes))

    @property
    def under_triaged(self) -> list[Outcome]:
        """Given a less urgent level than labelled: the dangerous direction."""
        return [o for o in self.outcomes if o.decision.urgency > o.case.urgency]

    @property
    def over_triaged(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.decision.urgency < o.case.urgency]

    def passes(self, recall_bar: float = RED_FLAG_RECALL_BAR,
               accuracy_bar: float = DEPARTMENT_ACCURACY_BAR) -> bool:
        return self.red_flag_recall >= recall_bar and self.department_accuracy >= accuracy_bar

    def confusion(self) -> Counter[tuple[str, str]]:
        """(expected, given) department -> count."""
        return Counter((o.case.department, o.decision.department) for o in self.outcomes)

    def by_tag(self) -> dict[str, tuple[int, int]]:
        """tag -> (department right, cases)."""
        out: dict[str, list[int]] = {}
        for o in self.outcomes:
            for tag in o.case.tags:
                out.setdefault(tag, [0, 0])
                out[tag][0] += o.department_ok and o.urgency_ok
                out[tag][1] += 1
        return {t: (a, b) for t, (a, b) in sorted(out.items())}

    def summary(self) -> dict[str, Any]:
        return {
            "cases": len(self.outcomes),
            "red_flag_cases": len(self.red_flag_cases),
            "red_flag_recall": round(self.red_flag_recall, 4),
            "red_flag_precision": round(self.red_flag_precision, 4),
            "department_accuracy": round(self.department_accuracy, 4),
            "urgency_accuracy": round(self.urgency_accuracy, 4),
            "under_triaged": len(self.under_triaged),
            "over_triaged": len(self.over_triaged),
            "languages": dict(Counter(o.case.lang for o in self.outcomes)),
            "overall": self.overall.as_dict(),
            "by_language": {k: v.as_dict() for k, v in self.sliced("lang").items()},
            "by_category": {k: v.as_dict() for k, v in self.sliced("category").items()},
            "fairness": {key: {k: v.as_dict() for k, v in self.sliced(key).items()}
                         for key in ("lang", "group", "speaker") if self.has(key)},
            "misses": [miss_dict(o.case, o.decision) for o in self.outcomes
                       if not (o.department_ok and o.urgency_ok)],
        }


def miss_dict(case: Case, decision: TriageDecision) -> dict[str, Any]:
    return {"line": case.line, "text": case.text, "lang": case.lang,
            "expected": [case.urgency, case.department],
            "given": [decision.urgency, decision.department],
            "reasons": decision.reasons}


def _read_jsonl(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelError(f"{path}:{n}: not JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise LabelError(f"{path}:{n}: expected a JSON object")
        yield n, row


def load_cases(path: Path) -> list[Case]:
    cases = []
    for n, row in _read_jsonl(path):
        missing = [k for k in ("text", "lang", "urgency", "department") if k not in row]
        if missing:
            raise LabelError(f"{path}:{n}: missing {', '.join(missing)}")
        if row["urgency"] not in (1, 2, 3, 4):
            raise LabelError(f"{path}:{n}: urgency must be 1-4, got {row['urgency']!r}")
        red = row.get("red_flag")
        if red is not None and not isinstance(red, bool):
            raise LabelError(f"{path}:{n}: red_flag must be true or false, got {red!r}")
        group, speaker = str(row.get("group") or ""), str(row.get("speaker") or "")
        if group and group not in GROUPS:
            raise LabelError(f"{path}:{n}: group must be one of {', '.join(GROUPS)}, "
                             f"got {group!r}")
        if speaker and speaker not in SPEAKERS:
            raise LabelError(f"{path}:{n}: speaker must be self or relative, got {speaker!r}")
        tags = tuple(row.get("tags", ()))
        case = Case(str(row["text"]), str(row["lang"]), int(row["urgency"]),
                    str(row["department"]), tags, dict(row.get("context") or {}), n,
                    red, "", group, speaker)
        category = str(row.get("category") or "") or next(
            (t for t in tags if t != "red_flag"), case.kind)
        cases.append(Case(case.text, case.lang, case.urgency, case.department, tags,
                          case.context, n, red, category, group, speaker))
    return cases


def evaluate(triager: Triager, cases: list[Case]) -> Report:
    return Report([Outcome(c, triager.decide(c.text, c.lang, dict(c.context))) for c in cases])


# --- review: engine versus agents ---------------------------------------------------

@dataclass(frozen=True)
class Disagreement:
    case: Case  # the agent's disposition, as a labelled case
    decision: TriageDecision

    @property
    def kind(self) -> str:
        if self.case.urgency == 1 and self.decision.urgency > 1:
            return "missed red flag"
        if self.decision.urgency > self.case.urgency:
            return "under-triaged"
        if self.decision.department != self.case.department:
            return "wrong department"
        return "over-triaged"


def load_dispositions(path: Path) -> list[Case]:
    """Agents' final dispositions: {transcript, lang, agent_department, agent_urgency}."""
    cases = []
    for n, row in _read_jsonl(path):
        missing = [k for k in ("transcript", "lang", "agent_department", "agent_urgency")
                   if k not in row]
        if missing:
            raise LabelError(f"{path}:{n}: missing {', '.join(missing)}")
        cases.append(Case(str(row["transcript"]), str(row["lang"]), int(row["agent_urgency"]),
                          str(row["agent_department"]), (), dict(row.get("context") or {}), n))
    return cases


def review(triager: Triager, dispositions: list[Case]) -> list[Disagreement]:
    """Calls where the engine and the agent disagreed, most dangerous first."""
    order = {"missed red flag": 0, "under-triaged": 1, "wrong department": 2, "over-triaged": 3}
    out = []
    for case in dispositions:
        d = triager.decide(case.text, case.lang, dict(case.context))
        if d.urgency != case.urgency or d.department != case.department:
            out.append(Disagreement(case, d))
    return sorted(out, key=lambda x: (order[x.kind], x.case.line))


_EDGE_ZH = frozenset("我你他她它的了得很说就还也都有在是吗呢吧啊呀爸妈又和跟把被给")
_STOP_EN = frozenset("""a an the i i'm im my me you your he she his her it its is am are was were be
been being have has had do does did to of in on at for and or but so just really very
now today yesterday this that there here with about from what when how can could would
should will please hello hi doctor nurse calling call think feel feels felt got get getting
keep keeps kind sort bit like again""".split())


def _grams(text: str) -> set[str]:
    """Candidate phrases in one transcript: 2-6 character runs (Chinese) or 2-4 word runs
    (English) that neither start nor end with a filler."""
    out: set[str] = set()
    for clause in normalise(text).split(BOUNDARY):
        if re.search("[\u4e00-\u9fff]", clause):
            chars = clause.replace(" ", "")
            for size in range(2, 7):
                for i in range(len(chars) - size + 1):
                    gram = chars[i:i + size]
                    if gram[0] not in _EDGE_ZH and gram[-1] not in _EDGE_ZH:
                        out.add(gram)
            continue
        words = clause.split()
        for size in (2, 3, 4):
            for i in range(len(words) - size + 1):
                gram = words[i:i + size]
                if gram[0] not in _STOP_EN and gram[-1] not in _STOP_EN:
                    out.add(" ".join(gram))
    return out


def suggest_phrases(transcripts: list[str], known: Iterable[str] = (), limit: int = 5
                    ) -> list[tuple[str, int]]:
    """Phrases to consider adding, with how many transcripts say them: those an agent
    placed the same way share them. Known phrases are left out, and a phrase inside a
    longer one said as often is folded into it ("gave way" into "knee gave way")."""
    known_norm = {normalise(k) for k in known}
    counts: Counter[str] = Counter()
    for text in transcripts:
        counts.update(g for g in _grams(text) if g not in known_norm)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))
    out: list[tuple[str, int]] = []
    for gram, n in ranked:
        if any(gram in kept and n == kept_n for kept, kept_n in out):
            continue
        out = [(k, kn) for k, kn in out if not (k in gram and kn == n)] + [(gram, n)]
        if len(out) == limit:
            break
    return out
