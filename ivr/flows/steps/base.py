"""What every step type shares: field types, exits, findings, and the defaults of
the methods a step module overrides.

A step type is one module in this package holding one model, ``Step``, a
subclass of :class:`StepBase`. The model is the step's whole contract: its
fields (validated, exported as JSON Schema), its exits (read by the checks, the
safety analysis and the graph), its picture label, and ``run``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from ivr.flows.context import StepContext

ID = r"^[a-z][a-z0-9_]*$"
VAR = r"^[a-z][a-z0-9_.]*$"
StepId = Annotated[str, Field(pattern=ID, description="A step id in this flow.")]
PromptId = Annotated[str, Field(pattern=ID, description="A prompt id from prompts/<lang>.yaml.")]
Seconds = Annotated[float, Field(gt=0, le=120)]
Key = Annotated[str, Field(pattern=r"^[0-9*#]$", description="One DTMF key.")]
Path = tuple[str | int, ...]
Result = tuple[str | None, str | None]  # (next step id, outcome when the call is finished)
TEXT_MAX = 40  # a picture label's longest line


class Strict(BaseModel):
    """Unknown keys are errors: a misspelt ``timout:`` must not become a silent default."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Fallback(Strict):
    """What to do when the caller gives no (or no valid) answer."""

    prompt: PromptId | None = Field(None, description="Said before each retry.")
    goto: StepId = Field(description="Where the caller goes once the retries are used up.")


@dataclass(frozen=True)
class Edge:
    label: str  # "next", "1", "no input", "urgency 1", ...
    target: str  # step id in the same flow
    path: Path  # where the target is written, under the step


@dataclass(frozen=True)
class Finding:
    """A step-specific problem: ``path`` is under the step, ``code`` an IVRnnn."""

    path: Path
    code: str
    message: str


@dataclass(frozen=True)
class Scope:
    """What a step's own checks may look at beyond the step itself."""

    emergency_key: str | None
    flows: frozenset[str]  # names of the flows that loaded
    broken: frozenset[str] = field(default_factory=frozenset)  # flows whose files have errors


def truncate(text: str, limit: int = TEXT_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


class StepBase(Strict):
    """Defaults for a step that speaks nothing, leads nowhere and checks nothing more."""

    description: str | None = Field(None, description="A note for engineers; never spoken.")

    #: fields holding a prompt id (checked to exist in every language of the flow)
    prompt_fields: ClassVar[tuple[str, ...]] = ()
    #: how the picture draws it: "action", "decision" or "subflow"
    drawn_as: ClassVar[str] = "action"

    def exits(self) -> list[Edge]:
        """Where this step can lead in the same flow."""
        return []

    def ends(self) -> str | None:
        """'emergency', 'human' or 'goodbye' for a step that ends a path."""
        return None

    def continues_in(self) -> str | None:
        """The other flow this step continues in (subflow), if any."""
        return None

    def red_flag_exits(self) -> list[Edge]:
        """Exits that must reach the emergency or crisis team on every path (IVR202)."""
        return []

    def prompt_refs(self) -> list[tuple[str, Path]]:
        """(prompt id, path under the step) for every prompt the step may speak."""
        refs: list[tuple[str, Path]] = [
            (v, (name,)) for name in self.prompt_fields
            if isinstance(v := getattr(self, name, None), str)]
        for name in ("no_input", "no_match"):
            fb = getattr(self, name, None)
            if isinstance(fb, Fallback) and fb.prompt:
                refs.append((fb.prompt, (name, "prompt")))
        return refs

    def queues(self) -> list[tuple[str, Path]]:
        """Department queues the step names (checked to exist, IVR110)."""
        return []

    def answer_keys(self) -> list[tuple[str, Path]]:
        """Keys that answer this step (checked not to be the flow's emergency key)."""
        return []

    def check(self, scope: Scope) -> list[Finding]:
        """Problems only this step type knows about."""
        return []

    def label(self, prompts: Mapping[str, str]) -> str:
        """A short line for the picture: what is said, or what the step does."""
        prompt = getattr(self, "prompt", None)
        if isinstance(prompt, str):
            return f"“{truncate(prompts.get(prompt, f'[{prompt}]'))}”"
        return ""

    async def run(self, ctx: StepContext) -> Result:
        raise NotImplementedError(f"step type '{type_of(self)}' has no run()")


def keys_as_text(value: Any) -> Any:
    """YAML reads ``1:`` as an int; a mapping of keys/levels wants text."""
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value


def type_of(step: StepBase) -> str:
    """The step's ``type:`` (each subclass declares it as a literal)."""
    return str(getattr(step, "type"))  # noqa: B009
