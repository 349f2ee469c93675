"""Notices pushed to the line (issue 15.5): a booking the hospital cancelled or moved
is told first on the next call from the phone that booked it, once; a change the
caller made themselves by phone, a past appointment, or another phone's: nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from ivr import events as ev
from ivr.flows.loader import load_flow_set_or_raise
from ivr.flows.simulator import CallerTurn, SimChannel, simulate
from ivr.notices import mark_told, pending
from ivr.schedule import given as slots_given
from ivr.schedule.tables import TableSchedule
from ivr.store.recorder import CallRecorder

ROOT = Path(__file__).parents[2]
CALLER = "13800138000"
AT = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
SLOTS = [{"clinic": "Digestive Clinic", "department": "gastroenterology",
          "clinician": "Dr Wang", "start": f"2026-11-{d} 09:00", "minutes": 20,
          "booked": "caller"} for d in ("26", "27", "20")] + [
         {"clinic": "Digestive Clinic", "department": "gastroenterology",
          "clinician": "Dr Wang", "start": "2026-11-28 09:00", "minutes": 20}]


def changed(recorder: CallRecorder) -> None:
    """Staff cancel the 26th and move the 27th to the 28th; the caller cancelled the
    20th themselves (and it is past anyway)."""
    slots_given.write(recorder, SLOTS, CALLER)
    schedule = TableSchedule(recorder.engine)
    by_day = {s.starts_at.day: (s, b) for s, b in schedule.listing("gastroenterology")}
    before = AT - dt.timedelta(hours=1)
    schedule.cancel(by_day[26][1].id, "staff:admin.wang", now=before)
    schedule.change(by_day[27][1].id, by_day[28][0].id, "staff:admin.wang", now=before)
    schedule.cancel(by_day[20][1].id, "phone", now=before - dt.timedelta(days=10))


@pytest.fixture(scope="module")
def flows():
    return load_flow_set_or_raise([ROOT / "dialplans"], ROOT / "prompts")


def test_pending_notices_are_the_hospitals_changes_and_told_once():
    recorder = CallRecorder("sqlite://")
    changed(recorder)
    phone = recorder.privacy.caller_hash(CALLER)
    with Session(recorder.engine) as s:
        items = pending(s, phone, AT)
        assert [(i.kind, i.starts_at.day) for i in items] == [("cancelled", 26), ("moved", 27)]
        assert items[1].moved_to is not None and items[1].moved_to.day == 28
        assert pending(s, recorder.privacy.caller_hash("13900000000"), AT) == []
    with recorder.sessions.begin() as s:
        mark_told(s, items, phone, "call-1", AT)
    with Session(recorder.engine) as s:
        assert pending(s, phone, AT) == []
    recorder.close()


@pytest.mark.parametrize("lang,keys,cancelled,moved", [
    ("en-US", ["2", "1"],
     "your appointment on Thursday 26 November at 9 AM at the Digestive Clinic has been "
     "cancelled by the hospital",
     "has been moved by the hospital to Saturday 28 November at 9 AM"),
    ("zh-CN", ["1", "1"], "您11月26日星期四上午9点在Digestive Clinic的预约已被医院取消",
     "已被医院改到11月28日星期六上午9点")])
async def test_the_next_call_hears_them_first(flows, lang, keys, cancelled, moved):
    channel = SimChannel([CallerTurn("key", k) for k in keys])
    sim = await simulate(flows, "main", channel, {}, AT, prepare=changed)
    said = [e.text for e in sim.events if isinstance(e, ev.Prompt)]
    told = [e for e in sim.events if isinstance(e, ev.NoticesTold)]
    assert len(told) == 1 and len(told[0].told) == 2
    at = next(i for i, t in enumerate(said) if cancelled in t)
    assert moved in said[at + 1]
    assert sim.record.queue  # and the call goes on to a person as before


async def test_no_notice_no_words(flows):
    sim = await simulate(flows, "main", SimChannel([CallerTurn("key", "2")]), {}, AT)
    assert not [e for e in sim.events if isinstance(e, ev.NoticesTold)]


@pytest.mark.parametrize("flow,vars_,step", [
    ("main", {}, "main_menu"),  # the call goes on: nothing said
    ("followup_call", {"followup.kind": "appointment_change"},
     "to_appointments_desk_no_choice")])  # the call made to tell it: the desk tells it
async def test_records_out_of_reach(flows, monkeypatch, flow, vars_, step):
    from sqlalchemy.exc import OperationalError

    def down(*_args, **_kw):
        raise OperationalError("SELECT", {}, Exception("database is away"))

    monkeypatch.setattr("ivr.flows.steps.notices.pending", down)
    channel = SimChannel([CallerTurn("key", k) for k in (["2", "1"] if flow == "main" else [])])
    sim = await simulate(flows, flow, channel, vars_, AT, prepare=changed)
    steps = [e.step for e in sim.events if isinstance(e, ev.Step)]
    assert step in steps and not [e for e in sim.events if isinstance(e, ev.NoticesTold)]
