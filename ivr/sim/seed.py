"""A realistic week of call records for demos and tests, written straight with the ORM.

    from ivr.store.models import Base
    from ivr.store.recorder import make_engine
    from ivr.sim.seed import seed_week
    seed_week(make_engine("sqlite:///demo.sqlite3"), surge={"fever": 3})

or ``python -m ivr.sim.seed sqlite:///demo.sqlite3 --surge fever=3``, then
``ivr report --db sqlite:///demo.sqlite3``.

What it writes, per call: the call row; for calls that described a problem, the
spoken turn (Mandarin or English) and the triage decision (symptom ids of
``triage_rules.yaml``, with the level and department the rules give); a queue
stint with its hold time (callers give up when the hold outlasts their
patience; a long hold times out and overflows to the operator); a keypad survey
after some answered calls (worse scores after long holds, a few spoken
comments); complaint calls with what the caller said. No call events: reports
read the derived tables only.

Volume follows a hospital line's day (a morning peak 8-11h, an afternoon one
14-16h, quiet nights, lighter weekends) in the given time zone. Everything is
drawn from one ``random.Random(seed)``: the same arguments give the same rows,
and a ``surge`` only *adds* calls after the regular ones, so the week without
it is the same week.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ivr.store.models import (
    Call,
    CallEvent,
    QueueResult,
    SurveyAnswer,
    TriageDecision,
    Turn,
)

# relative calls per local hour of day, 0h..23h
HOURLY = (0.3, 0.2, 0.2, 0.2, 0.3, 0.5, 1.0, 2.5, 6.0, 8.0, 8.0, 7.0,
          4.0, 3.5, 6.5, 7.0, 6.5, 4.0, 2.5, 2.0, 1.5, 1.2, 0.8, 0.5)
WEEKEND = 0.6  # Saturday and Sunday, relative to a weekday
TRIAGED_SHARE = 0.7  # of all calls, those that describe a problem in the main flow
CLINICAL_SHARE = 0.72  # of those, the ones with a clinical problem (the rest: requests)
QUEUE_PRIORITY = {1: 10, 2: 6, 3: 3, 4: 1}
SURVEY_DIMENSIONS = ("information_accuracy", "patience", "emotional_support")
LOCALES = {"zh": "zh-CN", "en": "en-US"}  # the flows' languages
AGENTS = ("PJSIP/1001", "PJSIP/1002", "PJSIP/1003", "PJSIP/1004")


@dataclass(frozen=True)
class Scenario:
    """What a caller says and what the triage rules make of it."""

    symptoms: tuple[str, ...]  # rule entry ids, as a decision lists them
    urgency: int
    department: str
    weight: float
    zh: str
    en: str


CLINICAL: tuple[Scenario, ...] = (
    Scenario(("fever",), 3, "general_medicine", 8, "我发烧了，浑身没劲", "I have a fever"),
    Scenario(("cold_flu", "fever"), 3, "general_medicine", 4, "感冒了，还有点发烧",
             "I have the flu and a fever"),
    Scenario(("child", "fever"), 3, "pediatrics", 4, "孩子发烧了", "my son has a fever"),
    Scenario(("child", "fever", "high_fever"), 2, "pediatrics", 2, "孩子高烧不退",
             "my daughter has a very high fever"),
    Scenario(("cough",), 3, "respiratory", 8, "一直咳嗽，有痰", "I have a bad cough"),
    Scenario(("cold_flu",), 3, "general_medicine", 6, "感冒了，流鼻涕", "I have a cold"),
    Scenario(("sore_throat",), 3, "ent", 4, "嗓子疼", "I have a sore throat"),
    Scenario(("headache",), 3, "neurology", 5, "头痛", "I have a headache"),
    Scenario(("dizziness",), 3, "neurology", 3, "头晕", "I feel dizzy"),
    Scenario(("abdominal_pain",), 3, "gastroenterology", 5, "肚子疼", "I have a stomach ache"),
    Scenario(("diarrhea", "vomiting"), 3, "gastroenterology", 3, "拉肚子还呕吐",
             "diarrhoea and vomiting since last night"),
    Scenario(("rash",), 3, "dermatology", 3, "身上起了皮疹", "I have a rash"),
    Scenario(("back_pain",), 3, "orthopedics", 4, "腰疼", "I have back pain"),
    Scenario(("joint_pain",), 3, "orthopedics", 3, "关节疼", "my joint pain is worse"),
    Scenario(("palpitations",), 3, "cardiology", 2, "心慌", "I have palpitations"),
    Scenario(("high_blood_pressure",), 3, "cardiology", 3, "血压高", "my blood pressure is high"),
    Scenario(("urinary_symptoms",), 3, "urology", 2, "尿频尿急", "it burns when i pee"),
    Scenario(("eye_problem",), 3, "ophthalmology", 2, "眼睛红", "my eye is red"),
    Scenario(("diabetes",), 3, "endocrinology", 2, "糖尿病，血糖控制不好",
             "a question about my diabetes"),
    Scenario(("short_of_breath",), 2, "respiratory", 3, "气短", "I am short of breath"),
    Scenario(("headache", "severe"), 2, "neurology", 1, "头痛得厉害", "a severe headache"),
    Scenario(("abdominal_pain", "pregnant"), 2, "obstetrics_gynecology", 1, "怀孕了，肚子疼",
             "I am pregnant and have stomach pain"),
    Scenario(("chest_pain",), 1, "emergency", 2, "胸口痛", "I have chest pain"),
    Scenario(("stroke_signs",), 1, "emergency", 1, "嘴歪了，说话不清楚",
             "his face is drooping and his speech is slurred"),
    Scenario(("cannot_breathe",), 1, "emergency", 1, "喘不过气", "I cannot breathe"),
    Scenario(("suicidal",), 1, "crisis", 0.3, "不想活了", "I want to end my life"),
)
REQUESTS: tuple[Scenario, ...] = (
    Scenario(("appointments",), 4, "appointments", 6, "我想预约挂号",
             "I want to book an appointment"),
    Scenario(("pharmacy",), 4, "pharmacy", 3, "我想续药", "I need a repeat prescription"),
    Scenario(("results",), 4, "results", 3, "查一下检查结果", "I am calling about my test results"),
    Scenario(("billing",), 4, "billing", 2, "问一下费用", "a question about my bill"),
    Scenario(("operator",), 4, "operator", 2, "探视时间是几点", "what are the visiting hours"),
)
# what a caller says to the complaints line, per language (themes of ivr.reports.themes)
COMPLAINTS = {
    "zh": ("我要投诉，排队等了很久没人接", "挂号处的人态度不好", "收费不清楚，好像多收了",
           "预约总是约不上", "电话转来转去，最后挂断了", "医生说不清楚下一步怎么办"),
    "en": ("I want to complain, I waited on hold for ages", "the receptionist was rude",
           "I was overcharged on my bill", "I could not get an appointment",
           "I was transferred three times and then cut off", "the information was unclear"),
}
NEGATIVE_COMMENTS = {
    "zh": ("等待时间太长了", "态度不太好", "机器人听不懂我说的话", "等了很久才接通"),
    "en": ("the wait was too long", "the agent was impatient", "the robot did not understand me",
           "waited too long on hold"),
}
POSITIVE_COMMENTS = {"zh": ("护士很耐心，谢谢", "很快就接通了"),
                     "en": ("very helpful, thank you", "quick and kind")}
PROMPTS = {"zh": "请简单说一下您哪里不舒服，或者您需要办什么事。",
           "en": "Please tell me briefly what the problem is, or what you need."}


@dataclass(frozen=True)
class SeedResult:
    start: datetime
    end: datetime
    calls: int
    surge_calls: int


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; small means only (one hour of one line)."""
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _pick(rng: random.Random, scenarios: Sequence[Scenario]) -> Scenario:
    return rng.choices(scenarios, weights=[s.weight for s in scenarios])[0]


class _Writer:
    """Builds one call's rows; all randomness from the shared generator."""

    def __init__(self, rng: random.Random, tz: ZoneInfo) -> None:
        self.rng = rng
        self.tz = tz
        self.n = 0
        self.peak = max(HOURLY)

    def _call(self, at: datetime, **fields: object) -> Call:
        rng = self.rng
        self.n += 1
        digits = "".join(rng.choice("0123456789") for _ in range(11))
        return Call(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            asterisk_uniqueid=f"{at.timestamp():.0f}.{self.n}",
            channel=f"PJSIP/trunk-{self.n:08x}",
            caller_hash=hashlib.sha256(digits.encode()).hexdigest(),
            caller_masked=f"{digits[:3]}******{digits[-2:]}",
            flow_version="seed", started_at=at, **fields)

    def _language(self) -> str:
        return "zh" if self.rng.random() < 0.7 else "en"

    def _load(self, at: datetime) -> float:
        return HOURLY[at.astimezone(self.tz).hour] / self.peak

    def _queue(self, call: Call, at: datetime, queue: str, urgency: int) -> datetime:
        """Hold in ``queue`` (and maybe overflow); set the outcome; the time it ends."""
        rng = self.rng
        if urgency == 1:
            hold = rng.lognormvariate(math.log(8), 0.5)
        else:
            median = (20 + 110 * self._load(at)) * (0.5 if urgency == 2 else 1.0)
            hold = rng.lognormvariate(math.log(median), 0.8)
        patience = rng.expovariate(1 / 600) + 30
        call.queue, call.queue_priority = queue, QUEUE_PRIORITY[urgency]
        stint = QueueResult(seq=6, at=at, queue=queue, priority=QUEUE_PRIORITY[urgency])
        call.queue_results.append(stint)
        if patience < hold and patience < 600:
            stint.status, stint.hold_seconds = "ABANDONED", round(patience)
            call.outcome = "abandoned" if rng.random() < 0.7 else "caller_hangup"
            call.hold_seconds = round(patience)
            return at + timedelta(seconds=patience)
        if hold >= 600:  # the queue's timeout: the operator picks up the overflow
            stint.status, stint.hold_seconds = "TIMEOUT", 600
            extra = rng.uniform(5, 60)
            call.queue_results.append(QueueResult(
                seq=7, at=at + timedelta(seconds=600), queue="operator", priority=stint.priority,
                status="ANSWERED", agent=AGENTS[1], hold_seconds=round(extra)))
            hold = 600 + extra
        else:
            stint.status, stint.hold_seconds = "ANSWERED", round(hold)
            stint.agent = rng.choice(AGENTS)
        call.outcome, call.agent = "answered", stint.agent or AGENTS[1]
        call.hold_seconds = round(hold)
        return at + timedelta(seconds=hold + rng.uniform(60, 420))

    def _survey(self, call: Call, at: datetime, lang: str, hold: float) -> None:
        rng = self.rng
        unhappy = hold > 240 or rng.random() < 0.08
        comment_on = rng.choice(SURVEY_DIMENSIONS) if rng.random() < 0.25 else None
        for dimension in SURVEY_DIMENSIONS:
            score: int | None
            if rng.random() < 0.05:
                score = None  # no key pressed
            elif unhappy:
                score = rng.choices((1, 2, 3, 4), weights=(3, 4, 2, 1))[0]
            else:
                score = rng.choices((2, 3, 4, 5), weights=(1, 2, 5, 7))[0]
            comment = ""
            if dimension == comment_on:
                pool = NEGATIVE_COMMENTS if unhappy else POSITIVE_COMMENTS
                comment = rng.choice(pool[lang])
            call.survey_answers.append(SurveyAnswer(
                seq=9, at=at, survey="survey", dimension=dimension, score=score, scale=5,
                mode="speech" if comment else "dtmf", comment=comment))

    def _describe(self, call: Call, at: datetime, lang: str, scenario: Scenario) -> None:
        text = scenario.zh if lang == "zh" else scenario.en
        call.turns.append(Turn(seq=3, at=at, step="describe", prompt_text=PROMPTS[lang],
                               transcript=text, confidence=round(self.rng.uniform(0.7, 0.97), 2),
                               speech_ms=round(self.rng.uniform(1200, 4000)),
                               listen_ms=6000))
        call.triage.append(TriageDecision(
            seq=4, at=at, step="describe", language=lang, text=text, urgency=scenario.urgency,
            department=scenario.department, queue_priority=QUEUE_PRIORITY[scenario.urgency],
            crisis=scenario.department == "crisis", symptoms=sorted(scenario.symptoms),
            reasons=[f"seeded: {' + '.join(scenario.symptoms)}"], rules_version="2"))
        call.urgency, call.department = scenario.urgency, scenario.department

    def triaged(self, at: datetime, scenario: Scenario | None = None) -> Call:
        """A caller who describes a problem in the main flow and is put through."""
        rng = self.rng
        lang = self._language()
        call = self._call(at, direction="inbound", language=LOCALES[lang], flow="main",
                          choice="describe")
        if scenario is None:
            scenario = (_pick(rng, CLINICAL) if rng.random() < CLINICAL_SHARE
                        else _pick(rng, REQUESTS))
        spoke = at + timedelta(seconds=rng.uniform(15, 45))
        self._describe(call, spoke, lang, scenario)
        end = self._queue(call, spoke + timedelta(seconds=3), scenario.department,
                          scenario.urgency)
        if call.outcome == "answered" and rng.random() < 0.35:
            self._survey(call, end, lang, call.hold_seconds or 0)
        call.ended_at = end + timedelta(seconds=rng.uniform(20, 40) if call.survey_answers else 0)
        return call

    def other(self, at: datetime) -> Call:
        """Everything else: keypad flows, complaints, hang-ups in the menu, follow-ups."""
        rng = self.rng
        lang = self._language()
        language = LOCALES[lang]
        kind = rng.choices(("appointments", "results", "medication", "complaints", "hangup",
                            "followup"), weights=(30, 18, 14, 12, 18, 8))[0]
        if kind == "followup":
            call = self._call(at, direction="outbound", language=language, flow="post_surgery")
            if rng.random() < 0.75:
                call.outcome = "goodbye"
                call.ended_at = at + timedelta(seconds=rng.uniform(60, 180))
            else:
                call.outcome = "unanswered:noanswer"
                call.ended_at = at + timedelta(seconds=30)
            return call
        call = self._call(at, direction="inbound", language=language,
                          flow="main" if kind == "hangup" else kind)
        if kind == "hangup":
            call.outcome = "caller_hangup"
            call.ended_at = at + timedelta(seconds=rng.uniform(3, 30))
        elif kind in ("appointments", "results"):
            call.choice, call.outcome = kind, "goodbye"
            call.ended_at = at + timedelta(seconds=rng.uniform(40, 150))
        elif kind == "medication":
            call.choice, call.department = "medication", "pharmacy"
            end = self._queue(call, at + timedelta(seconds=rng.uniform(20, 40)), "pharmacy", 4)
            call.ended_at = end
        else:
            self._complaint(call, at, lang)
        return call

    def _complaint(self, call: Call, at: datetime, lang: str) -> None:
        rng = self.rng
        call.choice = "complaints"
        if rng.random() < 0.5:  # a complaint: the topic, then patient relations
            said = rng.choice(COMPLAINTS[lang])
            call.turns.append(Turn(seq=3, at=at + timedelta(seconds=10), step="complaints_menu",
                                   prompt_text="", transcript=said,
                                   confidence=round(rng.uniform(0.7, 0.95), 2)))
            call.department = "complaints"
            call.ended_at = self._queue(call, at + timedelta(seconds=25), "complaints", 4)
        else:  # feedback: the keypad survey
            hold = rng.choice((0, 0, 0, 400))  # some callers give feedback on a bad wait
            self._survey(call, at + timedelta(seconds=30), lang, hold)
            call.outcome, call.ended_at = "goodbye", at + timedelta(seconds=rng.uniform(50, 90))


def expected_daily(symptom: str, calls_per_day: float) -> float:
    """Calls a weekday-average day has with ``symptom`` (the surge multiplies this)."""
    weights = sum(s.weight for s in CLINICAL)
    share = sum(s.weight for s in CLINICAL if symptom in s.symptoms) / weights
    weekly = (5 + 2 * WEEKEND) / 7
    return calls_per_day * weekly * TRIAGED_SHARE * CLINICAL_SHARE * share


def seed_week(engine: Engine, days: int = 7, end: datetime | None = None, seed: int = 42,
              surge: Mapping[str, float] | None = None, *, calls_per_day: float = 100,
              tz: str = "Asia/Shanghai") -> SeedResult:
    """Write ``days`` days of calls ending at ``end`` (default: this hour, UTC) into
    ``engine``'s database; the tables must exist (migrations, or ``create_all`` in tests).

    ``surge``: ``{symptom id: factor}``, e.g. ``{"fever": 3}``: during the last 24 hours
    that many times the usual calls with the symptom (the extra calls come on top).
    """
    if end is None:
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    if end.tzinfo is None:
        raise ValueError("end must carry a time zone")
    end = end.astimezone(UTC)
    start = end - timedelta(days=days)
    zone = ZoneInfo(tz)
    rng = random.Random(seed)
    writer = _Writer(rng, zone)
    per_hour = calls_per_day / sum(HOURLY)
    calls: list[Call] = []
    slot = start
    while slot < end:
        local = (slot + timedelta(minutes=30)).astimezone(zone)
        mean = per_hour * HOURLY[local.hour] * (WEEKEND if local.weekday() >= 5 else 1.0)
        for _ in range(_poisson(rng, mean)):
            at = slot + timedelta(seconds=rng.uniform(0, 3600))
            if at < end:
                made = writer.triaged(at) if rng.random() < TRIAGED_SHARE else writer.other(at)
                calls.append(made)
        slot += timedelta(hours=1)
    regular = len(calls)
    for symptom, factor in sorted((surge or {}).items()):
        pool = [s for s in CLINICAL if symptom in s.symptoms]
        if not pool:
            raise ValueError(f"no seeded scenario has the symptom {symptom!r}")
        extra = _poisson_large(rng, (factor - 1) * expected_daily(symptom, calls_per_day))
        for _ in range(extra):
            at = _hour_weighted(rng, end - timedelta(days=1), zone)
            calls.append(writer.triaged(at, _pick(rng, pool)))
    with Session(engine) as s, s.begin():
        s.add_all(calls)
    return SeedResult(start, end, len(calls), len(calls) - regular)


ANSWERED_ENTRIES = ("visiting_hours@1", "parking@1", "fasting_blood_test@1",
                    "colonoscopy_preparation@1", "bring_to_appointment@1", "getting_results@1")


@dataclass(frozen=True)
class SeededAnswers:
    """What :func:`seed_answers` wrote, for a report to be checked against."""

    calls: int
    answered: int  # calls that heard an entry
    contained: int  # ... and went to no person afterwards
    asked_person: int
    no_entry: int
    spoken: dict[str, int]  # entry -> times said


def seed_answers(engine: Engine, end: datetime, days: int = 7, per_day: int = 20,
                 seed: int = 7, tz: str = "Asia/Shanghai") -> SeededAnswers:
    """General-question calls of the main flow with their answer-step events (the
    knowledge base's part of the week; seed_week writes no call events): most callers
    hear an entry and are done, some then ask for a person, some ask what no entry
    answers, some ask a second question."""
    rng = random.Random(seed)
    writer = _Writer(rng, ZoneInfo(tz))
    end = end.astimezone(UTC)
    calls: list[Call] = []
    events: list[CallEvent] = []
    answered = contained = asked = missing = 0
    spoken: dict[str, int] = {}
    for i in range(days * per_day):
        at = end - timedelta(days=days) + timedelta(seconds=rng.uniform(0, days * 86400))
        call = writer._call(at, direction="inbound", language=LOCALES[writer._language()],
                            flow="main", outcome="goodbye", department="operator")
        calls.append(call)
        kind = ("done", "done", "done", "done", "person", "missing", "two")[i % 7]
        happened: list[tuple[str, dict[str, object]]] = []
        if kind == "missing":
            happened += [("answer", {"entry": "", "outcome": "no_entry"}),
                         ("route", {"queue": "operator", "priority": 3})]
            call.outcome, missing = "answered", missing + 1
        else:
            said = [rng.choice(ANSWERED_ENTRIES)] + ([rng.choice(ANSWERED_ENTRIES)]
                                                    if kind == "two" else [])
            for ref in said:
                happened.append(("answer", {"entry": ref, "outcome": "spoken", "score": 0.8}))
                spoken[ref] = spoken.get(ref, 0) + 1
            answered += 1
            if kind == "person":
                happened += [("answer", {"entry": said[-1], "outcome": "asked_person"}),
                             ("route", {"queue": "operator", "priority": 3})]
                call.outcome, asked = "answered", asked + 1
            else:
                contained += 1
        events += [CallEvent(call_id=call.id, seq=n, at=at, kind=k, step="general_question",
                             detail=d) for n, (k, d) in enumerate(happened, 1)]
    with Session(engine) as s, s.begin():
        s.add_all(calls)
        s.flush()
        s.add_all(events)
    return SeededAnswers(len(calls), answered, contained, asked, missing, spoken)


@dataclass(frozen=True)
class SeededSelfService:
    """What :func:`seed_self_service` wrote, for a report to be checked against."""

    calls: int
    served: dict[str, int]  # flow -> calls its steps served
    resolved: dict[str, int]  # flow -> ... that then went to no person
    bookings: dict[str, int]  # booked | changed | cancelled -> count
    results_told: int
    notices_told: int


def seed_self_service(engine: Engine, end: datetime, days: int = 7, per_day: int = 12,
                      seed: int = 11, tz: str = "Asia/Shanghai") -> SeededSelfService:
    """Main-flow calls that book, move or cancel an appointment or hear a results status
    themselves (with their step, booking and results events): most are done, some then
    go to the desk, some fail to find a slot, some first hear a notice."""
    rng = random.Random(seed)
    writer = _Writer(rng, ZoneInfo(tz))
    end = end.astimezone(UTC)
    calls: list[Call] = []
    events: list[CallEvent] = []
    served: dict[str, int] = {}
    resolved: dict[str, int] = {}
    bookings = {"booked": 0, "changed": 0, "cancelled": 0}
    results = notices = 0
    shapes = ("booked", "booked", "changed", "cancelled", "read", "read", "booked_then_desk",
              "none_free", "notice_then_booked", "read_then_desk")
    for i in range(days * per_day):
        at = end - timedelta(days=days) + timedelta(seconds=rng.uniform(0, days * 86400))
        call = writer._call(at, direction="inbound", language=LOCALES[writer._language()],
                            flow="main", outcome="goodbye", department="operator")
        calls.append(call)
        shape = shapes[i % len(shapes)]
        flow = "results" if shape.startswith("read") else "appointments"
        happened: list[tuple[str, str, dict[str, object]]] = []
        if shape.startswith("notice"):
            happened.append(("notices", "notices", {"told": ["cancelled:1"]}))
            notices += 1
        happened.append(("step", "check_identity", {"type": "verify", "flow": flow}))
        if flow == "results":
            happened.append(("results_status", "read_status",
                             {"read": ["blood@2026-11-28:ready"], "outcome": "read"}))
            results += 1
        else:
            outcome = {"none_free": "none_free", "changed": "changed",
                       "cancelled": "cancelled"}.get(shape, "booked")
            happened.append(("booking", "book_slot", {"outcome": outcome,
                                                      "department": "gastroenterology"}))
            if outcome != "none_free":
                bookings[outcome] += 1
        if shape.endswith("desk") or shape == "none_free":
            happened.append(("route", "to_desk", {"queue": "appointments", "priority": 3}))
            call.outcome = "answered"
        if shape != "none_free":
            served[flow] = served.get(flow, 0) + 1
            if not shape.endswith("desk"):
                resolved[flow] = resolved.get(flow, 0) + 1
        events += [CallEvent(call_id=call.id, seq=n, at=at, kind=k, step=step, detail=d)
                   for n, (k, step, d) in enumerate(happened, 1)]
    with Session(engine) as s, s.begin():
        s.add_all(calls)
        s.flush()
        s.add_all(events)
    return SeededSelfService(len(calls), served, resolved, bookings, results, notices)


def _poisson_large(rng: random.Random, lam: float) -> int:
    """A Poisson draw for any mean: the sum of small ones."""
    whole = int(lam // 10)
    return sum(_poisson(rng, 10) for _ in range(whole)) + _poisson(rng, lam - 10 * whole)


def _hour_weighted(rng: random.Random, start: datetime, zone: ZoneInfo) -> datetime:
    """A moment in the 24 hours after ``start``, busier hours more likely."""
    offsets = list(range(24))
    weights = [HOURLY[(start + timedelta(hours=h, minutes=30)).astimezone(zone).hour]
               for h in offsets]
    hour = rng.choices(offsets, weights=weights)[0]
    return start + timedelta(hours=hour, seconds=rng.uniform(0, 3600))


def main(argv: Sequence[str] | None = None) -> None:
    from ivr.store.models import Base
    from ivr.store.recorder import make_engine

    parser = argparse.ArgumentParser(description="Seed a week of demo call records.")
    parser.add_argument("db", help="database URL, e.g. sqlite:///demo.sqlite3")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--calls-per-day", type=float, default=100)
    parser.add_argument("--surge", action="append", default=[], metavar="SYMPTOM=FACTOR",
                        help="e.g. fever=3: that many times the usual calls in the last day")
    args = parser.parse_args(argv)
    surge = {}
    for item in args.surge:
        name, _, factor = item.partition("=")
        surge[name] = float(factor or 3)
    engine = make_engine(args.db)
    # a demo database: plain tables (the migrations adopt a database made this way)
    Base.metadata.create_all(engine)
    result = seed_week(engine, days=args.days, seed=args.seed, surge=surge,
                       calls_per_day=args.calls_per_day)
    print(f"{result.calls} calls from {result.start:%Y-%m-%d %H:%M} to "
          f"{result.end:%Y-%m-%d %H:%M} UTC ({result.surge_calls} from the surge)")


if __name__ == "__main__":
    main()
