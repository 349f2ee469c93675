"""Sign-in and sign-out pages: password (Argon2id) with throttling, or the proxy identity."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from aiohttp import web

from ivr.settings import WebSettings
from ivr.store.access import audit
from ivr.web import auth, passwords, sessions
from ivr.web.app import render
from ivr.web.throttle import LoginThrottle

MAX_USER = 64


def _next(target: str) -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/console"
    return target


def _page(request: web.Request, error: str = "", status: int = 200,
          user: str = "") -> web.Response:
    settings: WebSettings = request.app["web_settings"]
    token = auth.new_login_token()
    response = render(request, "login.html.j2", login_token=token, error=error, user=user,
                      next=_next(request.query.get("next", "/console")))
    response.set_status(status)
    auth.set_cookie(response, settings, auth.LOGIN_COOKIE, token, max_age=1800)
    return response


async def login_page(request: web.Request) -> web.StreamResponse:
    if auth.current_staff(request) is not None:
        raise web.HTTPFound(_next(request.query.get("next", "/console")))
    return _page(request)


async def login_submit(request: web.Request) -> web.StreamResponse:
    settings: WebSettings = request.app["web_settings"]
    throttle: LoginThrottle = request.app["login_throttle"]
    db = request.app["db"]
    form = await request.post()
    user = str(form.get("user", "")).strip()[:MAX_USER]
    password = str(form.get("password", ""))
    remote = request.remote or ""
    wait = throttle.retry_after(user, remote)
    if wait > 0:
        await asyncio.to_thread(audit, db, user, "", "sign_in", remote, False,
                                {"throttled": True})
        return _page(request, f"Too many failed sign-ins: try again in {int(wait) + 1} s.",
                     429, user)
    ok = bool(user) and await asyncio.to_thread(passwords.check_password, db, user, password)
    await asyncio.to_thread(audit, db, user, "", "sign_in", remote, ok, {"via": "password"})
    if not ok:
        throttle.failed(user, remote)
        return _page(request, "Wrong user name or password.", 401, user)
    throttle.succeeded(user)
    token, _ = await asyncio.to_thread(sessions.open_session, db, user, "password", remote)
    target = _next(str(form.get("next", "/console")))
    response = web.HTTPFound(target)
    auth.set_cookie(response, settings, auth.COOKIE, token)
    response.del_cookie(auth.LOGIN_COOKIE, path="/")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(auth.COOKIE, "")
    if token:
        await asyncio.to_thread(sessions.close_session, request.app["db"], token)
    response = web.HTTPFound("/login")
    response.del_cookie(auth.COOKIE, path="/")
    raise response


async def root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/console")


def setup(app: web.Application) -> None:
    settings: WebSettings = app["web_settings"]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        app["login_throttle"] = LoginThrottle(settings.login_max_failures,
                                              settings.login_lockout_seconds)
    app.router.add_get("/", root)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
