"""Clinical triage: caller's words (+ context) -> urgency, department, priority, reasons.

Public API::

    from ivr.triage import RuleTriager, TriageDecision
    RuleTriager().decide("孩子发烧三天了", "zh", {"caller.repeat_calls_24h": 2})

Modules: ``rules`` (load + validate triage_rules.yaml), ``normalize`` (text
folding, Chinese numerals), ``phrases`` (the phrase syntax), ``matcher``,
``negation``, ``quantities`` (temperature, age, duration), ``engine`` (the
decision), ``acoustic`` (acoustic urgency; imports librosa, so not imported
here), ``eval`` (labelled-set evaluation and agent review).
"""

from ivr.triage.decision import QUEUE_PRIORITY, TriageDecision, Triager
from ivr.triage.engine import RuleTriager
from ivr.triage.rules import Rules, RulesError, load_rules

__all__ = ["QUEUE_PRIORITY", "RuleTriager", "Rules", "RulesError", "TriageDecision", "Triager",
           "load_rules"]
