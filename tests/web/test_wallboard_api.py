"""The wallboard's routes over the real app, database and live board (aiohttp's test
server, no Asterisk): who may see it and switch the override, CSRF, bad input, the
order of waiting callers, masked numbers only."""

import asyncio
import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr import events as ev
from ivr.store import switches
from ivr.store.models import AuditEntry
from tests.web.staff_app import StaffSite, make_engine


@pytest.fixture
async def site(tmp_path):
    engine = make_engine(tmp_path)
    async with StaffSite(engine) as s:
        yield s
    engine.recorder.close()


def caller(board, uniqueid, call_id, prio, summary, urgency=None, number="13800138000"):
    board.on_event(uniqueid, call_id, ev.Start(channel="PJSIP/trunk-1",
                                               caller_masked=number[:3] + "****" + number[-2:]))
    if urgency is not None:
        board.on_event(uniqueid, call_id, ev.Triage(urgency=urgency, department="emergency"))
    board.on_event(uniqueid, call_id, ev.Route(step="emergency", queue="emergency",
                                               priority=prio, summary=summary))
    board.take_ami({"Event": "QueueCallerJoin", "Uniqueid": uniqueid, "Queue": "emergency",
                    "Position": "1", "Count": "1", "CallerIDNum": number})


def audit_rows(site, action):
    with Session(site.engine.recorder.engine) as s:
        return [(r.user, r.allowed) for r in s.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


async def test_waiting_callers_in_serving_order_with_urgency_masked(site):
    board = site.engine.live
    caller(board, "1.1", "c1", 1, "Routine caller", number="13800138001")
    await asyncio.sleep(0.01)
    caller(board, "1.2", "c2", 10, "Red flag: chest pain", urgency=1, number="13800138002")
    await site.sign_in("nurse")
    r = await site.client.get("/api/wallboard/state")
    assert r.status == 200
    view = await r.json()
    (queue,) = view["queues"]
    assert [c["call_id"] for c in queue["waiting"]] == ["c2", "c1"]
    assert queue["waiting"][0]["urgency"] == 1 and queue["waiting"][1]["urgency"] is None
    assert view["figures"]["waiting_now"] == 2 and view["figures"]["offered"] == 0
    assert "13800138001" not in json.dumps(view) and "transcript" not in json.dumps(view)
    assert view["can"] == {"override": False, "spy": False}
    assert audit_rows(site, "view_wallboard") == [("nurse", True)]


async def test_the_page_needs_a_sign_in_and_the_role(site):
    r = await site.client.get("/wallboard", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login")
    await site.sign_in("checker")  # an auditor: aggregate reports, not the live line
    assert (await site.client.get("/wallboard")).status == 403
    assert audit_rows(site, "view_wallboard") == [("checker", False)]


async def test_override_refused_to_an_agent_allowed_to_a_supervisor(site):
    db = site.engine.recorder.engine
    await site.sign_in("nurse")
    token = await site.csrf()
    r = await site.post_json("/api/wallboard/override", {"on": True, "reason": "drill"}, token)
    assert r.status == 403 and (await r.json())["error"] == "AccessDenied"
    assert switches.read(db) is None

    boss = site.fresh_client()
    await boss.start_server()
    try:
        await site.sign_in("boss", client=boss)
        token = await site.csrf(boss)
        # without the token, or from another site: refused before anything else
        r = await site.post_json("/api/wallboard/override", {"on": True, "reason": "x"},
                                 None, client=boss)
        assert r.status == 403 and (await r.json())["error"] == "CsrfRefused"
        r = await site.post_json("/api/wallboard/override", {"on": True, "reason": "x"},
                                 token, origin="http://evil.example", client=boss)
        assert r.status == 403 and (await r.json())["error"] == "CsrfRefused"
        r = await site.post_json("/api/wallboard/override", {"on": "yes"}, token, client=boss)
        assert r.status == 400 and "on is true or false" in (await r.json())["message"]
        r = await site.post_json("/api/wallboard/override", {"on": True}, token, client=boss)
        assert r.status == 400 and "say why" in (await r.json())["message"]
        r = await site.post_json("/api/wallboard/override",
                                 {"on": True, "reason": "mass casualty drill"}, token,
                                 client=boss)
        assert r.status == 200 and (await r.json())["override"]["on"] is True
        state = switches.read(db)
        assert state.is_on and (state.reason, state.set_by) == ("mass casualty drill", "boss")
        view = await (await boss.get("/api/wallboard/state")).json()
        assert view["override"]["on"] is True and view["can"]["override"] is True
        r = await site.post_json("/api/wallboard/override", {"on": False}, token, client=boss)
        assert r.status == 200 and switches.read(db).is_on is False
    finally:
        await boss.close()
    assert audit_rows(site, "switch_override") == [
        ("nurse", False), ("boss", True), ("boss", True)]


async def test_spy_needs_a_live_call_the_role_and_a_handset(site):
    board = site.engine.live
    caller(board, "1.1", "c1", 1, "Routine caller")
    await site.sign_in("boss")
    token = await site.csrf()
    r = await site.post_json("/api/wallboard/spy", {"uniqueid": "1.1", "mode": "peek"}, token)
    assert r.status == 400 and "mode is one of" in (await r.json())["message"]
    r = await site.post_json("/api/wallboard/spy", {"uniqueid": "1.1", "mode": "listen"}, token)
    assert r.status == 400 and "not with an agent" in (await r.json())["message"]
    board.take_ami({"Event": "AgentConnect", "Uniqueid": "1.1", "Queue": "emergency",
                    "Interface": "PJSIP/1001", "DestChannel": "PJSIP/1001-00000003"})
    r = await site.post_json("/api/wallboard/spy", {"uniqueid": "1.1", "mode": "whisper"},
                             token)
    assert r.status == 503 and (await r.json())["error"] == "NoAmi"  # no Asterisk here
    assert audit_rows(site, "spy_call") == [("boss", True)]
