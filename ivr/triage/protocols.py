"""Telephone-triage protocol questions (``triage_protocols.yaml``): symptom -> check -> decision.

When the rules find the words clinical but not decisive (urgency 2 or 3), a
``triage`` step asks the two to four discriminating questions of the protocol
for that complaint (chest discomfort: spreading to the arm or jaw? sweating?
short of breath?), answered yes or no by voice or key. The file is owned by
clinicians (each protocol has an owner, a version and a review date) and is
checked like the rules, every finding with ``file:line:col``::

    triage_protocols.yaml:74:11: error[PRO107] protocol 'chest_discomfort': unknown
    symptom 'heartbrun' (did you mean 'heartburn'?)

How answers count (``raised``): every question is worded so that yes is the
danger sign; yes, "not sure", silence and anything unrecognised count as yes
(doubt escalates) and raise the level to the question's ``raises_to`` (1 or
2); no keeps it. Answers raise, never lower.

Codes are stable (tests and scripts rely on them):

    PRO001 YAML syntax                    PRO104 a text missing in zh-CN or en-US, or an
    PRO002 duplicate YAML key                    unknown language
    PRO003 over a reading bound, not UTF-8 PRO106 a question id twice, or a phrase under
    PRO100 unknown key                           two answers
    PRO101 missing key                    PRO107 unknown symptom (or one that is a red flag)
    PRO102 wrong value or type            PRO108 a trigger department that is not a queue
    PRO103 a protocol with fewer than 2 or more than 4 questions
    PRO200 (warning) a protocol past its review date

Reading is bounded like the rules (``ivr.triage.rules``: bytes, YAML nodes with
aliases expanded, nesting), at most ``MAX_PROTOCOLS`` protocols.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ivr.departments import DEPARTMENTS
from ivr.flows.diagnostics import Diagnostic
from ivr.flows.yaml_source import Source
from ivr.triage.decision import QUEUE_PRIORITY, TriageDecision
from ivr.triage.last_good import LastGood
from ivr.triage.rules import RED_FLAG, SYMPTOM, Rules, parse_bounded, read_bounded

PROTOCOLS_FILE = "triage_protocols.yaml"
PROTOCOLS_PATH = Path(__file__).resolve().parents[2] / PROTOCOLS_FILE
MAX_PROTOCOLS = 100
MIN_QUESTIONS, MAX_QUESTIONS = 2, 4
LANGUAGES = ("zh-CN", "en-US", "ko-KR")
REQUIRED_LANGUAGES = ("zh-CN", "en-US")
ANSWERS = ("yes", "no", "unsure")
DANGER = ("yes", "unsure")  # doubt escalates: silence and the unrecognised are "unsure"
ASKED_AT = (2, 3)  # the urgencies a protocol is asked at: clinical, not decisive
YES_KEY, NO_KEY = "1", "2"
ID = r"^[a-z][a-z0-9_]*$"

Lang = Literal["zh-CN", "en-US", "ko-KR"]
Text = Annotated[str, Field(min_length=1, max_length=400)]
Phrase = Annotated[str, Field(min_length=1, max_length=60)]
Answer = Literal["yes", "no", "unsure"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Trigger(_Strict):
    """Asked when the decision's symptoms hold one of ``symptoms`` (and, if given, its
    department is one of ``departments``)."""

    symptoms: list[Annotated[str, Field(pattern=ID)]] = Field(min_length=1, max_length=50)
    departments: list[str] | None = Field(None, min_length=1)

    def matches(self, decision: TriageDecision) -> bool:
        if self.departments is not None and decision.department not in self.departments:
            return False
        return any(s in decision.symptoms for s in self.symptoms)


class Question(_Strict):
    """One yes/no question; yes is the danger sign and raises to ``raises_to``."""

    id: str = Field(pattern=ID)
    raises_to: Literal[1, 2] = Field(
        description="The level a danger answer (yes, not sure, silence) raises to: 1 the "
        "emergency team at once, 2 a clinician today.")
    ask: dict[Lang, Text]
    note: str | None = None


class Protocol(_Strict):
    id: str = Field("", pattern=r"^$|" + ID)  # filled from the mapping key
    title: str = Field(min_length=1)
    version: int = Field(ge=1)
    owner: str = Field(min_length=1)
    review_by: dt.date
    source: str | None = None
    when: list[Trigger] = Field(min_length=1, max_length=20)
    questions: list[Question]

    def triggered_by(self, decision: TriageDecision) -> bool:
        return decision.urgency in ASKED_AT and any(t.matches(decision) for t in self.when)


class ProtocolFile(_Strict):
    version: int = Field(ge=1)
    updated: str | None = None
    owner: str | None = None
    languages: list[Lang] = Field(default_factory=lambda: list(LANGUAGES))
    answers: dict[Answer, dict[Lang, list[Phrase]]]
    intro: dict[Lang, Text]
    protocols: dict[str, Protocol]


@dataclass(frozen=True)
class Protocols:
    """The validated file: the protocols in file order, the answer phrases, the intro."""

    path: str
    version: int
    protocols: tuple[Protocol, ...]
    answers: dict[str, dict[str, tuple[str, ...]]]  # answer -> lang -> phrases
    intro: dict[str, str]

    def for_decision(self, decision: TriageDecision) -> Protocol | None:
        """The first protocol (file order) a decision triggers; None at 1 or 4."""
        return next((p for p in self.protocols if p.triggered_by(decision)), None)

    def phrases(self, lang: str) -> list[str]:
        """What the recogniser should expect: every answer phrase, the call's language first."""
        order = [lang, *(x for x in LANGUAGES if x != lang)]
        return list(dict.fromkeys(p for x in order for a in ANSWERS
                                  for p in self.answers[a].get(x, ())))

    def hear(self, words: str, key: str = "") -> Answer | None:
        """The answer in a key or in words; None: nothing understood (ask again, then
        count it as unsure). Both yes and no said ("no... yes it does"): unsure."""
        if key:
            return "yes" if key == YES_KEY else "no" if key == NO_KEY else None
        return classify(words, self.answers)

    def question_text(self, question: Question, lang: str) -> str:
        return question.ask.get(lang) or question.ask["en-US"]  # type: ignore[index]

    def intro_text(self, lang: str) -> str:
        return self.intro.get(lang) or self.intro["en-US"]


# --- hearing an answer --------------------------------------------------------------

def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    return re.sub(r"[^\w']+", " ", text).strip()


def _is_cjk(ch: str) -> bool:
    return "\u3000" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" or "\uf900" <= ch <= "\ufaff"


def _spans(said: str, phrase: str) -> Iterator[tuple[int, int]]:
    """Where ``phrase`` occurs in ``said``: whole words for letters, anywhere for CJK."""
    phrase = _fold(phrase)
    if not phrase:
        return
    if all(_is_cjk(c) or c == " " for c in phrase):
        compact = phrase.replace(" ", "")
        flat = said.replace(" ", "")
        # map positions in the spaceless text back to ``said``
        index = [i for i, c in enumerate(said) if c != " "]
        for m in re.finditer(re.escape(compact), flat):
            yield index[m.start()], index[m.end() - 1] + 1
        return
    pattern = r"(?<![\w'])" + r"\s+".join(map(re.escape, phrase.split())) + r"(?![\w'])"
    for m in re.finditer(pattern, said):
        yield m.start(), m.end()


def classify(words: str, answers: dict[str, dict[str, tuple[str, ...]]]) -> Answer | None:
    """Longest phrases first, each span of the words used once (不是 is no, not 是)."""
    said = _fold(words)
    if not said:
        return None
    found = [(end - start, start, end, answer)
             for answer in ANSWERS for phrases in answers.get(answer, {}).values()
             for phrase in phrases for start, end in _spans(said, phrase)]
    taken: list[tuple[int, int]] = []
    heard: set[str] = set()
    for _length, start, end, answer in sorted(found, key=lambda f: (-f[0], f[1])):
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        heard.add(answer)
    if not heard:
        return None
    if "unsure" in heard or heard == {"yes", "no"}:
        return "unsure"
    return "yes" if "yes" in heard else "no"


# --- what answers do ------------------------------------------------------------------

def raised(level: int, question: Question, answer: str) -> int:
    """The level after one answer: a danger answer raises to ``raises_to``, nothing
    lowers (a level already more urgent stays)."""
    return min(level, question.raises_to) if answer in DANGER else level


def paths(protocol: Protocol, start: int) -> list[tuple[tuple[str, ...], int]]:
    """Every answer path from ``start`` (yes/no per question; a path stops once the level
    is 1, as the line does) with the level it ends at: the validator's proof."""
    out: list[tuple[tuple[str, ...], int]] = []

    def walk(i: int, level: int, said: tuple[str, ...]) -> None:
        if level == 1 or i == len(protocol.questions):
            out.append((said, level))
            return
        for answer in ("yes", "no"):
            walk(i + 1, raised(level, protocol.questions[i], answer), (*said, answer))

    walk(0, start, ())
    return out


def apply(decision: TriageDecision, protocol: Protocol, answered: Iterable[tuple[str, str]],
          rules: Rules | None = None) -> TriageDecision:
    """The decision after the answers ((question id, answer) pairs): raised, never
    lowered; at 1 the emergency department. Reasons say which answer raised it."""
    questions = {q.id: q for q in protocol.questions}
    level, reasons = decision.urgency, list(decision.reasons)
    for qid, answer in answered:
        new = raised(level, questions[qid], answer)
        if new < level:
            reasons.append(f"protocol {protocol.id} v{protocol.version}: '{qid}' answered "
                           f"{answer}: raised {level} -> {new}")
            level = new
    if level == decision.urgency:
        reasons.append(f"protocol {protocol.id} v{protocol.version}: no danger sign")
        return replace(decision, reasons=reasons)
    department = "emergency" if level == 1 else decision.department
    if level == 1:
        reasons.append(f"raised to level 1: the emergency lane (was {decision.department})")
    priority = rules.queue_priority(level) if rules is not None else QUEUE_PRIORITY[level]
    return replace(decision, urgency=level, department=department, queue_priority=priority,
                   reasons=reasons)


# --- reading and checking the file ------------------------------------------------------

class ProtocolsError(ValueError):
    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def _suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _pydantic(exc: ValidationError, src: Source, prefix: tuple[Any, ...] = ()
              ) -> list[Diagnostic]:
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = (*prefix, *loc)
        key = next((p for p in reversed(loc) if isinstance(p, str) and p != "[key]"), "")
        kind = err["type"]
        if loc and loc[-1] == "[key]":  # a mapping key of the wrong kind (a language)
            path = path[:-1]
            code, msg = "PRO104", (f"'{loc[-2]}' is not a language here: expected "
                                   f"{', '.join(LANGUAGES)}")
            if loc[0] == "answers" and len(loc) == 3:
                code, msg = "PRO102", (f"'{loc[-2]}' is not an answer: expected yes, no, "
                                       "unsure (quote \"yes\" and \"no\": unquoted, YAML "
                                       "reads them as true and false)")
        elif kind == "extra_forbidden":
            code, msg = "PRO100", f"unknown key '{key}'"
        elif kind == "missing":
            code, msg = "PRO101", f"missing '{key}'"
        elif kind == "string_type" and isinstance(err["input"], bool):
            code, msg = "PRO102", ("YAML reads yes/no/on/off unquoted as true/false; "
                                   "put the word in quotes")
        else:
            code = "PRO102"
            msg = f"'{key}': {err['msg']}" if key else err["msg"]
        line, col = src.where(path)
        out.append(Diagnostic(src.file, line, col, code, msg, "error",
                              tuple(str(p) for p in path)))
    return out


def check_source(src: Source, rules: Rules | None = None, today: dt.date | None = None
                 ) -> tuple[Protocols | None, list[Diagnostic]]:
    """Validate a parsed file (against ``rules`` when given: symptom ids, red flags)."""
    diags: list[Diagnostic] = [
        Diagnostic(src.file, line, col, "PRO002",
                   f"duplicate key '{path[-1]}' (the second would silently win)")
        for path, line, col in src.duplicates]

    def error(path: tuple[Any, ...], code: str, message: str, severity: str = "error") -> None:
        line, col = src.where(path)
        diags.append(Diagnostic(src.file, line, col, code, message, severity,
                                tuple(str(p) for p in path)))

    data = src.data
    if not isinstance(data, dict):
        return None, [Diagnostic(src.file, 1, 1, "PRO102", "the protocols file must be a mapping")]
    raw = data.get("protocols")
    if isinstance(raw, dict) and len(raw) > MAX_PROTOCOLS:
        error(("protocols",), "PRO003", f"more than {MAX_PROTOCOLS} protocols")
        return None, sorted(diags)
    try:
        parsed = ProtocolFile.model_validate(data)
    except ValidationError as exc:
        diags += _pydantic(exc, src)
        parsed = None
    if isinstance(raw, dict):
        for pid in raw:
            if not re.match(ID, str(pid)):
                error(("protocols", pid), "PRO102",
                      f"protocol id '{pid}' must match {ID} (lowercase letters, digits, _)")
    if parsed is not None:
        _checks(parsed, rules, today or dt.date.today(), error)
    if any(d.severity == "error" for d in diags) or parsed is None:
        return None, sorted(diags)
    protocols = tuple(p.model_copy(update={"id": pid}) for pid, p in parsed.protocols.items())
    answers = {a: {lang: tuple(ps) for lang, ps in parsed.answers.get(a, {}).items()}
               for a in ANSWERS}
    return Protocols(src.file, parsed.version, protocols, answers,
                     dict(parsed.intro)), sorted(diags)


def _checks(parsed: ProtocolFile, rules: Rules | None, today: dt.date, error: Any) -> None:
    def texts(path: tuple[Any, ...], node: dict[str, Any], what: str) -> None:
        for lang in REQUIRED_LANGUAGES:
            if not node.get(lang):
                error(path, "PRO104", f"{what}: no '{lang}' text (zh-CN and en-US are required)")

    for answer in ANSWERS:
        if answer not in parsed.answers:
            error(("answers",), "PRO101", f"answers: missing '{answer}'")
        else:
            texts(("answers", answer), parsed.answers[answer], f"answers {answer}")
    texts(("intro",), parsed.intro, "intro")
    seen: dict[str, tuple[str, tuple[Any, ...]]] = {}
    for answer, langs in parsed.answers.items():
        for lang, phrases in langs.items():
            for i, phrase in enumerate(phrases):
                key = _fold(phrase)
                if not key:
                    error(("answers", answer, lang, i), "PRO102",
                          f"answers {answer}: phrase {phrase!r} has no letters")
                elif key in seen and seen[key][0] != answer:
                    error(("answers", answer, lang, i), "PRO106",
                          f"phrase {phrase!r} is under '{answer}' and '{seen[key][0]}'")
                seen.setdefault(key, (answer, ("answers", answer, lang, i)))
    symptoms = {e.id for e in rules.entries.values() if e.kind == SYMPTOM} if rules else set()
    red = {e.id for e in rules.entries.values() if e.kind == RED_FLAG} if rules else set()
    for pid, protocol in parsed.protocols.items():
        base = ("protocols", pid)
        n = len(protocol.questions)
        if not MIN_QUESTIONS <= n <= MAX_QUESTIONS:
            error((*base, "questions"), "PRO103", f"protocol '{pid}': {n} question(s); a "
                  f"protocol asks {MIN_QUESTIONS} to {MAX_QUESTIONS} discriminating questions")
        ids: set[str] = set()
        for i, q in enumerate(protocol.questions):
            if q.id in ids:
                error((*base, "questions", i, "id"), "PRO106",
                      f"protocol '{pid}': question id '{q.id}' is used twice")
            ids.add(q.id)
            texts((*base, "questions", i, "ask"), q.ask, f"protocol '{pid}' question '{q.id}'")
        for t, trigger in enumerate(protocol.when):
            for s, name in enumerate(trigger.symptoms):
                where = (*base, "when", t, "symptoms", s)
                if rules is None:
                    continue
                if name in red:
                    error(where, "PRO107", f"protocol '{pid}': '{name}' is a red flag "
                          "(urgency 1 goes to the emergency team; it never gets questions)")
                elif name not in symptoms:
                    error(where, "PRO107", f"protocol '{pid}': unknown symptom '{name}'"
                          f"{_suggest(name, symptoms)} (the symptom ids of triage_rules.yaml)")
            for d, dept in enumerate(trigger.departments or ()):
                if dept not in DEPARTMENTS:
                    error((*base, "when", t, "departments", d), "PRO108",
                          f"protocol '{pid}': '{dept}' is not a department queue"
                          f"{_suggest(dept, DEPARTMENTS)}")
        if protocol.review_by < today:
            error((*base, "review_by"), "PRO200", f"protocol '{pid}' (owner: {protocol.owner}) "
                  f"was due for review on {protocol.review_by}", "warning")


def check_text(text: str, file: str, rules: Rules | None = None, today: dt.date | None = None
               ) -> tuple[Protocols | None, list[Diagnostic]]:
    src, found = parse_bounded(text, file, "PRO")
    return (None, found) if src is None else check_source(src, rules, today)


def check_file(path: Path, rules: Rules | None = None, today: dt.date | None = None
               ) -> tuple[Protocols | None, list[Diagnostic]]:
    text = read_bounded(path)
    if isinstance(text, Diagnostic):
        return None, [replace(text, code="PRO003")]
    return check_text(text, str(path), rules, today)


def path_beside(rules: Rules | None) -> Path:
    """``triage_protocols.yaml`` beside the rules file that decides (the shipped one
    without rules)."""
    if rules is not None and rules.path:
        return Path(rules.path).with_name(PROTOCOLS_FILE)
    return PROTOCOLS_PATH


_LAST_GOOD: LastGood[Protocols] = LastGood(
    "protocols", lambda last: f"still asking version {last.version}", "no protocol questions")


def protocols_for(rules: Rules | None) -> Protocols | None:
    """The protocols beside ``rules`` (``LastGood``: re-read when the file, or the rules
    it is checked against, change; a bad edit keeps the last good protocols)."""
    return _LAST_GOOD.get(path_beside(rules), lambda p: check_file(p, rules),
                          (rules.version if rules else 0,))


def load_protocols(path: Path | None = None, rules: Rules | None = None) -> Protocols:
    """Validated protocols (raises ProtocolsError)."""
    found, diags = check_file(Path(path or PROTOCOLS_PATH), rules)
    if found is None:
        raise ProtocolsError([d for d in diags if d.severity == "error"])
    return found


def levels_reached(protocol: Protocol) -> set[int]:
    """Every level an answer path of the protocol can end at, from 2 or 3."""
    return {level for start in ASKED_AT for _, level in paths(protocol, start)}


__all__ = [
    "ANSWERS", "ASKED_AT", "PROTOCOLS_PATH", "Protocol", "Protocols", "ProtocolsError",
    "Question", "Trigger", "apply", "check_file", "check_source", "check_text", "classify",
    "levels_reached", "load_protocols", "path_beside", "paths", "protocols_for", "raised",
]
