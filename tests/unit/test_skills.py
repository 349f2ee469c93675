"""Skills routing (which free agent rings first) and the agent's handoff (caller-ID
name, whisper), as pure functions; queues.conf / queuerules.conf as rendered."""

from __future__ import annotations

from pathlib import Path

from ivr.agents import Agent, AgentBook
from ivr.pbx.render import ConfValues, render_conf
from ivr.telephony.handoff import display_name, handoff_for, short_mask, whisper_text
from ivr.telephony.skills import (
    CallNeeds,
    MemberState,
    call_needs,
    fit,
    preference_window,
    queue_members,
    seat,
)

BOOK = AgentBook((
    Agent(extension="1001", name="Wang", languages=("zh-CN",), queues=("pediatrics",)),
    Agent(extension="1002", name="Chen", languages=("zh-CN",), skills=("pediatrics",),
          queues=("pediatrics", "crisis")),
    Agent(extension="1003", name="Smith", languages=("en-US", "zh-CN"),
          skills=("pediatrics", "crisis"), queues=("pediatrics", "crisis")),
))


def members(*free: str, penalties: dict[str, int] | None = None) -> list[MemberState]:
    return [MemberState(f"PJSIP/{a.extension}", (penalties or {}).get(a.extension,
                        seat(BOOK, a.extension)), a.extension in free) for a in BOOK]


def test_seats_and_static_members():
    assert [seat(BOOK, e) for e in ("1001", "1002", "1003", "9999")] == [1, 2, 3, 0]
    got = queue_members(BOOK)
    assert [m.line for m in got["crisis"]] == ["PJSIP/1002,2,Chen,PJSIP/1002",
                                                "PJSIP/1003,3,Smith,PJSIP/1003"]
    assert set(got) == {"pediatrics", "crisis"}


def test_what_a_call_needs():
    assert call_needs("pediatrics", "zh-CN", {}) == CallNeeds("zh-CN", "pediatrics")
    assert call_needs("cardiology", "en-US", {"caller.age_group": "child"}) == CallNeeds(
        "en-US", "pediatrics")
    assert call_needs("cardiology", "en-US", {"caller.age_group": "elderly"}) == CallNeeds(
        "en-US", None)
    assert call_needs("general_medicine", "zh-CN", {"triage.crisis": True}).skill == "crisis"
    assert call_needs("emergency", "zh-CN", {}) is None  # speed first: everyone rings


def test_fit_order():
    needs = CallNeeds("zh-CN", "pediatrics")
    wang, _chen, smith = BOOK
    assert [fit(a, needs) for a in BOOK] == [1, 0, 0]
    assert fit(smith, CallNeeds("ko-KR", "pediatrics")) == 2
    assert fit(wang, CallNeeds("ko-KR", "pediatrics")) == 3
    assert fit(None, needs) == 3


def test_window_on_the_free_best_fitting_agents():
    needs = CallNeeds("zh-CN", "pediatrics")
    assert preference_window(members("1001", "1002", "1003"), BOOK, needs) == (2, 3)
    assert preference_window(members("1001", "1003"), BOOK, needs) == (3, 3)


def test_no_window_when_nobody_better_is_free():
    needs = CallNeeds("zh-CN", "pediatrics")
    # the skilled ones are busy, paused or gone: the free one rings at once
    assert preference_window(members("1001"), BOOK, needs) is None
    assert preference_window(members(), BOOK, needs) is None
    # all free ones fit alike: no one to prefer (the strategy spreads the calls)
    assert preference_window(members("1002", "1003"), BOOK, needs) is None
    assert preference_window(members("1001", "1002"), BOOK, None) is None


def test_window_never_holds_a_worse_free_agent():
    needs = CallNeeds("en-US", None)  # Smith is the one English speaker
    assert preference_window(members("1001", "1002", "1003"), BOOK, needs) == (3, 3)
    # two best ones with a worse one seated between them: only the first best
    zh = CallNeeds("zh-CN", "crisis")
    assert preference_window(members("1001", "1002", "1003"),
                             BOOK, zh) == (3, 3)  # Chen answers crisis, untrained
    spread = {"1001": 2, "1002": 1, "1003": 3}
    assert preference_window(members("1001", "1002", "1003", penalties=spread),
                             BOOK, CallNeeds("zh-CN", "pediatrics")) == (1, 1)
    # log-ins without a seat all have penalty 0: no window can tell them apart
    zero = {"1001": 0, "1002": 0, "1003": 0}
    assert preference_window(members("1001", "1002", "1003", penalties=zero),
                             BOOK, CallNeeds("zh-CN", "pediatrics")) is None


def test_display_name_fits_any_handset():
    assert display_name(1, "chest_pain", "13800138003") == "U1 chest pain 138**03"
    long = display_name(2, "belly_pain_with_vomiting", "+8613800138003")
    assert long == "U2 belly pain 861**03"  # "with" would pass 24 characters
    assert display_name(2, "abdominal_pains_with_fever", "+8613800138003") == (
        "U2 abdominal 861**03")  # at a word boundary
    assert display_name(None, "", "") == "unknown"
    assert display_name(3, 'bad"<chars>,\\;胸痛', "12") == "U3 bad chars **"
    assert short_mask("13800138003") == "138**03"


def test_whisper_words():
    assert whisper_text(1, "chest_pain", 1, "en-US") == (
        "immediate, chest pain, second call in 24 hours")
    assert whisper_text(2, "fever", 4, "en-US") == "urgent, fever, call 5 in 24 hours"
    assert whisper_text(2, "fever", 0, "zh-CN", "发烧") == "紧急，发烧"
    assert whisper_text(None, "", 0, "ko-KR") == ""


def test_handoff_from_the_flow_state():
    variables = {"triage.urgency": 1, "triage.symptoms": ["child", "chest_pain"],
                 "triage.department": "emergency", "caller.repeat_calls_24h": 1,
                 "caller.number": "13800138003"}
    got = handoff_for(variables, "emergency", "en-US", whisper=True,
                      not_symptoms=frozenset({"child"}), names_zh={"chest_pain": "胸痛"})
    assert got.display == "U1 chest pain 138**03"
    assert got.whisper == "immediate, chest pain, second call in 24 hours"
    assert got.variables["caller.repeat_calls_24h"] == 1
    bare = handoff_for({"caller.number": "13800138003"}, "pharmacy", "zh-CN", whisper=True)
    assert bare.display == "the pharmacy 138**03" and bare.whisper == "药房"
    assert handoff_for({}, "pharmacy", "en-US", whisper=False).whisper == ""
    one = handoff_for({"triage.symptoms": "fever"}, "pediatrics", "en-US", whisper=False)
    assert one.display == "fever unknown"  # a set step's single symptom


def test_rendered_queues_and_rules(tmp_path: Path):
    values = ConfValues(
        inst="/ivr/t", moddir="/m", host="127.0.0.1", ami_port=1, ami_user="u",
        ami_secret="s", sip_port=2, rtp_start=3, rtp_end=4, engine_host="127.0.0.1",
        agi_port=5, fallback_queue="operator", agents={"1001": "pw", "1002": "pw"},
        agent_names={"1001": "Wang"}, queue_members=queue_members(BOOK), agi_secret="a" * 64,
        prefer_seconds=9)
    out = {p.name: p.read_text() for p in render_conf(values, tmp_path / "etc")}
    queues = out["queues.conf"]
    peds = queues[queues.index("[pediatrics](department)"):].split("\n\n")[0].split("[")[1]
    assert "member => PJSIP/1001,1,Wang,PJSIP/1001" in peds
    assert "member => PJSIP/1003,3,Smith,PJSIP/1003" in peds
    crisis = queues[queues.index("[crisis](department)"):queues.index("[operator]")]
    assert crisis.count("member =>") == 2
    assert "defaultrule = ivr-flat" in queues
    assert "penaltychange => 0,,,1000" in out["queuerules.conf"]
    assert "penaltychange => 9,1000,0,1000" in out["queuerules.conf"]
    assert 'callerid = "Wang" <1001>' in out["pjsip.conf"]
    assert 'callerid = "Agent 1002" <1002>' in out["pjsip.conf"]
    none = ConfValues(**{**vars(values), "queue_members": {}})
    assert "member =>" not in render_conf(none, tmp_path / "etc2")[0].parent.joinpath(
        "queues.conf").read_text()
