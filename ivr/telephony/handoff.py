"""What an agent is handed with a call, on any handset.

A softphone shows the ``X-IVR-*`` headers (extensions.conf, ivr-agent-predial); a desk
phone shows only the caller-ID name, so the name itself carries the context:
``U1 chest pain 138**03`` (urgency, main complaint, masked number), short and in
characters every SIP display name and handset takes. Optionally the agent also hears
it before the bridge (a whisper: Queue()'s announce, played to the agent only):
"urgent, chest pain, second call in 24 hours".

The text comes from the flow state: the triage decision (``triage.urgency``,
``triage.symptoms``, ``triage.department``) and the caller's history
(``caller.repeat_calls_24h``), see :func:`handoff_for`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ivr.departments import department_name

# Desk phones show 16-24 characters on a line; the masked number is always kept whole.
MAX_DISPLAY = 24
# Letters, digits, space and * + . - only: safe inside a quoted SIP display name, a
# dialplan Set() and every handset's font (no quotes, backslashes, commas or CJK).
_UNSAFE = re.compile(r"[^A-Za-z0-9 *+.-]+")

URGENCY_WORDS: dict[str, dict[int, str]] = {
    "en-US": {1: "immediate", 2: "urgent", 3: "routine", 4: "non-clinical"},
    "zh-CN": {1: "立即处理", 2: "紧急", 3: "常规", 4: "非临床"},
}
REPEAT_WORDS: dict[str, dict[int, str]] = {  # calls before this one in 24 h -> words
    "en-US": {1: "second call in 24 hours", 2: "third call in 24 hours"},
    "zh-CN": {1: "24小时内第二次来电", 2: "24小时内第三次来电"},
}
MANY_REPEATS = {"en-US": "call {n} in 24 hours", "zh-CN": "24小时内第{n}次来电"}


@dataclass(frozen=True)
class Handoff:
    """The call's context for the agent's leg (see the module docstring)."""

    display: str = ""  # caller-ID name on the agent's handset
    whisper: str = ""  # said to the agent before the bridge; empty: none
    language: str = "en-US"  # the caller's: the whisper's and the preferred agents'
    variables: Mapping[str, Any] = field(default_factory=dict)  # for skills.call_needs


def short_mask(number: str) -> str:
    """First 3 and last 2 digits, as the records mask them, with two stars between:
    the display keeps room for the complaint.

    >>> short_mask("+86 138 0013 8003"), short_mask("1234")
    ('861**03', '****')
    """
    digits = re.sub(r"\D", "", number or "")
    if len(digits) < 6:
        return "*" * len(digits) if digits else "unknown"
    return f"{digits[:3]}**{digits[-2:]}"


def display_name(urgency: int | None, complaint: str, number: str) -> str:
    """``U1 chest pain 138**03``: at most MAX_DISPLAY safe characters; the complaint
    is cut, at a word boundary where it can be (never the urgency or the number).

    >>> display_name(1, "chest_pain", "13800138003")
    'U1 chest pain 138**03'
    >>> display_name(None, 'say "hi", <now>', "")
    'say hi now unknown'
    """
    head = f"U{urgency}" if urgency else ""
    tail = short_mask(number)
    words = " ".join(_UNSAFE.sub(" ", complaint.replace("_", " ")).split())
    room = MAX_DISPLAY - len(tail) - (len(head) + 1 if head else 0) - 1
    if len(words) > room:  # cut at a word boundary where there is one
        cut = words[:max(room, 0) + 1]
        words = cut.rsplit(" ", 1)[0] if " " in cut else cut[:max(room, 0)]
    words = words.rstrip(" *+.-")
    return " ".join(part for part in (head, words, tail) if part)


def main_complaint(symptoms: list[str], department: str, not_symptoms: frozenset[str]
                   ) -> str:
    """The first symptom heard that is a symptom (not 'child', 'sudden'...), else the
    department the caller is going to."""
    for symptom in symptoms:
        if symptom not in not_symptoms:
            return symptom
    return department


def whisper_text(urgency: int | None, complaint: str, repeat_calls: int, lang: str,
                 complaint_zh: str = "") -> str:
    """"urgent, chest pain, second call in 24 hours" (in the caller's language, which
    the agent chosen for the call speaks).

    >>> whisper_text(2, "chest_pain", 1, "en-US")
    'urgent, chest pain, second call in 24 hours'
    >>> whisper_text(None, "pharmacy", 0, "en-US")
    'pharmacy'
    """
    lang = lang if lang in URGENCY_WORDS else "en-US"
    parts = []
    if urgency in URGENCY_WORDS[lang]:
        parts.append(URGENCY_WORDS[lang][urgency])
    what = complaint_zh if lang == "zh-CN" and complaint_zh else complaint.replace("_", " ")
    if what:
        parts.append(what)
    if repeat_calls > 0:
        parts.append(REPEAT_WORDS[lang].get(repeat_calls)
                     or MANY_REPEATS[lang].format(n=repeat_calls + 1))
    return ("，" if lang == "zh-CN" else ", ").join(parts)


def handoff_for(variables: Mapping[str, Any], queue: str, lang: str, *, whisper: bool,
                not_symptoms: frozenset[str] = frozenset(),
                names_zh: Mapping[str, str] | None = None) -> Handoff:
    """The handoff of a call queued in ``queue``, from its flow variables."""
    raw = variables.get("triage.urgency")
    urgency = int(raw) if isinstance(raw, int | str) and str(raw).isdigit() else None
    heard = variables.get("triage.symptoms") or ()
    symptoms = [heard] if isinstance(heard, str) else [str(s) for s in heard]  # a set step's
    department = str(variables.get("triage.department") or queue)
    complaint = main_complaint(symptoms, department, not_symptoms)
    if complaint == department:  # a department id: its spoken name
        complaint_zh = department_name(department, "zh-CN")
        complaint = department_name(department, "en-US")
    else:
        complaint_zh = (names_zh or {}).get(complaint, "")
    repeats = int(variables.get("caller.repeat_calls_24h") or 0)
    number = str(variables.get("caller.number") or "")
    return Handoff(
        display=display_name(urgency, complaint, number),
        whisper=whisper_text(urgency, complaint, repeats, lang, complaint_zh)
        if whisper else "",
        language=lang, variables=dict(variables))
