"""Load and validate ``triage_rules.yaml``: every finding at once, with file:line.

The file is owned by clinicians, so a mistake must point at its line the way
``ivr validate`` does for flows::

    triage_rules.yaml:212:5: error[TRI107] combination 'fever_with_stiff_neck': unknown entry
    'stiff_nek' (did you mean 'stiff_neck'?)

Codes are stable (tests and scripts rely on them):

    TRI001 YAML syntax              TRI105 bad phrase (empty, only '*', punctuation)
    TRI002 duplicate YAML key       TRI106 the same phrase under two entries
    TRI100 unknown key              TRI107 unknown entry, group or fact referenced
    TRI101 missing key              TRI108 the same id in two sections
    TRI102 wrong value or type      TRI109 a red flag or crisis entry lacks zh or en phrases
    TRI103 unknown or missing department
    TRI104 unknown language
    TRI003 over a reading bound (bytes, nodes with aliases expanded, nesting), or not UTF-8

Reading is bounded, since the running engine reloads the file whenever it
changes: by ``ivr.flows.yaml_bounds``, the bounds of every YAML file the engine
reads (``MAX_BYTES``; ``MAX_NODES`` YAML nodes counted with every alias expanded,
so a "billion laughs" file is refused after one pass over its events, before
anything is built; nested at most ``MAX_DEPTH`` deep).
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from ivr.departments import DEPARTMENTS
from ivr.flows import yaml_bounds
from ivr.flows.diagnostics import Diagnostic
from ivr.flows.yaml_bounds import MAX_BYTES as MAX_BYTES  # re-exported: tests, reloader
from ivr.flows.yaml_bounds import MAX_DEPTH as MAX_DEPTH
from ivr.flows.yaml_bounds import MAX_NODES as MAX_NODES
from ivr.flows.yaml_bounds import YAMLBoundsError
from ivr.flows.yaml_source import Source, load_source
from ivr.triage.phrases import parse

RULES_PATH = Path(__file__).resolve().parents[2] / "triage_rules.yaml"
AGE_GROUPS = ("young_infant", "infant", "child", "elderly")
# Facts the engine works out from numbers said, for combinations to name.
PRETERM = "preterm"  # a pregnancy said to be under policy.preterm_under_weeks (37)
DERIVED = (*AGE_GROUPS, PRETERM)
LEVELS = (1, 2, 3, 4)
_ID = re.compile(r"^[a-z][a-z0-9_]*$")

# Entry kinds, in the order a decision considers them.
RED_FLAG, CRISIS, SYMPTOM = "red_flag", "crisis", "symptom"
MODIFIER, REQUEST = "modifier", "request"
_SECTIONS = {"red_flags": RED_FLAG, "crisis": CRISIS, "symptoms": SYMPTOM, "modifiers": MODIFIER,
             "requests": REQUEST}
_TOP = {"version", "updated", "owner", "languages", "levels", "policy", "matching", "departments",
        *_SECTIONS, "combinations", "negation"}
_TOP_REQUIRED = {"version", "languages", "levels", "policy", "departments", "red_flags", "crisis",
                 "symptoms", "requests"}


@dataclass(frozen=True)
class Level:
    number: int
    name: str
    queue_priority: int
    action: str


@dataclass(frozen=True)
class Entry:
    """One red flag, crisis, symptom, modifier or request, with its phrases per language."""

    id: str
    kind: str
    phrases: dict[str, tuple[str, ...]]
    urgency: int | None = None
    department: str | None = None
    unless: dict[str, tuple[str, ...]] = field(default_factory=dict)
    negatable: bool = True
    condition: bool = False
    age_group: str | None = None
    note: str = ""
    line: int = 0
    # modifier ids whose phrases are joined, in one clause, into this entry's phrases
    # (body site x sensation): [[site_chest, quality_cardiac]]
    compose: tuple[tuple[str, ...], ...] = ()
    # a modifier naming a vital function (breathing, consciousness, bleeding, colour,
    # responsiveness): an unplaced clinical call with one goes to a clinician
    vital: str | None = None


VITALS = ("breathing", "consciousness", "bleeding", "colour", "responsiveness")


@dataclass(frozen=True)
class Combination:
    id: str
    all: tuple[str, ...]
    any: tuple[str, ...]
    urgency: int
    department: str | None = None
    lasting_over_hours: float | None = None
    note: str = ""
    line: int = 0


@dataclass(frozen=True)
class Negation:
    window: int
    before: tuple[str, ...]
    before_short: tuple[str, ...]
    after: tuple[str, ...]
    not_negation: tuple[str, ...]
    scope_ends: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    unrecognised_urgency: int = 3
    unrecognised_department: str = "general_medicine"
    low_confidence_below: float = 0.6
    repeat_calls_at_least: int = 2
    repeat_raise: int = 1
    acoustic_raise_at: float = 0.7
    acoustic_ask_safety_at: float = 0.5
    acoustic_raise: int = 1
    young_infant_under_months: float = 3
    infant_under_months: float = 12
    child_under_years: float = 16
    elderly_from_years: float = 75
    temperature: tuple[tuple[float, str], ...] = ()
    patient_departments: tuple[tuple[str, str], ...] = ()
    requests_first: tuple[str, ...] = ()
    # a clinical call left at routine (or unplaced) that names a vital function
    vital_sign_urgency: int = 2


@dataclass(frozen=True)
class Rules:
    version: int
    path: str
    languages: tuple[str, ...]
    levels: dict[int, Level]
    departments: dict[str, str]
    entries: dict[str, Entry]
    combinations: tuple[Combination, ...]
    negation: dict[str, Negation]
    policy: Policy
    gap_words: int = 3
    gap_chars: int = 5
    medicine_words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # recogniser errors: misheard words -> meant, per language ("chess pain")
    heard_as: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    # long-ago markers: a red flag said right next to one is history ("stroke last spring")
    history: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Chinese phrases also matched by sound (toneless pinyin): 凶口痛 = 胸口痛
    pinyin: bool = False
    updated: str = ""
    owner: str = ""

    def queue_priority(self, level: int) -> int:
        return self.levels[level].queue_priority

    def facts(self) -> set[str]:
        """Names a combination or policy may refer to: entry ids and age groups."""
        return set(self.entries) | set(DERIVED)


class RulesError(ValueError):
    """The rules file failed validation; carries every finding."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class _Checker:
    """Reads the YAML tree, recording a positioned diagnostic for every problem."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.diags: list[Diagnostic] = []

    def error(self, path: tuple[Any, ...], code: str, message: str,
              severity: str = "error") -> None:
        line, col = self.src.where(path)
        self.diags.append(Diagnostic(self.src.file, line, col, code, message, severity,
                                     tuple(str(p) for p in path)))

    def get(self, path: tuple[Any, ...]) -> Any:
        node: Any = self.src.data
        for key in path:
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and key < len(node):
                node = node[key]
            else:
                return None
        return node

    def mapping(self, path: tuple[Any, ...], allowed: Iterable[str],
                required: Iterable[str] = ()) -> dict[str, Any]:
        node = self.get(path)
        what = "/".join(map(str, path)) or "the file"
        if not isinstance(node, dict):
            self.error(path, "TRI102", f"{what}: expected a mapping")
            return {}
        allowed = set(allowed)
        for key in node:
            if key not in allowed:
                self.error((*path, key), "TRI100",
                           f"{what}: unknown key '{key}'{_suggest(key, allowed)}")
        for key in required:
            if key not in node:
                self.error(path, "TRI101", f"{what}: missing key '{key}'")
        return node

    def number(self, path: tuple[Any, ...], kind: type, lo: float | None = None,
               hi: float | None = None, default: Any = None) -> Any:
        value = self.get(path)
        if value is None:
            return default
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
            kind is float or isinstance(value, int))
        if not ok or (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f" between {lo} and {hi}" if lo is not None and hi is not None else ""
            self.error(path, "TRI102", f"{'/'.join(map(str, path))}: expected a "
                       f"{'whole number' if kind is int else 'number'}{bounds}, got {value!r}")
            return default
        return kind(value)

    def string(self, path: tuple[Any, ...], default: str = "") -> str:
        value = self.get(path)
        if value is None:
            return default
        if not isinstance(value, str):
            self.error(path, "TRI102", f"{'/'.join(map(str, path))}: expected text, got {value!r}")
            return default
        return value

    def strings(self, path: tuple[Any, ...]) -> tuple[str, ...]:
        value = self.get(path)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.error(path, "TRI102", f"{'/'.join(map(str, path))}: expected a list")
            return ()
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str) and item.strip():
                out.append(item)
            else:
                self.error((*path, i), "TRI105", f"{'/'.join(map(str, path))}: bad phrase "
                           f"{item!r} (phrases are non-empty text; quote yes/no/numbers)")
        return tuple(out)

    def department(self, path: tuple[Any, ...], departments: Iterable[str]) -> str | None:
        value = self.get(path)
        if value is None:
            return None
        if value not in set(departments):
            self.error(path, "TRI103", f"unknown department '{value}'"
                       f"{_suggest(str(value), departments)}")
            return None
        return str(value)


def _looks_like_language(key: object) -> bool:
    return isinstance(key, str) and len(key) == 2 and key.isalpha() and key.islower()


def _suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name), list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _levels(c: _Checker) -> dict[int, Level]:
    # YAML keys 1..4 arrive as text: positions are kept per key as written.
    node = c.mapping(("levels",), [str(n) for n in LEVELS], [str(n) for n in LEVELS])
    levels: dict[int, Level] = {}
    for n in LEVELS:
        key = str(n)
        if key not in node:
            continue
        c.mapping(("levels", key), ("name", "queue_priority", "action"), ("name", "queue_priority"))
        levels[n] = Level(n, c.string(("levels", key, "name")),
                          c.number(("levels", key, "queue_priority"), int, 1, 10, 1),
                          c.string(("levels", key, "action")))
    prios = [levels[n].queue_priority for n in LEVELS if n in levels]
    if any(a <= b for a, b in itertools.pairwise(prios)):
        c.error(("levels",), "TRI102", "levels: queue_priority must fall from level 1 to 4 "
                "(a more urgent caller is answered first)")
    return levels


def _phrases(c: _Checker, path: tuple[Any, ...], node: dict[str, Any],
             languages: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for lang in languages:
        if lang in node:
            phrases = c.strings((*path, lang))
            for i, phrase in enumerate(phrases):
                if problem := parse(phrase).problem():
                    c.error((*path, lang, i), "TRI105", f"bad phrase {phrase!r}: {problem}")
            out[lang] = phrases
    return out


def _entries(c: _Checker, languages: tuple[str, ...], departments: dict[str, str]
             ) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    seen_phrase: dict[str, tuple[str, tuple[Any, ...]]] = {}
    for section, kind in _SECTIONS.items():
        node = c.get((section,))
        if node is None:
            continue
        if not isinstance(node, dict):
            c.error((section,), "TRI102", f"{section}: expected a mapping of entries")
            continue
        for eid, body in node.items():
            path = (section, eid)
            if not _ID.match(str(eid)):
                c.error(path, "TRI102", f"{section}: id '{eid}' must match ^[a-z][a-z0-9_]*$")
            if kind == REQUEST and eid not in departments:
                c.error(path, "TRI103", f"requests: '{eid}' is not a department"
                        f"{_suggest(str(eid), departments)}")
            allowed = {*languages, "unless", "note"}
            allowed |= {"urgency", "department", "condition"} if kind == SYMPTOM else set()
            allowed |= {"negatable"} if kind in (CRISIS, RED_FLAG) else set()
            allowed |= {"compose"} if kind in (CRISIS, RED_FLAG, SYMPTOM) else set()
            allowed |= {"age_group", "vital"} if kind == MODIFIER else set()
            required = {"urgency", "department"} if kind == SYMPTOM else set()
            if isinstance(body, dict):  # other languages are reported once, as TRI104
                allowed |= {k for k in body if _looks_like_language(k)}
            body = c.mapping(path, allowed, required)
            phrases = _phrases(c, path, body, languages)
            compose = tuple(tuple(str(x) for x in part) for part in body.get("compose") or ()
                            if isinstance(part, list))
            if not any(phrases.values()) and not compose:
                c.error(path, "TRI101", f"{section}/{eid}: no phrases in any language")
            if kind in (RED_FLAG, CRISIS):
                for lang in ("zh", "en"):
                    if lang in languages and not phrases.get(lang):
                        c.error(path, "TRI109", f"{section}/{eid}: no '{lang}' phrases "
                                "(red flags and crisis talk need Mandarin and English)")
            unless: dict[str, tuple[str, ...]] = {}
            if "unless" in body:
                c.mapping((*path, "unless"), languages)
                unless = _phrases(c, (*path, "unless"), body.get("unless") or {}, languages)
            urgency = c.number((*path, "urgency"), int, 2, 3) if kind == SYMPTOM else None
            vital = c.string((*path, "vital")) or None
            if vital and vital not in VITALS:
                c.error((*path, "vital"), "TRI102", f"vital '{vital}' is not one of "
                        f"{', '.join(VITALS)}")
            age_group = c.string((*path, "age_group")) or None
            if age_group and age_group not in AGE_GROUPS:
                c.error((*path, "age_group"), "TRI102", f"age_group '{age_group}' is not one of "
                        f"{', '.join(AGE_GROUPS)}")
                age_group = None
            if eid in entries:
                c.error(path, "TRI108", f"id '{eid}' is also used in another section")
            elif eid in AGE_GROUPS and age_group != eid:
                c.error(path, "TRI108", f"id '{eid}' is the name of an age group")
            entries[eid] = Entry(
                id=eid, kind=kind, phrases=phrases, urgency=urgency,
                department=(c.department((*path, "department"), departments) if kind == SYMPTOM
                            else eid if kind == REQUEST else None),
                unless=unless, negatable=bool(body.get("negatable", True)),
                condition=bool(body.get("condition", False)), age_group=age_group,
                note=c.string((*path, "note")), line=c.src.where(path)[0],
                compose=compose, vital=vital)
            # A modifier (how, who) may share words with a complaint (what): 高烧 is both
            # a fever and a high one. Two complaints, or two modifiers, may not.
            dimension = "modifier" if kind == MODIFIER else "complaint"
            for lang, items in phrases.items():
                for i, phrase in enumerate(items):
                    key = f"{dimension}:{parse(phrase).key}"
                    if key in seen_phrase and seen_phrase[key][0] != eid:
                        other = seen_phrase[key][0]
                        c.error((*path, lang, i), "TRI106", f"phrase {phrase!r} is listed under "
                                f"'{eid}' and '{other}': one meaning per phrase")
                    seen_phrase.setdefault(key, (eid, (*path, lang, i)))
    return _composed(c, entries, languages)


def _composed(c: _Checker, entries: dict[str, Entry], languages: tuple[str, ...]
              ) -> dict[str, Entry]:
    """Expand ``compose``: each sequence of modifiers becomes the phrases joined by a gap
    (``胸口*沉``, ``chest * heavy``); a pair also in the other order (``pressure * chest``)."""
    out = dict(entries)
    for eid, entry in entries.items():
        if not entry.compose:
            continue
        phrases = {lang: list(ps) for lang, ps in entry.phrases.items()}
        for i, seq in enumerate(entry.compose):
            unknown = [m for m in seq if m not in entries or entries[m].kind != MODIFIER]
            if unknown or len(seq) < 2:
                c.error((_section_of(entry.kind), eid, "compose", i), "TRI107",
                        f"{eid}: compose needs two or more modifiers, unknown: "
                        f"{', '.join(unknown) or '-'}")
                continue
            orders = [seq, seq[::-1]] if len(seq) == 2 else [seq]
            for lang in languages:
                lists = [entries[m].phrases.get(lang, ()) for m in seq]
                if not all(lists):
                    continue
                joint = "*" if lang in ("zh", "ko") else " * "
                have = set(phrases.setdefault(lang, []))
                for order in orders:
                    for combo in itertools.product(*[entries[m].phrases[lang] for m in order]):
                        phrase = joint.join(combo)
                        if phrase not in have:
                            have.add(phrase)
                            phrases[lang].append(phrase)
        out[eid] = replace(entry, phrases={k: tuple(v) for k, v in phrases.items()})
    return out


def _section_of(kind: str) -> str:
    return next(s for s, k in _SECTIONS.items() if k == kind)


def _combinations(c: _Checker, facts: set[str], departments: dict[str, str]
                  ) -> tuple[Combination, ...]:
    node = c.get(("combinations",)) or {}
    if not isinstance(node, dict):
        c.error(("combinations",), "TRI102", "combinations: expected a mapping")
        return ()
    out = []
    for cid, _ in node.items():
        path = ("combinations", cid)
        c.mapping(path, ("all", "any", "urgency", "department", "lasting_over_hours", "note"),
                  ("all", "urgency"))
        names: dict[str, tuple[str, ...]] = {}
        for key in ("all", "any"):
            names[key] = c.strings((*path, key))
            for i, name in enumerate(names[key]):
                if name not in facts:
                    c.error((*path, key, i), "TRI107", f"combination '{cid}': unknown entry "
                            f"'{name}'{_suggest(name, facts)}")
        out.append(Combination(
            id=cid, all=names["all"], any=names["any"],
            urgency=c.number((*path, "urgency"), int, 1, 3, 3),
            department=c.department((*path, "department"), departments),
            lasting_over_hours=c.number((*path, "lasting_over_hours"), float, 0, None),
            note=c.string((*path, "note")), line=c.src.where(path)[0]))
    return tuple(out)


def _policy(c: _Checker, facts: set[str], departments: dict[str, str],
            requests: set[str]) -> Policy:
    p = ("policy",)
    c.mapping(p, ("unrecognised", "low_confidence_below", "repeat_caller", "acoustic", "age",
                  "temperature", "patient_departments", "requests_first", "vital_sign_urgency"))
    for key, allowed, required in (
            ("unrecognised", ("urgency", "department"), ("urgency", "department")),
            ("repeat_caller", ("calls_24h_at_least", "raise"), ()),
            ("acoustic", ("raise_at", "ask_safety_at", "raise"), ()),
            ("age", ("young_infant_under_months", "infant_under_months", "child_under_years",
                     "elderly_from_years"), ())):
        if c.get((*p, key)) is not None:  # each part is optional: defaults apply
            c.mapping((*p, key), allowed, required)
    temps = []
    for i, _ in enumerate(c.get((*p, "temperature")) or []):
        c.mapping((*p, "temperature", i), ("from", "sets"), ("from", "sets"))
        sets = c.string((*p, "temperature", i, "sets"))
        if sets not in facts:
            c.error((*p, "temperature", i, "sets"), "TRI107",
                    f"policy temperature: unknown entry '{sets}'{_suggest(sets, facts)}")
        temps.append((c.number((*p, "temperature", i, "from"), float, 34, 44, 38.0), sets))
    groups = []
    for i, _ in enumerate(c.get((*p, "patient_departments")) or []):
        c.mapping((*p, "patient_departments", i), ("group", "department"), ("group", "department"))
        group = c.string((*p, "patient_departments", i, "group"))
        if group not in facts:
            c.error((*p, "patient_departments", i, "group"), "TRI107",
                    f"policy patient_departments: unknown group '{group}'{_suggest(group, facts)}")
        dept = c.department((*p, "patient_departments", i, "department"), departments)
        groups.append((group, dept or "general_medicine"))
    first = c.strings((*p, "requests_first"))
    for i, name in enumerate(first):
        if name not in requests:
            c.error((*p, "requests_first", i), "TRI107", f"policy requests_first: '{name}' is "
                    f"not an entry of requests{_suggest(name, requests)}")
    d = Policy()
    return Policy(
        requests_first=first,
        unrecognised_urgency=c.number((*p, "unrecognised", "urgency"), int, 1, 3,
                                      d.unrecognised_urgency),
        unrecognised_department=c.department((*p, "unrecognised", "department"), departments)
        or d.unrecognised_department,
        low_confidence_below=c.number((*p, "low_confidence_below"), float, 0, 1,
                                      d.low_confidence_below),
        repeat_calls_at_least=c.number((*p, "repeat_caller", "calls_24h_at_least"), int, 1, 100,
                                       d.repeat_calls_at_least),
        repeat_raise=c.number((*p, "repeat_caller", "raise"), int, 0, 3, d.repeat_raise),
        acoustic_raise_at=c.number((*p, "acoustic", "raise_at"), float, 0, 1, d.acoustic_raise_at),
        acoustic_ask_safety_at=c.number((*p, "acoustic", "ask_safety_at"), float, 0, 1,
                                        d.acoustic_ask_safety_at),
        acoustic_raise=c.number((*p, "acoustic", "raise"), int, 0, 3, d.acoustic_raise),
        young_infant_under_months=c.number((*p, "age", "young_infant_under_months"), float, 0, 24,
                                           d.young_infant_under_months),
        infant_under_months=c.number((*p, "age", "infant_under_months"), float, 0, 36,
                                     d.infant_under_months),
        child_under_years=c.number((*p, "age", "child_under_years"), float, 1, 21,
                                   d.child_under_years),
        elderly_from_years=c.number((*p, "age", "elderly_from_years"), float, 50, 120,
                                    d.elderly_from_years),
        temperature=tuple(sorted(temps)),
        patient_departments=tuple(groups),
        vital_sign_urgency=c.number((*p, "vital_sign_urgency"), int, 1, 3,
                                    d.vital_sign_urgency))


def _negation(c: _Checker, languages: tuple[str, ...]) -> dict[str, Negation]:
    node = c.mapping(("negation",), languages) if c.get(("negation",)) is not None else {}
    out = {}
    for lang in node:
        if lang not in languages:
            continue
        path = ("negation", lang)
        c.mapping(path, ("window", "before", "before_short", "after", "not_negation",
                         "scope_ends"), ("window",))
        out[lang] = Negation(window=c.number((*path, "window"), int, 0, 20, 4),
                             before=c.strings((*path, "before")),
                             before_short=c.strings((*path, "before_short")),
                             after=c.strings((*path, "after")),
                             not_negation=c.strings((*path, "not_negation")),
                             scope_ends=c.strings((*path, "scope_ends")))
    return out


def _departments(c: _Checker) -> dict[str, str]:
    node = c.get(("departments",))
    if not isinstance(node, dict):
        c.error(("departments",), "TRI102", "departments: expected a mapping of id: description")
        return {d: "" for d in DEPARTMENTS}
    for dept in node:
        if dept not in DEPARTMENTS:
            c.error(("departments", dept), "TRI103", f"department '{dept}' is not a queue of "
                    f"ivr/departments.py{_suggest(str(dept), DEPARTMENTS)}")
    for dept in DEPARTMENTS:
        if dept not in node:
            c.error(("departments",), "TRI103", f"department '{dept}' of ivr/departments.py "
                    "is missing")
    return {d: str(node.get(d) or "") for d in DEPARTMENTS}


def check_source(src: Source) -> tuple[Rules | None, list[Diagnostic]]:
    """Validate parsed rules; the Rules only when there is no error."""
    c = _Checker(src)
    for path, line, col in src.duplicates:
        c.diags.append(Diagnostic(src.file, line, col, "TRI002",
                                  f"duplicate key '{path[-1]}' (the second would silently win)"))
    c.mapping((), _TOP, _TOP_REQUIRED)
    languages = c.strings(("languages",)) or ("zh", "en")
    for lang in ("zh", "en"):
        if lang not in languages:
            c.error(("languages",), "TRI104", f"languages: '{lang}' is required")
    version = c.number(("version",), int, 1, None, 0)
    levels = _levels(c)
    departments = _departments(c)
    entries = _entries(c, languages, departments)
    for section in _SECTIONS:
        node = c.get((section,))
        for eid, body in (node or {}).items() if isinstance(node, dict) else ():
            for key in (body or {}) if isinstance(body, dict) else ():
                if _looks_like_language(key) and key not in languages:
                    c.error((section, eid, key), "TRI104",
                            f"unknown language '{key}' (declared: {', '.join(languages)})")
    facts = set(entries) | set(DERIVED)
    combinations = _combinations(c, facts, departments)
    policy = _policy(c, facts, departments,
                     {e.id for e in entries.values() if e.kind == REQUEST})
    negation = _negation(c, languages)
    matching = c.mapping(("matching",), ("gap_words", "gap_chars", "medicine_words",
                                         "heard_as", "pinyin", "history")) \
        if c.get(("matching",)) is not None else {}
    heard: dict[str, tuple[tuple[str, str], ...]] = {}
    if "heard_as" in matching:
        c.mapping(("matching", "heard_as"), languages)
        for lang, pairs in (matching["heard_as"] or {}).items():
            if not isinstance(pairs, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in pairs.items()):
                c.error(("matching", "heard_as", lang), "TRI102",
                        "matching heard_as: expected a mapping of misheard: meant words")
                continue
            heard[str(lang)] = tuple(sorted(pairs.items(), key=lambda kv: -len(kv[0])))
    medicine = {}
    if "medicine_words" in matching:
        c.mapping(("matching", "medicine_words"), languages)
        medicine = _phrases(c, ("matching", "medicine_words"), matching["medicine_words"] or {},
                            languages)
    history: dict[str, tuple[str, ...]] = {}
    if "history" in matching:
        c.mapping(("matching", "history"), languages)
        for lang in (matching["history"] or {}):
            if lang in languages:
                history[str(lang)] = c.strings(("matching", "history", lang))
    if any(d.severity == "error" for d in c.diags):
        return None, sorted(c.diags)
    rules = Rules(version=version, path=src.file, languages=languages, levels=levels,
                  departments=departments, entries=entries, combinations=combinations,
                  negation=negation, policy=policy,
                  gap_words=c.number(("matching", "gap_words"), int, 0, 10, 3),
                  gap_chars=c.number(("matching", "gap_chars"), int, 0, 20, 5),
                  medicine_words=medicine, heard_as=heard, history=history,
                  pinyin=bool(matching.get("pinyin", False)),
                  updated=str(c.get(("updated",)) or ""),
                  owner=c.string(("owner",)))
    return rules, sorted(c.diags)


def parse_bounded(text: str, file: str, prefix: str = "TRI", max_nodes: int = MAX_NODES
                  ) -> tuple[Source | None, list[Diagnostic]]:
    """YAML with positions, within the size and alias bounds: the source, or the
    finding (``<prefix>003`` out of bounds, ``<prefix>001`` syntax). Shared by every
    clinician-owned file (rules, protocols)."""
    try:
        return load_source(text, file, max_nodes), []
    except YAMLBoundsError as exc:
        return None, [_bound(exc, file, prefix)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, [Diagnostic(file, line, col, f"{prefix}001", f"YAML syntax: {exc.problem}")]
    except yaml.YAMLError as exc:
        return None, [Diagnostic(file, 1, 1, f"{prefix}001", f"YAML syntax: {exc}")]


def check_text(text: str, file: str) -> tuple[Rules | None, list[Diagnostic]]:
    src, found = parse_bounded(text, file)
    if src is None:
        return None, found
    if not isinstance(src.data, dict):
        return None, [Diagnostic(file, 1, 1, "TRI102", "the rules file must be a mapping")]
    return check_source(src)


def _bound(exc: YAMLBoundsError, file: str, prefix: str) -> Diagnostic:
    mark = exc.problem_mark
    return Diagnostic(file, mark.line + 1, mark.column + 1, f"{prefix}003", str(exc.problem))


def read_bounded(path: Path) -> str | Diagnostic:
    """The file's text, reading at most ``MAX_BYTES`` + 1 bytes (a file growing while it
    is read, or ``/dev/zero``, cannot make this unbounded); a Diagnostic (TRI003) if too
    large or not UTF-8. OSError (missing, unreadable) propagates."""
    try:
        return yaml_bounds.read_text(path)
    except YAMLBoundsError as exc:
        return _bound(exc, str(path), "TRI")


def check_file(path: Path) -> tuple[Rules | None, list[Diagnostic]]:
    text = read_bounded(path)
    if isinstance(text, Diagnostic):
        return None, [text]
    return check_text(text, str(path))


_CACHE: dict[tuple[str, int, int], Rules] = {}


def load_rules(path: Path | None = None) -> Rules:
    """Validated rules, cached per file version (flows build a triager per call)."""
    path = Path(path or RULES_PATH)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _CACHE:
        rules, diags = check_file(path)
        if rules is None:
            raise RulesError([d for d in diags if d.severity == "error"])
        _CACHE[key] = rules
    return _CACHE[key]
