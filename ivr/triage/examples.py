"""Labelled examples of what callers say (``triage_examples.yaml``), for the meaning screen.

Phrases catch the words clinicians thought of; callers use others ("心里头堵得慌",
"they'd be better off without me"). This file holds whole utterances, each with
what it was judged to be (``red_flag``, ``crisis``, ``clinical``, ``admin`` or a
short ``reply`` such as "yes" or a date), so ``ivr.triage.semantic`` can ask: is
what this caller said closer in meaning to the red flags than to everything else?
It is owned by clinicians like the rules: an example added here is a decision
about urgency. Checked like the rules, every finding with ``file:line:col``::

    triage_examples.yaml:40:5: error[EXA102] example 12: 'label': Input should be
    'red_flag', 'crisis', 'clinical', 'admin' or 'reply'

Codes are stable (tests and scripts rely on them):

    EXA001 YAML syntax                     EXA102 wrong value or type
    EXA002 duplicate YAML key              EXA106 the same words under two labels
    EXA003 over a reading bound, not UTF-8 EXA200 (warning) past its review date
    EXA100 unknown key                     EXA101 missing key
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ivr.flows.diagnostics import Diagnostic
from ivr.flows.yaml_source import Source
from ivr.triage.last_good import LastGood
from ivr.triage.rules import Rules, parse_bounded, read_bounded

EXAMPLES_FILE = "triage_examples.yaml"
EXAMPLES_PATH = Path(__file__).resolve().parents[2] / EXAMPLES_FILE
MAX_EXAMPLES = 20_000
# The file grows with every spent batch, past the bound other YAML files live under
# (ivr.flows.yaml_bounds.MAX_NODES): an example is one mapping of at most five keys
# (11 nodes), so MAX_EXAMPLES of them and the header fit; the byte bound still holds.
MAX_NODES = 12 * MAX_EXAMPLES
LABELS = ("red_flag", "crisis", "clinical", "admin", "reply")
RED = ("red_flag", "crisis")  # the labels that send a caller to the emergency / crisis lane
Label = Literal["red_flag", "crisis", "clinical", "admin", "reply"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Example(_Strict):
    text: str = Field(min_length=1, max_length=500)
    lang: Literal["zh", "en", "ko"]
    label: Label
    category: str = ""
    source: str = Field("", description="Where it came from (a batch, a real call).")


class Policy(_Strict):
    enabled: bool = Field(True, description="false: the rules alone decide.")
    neighbours: int = Field(3, ge=1, le=25, description="How many nearest examples of each "
                            "side (red, not red) are averaged.")
    margin: float = Field(-0.02, ge=-0.5, le=0.5, description="Red wins when its average "
                          "similarity minus the other side's is above this.")
    min_similarity: float = Field(0.0, ge=0.0, le=1.0, description="...and the nearest red "
                                  "example is at least this similar.")
    nearest_gap: float = Field(0.07, ge=0.0, le=1.0, description="...and the nearest red "
                               "example is at most this much less similar than the nearest "
                               "other one (many red examples on a topic cannot outvote one "
                               "close administrative example).")
    same_words_at: float = Field(0.97, ge=0.5, le=1.0, description="A not-red example "
                                 "at least this similar is the same words: it wins.")
    min_chars: int = Field(4, ge=1, le=50, description="Shorter answers (Chinese/Korean "
                           "characters) are left to the rules: '是', '2', '对的'.")
    min_words: int = Field(3, ge=1, le=50, description="Shorter English answers are left "
                           "to the rules: 'yes', 'the pharmacy'.")


class ExamplesFile(_Strict):
    version: int = Field(ge=1)
    owner: str = Field(min_length=1)
    updated: dt.date
    review_by: dt.date
    policy: Policy = Policy()
    examples: list[Example] = Field(min_length=1)


@dataclass(frozen=True)
class Examples:
    """A validated examples file."""

    path: str
    version: int
    policy: Policy
    examples: tuple[Example, ...]
    digest: str  # sha256 of the examples' (label, lang, text): what the vectors depend on

    @property
    def red(self) -> tuple[bool, ...]:
        return tuple(e.label in RED for e in self.examples)


class ExamplesError(ValueError):
    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def _pydantic(exc: ValidationError, src: Source) -> list[Diagnostic]:
    out = []
    for err in exc.errors():
        path = tuple(err["loc"])
        key = next((p for p in reversed(path) if isinstance(p, str)), "")
        where = f"example {path[1] + 1}: " if path[:1] == ("examples",) and len(path) > 1 \
            and isinstance(path[1], int) else ""
        if err["type"] == "extra_forbidden":
            code, msg = "EXA100", f"unknown key '{key}'"
        elif err["type"] == "missing":
            code, msg = "EXA101", f"missing '{key}'"
        else:
            code, msg = "EXA102", f"'{key}': {err['msg']}" if key else err["msg"]
        line, col = src.where(path)
        out.append(Diagnostic(src.file, line, col, code, where + msg, "error",
                              tuple(str(p) for p in path)))
    return out


def check_source(src: Source, today: dt.date | None = None
                 ) -> tuple[Examples | None, list[Diagnostic]]:
    diags = [Diagnostic(src.file, line, col, "EXA002",
                        f"duplicate key '{path[-1]}' (the second would silently win)")
             for path, line, col in src.duplicates]
    data = src.data
    if not isinstance(data, dict):
        return None, [Diagnostic(src.file, 1, 1, "EXA102", "the examples file must be a mapping")]
    raw = data.get("examples")
    if isinstance(raw, list) and len(raw) > MAX_EXAMPLES:
        line, col = src.where(("examples",))
        return None, [Diagnostic(src.file, line, col, "EXA003",
                                 f"more than {MAX_EXAMPLES} examples")]
    try:
        parsed = ExamplesFile.model_validate(data)
    except ValidationError as exc:
        return None, sorted(diags + _pydantic(exc, src))
    seen: dict[tuple[str, str], tuple[int, str]] = {}
    for i, ex in enumerate(parsed.examples):
        key = (ex.lang, _fold(ex.text))
        if key in seen and seen[key][1] != ex.label:
            line, col = src.where(("examples", i))
            diags.append(Diagnostic(
                src.file, line, col, "EXA106",
                f"example {i + 1} is example {seen[key][0] + 1} again with label "
                f"'{ex.label}', not '{seen[key][1]}': one of them is wrong"))
        seen.setdefault(key, (i, ex.label))
    if parsed.review_by < (today or dt.date.today()):
        line, col = src.where(("review_by",))
        diags.append(Diagnostic(src.file, line, col, "EXA200",
                                f"was due for review on {parsed.review_by}", "warning"))
    if any(d.severity == "error" for d in diags):
        return None, sorted(diags)
    digest = hashlib.sha256("\n".join(
        f"{e.label}\t{e.lang}\t{e.text}" for e in parsed.examples).encode()).hexdigest()
    return Examples(src.file, parsed.version, parsed.policy, tuple(parsed.examples),
                    digest), sorted(diags)


def check_text(text: str, file: str, today: dt.date | None = None
               ) -> tuple[Examples | None, list[Diagnostic]]:
    src, found = parse_bounded(text, file, "EXA", MAX_NODES)
    return (None, found) if src is None else check_source(src, today)


def check_file(path: Path, today: dt.date | None = None
               ) -> tuple[Examples | None, list[Diagnostic]]:
    text = read_bounded(path)
    if isinstance(text, Diagnostic):
        return None, [replace(text, code="EXA003")]
    return check_text(text, str(path), today)


def path_beside(rules: Rules | None) -> Path:
    """``triage_examples.yaml`` beside the rules file that decides."""
    if rules is not None and rules.path:
        return Path(rules.path).with_name(EXAMPLES_FILE)
    return EXAMPLES_PATH


_LAST_GOOD: LastGood[Examples] = LastGood(
    "examples", lambda last: f"still using version {last.version}", "rules only")


def examples_for(rules: Rules | None) -> Examples | None:
    """The examples beside ``rules`` (``LastGood``: re-read when the file changes; a bad
    edit keeps the last good examples)."""
    return _LAST_GOOD.get(path_beside(rules), check_file)


def load_examples(path: Path | None = None) -> Examples:
    found, diags = check_file(Path(path or EXAMPLES_PATH))
    if found is None:
        raise ExamplesError([d for d in diags if d.severity == "error"])
    return found


def as_yaml_line(example: dict[str, Any]) -> str:
    """One example as the file writes it (flow style, one line): for tools that add some."""
    import json

    fields = ", ".join(f"{k}: {json.dumps(example[k], ensure_ascii=False)}"
                       for k in ("label", "lang", "category", "source", "text")
                       if example.get(k))
    return f"  - {{{fields}}}"
