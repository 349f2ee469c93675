"""``ivr drill``'s pure parts: the step verdicts from AMI events and the call record, the
printed line, the scenarios, the sound's name, the rendered caller context, the stored
rows and the report's Drills section (drill calls left out of the patients' figures)."""

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from ivr.cli.main import cli
from ivr.drill.scenarios import SCENARIOS, chosen
from ivr.drill.sound import sound_name
from ivr.drill.steps import AmiSeen, RecordSeen, failures, judge, line
from ivr.drill.store import between, save
from ivr.pbx.render import ConfValues, render_conf
from ivr.reports.figures import compute_figures
from ivr.store.database import make_engine, migrate
from ivr.store.models import Call

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
EMERGENCY = SCENARIOS["emergency"]


def at(seconds):
    return T0 + timedelta(seconds=seconds)


def ami(seconds, name, **fields):
    return AmiSeen(seconds, {"Event": name, **fields})


def good_record(lane="emergency", queue="emergency", outcome="answered"):
    return RecordSeen("call-1", outcome, [
        ("start", at(0.4), {}),
        ("turn", at(7.0), {}),
        ("red_flag", at(7.9), {"lane": lane, "reasons": ["red flag chest_pain"]}),
        ("route", at(8.0), {"queue": queue, "priority": 10}),
        ("end", at(20.0), {"outcome": outcome}),
    ])


def good_ami(queue="emergency"):
    return [ami(0.1, "Newchannel", Channel="Local/2-x@ivr-drill-caller-0001;1"),
            ami(8.1, "QueueCallerJoin", Queue=queue),
            ami(12.3, "AgentConnect", Queue=queue, MemberName="Agent 1001",
                Interface="PJSIP/1001")]


def verdicts(result):
    return {s.step: s.held for s in result.steps}


def test_a_drill_that_reaches_its_team_passes_with_its_time_to_human():
    result = judge(EMERGENCY, T0, good_ami(), good_record())
    assert result.passed and all(verdicts(result).values())
    assert result.time_to_human_s == 12.3 and result.call_id == "call-1"
    assert [s.at_s for s in result.steps] == [0.4, 7.9, 8.1, 12.3, None]
    text = line(result)
    assert text.startswith("drill emergency PASS  time to human 12.3 s")
    assert "red flag held 7.9s" in text and "never alone held" in text
    assert failures(result) == []


def test_a_naive_database_time_is_utc():
    record = good_record()
    naive = RecordSeen(record.call_id, record.outcome,
                       [(k, a.replace(tzinfo=None), d) for k, a, d in record.events])
    assert judge(EMERGENCY, T0, good_ami(), naive).steps[1].at_s == 7.9


def test_words_heard_in_the_wrong_lane_fail_the_red_flag_step():
    result = judge(EMERGENCY, T0, good_ami(), good_record(lane="crisis"))
    assert not result.passed
    assert verdicts(result)["red_flag"] is False
    assert "heard as crisis, not emergency" in failures(result)[0]


def test_no_red_flag_and_the_operator_fail_routing_and_the_team():
    record = RecordSeen("call-2", "answered", [("start", at(0.5), {}),
                                               ("route", at(20), {"queue": "operator"})])
    seen = [ami(20.1, "QueueCallerJoin", Queue="operator"),
            ami(25.0, "AgentConnect", Queue="operator", MemberName="Agent 1003")]
    result = judge(EMERGENCY, T0, seen, record)
    assert verdicts(result) == {"answered": True, "red_flag": False, "routed": False,
                                "human": False, "never_alone": True}
    assert result.time_to_human_s is None  # not the team the drill is for
    text = line(result)
    assert "FAIL" in text and "time to human none" in text and "routed FAILED" in text
    assert "went to 'operator'" in "\n".join(failures(result))
    assert "answered in 'operator' by Agent 1003" in "\n".join(failures(result))


def test_nobody_answering_fails_human_and_never_alone():
    seen = good_ami()[:2]
    result = judge(EMERGENCY, T0, seen, good_record(outcome="still open"))
    v = verdicts(result)
    assert v["human"] is False and v["never_alone"] is False
    assert "no person came" in result.steps[-1].detail
    assert "record closed as still open" in result.steps[-1].detail


def test_a_caller_dropped_before_a_person_came_was_left_alone():
    seen = [*good_ami()[:2], ami(10.0, "Hangup"), ami(12.3, "AgentConnect", Queue="emergency")]
    result = judge(EMERGENCY, T0, seen, good_record())
    assert verdicts(result)["never_alone"] is False
    assert "Hangup at 10.0 s" in result.steps[-1].detail
    abandoned = [*good_ami()[:2], ami(11.0, "QueueCallerAbandon")]
    assert not judge(EMERGENCY, T0, abandoned, good_record()).passed


def test_no_record_at_all_fails_from_the_first_step():
    result = judge(EMERGENCY, T0, [], None)
    assert not any(verdicts(result).values())
    assert "engine never took the call" in result.steps[0].detail
    assert result.call_id is None


def test_scenarios_and_their_sounds():
    assert [s.name for s in chosen("all")] == ["emergency", "crisis"]
    assert chosen("crisis") == [SCENARIOS["crisis"]]
    with pytest.raises(ValueError, match="unknown drill scenario"):
        chosen("fire")
    for s in SCENARIOS.values():
        assert s.caller_name.startswith("DRILL") and s.lane == s.queue
        assert "myself" not in s.words  # the crisis danger question's "hurt myself"
    a, b = sound_name("drill-x", "one"), sound_name("drill-x", "two")
    assert a != b and a.startswith("drill-x-") and a == sound_name("drill-x", "one")


def test_the_drill_caller_context_is_on_every_pbx(tmp_path):
    values = ConfValues(inst="/ivr/t", moddir="/m", host="127.0.0.1", ami_port=1, ami_user="u",
                        ami_secret="s", sip_port=2, rtp_start=3, rtp_end=4, engine_host="h",
                        agi_port=5, fallback_queue="operator", agents={"1001": "p"},
                        agi_secret="a")
    written = {p.name: p.read_text() for p in render_conf(values, tmp_path)}
    assert "[ivr-drill-caller]" in written["extensions_drill.conf"]
    assert "/ivr/t/sounds/drill/${EXTEN:2}" in written["extensions_drill.conf"]
    assert "#include extensions_drill.conf" in written["extensions.conf"]
    assert "X-IVR-Drill)=${IVR_DRILL}" in written["extensions.conf"]


def test_an_unknown_scenario_is_a_clear_error():
    result = CliRunner().invoke(cli, ["drill", "--scenario", "fire"])
    assert result.exit_code == 2 and "fire" in result.output


def test_results_are_stored_and_the_report_leaves_drill_calls_out(tmp_path):
    db = make_engine(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    migrate(db)
    with Session(db) as s, s.begin():
        s.add_all([Call(id="call-1", asterisk_uniqueid="drill-1.1", started_at=at(0),
                        outcome="answered", queue="emergency"),
                   Call(id="patient", asterisk_uniqueid="1.2", started_at=at(60),
                        outcome="answered", queue="pharmacy")])
    passed = judge(EMERGENCY, T0, good_ami(), good_record())
    failed = judge(SCENARIOS["crisis"], at(30), [], None)
    assert save(db, passed) != save(db, failed)
    rows = between(db, at(-1), at(3600))
    assert [(r.scenario, r.passed, r.time_to_human_s, r.call_id) for r in rows] == [
        ("emergency", True, 12.3, "call-1"), ("crisis", False, None, None)]
    assert rows[0].steps[1] == {"step": "red_flag", "held": True, "at_s": 7.9,
                                "detail": "red flag chest_pain"}
    figures = compute_figures(db, at(-3600), at(3600), tz="UTC")
    assert figures.volume.total == 1  # the patient only
    d = figures.drills
    assert (d.passed, d.failed, d.time_to_human_p50, d.time_to_human_max) == (1, 1, 12.3, 12.3)
    assert d.runs[1].failed_steps == ["answered", "red_flag", "routed", "human",
                                      "never_alone"]
    from ivr.reports.html import render_html

    page = render_html(figures)
    assert "Drills" in page and "2 drill call(s)" in page and "call-1" not in page
    db.dispose()
