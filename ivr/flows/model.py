"""Flow objects: what a YAML flow file becomes once loaded and checked."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Step:
    id: str
    type: str
    line: int
    params: dict[str, object] = field(default_factory=dict)

    def get(self, key: str, default: object = None) -> object:
        return self.params.get(key, default)


@dataclass(frozen=True)
class Flow:
    name: str
    version: str  # content hash: a call record names exactly what it ran
    path: str
    language: str
    speech_rate: str
    start: str
    on_error: str
    steps: dict[str, Step]
