"""Display names for charts and tables: the id, then its Mandarin name.

Department names are the hospital's usual ones (display only: the id stays the
key everywhere). Symptom names are the first plain Mandarin phrase of the entry
in the triage rules, so a clinician's new entry gets a label without a code
change. Anything unknown is shown as its id.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

DEPARTMENTS_ZH: dict[str, str] = {
    "emergency": "急诊",
    "crisis": "心理危机",
    "cardiology": "心内科",
    "neurology": "神经内科",
    "respiratory": "呼吸科",
    "gastroenterology": "消化科",
    "pediatrics": "儿科",
    "obstetrics_gynecology": "妇产科",
    "orthopedics": "骨科",
    "dermatology": "皮肤科",
    "ent": "耳鼻喉科",
    "ophthalmology": "眼科",
    "urology": "泌尿科",
    "endocrinology": "内分泌科",
    "general_medicine": "全科",
    "pharmacy": "药房",
    "appointments": "预约",
    "results": "检查结果",
    "billing": "收费",
    "complaints": "投诉",
    "operator": "总机",
}

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
        data = yaml.safe_load(Path(rules_path).read_text(encoding="utf-8"))
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
    zh = DEPARTMENTS_ZH.get(department)
    return f"{department} {zh}" if zh else department


def symptom_label(symptom: str) -> str:
    zh = symptom_names_zh().get(symptom)
    return f"{symptom} {zh}" if zh else symptom
