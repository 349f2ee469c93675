"""The supervisor wallboard: every queue's waiting callers (highest priority, then the
longest wait, first; urgency shown), the agents' phones, today's figures, the global
emergency override switch, and listen / whisper / barge on a live call.

Routes: ``GET /wallboard`` (the page), ``GET /api/wallboard/state`` (the view now),
``GET /api/wallboard/events`` (server-sent events: the view each time it changes),
``POST /api/wallboard/override`` (``{"on": bool, "reason": str}``) and
``POST /api/wallboard/spy`` (``{"uniqueid": str, "mode": listen|whisper|barge}``).

Who may: seeing the board (``view_wallboard``: agents too, the team paces itself by
it) is audited once per page, state read or stream; the override switch
(``switch_override``) and spying (``spy_call``) are for supervisors and admins, each
attempt audited, refused or not. State changes pass the app's CSRF check. Numbers are
only ever the masked form; the board shows no transcript (the console does, audited
per call).

The switch is the line's (``ivr.store.switches``, as ``ivr override`` writes it): every
engine on the records database follows it within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import warnings
from typing import Any

from aiohttp import web

from ivr.live.today import TodayFigures, today_figures
from ivr.privacy.roles import Action, allowed
from ivr.settings import WallboardSettings
from ivr.store import switches
from ivr.web import auth, sessions
from ivr.web.app import render
from ivr.web.sse import EventStream, follow_board

log = logging.getLogger(__name__)

HEARTBEAT = 15.0  # s between keep-alives (and session checks) on a quiet stream
COALESCE = 0.25  # s: a burst of board updates makes one view
OVERRIDE_EVERY = 2.0  # s between looks at the switch (another engine may turn it)
MAX_REASON = 200  # what the switch keeps (switches.write cuts there)
SPY_MODES = ("listen", "whisper", "barge")
SPY_MODULE = "ivr.telephony.spy"


class InvalidInput(ValueError):
    """A request body the page would not send: 400 with the reason."""


def caller_row(call: Any) -> dict[str, Any]:
    """A waiting (or talking) caller as the board lists them: no transcript, masked.
    Waits are counted by the page from ``waiting_since`` and the view's ``now``."""
    return {"uniqueid": call.uniqueid, "call_id": call.call_id,
            "caller": call.caller_masked or "unknown", "state": str(call.state),
            "queue": call.queue, "priority": call.priority, "urgency": call.urgency,
            "department": call.department, "crisis": call.crisis, "red_flag": call.red_flag,
            "summary": call.summary, "language": call.language,
            "waiting_since": call.waiting_since.isoformat() if call.waiting_since else None,
            "agent_extension": call.agent_extension,
            "can_spy": bool(call.agent_channel)}


def board_view(board: Any, figures: TodayFigures | None,
               override: switches.SwitchState | None, *, role: str) -> dict[str, Any]:
    """The wallboard's JSON: queues with their callers in the order Asterisk serves
    them, queues with the most pressing caller first; agents; calls being talked; the
    figures (``waiting_now``, ``longest_waiting_now`` from the board); the switch."""
    now = board.now().isoformat() if board is not None else ""
    waiting = board.waiting() if board is not None else []
    queues: dict[str, list[dict[str, Any]]] = {}
    for call in waiting:
        queues.setdefault(call.queue or "?", []).append(caller_row(call))
    talking = [caller_row(c) for c in (board.calls() if board is not None else [])
               if str(c.state) == "talking"]
    longest = min((c.waiting_since for c in waiting if c.waiting_since), default=None)
    return {
        "now": now,
        "board": board is not None,
        "role": role,
        "can": {"override": allowed(role, Action.SWITCH_OVERRIDE),
                "spy": allowed(role, Action.SPY_CALL)},
        "override": {"on": bool(override and override.is_on),
                     "since": override.since.isoformat() if override else None,
                     "reason": override.reason if override else "",
                     "set_by": override.set_by if override else ""},
        "figures": {**(figures.as_dict() if figures else {}),
                    "waiting_now": len(waiting), "talking_now": len(talking),
                    "longest_waiting_since": longest.isoformat() if longest else None},
        "queues": [{"queue": q, "waiting": rows} for q, rows in queues.items()],
        "agents": [a.as_dict() for a in (board.agents() if board is not None else [])],
        "talking": talking,
    }


class Wallboard:
    """What all the wallboards of this engine share: today's figures and the switch,
    read from the database at most every few seconds whoever is watching."""

    def __init__(self, engine: Any, settings: WallboardSettings) -> None:
        self.engine = engine
        self.settings = settings
        self._figures: TodayFigures | None = None
        self._figures_at = float("-inf")
        self._override: switches.SwitchState | None = None
        self._override_at = float("-inf")

    @property
    def db(self) -> Any:
        return self.engine.recorder.engine

    async def figures(self) -> TodayFigures | None:
        if time.monotonic() - self._figures_at >= self.settings.figures_seconds:
            self._figures_at = time.monotonic()
            try:
                self._figures = await asyncio.to_thread(
                    today_figures, self.db, timezone=self.settings.timezone,
                    service_level_seconds=self.settings.service_level_seconds)
            except Exception:  # database away: the last figures stay (the page says when)
                log.warning("wallboard: today's figures not read", exc_info=True)
        return self._figures

    async def override(self, fresh: bool = False) -> switches.SwitchState | None:
        """The switch as the database has it; without a row, this engine's flag file."""
        if fresh or time.monotonic() - self._override_at >= OVERRIDE_EVERY:
            self._override_at = time.monotonic()
            try:
                self._override = await asyncio.to_thread(switches.read, self.db) \
                    or self._from_flag()
            except Exception:
                log.warning("wallboard: the override switch not read", exc_info=True)
                self._override = self._from_flag()
        return self._override

    def _from_flag(self) -> switches.SwitchState | None:
        flag = getattr(self.engine, "override_file", None)
        if flag is None or not flag.exists():
            return None
        return switches.SwitchState(True, _file_time(flag), "set on this engine", "")

    async def view(self, role: str) -> dict[str, Any]:
        return board_view(getattr(self.engine, "live", None), await self.figures(),
                          await self.override(), role=role)


def _file_time(path: Any) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _wallboard(request: web.Request) -> Wallboard:
    return request.app["wallboard"]


async def page(request: web.Request) -> web.StreamResponse:
    await auth.require(request, Action.VIEW_WALLBOARD, "wallboard", page=True)
    return render(request, "wallboard.html.j2")


async def state(request: web.Request) -> web.StreamResponse:
    actor = await auth.require(request, Action.VIEW_WALLBOARD, "wallboard")
    return web.json_response(await _wallboard(request).view(str(actor.role)))


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``view`` (the whole board) each time something on it changes,
    a comment every HEARTBEAT s, ``signed_out`` when the session ends."""
    staff = auth.signed_in(request)
    actor = await auth.require(request, Action.VIEW_WALLBOARD, "wallboard", stream=True)
    wallboard = _wallboard(request)
    token = request.cookies.get(auth.COOKIE, "")
    settings = request.app["web_settings"]
    live = getattr(request.app["engine"], "live", None)
    changed = asyncio.Event()
    changed.set()

    pumping = follow_board(live, changed)
    stream = EventStream(request)
    closing: asyncio.Event = request.app["wallboard_closing"]
    quiet_since = time.monotonic()
    try:
        await stream.open()
        last = ""
        while not closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), OVERRIDE_EVERY)
            if closing.is_set():
                break
            if changed.is_set():
                await asyncio.sleep(COALESCE)
                changed.clear()
            view = await wallboard.view(str(actor.role))
            text = json.dumps({k: v for k, v in view.items() if k != "now"}, sort_keys=True)
            if text != last:
                last = text
                quiet_since = time.monotonic()
                await stream.send("view", view)
            elif time.monotonic() - quiet_since >= HEARTBEAT:
                quiet_since = time.monotonic()
                if staff.via == "password" and await asyncio.to_thread(
                        sessions.load_session, request.app["db"], token,
                        auth.lifetime(settings)) is None:
                    await stream.send("signed_out", {})
                    break
                await stream.comment("keep-alive")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        if pumping is not None:
            pumping.cancel()
    return stream.response


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidInput("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("the request body is a JSON object")
    return body


async def override(request: web.Request) -> web.StreamResponse:
    """Turn the line's emergency override on or off (every engine, within a second)."""
    try:
        body = await _body(request)
        on = body.get("on")
        if not isinstance(on, bool):
            raise InvalidInput("on is true or false")
        reason = str(body.get("reason") or "").strip()
        if len(reason) > MAX_REASON:
            raise InvalidInput(f"the reason has at most {MAX_REASON} characters")
        if on and not reason:
            raise InvalidInput("say why the override goes on (kept with the switch)")
    except InvalidInput as exc:
        return auth.refusal(400, "InvalidInput", str(exc))
    actor = await auth.require(request, Action.SWITCH_OVERRIDE, switches.EMERGENCY_OVERRIDE,
                               on=on, reason=reason)
    wallboard = _wallboard(request)
    await asyncio.to_thread(switches.write, wallboard.db, on, reason, by=actor.user)
    log.warning("emergency override %s from the wallboard by %s%s", "ON" if on else "off",
                actor.user, f": {reason}" if reason else "")
    found = await wallboard.override(fresh=True)
    return web.json_response({"ok": True, "override": {
        "on": bool(found and found.is_on), "reason": found.reason if found else "",
        "set_by": found.set_by if found else "",
        "since": found.since.isoformat() if found else None}})


async def spy_on_call(request: web.Request) -> web.StreamResponse:
    """Ring the supervisor's handset into a live call: listen, whisper (to the agent,
    the caller does not hear) or barge. The target is the agent's leg of the call."""
    from ivr.web.console import agent_extension

    staff = auth.signed_in(request)
    engine = request.app["engine"]
    try:
        body = await _body(request)
        mode = str(body.get("mode") or "")
        if mode not in SPY_MODES:
            raise InvalidInput(f"mode is one of {', '.join(SPY_MODES)}")
        uniqueid = str(body.get("uniqueid") or "")
        live = getattr(engine, "live", None)
        call = live.call_by_uniqueid(uniqueid) if live is not None and uniqueid else None
        if call is None or str(call.state) != "talking" or not call.agent_channel:
            raise InvalidInput("that call is not with an agent now")
    except InvalidInput as exc:
        return auth.refusal(400, "InvalidInput", str(exc))
    await auth.require(request, Action.SPY_CALL, f"call {call.call_id or uniqueid}",
                       mode=mode, agent=call.agent_extension)
    extension = agent_extension(engine, staff.user)
    if not extension:
        return auth.refusal(400, "NoHandset", f"no handset extension for {staff.user} "
                            "(agents.yaml user, or the setting web.agent_extensions)")
    if engine.ami is None:
        return auth.refusal(503, "NoAmi", "the engine has no AMI connection to Asterisk")
    from ivr.telephony.errors import AmiError
    from ivr.telephony.spy import SpyError, spy

    try:
        leg = await spy(engine.ami, extension, call.agent_channel, mode)  # type: ignore[arg-type]
    except SpyError as exc:
        return auth.refusal(400, "InvalidInput", str(exc))
    except (AmiError, TimeoutError) as exc:
        return auth.refusal(502, "AmiError", str(exc) or "Asterisk did not answer")
    return web.json_response({"ok": True, "mode": mode, "extension": extension, "leg": leg})


async def _closing(app: web.Application) -> None:
    app["wallboard_closing"].set()


def setup(app: web.Application) -> None:
    """Called by ``ivr.web.app.build_app``."""
    engine = app["engine"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        app["wallboard"] = Wallboard(engine, engine.settings.wallboard)
        app["wallboard_closing"] = asyncio.Event()
    app.on_shutdown.append(_closing)
    app.router.add_get("/wallboard", page)
    app.router.add_get("/api/wallboard/state", state)
    app.router.add_get("/api/wallboard/events", events)
    app.router.add_post("/api/wallboard/override", override)
    app.router.add_post("/api/wallboard/spy", spy_on_call)
