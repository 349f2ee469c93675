"""The rule engine: a caller's words (+ context) -> a TriageDecision with its reasons.

Order of a decision (the rules file's header says the same for clinicians):

1. normalise the words; find every phrase; drop negated ones (unless recognition
   was poor: then negation is not trusted);
2. facts: the entries heard, the temperature, the patient's age group, how long;
3. a red flag or a level-1 combination -> 1, emergency; else crisis talk -> 1,
   crisis; else the most urgent symptom or combination; else a request -> 4;
   else the unrecognised default (a nurse decides);
4. a patient group (pregnancy, a child) takes a clinical call to its department;
5. raises, never lowers: a repeat caller, acoustic urgency. A level reached by a
   raise is still a level: at 1 the caller goes to the emergency lane;
6. the meaning screen (``semantic.py``, ``triage_examples.yaml``): words the rules
   left below 1 that are closer in meaning to the labelled red flags (or crisis
   talk) than to anything else are raised to 1, with the example they resembled.

Nothing here can lower a red flag: it is decided first, and later steps only raise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ivr.triage.decision import TriageDecision
from ivr.triage.matcher import Hit, Matcher
from ivr.triage.negation import NegationDetector
from ivr.triage.normalize import normalise
from ivr.triage.quantities import Quantities, extract
from ivr.triage.rules import (
    AGE_GROUPS,
    CRISIS,
    MODIFIER,
    PRETERM,
    RED_FLAG,
    REQUEST,
    SYMPTOM,
    Combination,
    Rules,
    load_rules,
)

# Context keys (the flow passes caller.* variables; the speech layer adds the others).
CTX_ASR_CONFIDENCE = "asr_confidence"
CTX_ACOUSTIC = "acoustic_urgency"
CTX_REPEAT_CALLS = "caller.repeat_calls_24h"
CTX_AGE_GROUP = "caller.age_group"

EMERGENCY, CRISIS_TEAM = "emergency", "crisis"
PRETERM_UNDER_WEEKS = 37  # labour or waters before this is an emergency
# At the same level, a specific department beats the nurses' catch-all.
GENERAL = "general_medicine"


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


@dataclass
class _Facts:
    """What was heard and worked out, with the evidence for each reason."""

    hits: dict[str, Hit] = field(default_factory=dict)  # entry id -> first affirmed hit
    derived: dict[str, str] = field(default_factory=dict)  # age groups, temperature facts
    quantities: Quantities = field(default_factory=Quantities)
    denied: list[Hit] = field(default_factory=list)  # negated hits (what was said "not")

    def __contains__(self, name: str) -> bool:
        return name in self.hits or name in self.derived

    def evidence(self, name: str) -> str:
        if name in self.hits:
            return f"{name} '{self.hits[name].said}'"
        return f"{name} ({self.derived[name]})"


@dataclass(frozen=True)
class _Candidate:
    level: int
    department: str
    position: int
    reason: str


_COMPILED: dict[int, tuple[Rules, Matcher, NegationDetector]] = {}
_HEARD: dict[int, dict[str, tuple[re.Pattern[str] | None, dict[str, str]]]] = {}


def _compiled(rules: Rules) -> tuple[Matcher, NegationDetector]:
    """Compiled phrases per rules object: flows build a triager per call, cheaply."""
    if id(rules) not in _COMPILED:
        _COMPILED[id(rules)] = (rules, Matcher(rules), NegationDetector(rules))
    _, matcher, negation = _COMPILED[id(rules)]
    return matcher, negation


# what a caller complains of (counted by reports, shown to agents); not age groups,
# wording modifiers or administrative requests
COMPLAINTS = frozenset({SYMPTOM, RED_FLAG, CRISIS})


class RuleTriager:
    """Clinical triage over ``triage_rules.yaml`` (implements ``Triager``)."""

    def __init__(self, rules: Rules | Path | str | None = None, *,
                 semantic: bool = True) -> None:
        self.rules = rules if isinstance(rules, Rules) else load_rules(
            Path(rules) if rules else None)
        self.matcher, self.negation = _compiled(self.rules)
        self.semantic = semantic  # False: the rules alone (``ivr triage eval --rules-only``)

    def warm_up(self) -> None:
        """Load the meaning screen's encoder and examples now (about a second), not at
        the first caller's answer."""
        if self.semantic:
            from ivr.triage.semantic import index_for

            index_for(self.rules)

    def decide(self, text: str, lang: str = "zh",
               context: dict[str, object] | None = None) -> TriageDecision:
        ctx = context or {}
        policy = self.rules.policy
        reasons: list[str] = []
        confidence = _number(ctx.get(CTX_ASR_CONFIDENCE))
        doubt = confidence is not None and confidence < policy.low_confidence_below
        if doubt:
            reasons.append(f"recognition confidence {confidence:.2f} < "
                           f"{policy.low_confidence_below:.2f}: negations are not trusted")
        norm = self._heard_as(normalise(text), lang, reasons)
        facts = self._facts(norm, doubt, reasons)
        self._age(facts, ctx, reasons)
        fired = [c for c in self.rules.combinations if self._fires(c, facts)]

        level, department, crisis = self._base(facts, fired, reasons)
        if level == 3 and not self._placed(facts, fired):
            level = self._vital_sign(facts, level, reasons)
        clinical = level in (2, 3)
        if clinical:
            department = self._patient_department(facts, department, reasons)
            level, department = self._raises(level, department, ctx, reasons)
        if level > 1 and self.semantic:
            level, department, crisis = self._meaning(_without(norm, facts.denied), level,
                                                      department, reasons)
        acoustic = _number(ctx.get(CTX_ACOUSTIC))
        ask_safety = bool(acoustic is not None and level > 1
                          and acoustic >= policy.acoustic_ask_safety_at)
        if ask_safety:
            reasons.append(f"acoustic urgency {acoustic:.2f} >= "
                           f"{policy.acoustic_ask_safety_at:.2f}: ask whether it is an emergency")
        return TriageDecision(level, department, self.rules.queue_priority(level), reasons,
                              crisis=crisis, ask_safety=ask_safety,
                              rules_version=self.rules.version,
                              symptoms=sorted(e for e in facts.hits
                                              if self.rules.entries[e].kind in COMPLAINTS))

    def _meaning(self, norm: str, level: int, department: str, reasons: list[str]
                 ) -> tuple[int, str, bool]:
        """Raise to 1 what is closer in meaning to the red-flag examples than to the
        rest (never lowers: only called below 1)."""
        from ivr.triage.semantic import index_for

        index = index_for(self.rules)
        verdict = index.judge(norm) if index is not None else None
        if verdict is None or not verdict.red:
            return level, department, False
        reasons.append(verdict.reason(level))
        return 1, CRISIS_TEAM if verdict.crisis else EMERGENCY, verdict.crisis

    # --- recogniser errors, vital functions ------------------------------------------
    def _heard_as(self, norm: str, lang: str, reasons: list[str]) -> str:
        """Words a recogniser commonly gets wrong, put back ("chess pain" -> chest pain)."""
        regex = _HEARD.get(id(self.rules), {}).get(lang)
        if regex is None:
            pairs = self.rules.heard_as.get(lang, ())
            table = {normalise(k): normalise(v) for k, v in pairs}
            regex = (re.compile(r"(?<![a-z0-9])(?:" + "|".join(
                re.escape(k) for k in sorted(table, key=len, reverse=True)) + r")(?![a-z0-9])")
                if table else None, table)
            _HEARD.setdefault(id(self.rules), {})[lang] = regex
        pattern, table = regex
        if pattern is None:
            return norm

        def swap(m: re.Match[str]) -> str:
            reasons.append(f"heard '{m.group(0)}' as '{table[m.group(0)]}' (a common "
                           "recognition error)")
            return table[m.group(0)]

        return pattern.sub(swap, norm)

    def _placed(self, facts: _Facts, fired: list[Combination]) -> bool:
        """Whether a complaint (not only a known condition) or a combination placed it."""
        return bool(fired) or any(h.kind == SYMPTOM and not self.rules.entries[h.entry].condition
                                  for h in facts.hits.values())

    def _vital_sign(self, facts: _Facts, level: int, reasons: list[str]) -> int:
        """Doubt escalates: a clinical call the rules cannot place that names a vital function
        (breathing, consciousness, bleeding, colour, responsiveness) goes to a clinician."""
        vital = [h for h in facts.hits.values() if self.rules.entries[h.entry].vital]
        if not vital:
            return level
        new = min(level, self.rules.policy.vital_sign_urgency)
        hit = vital[0]
        reasons.append(f"vital function {self.rules.entries[hit.entry].vital} named "
                       f"('{hit.said}'): raised {level} -> {new}, a clinician decides")
        return new

    # --- facts --------------------------------------------------------------------
    def _facts(self, norm: str, doubt: bool, reasons: list[str]) -> _Facts:
        facts = _Facts(quantities=extract(norm))
        denied: dict[str, tuple[Hit, str]] = {}
        history: dict[str, tuple[Hit, str]] = {}
        hits = self.matcher.find(norm)
        cues = {id(h): self.negation.cue(norm, h) for h in hits}
        for hit in hits:
            entry = self.rules.entries[hit.entry]
            cue = cues[id(hit)]
            if not doubt and self._misread(hit, hits, cues):
                reasons.append(f"'{hit.said}' is a negation of what follows it, not "
                               f"{hit.entry}")
                continue
            # a request is never negated: "I didn't get my results" is about results
            if cue and entry.negatable and entry.kind != REQUEST:
                if not doubt:
                    denied.setdefault(hit.entry, (hit, cue))
                    facts.denied.append(hit)
                    continue
                reasons.append(f"'{hit.said}' counted despite '{cue}' (poor recognition)")
            if hit.medicine:
                reasons.append(f"'{hit.said}' names a medicine, not a complaint")
                continue
            if entry.kind == RED_FLAG and not doubt and (marker := self._long_ago(norm, hit)):
                history.setdefault(hit.entry, (hit, marker))
                continue
            facts.hits.setdefault(hit.entry, hit)
        for eid, (hit, cue) in denied.items():
            if eid in facts.hits:
                reasons.append(f"conflicting: {eid} both denied ('{hit.said}') and said "
                               f"('{facts.hits[eid].said}'): counted")
            else:
                reasons.append(f"negated: {eid} ('{hit.said}' after '{cue}') does not count")
        for eid, (hit, marker) in history.items():
            if eid in facts.hits:
                reasons.append(f"{eid}: '{hit.said}' was in the past ('{marker}') but "
                               f"'{facts.hits[eid].said}' is now: counted")
            else:
                reasons.append(f"history: {eid} ('{hit.said}' with '{marker}') is a past "
                               "event, not a sign now")
        q = facts.quantities
        if q.temperature_c is not None:
            names = [sets for start, sets in self.rules.policy.temperature
                     if q.temperature_c >= start]
            for name in names:
                facts.derived.setdefault(name, f"temperature {q.temperature_c:g} °C")
            reasons.append(f"temperature {q.temperature_c:g} °C ('{q.temperature_said}')"
                           + (f": {', '.join(names)}" if names else ": below fever"))
        if q.duration_hours is not None:
            reasons.append(f"lasting {q.duration_hours:g} h ('{q.duration_said}')")
        if q.gestation_weeks is not None and q.gestation_weeks < PRETERM_UNDER_WEEKS:
            facts.derived[PRETERM] = f"{q.gestation_weeks:g} weeks pregnant"
            reasons.append(f"{q.gestation_weeks:g} weeks pregnant ('{q.gestation_said}'): "
                           "preterm")
        return facts

    def _long_ago(self, norm: str, hit: Hit) -> str | None:
        """A long-ago marker right next to a red flag ("stroke last spring", "heart attack
        back in march", "前年心梗"): the marker, else None. Next to it only: "I had a stroke
        last year and now his face is drooping" still has a drooping face now."""
        markers = self.rules.history.get(hit.lang) or ()
        if not markers:
            return None
        if hit.lang in ("zh", "ko"):
            window = norm[max(0, hit.start - 6):hit.start] + " " + norm[hit.end:hit.end + 6]
            return next((m for m in markers if m in window), None)
        before = " " + " ".join(norm[:hit.start].split()[-4:]) + " "
        after = " " + " ".join(norm[hit.end:].split()[:5]) + " "
        return next((m for m in markers if f" {m} " in before or f" {m} " in after), None)

    def _misread(self, hit: Hit, hits: list[Hit], cues: dict[int, str]) -> bool:
        """没有呼吸困难 holds the phrase 没有呼吸 (not breathing); read as 没有 + 呼吸困难
        (no breathing difficulty) when a hit starting inside it is negated by its cue."""
        lead = self.negation.leading_cue(hit)
        if not lead:
            return False
        # Only a complaint can explain it away, and only a red flag a red flag.
        kinds = (RED_FLAG,) if hit.kind == RED_FLAG else (RED_FLAG, CRISIS, SYMPTOM)
        return any(o is not hit and o.kind in kinds and hit.start < o.start < hit.end
                   and cues[id(o)] == lead for o in hits)

    def _age(self, facts: _Facts, ctx: dict[str, object], reasons: list[str]) -> None:
        """The patient's age group: a number said beats words, words beat the caller's
        profile (they may be calling about someone else)."""
        p = self.rules.policy
        years = facts.quantities.age_years
        word_groups = {self.rules.entries[e].age_group: e for e in facts.hits
                       if self.rules.entries[e].age_group}
        if years is not None:
            group = ("young_infant" if years * 12 < p.young_infant_under_months else
                     "infant" if years * 12 < p.infant_under_months else
                     "child" if years < p.child_under_years else
                     "elderly" if years >= p.elderly_from_years else None)
            for e in word_groups.values():
                del facts.hits[e]
            if group:
                facts.derived[group] = f"age {years:g} years"
            reasons.append(f"age {years:g} years ('{facts.quantities.age_said}')"
                           f": {group or 'adult'}")
            return
        for group, eid in word_groups.items():
            facts.derived.setdefault(group, f"'{facts.hits[eid].said}'")
            reasons.append(f"patient group {group}: '{facts.hits[eid].said}'")
        if not word_groups and str(ctx.get(CTX_AGE_GROUP, "")) in AGE_GROUPS:
            group = str(ctx[CTX_AGE_GROUP])
            facts.derived[group] = "caller profile"
            reasons.append(f"patient group {group}: from the caller's profile")

    def _fires(self, combo: Combination, facts: _Facts) -> bool:
        if not all(name in facts for name in combo.all):
            return False
        if combo.any and not any(name in facts for name in combo.any):
            return False
        if combo.lasting_over_hours is not None:
            hours = facts.quantities.duration_hours
            return hours is not None and hours > combo.lasting_over_hours
        return True

    # --- level and department ------------------------------------------------------
    def _base(self, facts: _Facts, fired: list[Combination], reasons: list[str]
              ) -> tuple[int, str, bool]:
        entries = self.rules.entries
        by_kind: dict[str, list[Hit]] = {k: [] for k in (RED_FLAG, CRISIS, SYMPTOM, REQUEST,
                                                          MODIFIER)}
        for hit in facts.hits.values():
            by_kind[hit.kind].append(hit)
        for hit in by_kind[MODIFIER]:
            if not entries[hit.entry].age_group:
                reasons.append(f"modifier {hit.entry}: '{hit.said}'")
        urgent_rules = [c for c in fired if c.urgency == 1]
        if by_kind[RED_FLAG] or urgent_rules:
            for hit in by_kind[RED_FLAG]:
                reasons.append(f"red flag {hit.entry}: '{hit.said}'" + _phrase_note(hit))
            for combo in urgent_rules:
                reasons.append(self._rule_reason(combo, facts))
            if by_kind[CRISIS]:
                reasons.append("crisis talk too ("
                               + ", ".join(f"'{h.said}'" for h in by_kind[CRISIS])
                               + "): the emergency team is told")
            return 1, EMERGENCY, False
        if by_kind[CRISIS]:
            for hit in by_kind[CRISIS]:
                reasons.append(f"crisis {hit.entry}: '{hit.said}'" + _phrase_note(hit))
            return 1, CRISIS_TEAM, True

        candidates: list[_Candidate] = []
        conditions: list[Hit] = []
        for hit in by_kind[SYMPTOM]:
            entry = entries[hit.entry]
            if entry.condition:
                conditions.append(hit)
                continue
            candidates.append(_Candidate(
                entry.urgency or 3, entry.department or GENERAL, hit.start,
                f"symptom {hit.entry}: '{hit.said}' -> {entry.department}, level "
                f"{entry.urgency}"))
        for combo in fired:
            dept, position = self._combo_department(combo, facts)
            candidates.append(_Candidate(combo.urgency, dept, position,
                                         self._rule_reason(combo, facts)))
        first = self.rules.policy.requests_first
        requests = sorted(by_kind[REQUEST], key=lambda h: (h.entry not in first, h.start))
        if candidates:
            level = min(c.level for c in candidates)
            top = sorted((c for c in candidates if c.level == level),
                         key=lambda c: (c.department == GENERAL, c.position))
            for c in sorted(candidates, key=lambda c: (c.level, c.position)):
                reasons.append(c.reason)
            for hit in requests:
                reasons.append(f"clinical complaint outranks request {hit.entry} ('{hit.said}')")
            return level, top[0].department, False
        if requests:
            for hit in conditions:
                reasons.append(f"condition {hit.entry} ('{hit.said}') mentioned with a request")
            for hit in requests:
                reasons.append(f"request {hit.entry}: '{hit.said}'")
            return 4, requests[0].entry, False
        if conditions:
            first = min(conditions, key=lambda h: h.start)
            entry = entries[first.entry]
            reasons.append(f"condition {first.entry}: '{first.said}' -> {entry.department}")
            return entry.urgency or 3, entry.department or GENERAL, False
        p = self.rules.policy
        reasons.append("nothing recognised: a nurse decides")
        return p.unrecognised_urgency, p.unrecognised_department, False

    def _combo_department(self, combo: Combination, facts: _Facts) -> tuple[str, int]:
        """The combination's department, else that of the symptom it matched."""
        names = [n for n in (*combo.all, *combo.any) if n in facts.hits]
        position = min((facts.hits[n].start for n in names), default=0)
        if combo.department:
            return combo.department, position
        depts = [self.rules.entries[n].department for n in names
                 if self.rules.entries[n].kind == SYMPTOM]
        specific = [d for d in depts if d and d != GENERAL]
        return (specific or [d for d in depts if d] or [GENERAL])[0], position

    @staticmethod
    def _rule_reason(combo: Combination, facts: _Facts) -> str:
        said = [facts.evidence(n) for n in (*combo.all, *combo.any) if n in facts]
        if combo.lasting_over_hours is not None:
            said.append(f"lasting over {combo.lasting_over_hours:g} h")
        return f"rule {combo.id} fired ({', '.join(said)}): level {combo.urgency}"

    def _patient_department(self, facts: _Facts, department: str, reasons: list[str]) -> str:
        for group, dept in self.rules.policy.patient_departments:
            if group in facts:
                if dept != department:
                    reasons.append(f"patient group {group}: {dept} instead of {department}")
                return dept
        return department

    def _raises(self, level: int, department: str, ctx: dict[str, object],
                reasons: list[str]) -> tuple[int, str]:
        p = self.rules.policy
        repeat = _number(ctx.get(CTX_REPEAT_CALLS))
        if repeat is not None and repeat >= p.repeat_calls_at_least and p.repeat_raise:
            new = max(1, level - p.repeat_raise)
            reasons.append(f"repeat caller ({repeat:g} calls in 24 h): raised {level} -> {new}")
            level = new
        acoustic = _number(ctx.get(CTX_ACOUSTIC))
        if acoustic is not None and acoustic >= p.acoustic_raise_at and p.acoustic_raise:
            new = max(1, level - p.acoustic_raise)
            reasons.append(f"acoustic urgency {acoustic:.2f} >= {p.acoustic_raise_at:.2f}: "
                           f"raised {level} -> {new}")
            level = new
        if level == 1:
            reasons.append(f"raised to level 1: the emergency lane (was {department})")
            department = EMERGENCY
        return level, department


def _without(norm: str, denied: list[Hit]) -> str:
    """The words without what the caller denied ("no headache or blurry vision"): what
    the meaning screen compares. A sentence encoder hears "headache" either way."""
    for hit in sorted(denied, key=lambda h: -h.start):
        norm = norm[:hit.start] + " " + norm[hit.end:]
    return norm


def _phrase_note(hit: Hit) -> str:
    if hit.by_sound:
        return f" (sounds like '{hit.phrase}': a recognition error?)"
    return "" if normalise(hit.phrase) == hit.said else f" (phrase '{hit.phrase}')"
