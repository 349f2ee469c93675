"""Results status (issue 15.4): the CSV import names every bad line, a value column is
refused, a re-import updates; the lookup reads the verified patient's own rows only
(a family phone), recent ones; the ``results_status`` step on the shipped results flow
says the status (never a value), records which, and sends every doubt to a person."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr import events as ev
from ivr.flows.loader import load_flow_set_or_raise
from ivr.flows.simulator import CallerTurn, SimChannel, simulate
from ivr.results import importer
from ivr.results.kinds import spoken_date
from ivr.results.lookup import statuses
from ivr.store.models import Patient, ResultStatus
from ivr.store.recorder import CallRecorder

ROOT = Path(__file__).parents[2]
AT = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
TODAY = AT.date()
GOOD = ("patient_number,test,taken,status\n"
        "P1001,blood,2026-11-28,ready\n"
        "P1001,CT,2026-12-01,pending\n"
        "P2002,x-ray,2026-11-20,clinic_will_call\n")


def test_a_good_file_parses_with_aliases_and_any_case():
    rows, findings = importer.parse(GOOD, "r.csv", TODAY)
    assert findings == []
    assert [(r.line, r.kind, r.status) for r in rows] == [
        (2, "blood", "ready"), (3, "ct", "pending"), (4, "xray", "clinic_will_call")]


def test_every_bad_line_is_named_and_nothing_is_taken():
    text = ("Patient Number,Test Kind,Taken Date,Status\n"
            "P1001,blood,2026-11-28,ready\n"
            ",blood,2026-11-28,ready\n"                # line 3: no patient
            "P1001,spleen,28/11/2026,done\n"           # line 4: three problems
            "P1001,blood,2026-11-28,pending\n"         # line 5: same test as line 2
            "P1001,blood\n"                            # line 6: short row
            "P1001,urine,2027-01-01,ready\n")          # line 7: in the future
    rows, findings = importer.parse(text, "r.csv", TODAY)
    assert rows == []
    said = [str(f) for f in findings]
    assert said[0] == "r.csv:3:1: patient_number: empty"
    assert "r.csv:4:2: test: 'spleen' is not a test kind" in said[1]
    assert said[2] == "r.csv:4:3: taken: '28/11/2026' is not a date like 2026-11-28"
    assert said[3].startswith("r.csv:4:4: status: 'done' is not one of ready, pending")
    assert said[4] == "r.csv:5:1: the same test (patient, kind, date) as line 2"
    assert said[5] == "r.csv:6:1: 2 cells, the header has 4"
    assert said[6] == "r.csv:7:3: taken: 2027-01-01 is in the future"
    assert len(said) == 7


def test_a_value_or_diagnosis_column_is_refused_by_name():
    text = "patient_number,test,taken,status,value,diagnosis\nP1,blood,2026-11-28,ready,5.4,x\n"
    rows, findings = importer.parse(text, "r.csv", TODAY)
    assert rows == []
    assert [(f.line, f.col) for f in findings] == [(1, 5), (1, 6)]
    assert "never a value or a diagnosis" in findings[0].message
    assert {c.name for c in ResultStatus.__table__.columns} == {
        "id", "patient_hash", "test_kind", "taken_on", "status", "updated_at", "source"}


@pytest.mark.parametrize("text,where", [
    ("", (1, 1)), ("patient_number,test,taken\n", (1, 1)),
    ("patient_number,test,taken,status\n", (2, 1)),
    ("patient_number,test,test,taken,status\n", (1, 3))])
def test_a_broken_header_or_an_empty_file(text, where):
    rows, findings = importer.parse(text, "r.csv", TODAY)
    assert rows == [] and (findings[0].line, findings[0].col) == where


def recorder_with(*patients: tuple[str, str, str]) -> CallRecorder:
    recorder = CallRecorder("sqlite://")
    for number, dob, mrn in patients:
        recorder.add_patient(number, dob, mrn)
    return recorder


def store(recorder: CallRecorder, text: str) -> importer.Imported:
    rows, findings = importer.parse(text, "r.csv", TODAY)
    assert findings == []
    with recorder.sessions.begin() as s:
        return importer.store(s, rows, recorder.privacy, "r.csv")


def test_a_reimport_updates_the_status_and_the_number_is_never_kept_in_clear():
    recorder = recorder_with()
    assert store(recorder, GOOD) == importer.Imported(3, 0)
    changed = GOOD.replace("2026-12-01,pending", "2026-12-01,ready")
    assert store(recorder, changed) == importer.Imported(0, 1)
    with Session(recorder.engine) as s:
        hashes = s.scalars(select(ResultStatus.patient_hash)).all()
    assert len(hashes) == 3 and not any("P1001" in h for h in hashes)
    recorder.close()


def test_the_lookup_reads_the_verified_patients_own_recent_tests():
    # a family phone: two patients, each with their own results
    recorder = recorder_with(("13800138000", "19480315", "P1001"),
                             ("13800138000", "19800101", "P2002"))
    store(recorder, GOOD + "P1001,urine,2026-06-01,ready\n")  # six months ago
    with Session(recorder.engine) as s:
        ids = {p.birth_year: p.id for p in s.scalars(select(Patient))}
        mine = statuses(s, ids[1948], TODAY)
        theirs = statuses(s, ids[1980], TODAY)
        nobody = statuses(s, 999, TODAY)
    assert [i.ref for i in mine] == ["ct@2026-12-01:pending", "blood@2026-11-28:ready"]
    assert [i.ref for i in theirs] == ["xray@2026-11-20:clinic_will_call"]
    assert nobody == []
    recorder.close()


def test_dates_are_said_naturally():
    day = dt.date(2026, 11, 28)
    assert spoken_date(day, "en-US", TODAY) == "28 November"
    assert spoken_date(day, "zh-CN", TODAY) == "11月28日"
    assert spoken_date(day, "en-US", dt.date(2027, 1, 3)) == "28 November 2026"
    assert spoken_date(day, "zh-CN", dt.date(2027, 1, 3)) == "2026年11月28日"


@pytest.fixture(scope="module")
def flows():
    return load_flow_set_or_raise([ROOT / "dialplans"], ROOT / "prompts")


async def call(flows, results: str | None, *keys: str, lang: str = "en-US", broken=False):
    def prepare(recorder: CallRecorder) -> None:
        recorder.add_patient("13800138000", "19480315", "P1001")
        if results:
            store(recorder, results)
        if broken:  # the results table out of reach: the lookup fails, the call goes on
            with recorder.engine.begin() as conn:
                conn.exec_driver_sql("DROP TABLE test_results")

    channel = SimChannel([CallerTurn("key", k) for k in keys])
    return await simulate(flows, "results", channel, {"lang": lang}, AT, prepare=prepare)


def said(sim) -> list[str]:
    return [e.text for e in sim.events if isinstance(e, ev.Prompt)]


def read(sim) -> list[ev.ResultsRead]:
    return [e for e in sim.events if isinstance(e, ev.ResultsRead)]


async def test_the_step_says_the_status_and_records_which(flows):
    sim = await call(flows, GOOD, "1", "19480315", "2")
    assert sim.outcome == "goodbye"
    assert [r.read for r in read(sim)] == [["ct@2026-12-01:pending", "blood@2026-11-28:ready"]]
    heard = " ".join(said(sim))
    assert "Your CT scan from 1 December is not ready yet." in heard
    assert "Your blood test from 28 November is ready." in heard
    # the other patient's result (P2002) is not theirs
    assert "X-ray" not in heard
    stored = [e for e in sim.record.events if e.kind == "results_status"]
    assert stored and stored[0].detail["outcome"] == "read"


async def test_nothing_on_record_goes_to_the_results_team(flows):
    sim = await call(flows, None, "1", "19480315", lang="zh-CN")
    assert [r.outcome for r in read(sim)] == ["none"]
    assert sim.record.queue == "results"
    assert any("没有查到您近期的检查记录" in t for t in said(sim))


async def test_the_table_out_of_reach_goes_to_the_results_team(flows):
    sim = await call(flows, GOOD, "1", "19480315", broken=True)
    assert [r.outcome for r in read(sim)] == ["unavailable"]
    assert sim.record.queue == "results"


async def test_a_family_member_with_another_birth_date_hears_nothing_of_it(flows):
    sim = await call(flows, GOOD, "1", "19800101", "19800101")
    assert read(sim) == [] and sim.record.queue == "results"


def test_the_cli_imports_lists_and_refuses_a_bad_file(tmp_path, monkeypatch):
    from ivr.cli.main import cli

    db = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("IVR_ENGINE__DATABASE_URL", db)
    monkeypatch.delenv("IVR_CONFIG", raising=False)
    monkeypatch.setenv("IVR_STAFF_USER", "admin.wang")
    runner = CliRunner()
    assert runner.invoke(cli, ["staff", "add", "admin.wang", "admin"]).exit_code == 0
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(GOOD)
    bad.write_text("patient_number,test,taken,status\nP1,blood,yesterday,ready\n")
    out = runner.invoke(cli, ["results", "import", str(bad), "--db", db])
    assert out.exit_code == 1, out.output
    assert f"{bad}:2:3: taken: 'yesterday' is not a date" in out.output
    assert "nothing imported" in out.output
    out = runner.invoke(cli, ["results", "import", str(good), "--db", db])
    assert out.exit_code == 0, out.output
    assert "3 row(s): 3 added, 0 updated" in out.output
    out = runner.invoke(cli, ["results", "list", "--db", db])
    assert out.exit_code == 0 and "clinic_will_call" in out.output and "P1001" not in out.output
