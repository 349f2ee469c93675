"""The words of a results status: test kinds, statuses, and dates said for the ear."""

from __future__ import annotations

import datetime as dt

STATUSES = ("ready", "pending", "clinic_will_call")

# test kind -> how it is said; a kind not listed here is refused at import
KINDS: dict[str, dict[str, str]] = {
    "blood": {"en-US": "blood test", "zh-CN": "验血结果"},
    "urine": {"en-US": "urine test", "zh-CN": "尿检结果"},
    "stool": {"en-US": "stool test", "zh-CN": "便检结果"},
    "imaging": {"en-US": "scan", "zh-CN": "影像检查结果"},
    "xray": {"en-US": "X-ray", "zh-CN": "X光片结果"},
    "ct": {"en-US": "CT scan", "zh-CN": "CT检查结果"},
    "mri": {"en-US": "MRI scan", "zh-CN": "核磁共振检查结果"},
    "ultrasound": {"en-US": "ultrasound scan", "zh-CN": "B超检查结果"},
    "ecg": {"en-US": "ECG", "zh-CN": "心电图结果"},
    "pathology": {"en-US": "pathology test", "zh-CN": "病理检查结果"},
    "other": {"en-US": "test", "zh-CN": "检查结果"},
}

# what import files may call a kind (lower case) -> the kind
ALIASES = {"x-ray": "xray", "x ray": "xray", "lab": "blood", "biopsy": "pathology",
           "ekg": "ecg", "scan": "imaging"}


def test_name(kind: str, lang: str) -> str:
    names = KINDS.get(kind, KINDS["other"])
    return names.get(lang, names["en-US"])


def spoken_date(day: dt.date, lang: str, today: dt.date | None = None) -> str:
    """'28 November' / '11月28日'; the year only when it is not this year's."""
    same_year = today is None or today.year == day.year
    if lang == "zh-CN":
        return f"{'' if same_year else f'{day.year}年'}{day.month}月{day.day}日"
    return f"{day.day} {day.strftime('%B')}" + ("" if same_year else f" {day.year}")
