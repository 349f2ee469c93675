"""The agent console: the call ringing on (or talking to) the signed-in agent's handset,
live, with their context; wrap-up (disposition, follow-up); emergency buttons; the
drug/guideline look-up.

Routes: ``GET /console`` (the page), ``GET /api/console/state`` (the view now),
``GET /api/console/events`` (server-sent events: the view each time it changes),
``POST /api/calls/{call_id}/disposition|followup|emergency``, ``GET /api/knowledge``.

The first time a person's console shows a call, reading its words and the caller's
history are authorised and audited (``read_transcripts``, ``read_history``, target
``call <id>``), as ``ivr history`` is; the live updates of that same view are not new
reads. The agent's extension: ``agents.yaml`` (``engine.agents``), else the setting
``web.agent_extensions``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from ivr.departments import DEPARTMENTS
from ivr.privacy.roles import Action
from ivr.store.access import audit
from ivr.store.models import Call, Disposition
from ivr.web import auth, knowledge, sessions
from ivr.web.app import render
from ivr.web.live_view import call_view, caller_history
from ivr.web.sse import EventStream, follow_board

log = logging.getLogger(__name__)

HEARTBEAT = 15.0  # s between keep-alives on the event stream (proxies close idle ones)
MAX_NOTE = 2000
MAX_VIEWS = 1000  # sessions whose console state is kept
FOLLOWUP_FLOW = "followup_call"
FOLLOWUP_DEADLINE = timedelta(days=7)
EMERGENCY_MODULE = "ivr.emergency.conference"
EMERGENCY_ACTIONS = {"conference": "bring_emergency_team", "transfer": "transfer_to_emergency"}


class InvalidInput(ValueError):
    """A form value the page should not have sent: 400 with the reason."""


@dataclass
class SessionConsole:
    """What one signed-in console has been shown: calls audited, the call in wrap-up."""

    audited: set[str] = field(default_factory=set)
    refused: dict[str, str] = field(default_factory=dict)  # call id -> why not
    history: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_call_id: str | None = None
    dispositions: dict[str, dict[str, Any]] = field(default_factory=dict)


class Consoles:
    def __init__(self) -> None:
        self._by_session: OrderedDict[str, SessionConsole] = OrderedDict()

    def of(self, session_id: str) -> SessionConsole:
        found = self._by_session.pop(session_id, None) or SessionConsole()
        self._by_session[session_id] = found
        while len(self._by_session) > MAX_VIEWS:
            self._by_session.popitem(last=False)
        return found


_BOOKS: dict[Path, tuple[float, Any]] = {}


def _agent_book(settings: Any) -> Any | None:
    """The agents list (``agents.file``) as it is now, re-read when it changes; None
    when it is missing or invalid (``ivr agents validate`` says why)."""
    from ivr.agents import AgentsError

    path = Path(settings.agents.file)
    try:
        mtime = path.stat().st_mtime
        cached = _BOOKS.get(path)
        if cached is None or cached[0] != mtime:
            cached = _BOOKS[path] = (mtime, settings.agent_book())
        return cached[1]
    except (OSError, AgentsError) as exc:
        log.warning("agents list %s unusable for the console: %s", path, exc)
        return None


def agent_extension(engine: Any, user: str) -> str | None:
    """The handset extension of ``user``: agents.yaml (its ``user`` field), else the
    ``web.agent_extensions`` setting."""
    book = _agent_book(engine.settings)
    agent = book.by_user(user) if book is not None else None
    if agent is not None:
        return str(agent.extension)
    return engine.settings.web.agent_extensions.get(user)


def emergency_tools() -> Any | None:
    """The emergency module (conference / transfer), once it is installed."""
    if importlib.util.find_spec("ivr.emergency") is None:
        return None
    if importlib.util.find_spec(EMERGENCY_MODULE) is None:
        return None
    return importlib.import_module(EMERGENCY_MODULE)


def _live(engine: Any) -> Any | None:
    return getattr(engine, "live", None)


async def _authorised(request: web.Request, staff: sessions.StaffSession,
                      console: SessionConsole, call_id: str) -> str | None:
    """Audit this person's first view of the call; the refusal text if not allowed."""
    if call_id in console.refused:
        return console.refused[call_id]
    if call_id in console.audited:
        return None
    for action in (Action.READ_TRANSCRIPTS, Action.READ_HISTORY):
        try:
            await auth.require(request, action, f"call {call_id}", console=True)
        except web.HTTPForbidden as exc:
            console.refused[call_id] = json.loads(exc.text or "{}").get("message", "refused")
            return console.refused[call_id]
    console.audited.add(call_id)
    return None


async def current_view(request: web.Request) -> dict[str, Any]:
    """The console's JSON now: who is signed in, their extension, and their call."""
    staff = auth.signed_in(request)
    engine = request.app["engine"]
    console = request.app["consoles"].of(staff.id)
    extension = agent_extension(engine, staff.user)
    live = _live(engine)
    out: dict[str, Any] = {
        "user": staff.user, "role": staff.role, "extension": extension,
        "board": live is not None, "emergency_tools": emergency_tools() is not None,
        "call": None,
    }
    if live is None or extension is None:
        return out
    call = live.call_for_agent(extension)
    if call is None and console.last_call_id:  # ended or moved on: still in wrap-up
        call = live.call(console.last_call_id)
    if call is None:
        return out
    view = call_view(call)
    call_id = view["call_id"]
    if call_id:
        refused = await _authorised(request, staff, console, call_id)
        if refused:
            out["call"] = {"call_id": call_id, "state": view["state"], "refused": refused}
            return out
        console.last_call_id = call_id
        if call_id not in console.history:
            found = await asyncio.to_thread(caller_history, request.app["db"], call_id)
            if found is not None:
                console.history[call_id] = found
        view["history"] = console.history.get(call_id)
        view["disposition"] = console.dispositions.get(call_id)
    out["call"] = view
    return out


async def page(request: web.Request) -> web.StreamResponse:
    auth.signed_in(request)
    return render(request, "console.html.j2", departments=DEPARTMENTS)


async def state(request: web.Request) -> web.StreamResponse:
    return web.json_response(await current_view(request))


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``view`` with the whole console view each time it changes,
    a comment every HEARTBEAT s, ``signed_out`` when the session ends."""
    staff = auth.signed_in(request)
    token = request.cookies.get(auth.COOKIE, "")
    settings = request.app["web_settings"]
    live = _live(request.app["engine"])
    changed = asyncio.Event()
    changed.set()  # the first view at once

    pumping = follow_board(live, changed)
    stream = EventStream(request)
    closing: asyncio.Event = request.app["closing"]
    streams: set[asyncio.Event] = request.app["streams"]
    streams.add(changed)  # set at shutdown too: the stream ends at once
    try:
        await stream.open()
        last = ""
        while not closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), HEARTBEAT)
            if closing.is_set():
                break
            if not changed.is_set():  # quiet: is the session still alive?
                if staff.via == "password" and await asyncio.to_thread(
                        sessions.load_session, request.app["db"], token,
                        auth.lifetime(settings)) is None:
                    await stream.send("signed_out", {})
                    break
                await stream.comment("keep-alive")
                continue
            changed.clear()
            text = json.dumps(await current_view(request), sort_keys=True)
            if text != last:
                last = text
                await stream.send_raw("view", text)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        streams.discard(changed)
        if pumping is not None:
            pumping.cancel()
    return stream.response


def _disposition_fields(body: dict[str, Any]) -> tuple[str, int | None, bool, str]:
    department = str(body.get("department") or "")
    if department not in DEPARTMENTS:
        raise InvalidInput(f"department {department!r} is not one of the departments")
    urgency = body.get("urgency")
    if urgency in (None, "", "unknown"):
        level = None
    else:
        try:
            level = int(urgency)
        except (TypeError, ValueError):
            raise InvalidInput("urgency is a level from 1 (most urgent) to 4") from None
        if not 1 <= level <= 4:
            raise InvalidInput("urgency is a level from 1 (most urgent) to 4")
    resolved = body.get("resolved", True)
    if not isinstance(resolved, bool):
        raise InvalidInput("resolved is true or false")
    note = str(body.get("note") or "")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"the note has at most {MAX_NOTE} characters")
    return department, level, resolved, note


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidInput("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("the request body is a JSON object")
    return body


def _bad(exc: InvalidInput) -> web.Response:
    return auth.refusal(400, "InvalidInput", str(exc))


def _store_disposition(db: Any, call_id: str, user: str, department: str,
                       urgency: int | None, resolved: bool, note: str) -> int | None:
    with Session(db) as s, s.begin():
        if s.get(Call, call_id) is None:
            return None
        row = Disposition(call_id=call_id, agent=user, department=department,
                          urgency=urgency, resolved=resolved, note=note)
        s.add(row)
        s.flush()
        return row.id


async def disposition(request: web.Request) -> web.StreamResponse:
    """The agent's wrap-up: what the call was really about (feeds ``ivr triage review``)."""
    staff = auth.signed_in(request)
    call_id = request.match_info["call_id"]
    try:
        department, urgency, resolved, note = _disposition_fields(await _json(request))
    except InvalidInput as exc:
        return _bad(exc)
    await auth.require(request, Action.READ_HISTORY, f"call {call_id}", disposition=True)
    masked = request.app["privacy"].mask(note)
    row = await asyncio.to_thread(_store_disposition, request.app["db"], call_id,
                                  staff.user, department, urgency, resolved, masked)
    if row is None:
        return auth.refusal(404, "NoSuchCall", f"no call {call_id} in the records")
    saved = {"id": row, "department": department, "urgency": urgency,
             "resolved": resolved, "note": masked}
    request.app["consoles"].of(staff.id).dispositions[call_id] = saved
    return web.json_response({"ok": True, "disposition": saved})


async def followup(request: web.Request) -> web.StreamResponse:
    """A call-back for this caller: the line phones them at the time given."""
    from ivr.followups.scheduler import dialable

    staff = auth.signed_in(request)
    call_id = request.match_info["call_id"]
    engine = request.app["engine"]
    try:
        body = await _json(request)
        number = str(body.get("number") or "").strip()
        if len(dialable(number).lstrip("+")) < 5 or len(number) > 32:
            raise InvalidInput("the number to call back is not a phone number")
        kind = str(body.get("kind") or "")
        if not knowledge.ID.match(kind) or len(kind) > 32:
            raise InvalidInput("kind: lowercase letters, digits and _ (e.g. medication)")
        try:
            hours = float(body.get("in_hours", 24))
        except (TypeError, ValueError):
            raise InvalidInput("in_hours is a number of hours") from None
        if not 0 <= hours <= 24 * 30:
            raise InvalidInput("the call-back is due within 30 days")
        reason = str(body.get("reason") or "")
        if len(reason) > MAX_NOTE:
            raise InvalidInput(f"the reason has at most {MAX_NOTE} characters")
        flow_set = engine.flows.current
        flow = flow_set.flows.get(FOLLOWUP_FLOW) if flow_set is not None else None
        if flow is None:
            raise InvalidInput(f"the follow-up flow {FOLLOWUP_FLOW!r} is not loaded")
    except InvalidInput as exc:
        return _bad(exc)
    await auth.require(request, Action.OPEN_FOLLOWUP, f"call {call_id}", kind=kind)
    live = _live(engine)
    call = live.call(call_id) if live is not None else None
    lang = getattr(call, "language", "") or ""
    language = lang if lang in flow.spec.languages else flow.spec.languages[0]
    due = datetime.now(UTC) + timedelta(hours=hours)
    followup_id = await engine.recorder.create_followup(
        number=number, kind=kind, flow=FOLLOWUP_FLOW, due_at=due,
        deadline_at=due + FOLLOWUP_DEADLINE, reason=reason, language=language,
        call_id=call_id, created_by=f"staff:{staff.user}")
    return web.json_response({"ok": True, "followup": {
        "id": followup_id, "kind": kind, "due_at": due.isoformat(), "language": language,
        "number": request.app["privacy"].display_number(number)}})


async def emergency(request: web.Request) -> web.StreamResponse:
    """Bring the emergency team into the call, or hand the caller over to them."""
    staff = auth.signed_in(request)
    call_id = request.match_info["call_id"]
    engine = request.app["engine"]
    try:
        action = str((await _json(request)).get("action") or "")
        if action not in EMERGENCY_ACTIONS:
            raise InvalidInput("action is conference or transfer")
    except InvalidInput as exc:
        return _bad(exc)
    tools = emergency_tools()
    live = _live(engine)
    call = live.call(call_id) if live is not None else None
    ok = tools is not None and call is not None and bool(call.channel) and engine.ami is not None
    await asyncio.to_thread(audit, request.app["db"], staff.user, staff.role,
                            f"emergency_{action}", f"call {call_id}", ok, {"via": "web"})
    if tools is None:
        return auth.refusal(503, "NotAvailable", "the emergency tools are not installed: "
                            "use the handset's feature code or transfer by hand")
    if call is None or not call.channel or engine.ami is None:
        return auth.refusal(409, "CallGone", "this call is no longer on the line")
    act = getattr(tools, EMERGENCY_ACTIONS[action])
    if action == "conference" and not call.agent_channel:
        return auth.refusal(409, "NoAgentLeg", "the call is not bridged to your handset "
                            "yet: use Transfer to emergency")
    try:
        if action == "conference":
            await act(engine.ami, call.channel, call.agent_channel, room=call_id)
        else:
            await act(engine.ami, call.channel, room=call_id)
    except Exception as exc:  # the agent must know at once: the handset's *9 still works
        log.exception("emergency %s from the console failed for call %s", action, call_id)
        return auth.refusal(502, "EmergencyFailed", f"{exc}: press *9 on the handset or "
                            "transfer to the emergency team by hand, now")
    return web.json_response({"ok": True, "action": action})


_KB_CACHE: dict[Path, tuple[float, knowledge.KnowledgeFile]] = {}


def _knowledge_file(path: Path) -> knowledge.KnowledgeFile:
    """The file as it is now (re-read when it changes on disk)."""
    mtime = path.stat().st_mtime
    cached = _KB_CACHE.get(path)
    if cached is None or cached[0] != mtime:
        cached = (mtime, knowledge.load(path))
        _KB_CACHE[path] = cached
    return cached[1]


async def knowledge_search(request: web.Request) -> web.StreamResponse:
    auth.signed_in(request)
    query = request.query.get("q", "")[:100]
    lang = request.query.get("lang", "zh-CN")
    if lang not in knowledge.LANGUAGES:
        return auth.refusal(400, "InvalidInput",
                            f"lang is one of {', '.join(knowledge.LANGUAGES)}")
    path = Path(request.app["web_settings"].knowledge)
    try:
        kb = await asyncio.to_thread(_knowledge_file, path)
    except (OSError, knowledge.KnowledgeError) as exc:
        return auth.refusal(503, "KnowledgeUnavailable", str(exc))
    return web.json_response({"version": kb.version, "owner": kb.owner,
                              "results": knowledge.search(kb, query, lang)})


async def _closing(app: web.Application) -> None:
    close_streams(app)


def close_streams(app: web.Application) -> None:
    """End every open event stream (the server is stopping)."""
    app["closing"].set()
    for changed in app["streams"]:
        changed.set()


def setup(app: web.Application) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        app["consoles"] = Consoles()
        app["closing"] = asyncio.Event()
        app["streams"] = set()
    app.on_shutdown.append(_closing)
    app.router.add_get("/console", page)
    app.router.add_get("/api/console/state", state)
    app.router.add_get("/api/console/events", events)
    app.router.add_post("/api/calls/{call_id}/disposition", disposition)
    app.router.add_post("/api/calls/{call_id}/followup", followup)
    app.router.add_post("/api/calls/{call_id}/emergency", emergency)
    app.router.add_get("/api/knowledge", knowledge_search)
