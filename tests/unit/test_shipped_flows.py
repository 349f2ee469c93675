"""The hospital's shipped flows, driven by the simulator along their main paths."""

import datetime as dt
from pathlib import Path

import pytest

from ivr.flows.loader import load_flow_set_or_raise
from ivr.flows.simulator import CallerTurn, SimChannel, simulate

ROOT = Path(__file__).parents[2]
WEDNESDAY_10AM = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
SUNDAY_NIGHT = dt.datetime(2026, 11, 29, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def k(*keys):
    return [CallerTurn("key", x) for x in keys]


def say(words):
    return [CallerTurn("say", words)]


EN = k("2", "1")  # English, "not an emergency"
ZH = k("1", "1")

PATHS = {
    "medication question (en)": (EN + k("2", "2"), "answered", "pharmacy", 2),
    "emergency key at the first menu": (k("9"), "answered", "emergency", 10),
    "says emergency at the screen (zh)": (k("1") + say("急诊，救命"), "answered", "emergency", 10),
    "chest pain described in Mandarin": (ZH + k("6") + say("我胸口像压了块大石头"),
                                          "answered", "emergency", 10),
    # the fever protocol's three questions, answered no (key 2)
    "child with fever: pediatrics": (ZH + k("6") + say("孩子发烧三天了") + k("2", "2", "2"),
                                     "answered", "pediatrics", 3),
    # silence at a protocol question counts as yes: doubt escalates
    "child with fever, silent at the questions": (ZH + k("6") + say("孩子发烧三天了"),
                                                  "answered", "emergency", 10),
    "suicidal talk: crisis team": (EN + k("6") + say("I don't want to live, I want to die"),
                                   "answered", "crisis", 10),
    "book an appointment (open)": (EN + k("1", "1"), "answered", "appointments", 1),
    "blood test results": (EN + k("3", "1", "1"), "answered", "results", 2),
    "worried about a result": (EN + k("3", "2", "1"), "answered", "results", 5),
    "fever after surgery": (EN + k("4") + say("I have a high temperature"), "answered",
                            "emergency", 10),
    "recovery question after surgery": (EN + k("4", "2"), "answered", "general_medicine", 2),
    "complaint about staff": (EN + k("5", "1") + say("the staff were rude"), "answered",
                              "complaints", 2),
    "feedback survey": (EN + k("5", "2", "4", "5", "3"), "goodbye", None, None),
    "silent caller reaches the operator": ([], "answered", "operator", 3),
    "operator by key": (EN + k("0"), "answered", "operator", 3),
    "own history, date of birth not on record": (EN + k("7", "19480315", "19480315"),
                                                 "answered", "operator", 3),
}


@pytest.fixture(scope="module")
def flows():
    return load_flow_set_or_raise([ROOT / "dialplans"], ROOT / "prompts")


@pytest.mark.parametrize("name", list(PATHS))
async def test_main_line_paths(flows, name):
    turns, outcome, queue, priority = PATHS[name]
    result = await simulate(flows, "main", SimChannel(list(turns)), at=WEDNESDAY_10AM)
    assert (result.outcome, result.record.queue, result.record.queue_priority) == (
        outcome, queue, priority), [e for e in result.events if e.kind in ("step", "route")]


async def test_survey_answers_recorded(flows):
    result = await simulate(flows, "main", SimChannel(EN + k("5", "2", "4", "5", "3")),
                            at=WEDNESDAY_10AM)
    survey = next(e for e in result.events if e.kind == "survey")
    assert list(survey.answers.values()) == [4, 5, 3]


async def test_appointments_closed_offers_callback_then_after_hours(flows):
    accepted = await simulate(flows, "main", SimChannel(EN + k("1", "1")), at=SUNDAY_NIGHT)
    assert accepted.outcome == "goodbye"
    assert any(e.kind == "callback" and e.accepted for e in accepted.events)
    declined = await simulate(flows, "main", SimChannel(EN + k("1", "2", "1", "1")),
                              at=SUNDAY_NIGHT)
    assert declined.record.queue == "general_medicine"  # the night nurse
    assert "after_hours" in {e.flow for e in declined.events if e.kind == "subflow"}


async def test_elderly_caller_gets_priority_after_surgery(flows):
    result = await simulate(flows, "main", SimChannel(EN + k("4", "2")), at=WEDNESDAY_10AM,
                            vars={"caller.age_group": "elderly"})
    assert result.record.queue == "general_medicine" and result.record.queue_priority == 3
    assert any(e.kind == "profile" for e in result.events)


@pytest.mark.parametrize("flow", ["appointments", "results", "post_surgery", "complaints",
                                  "crisis", "after_hours", "medication"])
async def test_every_flow_survives_a_silent_caller_and_ends_with_a_person(flows, flow):
    result = await simulate(flows, flow, SimChannel([]), at=WEDNESDAY_10AM)
    assert result.outcome == "answered", result.events[-5:]


async def test_crisis_never_hangs_up(flows):
    for turns in ([], k("1"), k("9"), say("I took all my pills")):
        result = await simulate(flows, "crisis", SimChannel(list(turns)), at=WEDNESDAY_10AM)
        assert result.record.queue in ("crisis", "emergency")


@pytest.mark.parametrize("flow", ["main", "appointments", "medication", "results",
                                  "post_surgery", "complaints", "crisis", "after_hours"])
def test_every_shipped_flow_draws(flow, tmp_path):
    from click.testing import CliRunner

    from ivr.cli.graph import graph

    out = tmp_path / f"{flow}.svg"
    result = CliRunner().invoke(graph, [str(ROOT / "dialplans" / f"{flow}.yaml"), "-o",
                                        str(out)])
    assert result.exit_code == 0, result.output
    svg = out.read_text()
    assert "<svg" in svg
    assert 'stroke="red"' in svg  # every flow has an emergency path, drawn in red


async def test_star_repeats_the_menu_slower_for_the_rest_of_the_call(flows):
    result = await simulate(flows, "main", SimChannel(EN + k("*", "2", "2")),
                            at=WEDNESDAY_10AM)
    assert result.record.queue == "pharmacy"
    rates = [e.values.get("speech_rate") for e in result.events if e.kind == "set"]
    assert "slower" in rates
