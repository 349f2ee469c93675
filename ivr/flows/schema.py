"""The flow language: the flow file's header here, the step types in ``steps/``,
exported together as JSON Schema for editors.

Every model forbids unknown keys, so a misspelt ``timout:`` is an error, not a
silent default. The ``steps:`` mapping is typed on the registry's union of step
models (``ivr.flows.steps.STEPS``), so a registered step type is a valid step.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ivr.flows.conditions import Test
from ivr.flows.steps.base import ID, Seconds, StepBase, StepId, Strict
from ivr.flows.steps.base import Fallback as Fallback

DTMF_KEYS = "0123456789*#"


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


class FlowHeader(Strict):
    """A flow file without its steps (the registry adds ``steps``)."""

    flow: str = Field(pattern=ID, description="The flow's name (subflows refer to it).")
    description: str | None = None
    languages: list[Literal["zh-CN", "en-US", "ko-KR"]] = Field(min_length=1)
    defaults: Defaults = Defaults()
    start: StepId
    on_error: StepId = Field(description="A route to a person, used on any failure.")
    emergency_key: str | None = Field(
        None, pattern=r"^[0-9*#]$", description="Pressed at any menu: the emergency step.")
    emergency_step: StepId | None = None
    crisis_step: StepId | None = Field(
        None, description="Where crisis talk heard at any question goes (the red-flag "
        "screen), e.g. the crisis protocol; without it, straight to the crisis team.")
    crisis_lane: bool = Field(
        False, description="This flow is the crisis protocol: crisis talk heard here is "
        "what it is for and does not divert the call again (a medical red flag still goes "
        "to the emergency team).")
    profiles: list[ProfileRule] = Field(default_factory=list)
    red_flag_screen: Literal["every_answer", "free_answers"] = Field(
        "every_answer", description="Which answers the red-flag screen hears: every answer "
        "at every listening step (the default), or only free-speech questions (a narrowing "
        "the validator warns about, IVR205).")
    steps: dict[str, StepBase] = Field(min_length=1)


def flow_file() -> type[FlowHeader]:
    """The flow-file model for the step types registered now."""
    from ivr.flows.registry import STEPS

    return STEPS.flow_file()


def json_schema() -> dict[str, Any]:
    """The flow-file JSON Schema (for the VS Code YAML extension and other editors).
    Each step's definition is named by its ``type``, like its module."""
    from ivr.flows.registry import STEPS, step_type

    schema = flow_file().model_json_schema()
    defs = schema.get("$defs", {})
    renames = {}
    for old, body in list(defs.items()):
        props = body.get("properties", {})
        kind = props.get("type", {}).get("const")
        if kind in STEPS.models:
            renames[old] = step_type(STEPS.models[kind])
    for old, new in renames.items():
        defs[new] = defs.pop(old)
    schema["$defs"] = dict(sorted(defs.items()))
    schema = _rewrite_refs(schema, {f"#/$defs/{o}": f"#/$defs/{n}" for o, n in renames.items()})
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["title"] = "Hospital IVR call flow"
    return schema


def _rewrite_refs(node: Any, refs: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _rewrite_refs(v, refs) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(v, refs) for v in node]
    return refs.get(node, node) if isinstance(node, str) else node
