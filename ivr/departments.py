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
