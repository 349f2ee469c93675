"""Reading a test-conversation file: its shape (pydantic, unknown keys refused), its
call lines (``press 2``, ``say ...``, ``hear ...``) and a ``line:col`` for every
node, so a failure later points at the very line an engineer must look at.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ivr.flows import yaml_source
from ivr.flows.yaml_bounds import YAMLBoundsError
from ivr.flows.yaml_source import Source

VERBS = ("press", "say", "silence", "hangup", "hear")
KEYS = re.compile(r"^[0-9*#]+$")


@dataclass(frozen=True)
class Pos:
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Problem:
    """Why a file cannot be run (exit 2)."""

    pos: Pos
    message: str

    def __str__(self) -> str:
        return f"{self.pos}: {self.message}"


@dataclass(frozen=True)
class Turn:
    """What the caller does at one listening prompt: key, say, silence or hangup."""

    kind: str
    value: str
    text: str  # as written, for messages
    pos: Pos


@dataclass(frozen=True)
class Hear:
    """A prompt (id or piece of its text) heard after the previous turn, before the next."""

    expected: str
    pos: Pos


@dataclass(frozen=True)
class Check:
    """One end-of-call expectation: queue, priority, outcome, urgency, department, summary."""

    what: str
    value: Any
    pos: Pos


@dataclass(frozen=True)
class StepRef:
    """``step`` (in any flow) or ``flow.step``."""

    flow: str | None
    step: str
    pos: Pos

    def __str__(self) -> str:
        return f"{self.flow}.{self.step}" if self.flow else self.step


@dataclass
class Conversation:
    name: str
    pos: Pos
    flow: str
    flow_pos: Pos
    at: dt.datetime | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    unanswered: set[str] = field(default_factory=set)
    call: list[Turn | Hear] = field(default_factory=list)
    passes: list[StepRef] = field(default_factory=list)
    avoids: list[StepRef] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    # rows on record before the call (ivr/conversations/given.py): patients, results
    given: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def turns(self) -> list[Turn]:
        return [line for line in self.call if isinstance(line, Turn)]


# --- the shape: one model per mapping, unknown keys refused --------------------------
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Scalar = str | int | float | bool


class ExpectModel(Strict):
    passes: list[str] = Field(default_factory=list)
    avoids: list[str] = Field(default_factory=list)
    queue: str | None = None
    priority: int | None = Field(None, ge=0, le=10)
    outcome: str | None = None
    urgency: int | None = Field(None, ge=1, le=4)
    department: str | None = None
    summary: str | None = None


class ConversationModel(Strict):
    name: str = Field(min_length=1)
    flow: str | None = None
    at: dt.datetime | None = None
    lang: str | None = None
    vars: dict[str, Scalar] = Field(default_factory=dict)
    unanswered: list[str] = Field(default_factory=list)
    call: list[Any] = Field(default_factory=list)
    expect: dict[str, Any] = Field(default_factory=dict)  # an ExpectModel, read apart
    given: dict[str, list[dict[str, Scalar | dt.date]]] = Field(default_factory=dict)


class FileModel(Strict):
    """Defaults for every conversation of the file: flow, at, lang."""

    flow: str = "main"
    at: dt.datetime | None = None
    lang: str | None = None
    conversations: list[dict[str, Any]] = Field(min_length=1)  # read one by one


M = TypeVar("M", bound=BaseModel)
CHECKS = ("queue", "priority", "outcome", "urgency", "department", "summary")


def load_file(path: Path, flow_steps: dict[str, set[str]]) -> tuple[list[Conversation],
                                                                   list[Problem]]:
    """The conversations of one file, or the problems that stop it from running.

    ``flow_steps`` (flow name -> step ids) catches a misspelt flow or step here,
    rather than as a puzzling failure later."""
    file = str(path)
    try:
        src = yaml_source.load_file(path)  # bounded: size, aliases, nesting, UTF-8
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = Pos(file, mark.line + 1, mark.column + 1) if mark else Pos(file, 1, 1)
        what = "" if isinstance(exc, YAMLBoundsError) else "not valid YAML: "
        return [], [Problem(pos, f"{what}{getattr(exc, 'problem', exc)}")]
    problems = [Problem(Pos(file, line, col), f"duplicate key '{p[-1]}'")
                for p, line, col in src.duplicates]
    reader = _Reader(src, flow_steps)
    model = reader.validate(FileModel, src.data if src.data is not None else {}, ())
    if model is None:
        return [], problems + reader.problems
    if model.at:
        reader.aware(model.at, reader.pos("at"))
    conversations = []
    for i, raw in enumerate(model.conversations):
        conv = reader.conversation(model, raw, i)
        if conv is not None:
            conversations.append(conv)
    return conversations, problems + reader.problems


def _shape_problem(src: Source, err: Any, at: tuple[str | int, ...],
                   model: type[BaseModel]) -> Problem:
    loc = (*at, *err["loc"])
    pos = Pos(src.file, *src.where(loc))
    name = str(loc[-1]) if loc else "file"
    if err["type"] == "extra_forbidden":
        return Problem(pos, f"unknown key '{name}'"
                       f"{_did_you_mean(name, list(model.model_fields))}")
    if err["type"] == "missing":
        return Problem(pos, f"missing key '{name}'")
    key = next((str(p) for p in reversed(loc) if isinstance(p, str)), "file")
    return Problem(pos, f"'{key}': {err['msg']}")


def _did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _lang(lang: str | None) -> dict[str, str]:
    """The language to start in, as ``ivr simulate --lang`` sets it."""
    return {"lang": lang} if lang else {}


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


class _Reader:
    """Turns the validated model into conversations with positions, noting problems."""

    def __init__(self, src: Source, flow_steps: dict[str, set[str]]) -> None:
        self.src, self.flow_steps = src, flow_steps
        self.problems: list[Problem] = []
        self.reported: set[str] = set()

    def pos(self, *path: str | int) -> Pos:
        return Pos(self.src.file, *self.src.where(path))

    def problem(self, pos: Pos, message: str) -> None:
        self.problems.append(Problem(pos, message))

    def known_flow(self, flow: str, pos: Pos) -> None:
        self.reported.add(flow)
        if flow not in self.flow_steps:
            self.problem(pos, f"no flow '{flow}'{_did_you_mean(flow, sorted(self.flow_steps))}")

    def aware(self, at: dt.datetime, pos: Pos) -> None:
        if at.tzinfo is None:
            self.problem(pos, f"'{at.isoformat()}' has no UTC offset: write it like "
                         "2026-11-25T10:00+08:00")

    def validate(self, model: type[M], data: Any, at: tuple[str | int, ...]) -> M | None:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            self.problems += [_shape_problem(self.src, e, at, model) for e in exc.errors()]
            return None

    def conversation(self, model: FileModel, raw: dict[str, Any], i: int
                     ) -> Conversation | None:
        here = ("conversations", i)
        m = self.validate(ConversationModel, raw, here)
        expect = self.validate(ExpectModel, m.expect if m else raw.get("expect") or {},
                               (*here, "expect"))
        if m is None or expect is None:
            lines = raw.get("call")  # their problems too: every problem at once
            for j, line in enumerate(lines if isinstance(lines, list) else []):
                self.line(line, self.pos(*here, "call", j))
            return None
        flow = m.flow or model.flow
        flow_pos = self.pos(*here, "flow") if m.flow else self.pos("flow")
        if m.flow or flow not in self.reported:  # the file's default: said once
            self.known_flow(flow, flow_pos)
        at = m.at or model.at
        if m.at:
            self.aware(m.at, self.pos(*here, "at"))
        conv = Conversation(m.name, self.pos(*here, "name"), flow, flow_pos, at,
                            {**m.vars, **_lang(m.lang or model.lang)},
                            set(m.unanswered))
        if m.given:
            from ivr.conversations import given

            conv.given = m.given
            for kind, message in given.problems(m.given):
                self.problem(self.pos(*here, "given", kind), message)
        for j, line in enumerate(m.call):
            parsed = self.line(line, self.pos(*here, "call", j))
            if parsed is not None:
                conv.call.append(parsed)
        conv.passes = [self.step(s, self.pos(*here, "expect", "passes", k))
                       for k, s in enumerate(expect.passes)]
        conv.avoids = [self.step(s, self.pos(*here, "expect", "avoids", k))
                       for k, s in enumerate(expect.avoids)]
        conv.checks = [Check(what, getattr(expect, what), self.pos(*here, "expect", what))
                       for what in CHECKS if getattr(expect, what) is not None]
        return conv

    def line(self, line: Any, pos: Pos) -> Turn | Hear | None:
        """``press 2`` / ``{press: "2"}``, ``say WORDS``, ``silence``, ``hangup``,
        ``hear PROMPT``."""
        if isinstance(line, dict) and len(line) == 1:
            verb, rest = next(iter(line.items()))
            text = f"{verb} {rest}" if rest is not None else str(verb)
            if verb == "press" and isinstance(rest, int) and not isinstance(rest, bool) \
                    and rest > 9:
                self.problem(pos, f"press: {rest}: quote the keys (press: \"...\"); YAML "
                             "reads unquoted digits as a number, with a leading 0 as octal")
                return None
            rest = "" if rest is None else str(rest)
        elif isinstance(line, str):
            text = line
            verb, _, rest = line.strip().partition(" ")
        else:
            self.problem(pos, "a call line is text like 'press 2', 'say chest pain', "
                         "'silence', 'hangup' or 'hear main_menu'")
            return None
        verb, rest = str(verb).lower(), _unquote(str(rest))
        if verb not in VERBS:
            self.problem(pos, f"'{text}' is not a call line: start it with one of "
                         f"{', '.join(VERBS)}{_did_you_mean(verb, list(VERBS))}")
            return None
        if verb in ("silence", "hangup"):
            if rest:
                self.problem(pos, f"'{text}': {verb} takes nothing after it")
                return None
            return Turn("key" if verb == "silence" else "hangup", "", verb, pos)
        if not rest:
            self.problem(pos, f"'{text}': {verb} what? e.g. "
                         + {"press": "press 2", "say": "say chest pain",
                            "hear": "hear main_menu"}[verb])
            return None
        if verb == "press":
            if not KEYS.match(rest):
                self.problem(pos, f"'{text}': keys are 0-9, * and # (quote #: press \"#\")")
                return None
            return Turn("key", rest, text.strip(), pos)
        if verb == "say":
            return Turn("say", rest, text.strip(), pos)
        return Hear(rest, pos)

    def step(self, text: str, pos: Pos) -> StepRef:
        name, _, step = text.partition(".")
        ref = StepRef(name, step, pos) if step else StepRef(None, name, pos)
        if ref.flow is not None and ref.flow not in self.flow_steps:
            self.problem(pos, f"no flow '{ref.flow}' (in '{text}')"
                         f"{_did_you_mean(ref.flow, sorted(self.flow_steps))}")
            return ref
        pool = (self.flow_steps[ref.flow] if ref.flow
                else set().union(*self.flow_steps.values()))
        if ref.step not in pool:
            self.problem(pos, f"no step '{ref.step}' in "
                         f"{'flow ' + repr(ref.flow) if ref.flow else 'any flow'}"
                         f"{_did_you_mean(ref.step, sorted(pool))}")
        return ref
