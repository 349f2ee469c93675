"""Load a flow file into :class:`Flow`, with errors naming file and line.

This is the minimal loader of the walking skeleton (types: say, menu, route,
hangup); it refuses anything it does not understand rather than guess.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from ivr.flows.model import Flow, Step

STEP_TYPES = {"say", "menu", "route", "hangup"}
TARGET_KEYS = {"next", "on_no_input", "on_no_match"}


class FlowError(ValueError):
    """A flow file is wrong; ``str()`` is ``file:line: message``."""


def _lines(node: yaml.Node) -> dict[str, int]:
    """Line (1-based) of each key of a YAML mapping node."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: k.start_mark.line + 1 for k, _v in node.value}


def load_flow(path: Path) -> Flow:
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise FlowError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("steps"), dict):
        raise FlowError(f"{path}:1: a flow needs a 'steps' mapping")
    step_nodes = {k.value: v for k, v in root.value if k.value == "steps"}["steps"]
    lines = _lines(step_nodes)
    steps: dict[str, Step] = {}
    for sid, body in data["steps"].items():
        line = lines.get(sid, 1)
        if not isinstance(body, dict) or body.get("type") not in STEP_TYPES:
            raise FlowError(f"{path}:{line}: step {sid!r}: type must be one of "
                            f"{', '.join(sorted(STEP_TYPES))}")
        steps[sid] = Step(id=sid, type=body["type"], line=line,
                          params={k: v for k, v in body.items() if k != "type"})
    start = data.get("start", next(iter(steps)))
    on_error = data.get("on_error", "operator")
    for step in steps.values():
        targets = [step.get(k) for k in TARGET_KEYS] + list(
            (step.get("options") or {}).values())  # type: ignore[union-attr]
        for target in targets:
            if target is not None and target not in steps:
                raise FlowError(f"{path}:{step.line}: step {step.id!r}: "
                                f"goes to {target!r}, which is not a step")
    if start not in steps:
        raise FlowError(f"{path}:1: start step {start!r} is not a step")
    return Flow(
        name=str(data.get("flow", path.stem)),
        version=hashlib.sha256(text.encode()).hexdigest()[:12],
        path=str(path),
        language=str(data.get("language", "en")),
        speech_rate=str(data.get("speech_rate", "normal")),
        start=start,
        on_error=str(on_error),
        steps=steps,
    )
