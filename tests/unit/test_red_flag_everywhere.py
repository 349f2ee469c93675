"""A red flag said at any listening step of any shipped flow reaches the emergency (or
crisis) team, in Mandarin and English: the screen hears every answer, not only triage.

The walk: for each flow and language, answer the first N questions with a way
through (each option key, silence) and say the danger at question N+1; every
listening step met on the way must divert to the right lane.
"""

import datetime as dt
from pathlib import Path

import pytest

from ivr import events as ev
from ivr.conversations.given import prepare
from ivr.flows.loader import load_flow_set_or_raise
from ivr.flows.simulator import CallerTurn, SimChannel, simulate
from ivr.flows.steps.ask import Step as Ask
from ivr.flows.steps.menu import Step as Menu
from ivr.flows.steps.survey import Step as Survey
from ivr.telephony.fake import UnexpectedCommand

ROOT = Path(__file__).parents[2]
WEDNESDAY_10AM = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
SUNDAY_11PM = dt.datetime(2026, 11, 29, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
DANGER = {  # (words, lane)
    "en-US": [("my husband collapsed and is not breathing", "emergency"),
              ("I want to end my life", "crisis")],
    "zh-CN": [("我胸口疼得厉害喘不上气", "emergency"), ("我不想活了", "crisis")],
}
LISTENING = (Menu, Ask, Survey)
MAX_DEPTH = 7


@pytest.fixture(scope="module")
def flow_set():
    return load_flow_set_or_raise([ROOT / "dialplans"], ROOT / "prompts")


BENIGN = {"en-US": "I have had a cough for two days", "zh-CN": "我咳嗽两天了"}


def _ways_on(step, lang: str) -> list[CallerTurn]:
    """Answers that move a caller on from a listening step."""
    if isinstance(step, Menu):
        keys = [o.key for o in step.options if o.key] + [""]
    elif isinstance(step, Ask):
        keys = [*step.dtmf_fallback, ""]
        if step.mode == "free":  # a complaint that is no red flag: on to triage
            return [CallerTurn("say", BENIGN[lang]), *(CallerTurn("key", k) for k in keys)]
    else:
        keys = ["3"]  # a survey question
    return [CallerTurn("key", k) for k in keys]


async def _say_at(flow_set, flow: str, lang: str, prefix: list[CallerTurn], words: str,
                  at, extra: dict, given: dict | None = None):
    """The simulated call, or None where the next question takes keys only (verify: a
    date of birth by keypad, no recogniser listens there)."""
    turns = [*prefix, CallerTurn("say", words)]
    try:
        return await simulate(flow_set, flow, SimChannel(turns), {"lang": lang, **extra}, at,
                              prepare=prepare(given or {}))
    except UnexpectedCommand as exc:
        assert "reads keys" in str(exc), exc
        return None


def _where_heard(result, words: str) -> tuple[str, str] | None:
    """(flow, step) where the caller's words were heard; None if the call ended first."""
    flow = ""
    for e in result.events:
        if isinstance(e, ev.Step):
            flow = e.flow
        elif isinstance(e, ev.Turn) and e.text == words:
            return flow, e.step
    return None


# (time of the call, caller variables): open and closed hours; a returning caller with an
# open follow-up, a complaint follow-up call, a voice that sounds urgent but not enough to
# raise the level (the safety question)
VARIANTS = [(WEDNESDAY_10AM, {}),
            (SUNDAY_11PM, {"caller.open_followups": 1, "followup.kind": "complaint",
                           "acoustic_urgency": 0.6})]
# Questions behind a keyed date of birth: the walk above stops where a question reads
# keys only, so these are driven below by a verified (or twice unverified) caller, with
# the patient, slots and results on record (given rows, as the test conversations have).
DOB = "19480315"
PATIENT = {"patients": [{"dob": DOB, "mrn": "P1001"}]}
SLOTS = {"slots": [{"clinic": "Digestive Clinic", "department": "gastroenterology",
                    "clinician": "Dr Wang", "start": "2026-11-26 09:00", "minutes": 20}]}
RESULTS = {"results": [{"patient": "P1001", "test": "blood", "taken": "2026-11-20",
                        "status": "ready"}]}
BEHIND_KEYS = {  # (flow, step): (keys that reach it, rows on record)
    ("my_history", "after_history"): ([DOB], PATIENT),
    ("appointments", "which_department"): (["1", DOB], PATIENT),
    ("appointments", "after_booking"): (["1", DOB, "1", "1"], {**PATIENT, **SLOTS}),
    ("results", "after_status"): (["1", DOB], {**PATIENT, **RESULTS}),
    ("results", "which_test"): (["1", DOB, DOB], {}),
    # the call the line makes to tell a change the hospital made (ivr/notices/calls.py)
    ("followup_call", "appointment_check"): ([], {"slots": [{**SLOTS["slots"][0],
                                                             "booked": "caller"}],
                                                  "staff_changes": [{"start": "2026-11-26 09:00",
                                                                     "cancelled": True}]}),
}
BEHIND_VARS = {("followup_call", "appointment_check"): {"followup.kind": "appointment_change"}}
UNREACHABLE_HERE = set(BEHIND_KEYS)


@pytest.mark.parametrize("lang", ["en-US", "zh-CN"])
async def test_danger_said_at_any_question_reaches_the_emergency_team(flow_set, lang):
    words, lane = DANGER[lang][0]
    listening = {(f.name, sid) for f in flow_set.flows.values()
                 for sid, st in f.steps.items() if isinstance(st, LISTENING)}
    covered: set[tuple[str, str]] = set()
    failures = []
    for flow in sorted(flow_set.flows):
        for at, extra in VARIANTS:
            todo: list[list[CallerTurn]] = [[]]
            tried: set[tuple[str, str]] = set()
            while todo:
                prefix = todo.pop()
                result = await _say_at(flow_set, flow, lang, prefix, words, at, extra)
                where = _where_heard(result, words) if result else None
                if where is None:
                    continue  # the call ended, or a keypad-only question, before the words
                covered.add(where)
                red = [e for e in result.events if isinstance(e, ev.RedFlag)]
                if not red or red[0].lane != lane or result.record.queue != lane:
                    failures.append((flow, at.hour, prefix, where, result.record.queue))
                if len(prefix) < MAX_DEPTH and where not in tried:
                    tried.add(where)
                    step = flow_set.flows[where[0]].steps[where[1]]
                    todo += [[*prefix, way] for way in _ways_on(step, lang)]
    assert not failures, failures[:5]
    assert listening - covered == UNREACHABLE_HERE


@pytest.mark.parametrize("lang", ["en-US", "zh-CN"])
async def test_crisis_talk_at_the_first_question_of_each_flow_reaches_the_crisis_team(
        flow_set, lang):
    words, lane = DANGER[lang][1]
    for flow in sorted(flow_set.flows):
        result = await _say_at(flow_set, flow, lang, [], words, WEDNESDAY_10AM, {})
        if result is None or _where_heard(result, words) is None:
            continue
        red = [e for e in result.events if isinstance(e, ev.RedFlag)]
        if flow_set.flows[flow].spec.crisis_lane:  # the crisis protocol itself: no diversion
            assert not red and result.record.queue == lane, (flow, result.record.queue)
            continue
        assert red and red[0].lane == "crisis", (flow, result.record.queue)
        assert result.record.queue == lane and result.record.urgency == 1


@pytest.mark.parametrize("lang", ["en-US", "zh-CN"])
@pytest.mark.parametrize("where", sorted(BEHIND_KEYS), ids="/".join)
@pytest.mark.parametrize("danger", [0, 1], ids=["emergency", "crisis"])
async def test_danger_said_behind_a_keyed_date_of_birth_reaches_its_team(
        flow_set, lang, where, danger):
    words, lane = DANGER[lang][danger]
    keys, given = BEHIND_KEYS[where]
    result = await _say_at(flow_set, where[0], lang, [CallerTurn("key", k) for k in keys],
                           words, WEDNESDAY_10AM, BEHIND_VARS.get(where, {}), given)
    assert result is not None and _where_heard(result, words) == where
    red = [e for e in result.events if isinstance(e, ev.RedFlag)]
    assert red and red[0].lane == lane, (where, result.record.queue)
    assert result.record.queue == lane
