"""Prompt texts per language: ``prompts/<lang>.yaml`` maps prompt id -> text."""

from __future__ import annotations

from pathlib import Path

import yaml

from ivr.flows import yaml_bounds
from ivr.flows.diagnostics import Diagnostic
from ivr.flows.yaml_bounds import YAMLBoundsError
from ivr.flows.yaml_source import load_source


def load_prompts(folder: Path) -> tuple[dict[str, dict[str, str]], dict[str, str],
                                        list[Diagnostic]]:
    """(texts per language, file text per language for versioning, findings)."""
    texts: dict[str, dict[str, str]] = {}
    raw: dict[str, str] = {}
    found: list[Diagnostic] = []
    for path in sorted(folder.glob("*.yaml")):
        lang = path.stem
        try:
            text = yaml_bounds.read_text(path)
            raw[lang] = text
            src = load_source(text, str(path))
        except YAMLBoundsError as exc:
            mark = exc.problem_mark
            found.append(Diagnostic(str(path), mark.line + 1, mark.column + 1, "IVR003",
                                    str(exc.problem)))
            continue
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            found.append(Diagnostic(str(path), mark.line + 1 if mark else 1,
                                    mark.column + 1 if mark else 1, "IVR001",
                                    f"not valid YAML: {getattr(exc, 'problem', exc)}"))
            continue
        for dup_path, line, col in src.duplicates:
            found.append(Diagnostic(str(path), line, col, "IVR002",
                                    f"prompt '{dup_path[-1]}' is defined twice"))
        if not isinstance(src.data, dict):
            found.append(Diagnostic(str(path), 1, 1, "IVR103",
                                    "a prompts file maps prompt ids to texts"))
            continue
        texts[lang] = {}
        for key, value in src.data.items():
            if not isinstance(value, str) or not value.strip():
                line, col = src.where((key,))
                found.append(Diagnostic(str(path), line, col, "IVR103",
                                        f"prompt '{key}' must be a non-empty text"))
                continue
            texts[lang][key] = " ".join(value.split())
    return texts, raw, found
