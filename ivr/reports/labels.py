"""Display names for charts and tables: the id, then its Mandarin name.

Department names are the ones the phone line says (``ivr.departments``; display
only: the id stays the key everywhere). Symptom names are the first plain Mandarin
phrase of the entry in the triage rules, so a clinician's new entry gets a label
without a code change. Anything unknown is shown as its id.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ivr.departments import DEPARTMENT_NAMES
from ivr.flows.yaml_source import load_file

# the level names of triage_rules.yaml (levels:), with their Mandarin
URGENCY_NAMES: dict[str, str] = {
    "1": "1 immediate 立即", "2": "2 urgent 紧急", "3": "3 routine 常规",
    "4": "4 non-clinical 非临床",
    "none": "not triaged 未分诊",
}

_RULE_SECTIONS = ("red_flags", "crisis", "symptoms")
# entries a decision lists beside symptoms that are not symptoms: who the patient is
# (child, pregnant), how it is said (sudden, severe) and plain requests (appointments)
_NOT_SYMPTOMS = ("modifiers", "requests")


@cache
def _rules(rules_path: Path | None) -> dict[str, Any]:
    if rules_path is None:
        from ivr.triage.rules import RULES_PATH

        rules_path = RULES_PATH
    try:
        data = load_file(Path(rules_path)).data  # bounded, as every YAML file read
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


@cache
def not_symptoms(rules_path: Path | None = None) -> frozenset[str]:
    """Rule entries that are not symptoms (patient groups, wording, requests); ids the
    rules do not know (an entry since removed) are kept as symptoms."""
    data = _rules(rules_path)
    return frozenset(str(k) for section in _NOT_SYMPTOMS for k in (data.get(section) or {}))


@cache
def symptom_names_zh(rules_path: Path | None = None) -> dict[str, str]:
    """``{symptom id: first Mandarin phrase without a gap}`` from the triage rules;
    empty when the file is missing or unreadable (labels fall back to ids)."""
    data = _rules(rules_path)
    names: dict[str, str] = {}
    for section in _RULE_SECTIONS:
        for entry_id, entry in (data.get(section) or {}).items():
            phrases = entry.get("zh") if isinstance(entry, dict) else None
            plain = [p for p in phrases or () if isinstance(p, str) and "*" not in p]
            if plain:
                names[str(entry_id)] = plain[0]
    return names


def department_label(department: str) -> str:
    zh = DEPARTMENT_NAMES["zh-CN"].get(department)
    return f"{department} {zh}" if zh else department


def symptom_label(symptom: str) -> str:
    zh = symptom_names_zh().get(symptom)
    return f"{symptom} {zh}" if zh else symptom
