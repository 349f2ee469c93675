"""The agents list (``agents.yaml``): who answers which queue, in which languages, with
which skills. One file feeds the SIP endpoints (pjsip.conf), the queue membership and
its penalties (queues.conf, see :mod:`ivr.telephony.skills`), the generated SIP
passwords (secrets.json) and the console's staff login (``user``).

Findings are positioned, all at once, with stable codes, like every YAML file here:

    AGT001 YAML syntax, or over a reading bound    AGT101 duplicate extension
    AGT002 duplicate YAML key                      AGT102 duplicate user
    AGT100 unknown key, missing key, wrong value   AGT103 unknown queue (department)
                                                   AGT104 unknown skill
                                                   AGT105 unknown language
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ivr.departments import DEPARTMENTS
from ivr.flows.diagnostics import Diagnostic
from ivr.flows.schema import FlowHeader
from ivr.flows.yaml_bounds import YAMLBoundsError
from ivr.flows.yaml_source import Source, load_file

# The languages a caller can be served in: the flows' own list (FlowHeader.languages).
LANGUAGES: tuple[str, ...] = typing.get_args(
    typing.get_args(FlowHeader.model_fields["languages"].annotation)[0])

# Skills routing knows about (ivr/telephony/skills.py): a misspelt skill must be an
# error, not a nurse who silently never gets the calls she is trained for.
SKILLS: dict[str, str] = {
    "pediatrics": "paediatric calls (triage department pediatrics, or a child caller)",
    "crisis": "crisis calls (the crisis queue, or a crisis flag from triage)",
}

EXTENSION = r"^[0-9]{2,8}$"
# Shown on handsets, in pjsip.conf's callerid="..." and queues.conf's member lines: no
# quotes, angle brackets, commas, semicolons or control characters (they would break a
# SIP display name or the config line).
NAME = r"^[^\",<>;\\\x00-\x1f\x7f]{1,40}$"
USER = r"^[a-z][a-z0-9_.-]{0,39}$"


class Agent(BaseModel):
    """One handset and the person on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    extension: str = Field(pattern=EXTENSION, description="The PJSIP endpoint, e.g. '1001'.")
    name: str = Field(description="Shown on the wallboard and console.")
    user: str | None = Field(None, pattern=USER, description="Staff login on the console.")
    languages: tuple[str, ...] = Field(min_length=1, description="Languages spoken, "
                                       "first the best, e.g. [zh-CN, en-US].")
    skills: tuple[str, ...] = Field((), description="e.g. [pediatrics, crisis].")
    queues: tuple[str, ...] = Field((), description="Department queues (ivr/departments.py) "
                                    "the agent answers.")

    @field_validator("extension", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError(f"write the extension in quotes (\"{value}\"): YAML reads a "
                             "bare number as an integer and drops leading zeros")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.match(NAME, value):
            raise ValueError("1 to 40 characters, without quotes, <>, commas, ; or control "
                             "characters (they break a SIP display name)")
        return value

    @property
    def interface(self) -> str:
        """How Asterisk dials the handset (queue member interface)."""
        return f"PJSIP/{self.extension}"


class AgentsFile(BaseModel):
    """The file's shape; each entry is checked on its own (all findings at once)."""

    model_config = ConfigDict(extra="forbid")

    agents: list[dict[str, Any]] = Field(default_factory=list)


@dataclass(frozen=True)
class AgentBook:
    """The agents, looked up by extension or staff login."""

    agents: tuple[Agent, ...] = ()
    file: str = "<none>"

    def __iter__(self) -> Iterator[Agent]:
        return iter(self.agents)

    def __len__(self) -> int:
        return len(self.agents)

    @property
    def extensions(self) -> tuple[str, ...]:
        return tuple(a.extension for a in self.agents)

    def by_extension(self, extension: str) -> Agent | None:
        return next((a for a in self.agents if a.extension == extension), None)

    def by_user(self, user: str) -> Agent | None:
        return next((a for a in self.agents if a.user == user), None)

    def in_queue(self, queue: str) -> tuple[Agent, ...]:
        return tuple(a for a in self.agents if queue in a.queues)


class AgentsError(ValueError):
    """The agents file is unreadable or invalid; carries every finding."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(map(str, self.diagnostics)))


def load_agents(path: Path) -> AgentBook:
    """The agents in ``path``; AgentsError with every positioned finding."""
    book, diags = check_agents(path)
    errors = [d for d in diags if d.severity == "error"]
    if errors or book is None:
        raise AgentsError(errors or diags)
    return book


def check_agents(path: Path) -> tuple[AgentBook | None, list[Diagnostic]]:
    """Every finding in ``path`` (all at once) and the book when there is no error."""
    file = str(path)
    try:
        src = load_file(path)  # bounded: size, aliases, nesting, UTF-8
    except OSError as exc:
        return None, [Diagnostic(file, 1, 1, "AGT001", f"cannot read: {exc.strerror or exc}")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = (exc.problem if isinstance(exc, YAMLBoundsError)
                else f"invalid YAML: {getattr(exc, 'problem', None) or exc}")
        return None, [Diagnostic(file, line, col, "AGT001", str(what))]
    diags = [Diagnostic(file, line, col, "AGT002", f"{_dotted(p)}: duplicate key")
             for p, line, col in src.duplicates]
    data = {} if src.data is None else src.data
    try:
        shape = AgentsFile.model_validate(data)
    except ValidationError as exc:
        return None, sorted(diags + _findings(exc, (), src))
    agents: list[tuple[int, Agent]] = []
    for i, entry in enumerate(shape.agents):
        try:
            agents.append((i, Agent.model_validate(entry)))
        except ValidationError as exc:
            diags += _findings(exc, ("agents", i), src)
    diags += _cross_checks(agents, src)
    if any(d.severity == "error" for d in diags):
        return None, sorted(diags)
    return AgentBook(tuple(a for _, a in agents), file), sorted(diags)


def _findings(exc: ValidationError, prefix: tuple[str | int, ...], src: Source
              ) -> list[Diagnostic]:
    out = []
    for err in exc.errors():
        loc = (*prefix, *err["loc"])
        line, col = src.where(loc)
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "missing key"
        out.append(Diagnostic(src.file, line, col, "AGT100", f"{_dotted(loc)}: {message}"))
    return out


def _cross_checks(agents: list[tuple[int, Agent]], src: Source) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    seen_ext: dict[str, int] = {}
    seen_user: dict[str, int] = {}

    def add(path: tuple[str | int, ...], code: str, message: str) -> None:
        line, col = src.where(path)
        out.append(Diagnostic(src.file, line, col, code, f"{_dotted(path)}: {message}"))

    for i, agent in agents:
        for j, lang in enumerate(agent.languages):
            if lang not in LANGUAGES:
                add(("agents", i, "languages", j), "AGT105",
                    f"unknown language '{lang}' (known: {', '.join(LANGUAGES)})")
        if agent.extension in seen_ext:
            first = seen_ext[agent.extension]
            add(("agents", i, "extension"), "AGT101",
                f"extension '{agent.extension}' already listed (agents[{first}])")
        seen_ext.setdefault(agent.extension, i)
        if agent.user is not None:
            if agent.user in seen_user:
                add(("agents", i, "user"), "AGT102",
                    f"user '{agent.user}' already listed (agents[{seen_user[agent.user]}])")
            seen_user.setdefault(agent.user, i)
        for j, queue in enumerate(agent.queues):
            if queue not in DEPARTMENTS:
                add(("agents", i, "queues", j), "AGT103",
                    f"unknown queue '{queue}'{_did_you_mean(queue, DEPARTMENTS)}")
        for j, skill in enumerate(agent.skills):
            if skill not in SKILLS:
                add(("agents", i, "skills", j), "AGT104",
                    f"unknown skill '{skill}'{_did_you_mean(skill, SKILLS)} "
                    f"(known: {', '.join(SKILLS)})")
    return out


def _did_you_mean(word: str, known: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"
