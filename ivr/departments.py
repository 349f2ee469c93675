"""Department identifiers shared by routing, queues and (later) triage.

One name across the stack: the department id is the Asterisk queue name.
"""

from __future__ import annotations

DEPARTMENTS: tuple[str, ...] = (
    "emergency",
    "crisis",
    "cardiology",
    "neurology",
    "respiratory",
    "gastroenterology",
    "pediatrics",
    "obstetrics_gynecology",
    "orthopedics",
    "dermatology",
    "ent",
    "ophthalmology",
    "urology",
    "endocrinology",
    "general_medicine",
    "pharmacy",
    "appointments",
    "results",
    "billing",
    "complaints",
    "operator",
)

# Queues with their own settings in queues.conf; the rest share the department template.
SPECIAL_QUEUES = frozenset({"emergency", "crisis", "operator"})

# How the line names a department when it reads a caller's history back to them.
DEPARTMENT_NAMES: dict[str, dict[str, str]] = {
    "en-US": {
        "emergency": "the emergency team", "crisis": "the crisis team",
        "cardiology": "cardiology", "neurology": "neurology", "respiratory": "respiratory care",
        "gastroenterology": "gastroenterology", "pediatrics": "paediatrics",
        "obstetrics_gynecology": "obstetrics and gynaecology", "orthopedics": "orthopaedics",
        "dermatology": "dermatology", "ent": "ear, nose and throat",
        "ophthalmology": "eye care", "urology": "urology", "endocrinology": "endocrinology",
        "general_medicine": "general medicine", "pharmacy": "the pharmacy",
        "appointments": "appointments", "results": "test results", "billing": "billing",
        "complaints": "feedback", "operator": "the operator",
    },
    "zh-CN": {
        "emergency": "急诊", "crisis": "心理危机干预", "cardiology": "心内科",
        "neurology": "神经内科", "respiratory": "呼吸科", "gastroenterology": "消化科",
        "pediatrics": "儿科", "obstetrics_gynecology": "妇产科", "orthopedics": "骨科",
        "dermatology": "皮肤科", "ent": "耳鼻喉科", "ophthalmology": "眼科",
        "urology": "泌尿科", "endocrinology": "内分泌科", "general_medicine": "全科",
        "pharmacy": "药房", "appointments": "预约挂号", "results": "检查结果",
        "billing": "收费", "complaints": "意见反馈", "operator": "总机",
    },
}


def department_name(department: str, lang: str) -> str:
    return DEPARTMENT_NAMES.get(lang, DEPARTMENT_NAMES["en-US"]).get(
        department, department.replace("_", " "))
