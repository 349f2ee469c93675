"""The flow language: one model per step type, exported as JSON Schema for editors.

One name across the stack: a step's ``type:`` value is the ``type`` literal of
its model here and the ``_<type>`` method of the runner. Every model forbids
unknown keys, so a misspelt ``timout:`` is an error, not a silent default.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ID = r"^[a-z][a-z0-9_]*$"
StepId = Annotated[str, Field(pattern=ID, description="A step id in this flow.")]
PromptId = Annotated[str, Field(pattern=ID, description="A prompt id from prompts/<lang>.yaml.")]
Seconds = Annotated[float, Field(gt=0, le=120)]
DTMF_KEYS = "0123456789*#"
TIME_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-((?:[01]\d|2[0-3]):[0-5]\d|24:00)$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Fallback(Strict):
    """What to do when the caller gives no (or no valid) answer."""

    prompt: PromptId | None = Field(None, description="Said before each retry.")
    goto: StepId = Field(description="Where the caller goes once the retries are used up.")


class StepBase(Strict):
    description: str | None = Field(None, description="A note for engineers; never spoken.")


class Say(StepBase):
    """Speak a prompt (recorded audio if present, else TTS)."""

    type: Literal["say"]
    prompt: PromptId
    barge_in: bool = Field(False, description="A key pressed during it answers the next menu.")
    next: StepId
    model_config = ConfigDict(json_schema_extra={
        "examples": [{"type": "say", "prompt": "welcome", "barge_in": True, "next": "menu"}]})


class Play(StepBase):
    """Play an Asterisk sound file (e.g. a recorded announcement)."""

    type: Literal["play"]
    sound: str = Field(pattern=r"^[A-Za-z0-9_/.-]+$", description="Asterisk sound name, no "
                       "extension.")
    barge_in: bool = False
    next: StepId


class MenuOption(Strict):
    key: str | None = Field(None, pattern=r"^[0-9*#]$", description="The DTMF key.")
    say: list[str] = Field(default_factory=list, description="Phrases a caller may say.")
    goto: StepId
    set: dict[str, str] = Field(default_factory=dict, description="Variables to set.")

    @model_validator(mode="after")
    def _key_or_phrase(self) -> MenuOption:
        if self.key is None and not self.say:
            raise ValueError("an option needs a 'key' or 'say' phrases")
        return self


class Menu(StepBase):
    """Ask the caller to choose, by key or by voice, with retries."""

    type: Literal["menu"]
    prompt: PromptId
    options: list[MenuOption] = Field(min_length=1)
    timeout: Seconds | None = None
    retries: int | None = Field(None, ge=0, le=5)
    barge_in: bool = True
    no_input: Fallback
    no_match: Fallback
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "menu", "prompt": "main_menu",
        "options": [{"key": "1", "say": ["appointment"], "goto": "appointments"}],
        "no_input": {"prompt": "sorry_no_input", "goto": "to_operator"},
        "no_match": {"prompt": "sorry_no_match", "goto": "to_operator"}}]})


class Ask(StepBase):
    """Listen to the caller's words; store them (or the matched grammar value)."""

    type: Literal["ask"]
    prompt: PromptId
    into: str = Field(pattern=ID, description="Variable that receives the answer.")
    mode: Literal["free", "grammar"] = "free"
    grammar: dict[str, list[str]] = Field(
        default_factory=dict, description="value -> phrases (grammar mode).")
    min_confidence: float = Field(0.6, ge=0, le=1)
    max_seconds: Seconds = 15
    timeout: Seconds | None = None
    retries: int | None = Field(None, ge=0, le=5)
    dtmf_fallback: dict[str, str] = Field(
        default_factory=dict, description="key -> value, when speech fails.")
    no_input: Fallback
    no_match: Fallback
    next: StepId

    @model_validator(mode="after")
    def _grammar_needed(self) -> Ask:
        if self.mode == "grammar" and not self.grammar:
            raise ValueError("grammar mode needs a 'grammar' of value: [phrases]")
        return self


URGENCY_LEVELS = ("1", "2", "3", "4")


class Triage(StepBase):
    """Score the caller's words (and voice) and branch on urgency and department."""

    type: Literal["triage"]
    input: str = Field("utterance", pattern=ID, description="Variable holding the words.")
    urgency: dict[Literal["1", "2", "3", "4"], StepId] = Field(
        description="1 immediate (red flag) ... 4 administrative. Level 1 is required.")
    crisis: StepId = Field(description="Where suicidal or self-harm talk goes.")
    departments: dict[str, StepId] = Field(
        default_factory=dict, description="department -> step, checked before urgency 2-4.")
    safety_check: StepId | None = Field(
        None, description="Where a caller goes whose voice sounds urgent (acoustic urgency, "
        "triage_rules.yaml policy) while the words are no red flag: ask whether it is an "
        "emergency. Without it, the voice can only raise the level.")

    @field_validator("urgency", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _red_flag_branch(self) -> Triage:
        if "1" not in self.urgency:
            raise ValueError("a triage step must say where urgency 1 (red flags) goes")
        return self


class Route(StepBase):
    """Hand the caller to people: a department queue, an extension, or the emergency lane."""

    type: Literal["route"]
    queue: str | None = Field(None, pattern=ID)
    extension: str | None = Field(None, pattern=r"^[0-9]{2,6}$")
    emergency: bool = Field(False, description="The emergency lane: top priority, never waits "
                            "behind others.")
    triaged: bool = Field(False, description="The department and priority the last triage "
                          "step decided.")
    priority: int = Field(0, ge=0, le=10)
    summary: str | None = Field(None, description="Shown to the agent; {var} placeholders.")

    @model_validator(mode="after")
    def _one_target(self) -> Route:
        chosen = [self.queue is not None, self.extension is not None, self.emergency,
                  self.triaged]
        if sum(chosen) != 1:
            raise ValueError("a route goes to exactly one of: queue, extension, emergency, "
                             "triaged")
        return self


class Callback(StepBase):
    """Offer a call-back instead of waiting, and record the request."""

    type: Literal["callback"]
    prompt: PromptId
    queue: str = Field(pattern=ID, description="Who calls back.")
    accept_key: str = Field("1", pattern=r"^[0-9*#]$")
    confirm: PromptId
    accepted: StepId
    declined: StepId


class SurveyQuestion(Strict):
    id: str = Field(pattern=ID)
    prompt: PromptId
    scale: int = Field(5, ge=2, le=9)


class Survey(StepBase):
    """Ask scored questions (keypad 1..scale) and store the answers."""

    type: Literal["survey"]
    questions: list[SurveyQuestion] = Field(min_length=1)
    timeout: Seconds | None = None
    next: StepId


class SetVars(StepBase):
    """Set call variables (language, speech rate, anything a later step reads)."""

    type: Literal["set"]
    vars: dict[str, str | int | float | bool] = Field(min_length=1)
    next: StepId


class Switch(StepBase):
    """Branch on one variable's value."""

    type: Literal["switch"]
    var: str = Field(pattern=r"^[a-z][a-z0-9_.]*$", description="The variable to look at.")
    cases: dict[str, StepId] = Field(min_length=1)
    default: StepId

    @field_validator("cases", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value


class Test(Strict):
    """A test on one variable (``caller.age_group``, ``lang``, ``triage.urgency``...)."""

    var: str = Field(pattern=r"^[a-z][a-z0-9_.]*$")
    equals: str | int | float | bool | None = None
    in_: list[str | int | float | bool] | None = Field(None, alias="in")
    at_least: float | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Test:
        if sum(x is not None for x in (self.equals, self.in_, self.at_least)) != 1:
            raise ValueError("a condition needs exactly one of: equals, in, at_least")
        return self


class Condition(Test):
    goto: StepId


class Branch(StepBase):
    """The first matching condition wins; ``else`` is required, so no caller is stranded."""

    type: Literal["branch"]
    when: list[Condition] = Field(min_length=1)
    else_: StepId = Field(alias="else")


class Goto(StepBase):
    type: Literal["goto"]
    target: StepId


class Subflow(StepBase):
    """Continue in another flow file (reuse: appointments, results...)."""

    type: Literal["subflow"]
    flow: str = Field(pattern=ID)


class Schedule(StepBase):
    """Opening hours: ``open`` during them, ``closed`` otherwise and on holidays."""

    type: Literal["schedule"]
    timezone: str = "Asia/Shanghai"
    hours: dict[str, list[str]] = Field(
        description="day or range (mon, mon-fri) -> ['08:00-12:00', ...]")
    holidays: list[str] = Field(default_factory=list, description="YYYY-MM-DD")
    open: StepId
    closed: StepId

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        problems = []
        for days, ranges in value.items():
            parts = days.split("-")
            if len(parts) > 2 or any(p not in DAYS for p in parts):
                problems.append(f"'{days}' is not a day or range of days "
                                f"({', '.join(DAYS)}, or like mon-fri)")
            elif len(parts) == 2 and DAYS.index(parts[0]) > DAYS.index(parts[1]):
                problems.append(f"'{days}' runs backwards: write each part, e.g. sat and "
                                "sun separately")
            for r in ranges:
                m = TIME_RANGE.match(r)
                if not m:
                    problems.append(f"'{r}' is not a time range like 08:00-17:30")
                elif f"{m.group(1)}:{m.group(2)}" >= m.group(3):
                    problems.append(f"'{r}' ends before it starts")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not a time zone like Asia/Shanghai") from None
        return value

    @field_validator("holidays")
    @classmethod
    def _valid_dates(cls, value: list[str]) -> list[str]:
        import datetime as dt

        for d in value:
            try:
                dt.date.fromisoformat(d)
            except ValueError:
                raise ValueError(f"holiday '{d}' is not a date like 2026-10-01") from None
        return value


Duration = Annotated[str, Field(pattern=r"^\d+(\.\d+)?[mhd]$",
                                 description="A span like 30m, 12h or 3d.")]


class FollowUp(StepBase):
    """Open a follow-up: the line calls the patient back (a post-surgery check, a
    medication review, an unresolved complaint) until staff or the patient close it."""

    type: Literal["followup"]
    kind: str = Field(pattern=ID, description="post_surgery, medication, complaint...")
    after: Duration = Field(description="When the first call is due, from now.")
    deadline: Duration = Field("7d", description="Listed for staff if still open by then.")
    flow: str = Field("followup_call", pattern=ID, description="The outbound flow.")
    reason: str = Field("", description="For staff; {var} placeholders are filled.")
    max_attempts: int = Field(3, ge=1, le=10)
    next: StepId


class Verify(StepBase):
    """Check that the caller is the patient (date of birth by keypad, for the number they
    call from) before anything personal is read out."""

    type: Literal["verify"]
    prompt: PromptId = Field(description="Asks for the date of birth as 8 digits.")
    retry_prompt: PromptId | None = None
    retries: int | None = Field(None, ge=0, le=5)
    timeout: Seconds | None = None
    verified: StepId
    failed: StepId


class History(StepBase):
    """Read the caller's own recent calls and open follow-ups back to them. Only reachable
    through a ``verify`` step's ``verified`` exit (checked: IVR204)."""

    type: Literal["history"]
    intro: PromptId
    item: PromptId = Field(description="Said per call; {date}, {topic}, {outcome} filled.")
    open_item: PromptId | None = Field(None, description="Said per open follow-up; {kind}, "
                                       "{due} filled.")
    none: PromptId
    max_items: int = Field(3, ge=1, le=10)
    next: StepId


class Hangup(StepBase):
    """An explicit goodbye: the only way a flow ends without a person."""

    type: Literal["hangup"]
    prompt: PromptId | None = None


Step = Annotated[
    Say | Play | Menu | Ask | Triage | Route | Callback | Survey | SetVars | Switch | Branch
    | Goto | Subflow | Schedule | FollowUp | Verify | History | Hangup,
    Field(discriminator="type"),
]
STEP_MODELS: dict[str, type[StepBase]] = {
    m.model_fields["type"].annotation.__args__[0]: m  # type: ignore[union-attr]
    for m in (Say, Play, Menu, Ask, Triage, Route, Callback, Survey, SetVars, Switch, Branch,
              Goto, Subflow, Schedule, FollowUp, Verify, History, Hangup)
}


class Defaults(Strict):
    timeout: Seconds = 6
    retries: int = Field(2, ge=0, le=5)
    speech_rate: Literal["normal", "elderly", "slower"] = "normal"
    input: Literal["dtmf_first", "speech_first"] = "dtmf_first"


class Overrides(Strict):
    timeout: Seconds | None = None
    retries: int | None = Field(None, ge=0, le=5)
    speech_rate: Literal["normal", "elderly", "slower"] | None = None
    input: Literal["dtmf_first", "speech_first"] | None = None


class ProfileRule(Strict):
    """Caller-profile hook: who the caller is changes how we speak to them."""

    when: Test
    set: Overrides = Field(description="Overrides of the flow defaults for this caller.")


class FlowFile(Strict):
    """A whole flow file."""

    flow: str = Field(pattern=ID, description="The flow's name (subflows refer to it).")
    description: str | None = None
    languages: list[Literal["zh-CN", "en-US", "ko-KR"]] = Field(min_length=1)
    defaults: Defaults = Defaults()
    start: StepId
    on_error: StepId = Field(description="A route to a person, used on any failure.")
    emergency_key: str | None = Field(
        None, pattern=r"^[0-9*#]$", description="Pressed at any menu: the emergency step.")
    emergency_step: StepId | None = None
    profiles: list[ProfileRule] = Field(default_factory=list)
    steps: dict[str, Step] = Field(min_length=1)


def json_schema() -> dict[str, Any]:
    """The flow-file JSON Schema (for the VS Code YAML extension and other editors)."""
    schema = FlowFile.model_json_schema()
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["title"] = "Hospital IVR call flow"
    return schema
