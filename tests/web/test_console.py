"""The agent console over aiohttp's test server, a real database, the real live board
and the shipped flows: what the page gets for the call on the nurse's handset (triage,
transcript, summary, history, open follow-ups), live by server-sent events, audited
once per view; the wrap-up it stores (disposition, follow-up); the look-up."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr import events as ev
from ivr.flows.reloader import FlowStore
from ivr.settings import PROJECT_ROOT
from ivr.store.dispositions import disposition_cases
from ivr.store.models import AuditEntry, Disposition, FollowUp
from tests.web.staff_app import StaffSite, make_engine

CALLER = "13800138003"
SAID = "I have a crushing chest pain. It started an hour ago and it is getting worse."


@pytest_asyncio.fixture
async def engine(tmp_path):
    made = make_engine(tmp_path, agent_extensions={"nurse": "1001", "boss": "1002",
                                                   "checker": "1001"})
    made.live.attach_recorder(made.recorder)
    made.flows = FlowStore(PROJECT_ROOT / "dialplans", PROJECT_ROOT / "prompts")
    made.flows.load()
    yield made
    made.recorder.close()


async def _earlier_call(recorder):
    call_id = await recorder.start("u0", "PJSIP/trunk-0000", CALLER, "main", "v1",
                                   language="en-US")
    await recorder.record(call_id, ev.Triage(text="my knee hurts", lang="en-US", urgency=4,
                                             department="orthopedics",
                                             symptoms=["joint_pain"]))
    await recorder.update(call_id, department="orthopedics", urgency=4)
    await recorder.finish(call_id, "answered")
    now = datetime.now(UTC)
    await recorder.create_followup(number=CALLER, kind="medication", flow="followup_call",
                                   due_at=now + timedelta(days=1),
                                   deadline_at=now + timedelta(days=3), call_id=call_id)


async def _ringing_call(engine):
    """A caller heard, triaged and put through to the nurse's handset (1001)."""
    recorder, live = engine.recorder, engine.live
    await _earlier_call(recorder)
    call_id = await recorder.start("u1", "PJSIP/trunk-0001", CALLER, "main", "v1",
                                   language="en-US")
    await recorder.record(call_id, ev.Prompt(text="Please tell us why you are calling."))
    await recorder.record(call_id, ev.Turn(text=SAID, confidence=0.9))
    await recorder.record(call_id, ev.Turn(text="yes", confidence=0.9))
    await recorder.record(call_id, ev.Triage(text=SAID, lang="en-US", urgency=1,
                                             department="cardiology",
                                             reasons=["chest pain"], symptoms=["chest_pain"]))
    await recorder.record(call_id, ev.Route(step="cardiology", queue="cardiology",
                                            priority=8, summary="U1 chest pain"))
    await recorder.flush()
    live.take_ami({"Event": "QueueCallerJoin", "Uniqueid": "u1", "Queue": "cardiology",
                   "Position": "1", "Priority": "8", "Channel": "PJSIP/trunk-0001"})
    live.take_ami({"Event": "AgentConnect", "Uniqueid": "u1", "Queue": "cardiology",
                   "Interface": "PJSIP/1001", "MemberName": "Agent 1001",
                   "DestChannel": "PJSIP/1001-00000002"})
    return call_id


def _audit(engine, target):
    with Session(engine.recorder.engine) as s:
        return [(e.user, e.action, e.allowed) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.target == target).order_by(AuditEntry.id))]


async def test_the_console_shows_the_call_on_the_agents_handset(engine):
    call_id = await _ringing_call(engine)
    async with StaffSite(engine) as site:
        await site.sign_in("nurse")
        view = await (await site.client.get("/api/console/state")).json()
        again = await (await site.client.get("/api/console/state")).json()
    call = view["call"]
    assert call["call_id"] == call_id and call["state"] == "talking"
    assert call["caller"] != CALLER and CALLER[-2:] in call["caller"]  # masked
    assert call["triage"]["urgency"] == 1 and call["triage"]["department"] == "cardiology"
    assert call["triage"]["reasons"] == ["chest pain"]
    assert [(t["who"], t["text"]) for t in call["transcript"]] == [
        ("line", "Please tell us why you are calling."), ("caller", SAID), ("caller", "yes")]
    assert call["summary"][0].startswith("I have a crushing chest pain.")
    assert all(s in SAID for s in call["summary"])  # the caller's own words only
    history = call["history"]
    assert history["calls"][0]["topic"] == "orthopedics"
    assert [f["kind"] for f in history["open_followups"]] == ["medication"]
    assert again["call"]["call_id"] == call_id
    # audited once for this view, as `ivr history` is
    assert _audit(engine, f"call {call_id}") == [("nurse", "read_transcripts", True),
                                                 ("nurse", "read_history", True)]


async def test_another_handsets_agent_sees_no_call(engine):
    await _ringing_call(engine)
    async with StaffSite(engine) as site:
        await site.sign_in("boss")  # handset 1002
        view = await (await site.client.get("/api/console/state")).json()
    assert view["extension"] == "1002" and view["call"] is None


async def test_a_role_without_transcripts_is_refused_and_the_refusal_audited(engine):
    call_id = await _ringing_call(engine)
    async with StaffSite(engine) as site:
        await site.sign_in("checker")  # an auditor, mapped to 1001 for this test
        view = await (await site.client.get("/api/console/state")).json()
    refused = view["call"]["refused"]
    assert view["call"]["call_id"] == call_id
    assert "'auditor'" in refused and "'read_transcripts'" in refused
    assert "transcript" not in view["call"]
    assert _audit(engine, f"call {call_id}") == [("checker", "read_transcripts", False)]


async def _next_view(response, timeout=10.0):
    """The next ``view`` event of a server-sent event stream."""
    event = None
    async with asyncio.timeout(timeout):
        while True:
            line = (await response.content.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "view":
                return json.loads(line[6:])


async def test_the_console_follows_the_call_live_by_server_sent_events(engine):
    async with StaffSite(engine) as site:
        await site.sign_in("nurse")
        response = await site.client.get("/api/console/events")
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["X-Accel-Buffering"] == "no"
        first = await _next_view(response)
        assert first["call"] is None
        call_id = await _ringing_call(engine)
        view = await _next_view(response)
        while view["call"] is None or len(view["call"]["transcript"]) < 3:
            view = await _next_view(response)
        assert view["call"]["call_id"] == call_id
        await engine.recorder.record(call_id, ev.Turn(text="Now my left arm feels numb."))
        view = await _next_view(response)
        assert view["call"]["transcript"][-1]["text"] == "Now my left arm feels numb."
        response.close()


async def test_the_disposition_is_stored_masked_and_feeds_triage_review(engine):
    call_id = await _ringing_call(engine)
    async with StaffSite(engine) as site:
        await site.sign_in("nurse")
        token = await site.csrf()
        bad = await site.post_json(f"/api/calls/{call_id}/disposition",
                                   {"department": "astrology"}, token)
        assert bad.status == 400
        assert (await bad.json())["error"] == "InvalidInput"
        bad_level = await site.post_json(f"/api/calls/{call_id}/disposition",
                                         {"department": "cardiology", "urgency": 9}, token)
        assert bad_level.status == 400
        ok = await site.post_json(f"/api/calls/{call_id}/disposition", {
            "department": "cardiology", "urgency": 1, "resolved": False,
            "note": "sent to A&E, wife on 13912345678"}, token)
        assert ok.status == 200, await ok.text()
        view = await (await site.client.get("/api/console/state")).json()
    with Session(engine.recorder.engine) as s:
        row = s.scalar(select(Disposition).where(Disposition.call_id == call_id))
    assert (row.agent, row.department, row.urgency, row.resolved) == (
        "nurse", "cardiology", 1, False)
    assert "13912345678" not in row.note and row.note.startswith("sent to A&E")
    assert view["call"]["disposition"]["department"] == "cardiology"
    cases = disposition_cases(engine.recorder.engine, datetime.now(UTC) - timedelta(hours=1))
    assert [(c.urgency, c.department) for c in cases] == [(1, "cardiology")]


async def test_an_agent_opens_a_follow_up_for_the_caller(engine):
    call_id = await _ringing_call(engine)
    async with StaffSite(engine) as site:
        await site.sign_in("nurse")
        token = await site.csrf()
        bad = await site.post_json(f"/api/calls/{call_id}/followup",
                                   {"number": "12", "kind": "callback"}, token)
        assert bad.status == 400
        ok = await site.post_json(f"/api/calls/{call_id}/followup", {
            "number": CALLER, "kind": "callback", "in_hours": 2,
            "reason": "check the pain is gone"}, token)
        assert ok.status == 200, await ok.text()
        made = (await ok.json())["followup"]
    assert made["number"] != CALLER and made["language"] == "en-US"
    with Session(engine.recorder.engine) as s:
        row = s.get(FollowUp, made["id"])
    assert (row.call_id, row.kind, row.created_by, row.flow) == (
        call_id, "callback", "staff:nurse", "followup_call")
    assert _audit(engine, f"call {call_id}")[-1] == ("nurse", "open_followup", True)


async def test_emergency_buttons_answer_plainly_when_they_cannot_act(engine):
    call_id = await _ringing_call(engine)
    async with StaffSite(engine) as site:
        await site.sign_in("nurse")
        token = await site.csrf()
        wrong = await site.post_json(f"/api/calls/{call_id}/emergency", {"action": "x"}, token)
        assert wrong.status == 400
        response = await site.post_json(f"/api/calls/{call_id}/emergency",
                                        {"action": "transfer"}, token)
        body = await response.json()
    # no AMI in this test: either the tools are not installed or the call cannot be reached
    assert (response.status, body["error"]) in ((503, "NotAvailable"), (409, "CallGone"))
    assert _audit(engine, f"call {call_id}")[-1] == ("nurse", "emergency_transfer", False)


async def test_the_drug_look_up_finds_names_and_synonyms_in_both_languages(engine):
    async with StaffSite(engine) as site:
        await site.sign_in("nurse")
        zh = await (await site.client.get("/api/knowledge", params={
            "q": "扑热息痛", "lang": "zh-CN"})).json()
        en = await (await site.client.get("/api/knowledge", params={
            "q": "tylenol", "lang": "en-US"})).json()
        bad = await site.client.get("/api/knowledge", params={"q": "x", "lang": "fr-FR"})
    assert zh["results"][0]["id"] == "paracetamol" and zh["results"][0]["name"] == "对乙酰氨基酚"
    assert en["results"][0]["name"] == "paracetamol" and en["results"][0]["matched"] == "Tylenol"
    assert en["results"][0]["source"] and en["version"]
    assert bad.status == 400


async def test_the_handset_comes_from_the_agents_list_before_the_setting(tmp_path):
    from ivr.store.access import add_staff
    from ivr.web.passwords import set_password
    from tests.web.staff_app import PASSWORD

    listed = tmp_path / "agents.yaml"
    listed.write_text('agents:\n  - {extension: "1003", name: Nurse Li, user: nurse, '
                      "languages: [zh-CN], queues: [operator]}\n", encoding="utf-8")
    engine = make_engine(tmp_path, agent_extensions={"nurse": "1001", "lee": "1004"})
    engine.settings.agents.file = listed
    db = engine.recorder.engine
    add_staff(db, "lee", "agent", by="root")
    set_password(db, "lee", PASSWORD, by="root")
    try:
        async with StaffSite(engine) as site:
            await site.sign_in("nurse")
            listed_view = await (await site.client.get("/api/console/state")).json()
        async with StaffSite(engine) as site:
            await site.sign_in("lee")
            setting_view = await (await site.client.get("/api/console/state")).json()
    finally:
        engine.recorder.close()
    assert listed_view["extension"] == "1003"  # agents.yaml names the user
    assert setting_view["extension"] == "1004"  # not in the list: the setting
