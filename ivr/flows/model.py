"""Loaded flows: the validated file, its version, and the prompts it speaks."""

from __future__ import annotations

from dataclasses import dataclass, field

from ivr.flows.schema import FlowHeader, StepBase
from ivr.flows.yaml_source import Source


@dataclass(frozen=True)
class Flow:
    name: str
    version: str  # content hash of the file and its prompts: a call record names what it ran
    path: str
    spec: FlowHeader
    source: Source = field(repr=False, compare=False)

    @property
    def steps(self) -> dict[str, StepBase]:
        return self.spec.steps  # type: ignore[return-value]

    @property
    def language(self) -> str:
        return self.spec.languages[0]

    @property
    def start(self) -> str:
        return self.spec.start

    def where(self, *path: str | int) -> tuple[int, int]:
        return self.source.where(path)


@dataclass(frozen=True)
class FlowSet:
    """Every flow of a dialplans folder and the prompt texts, replaced as one."""

    flows: dict[str, Flow]
    prompts: dict[str, dict[str, str]]  # language -> prompt id -> text
    version: str = ""

    def prompt_text(self, prompt_id: str, lang: str) -> str:
        return self.prompts[lang][prompt_id]
