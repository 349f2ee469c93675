"""Who is signed in, what they may do, and that a state change came from our own page.

- ``session_middleware`` finds the request's staff session (cookie, or the reverse
  proxy's identity header from a trusted proxy address) and puts it on the request.
- ``current_staff(request)`` / ``signed_in(request)`` read it; ``require(request,
  action, target)`` checks the role (``ivr.privacy.roles``) against the staff table and
  writes the audit entry, as ``ivr history`` does (``ivr.store.access.authorize``).
- ``csrf_middleware``: every state-changing request (not GET/HEAD/OPTIONS) must come
  from this site (Origin, else Referer) and carry the session's CSRF token (header
  ``X-CSRF-Token`` or form field ``csrf``); the sign-in form, before any session, a
  double-submit token (cookie and field).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ivr.privacy import AccessDenied
from ivr.privacy.roles import Action, Actor
from ivr.settings import WebSettings
from ivr.store.access import authorize
from ivr.web import sessions
from ivr.web.sessions import Lifetime, StaffSession

COOKIE = "ivr_session"
LOGIN_COOKIE = "ivr_login"  # the sign-in form's double-submit token
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

STAFF_KEY = web.RequestKey("staff", object)  # the StaffSession, or None
NEW_TOKEN_KEY = web.RequestKey("new_session_token", str)  # a cookie to set on the way out

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def lifetime(settings: WebSettings) -> Lifetime:
    return Lifetime(timedelta(minutes=settings.session_idle_minutes),
                    timedelta(hours=settings.session_max_hours))


def refusal(status: int, kind: str, message: str) -> web.Response:
    """An expected refusal as the CLI prints it (``Kind: message``), for pages and fetch."""
    return web.json_response({"error": kind, "message": message}, status=status,
                             headers={"Cache-Control": "no-store"})


def set_cookie(response: web.StreamResponse, settings: WebSettings, name: str, value: str,
               max_age: float | None = None) -> None:
    response.set_cookie(name, value, httponly=True, samesite="Strict", path="/",
                        secure=settings.secure_cookie,
                        max_age=int(max_age) if max_age is not None else None)


def _in(remote: str | None, networks: list[str]) -> bool:
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


def proxy_user(request: web.Request, settings: WebSettings) -> str | None:
    """The reverse proxy's identity for this request, if that is on and it came from a
    trusted proxy address; anything else's header is ignored (anyone can send one)."""
    if not settings.proxy_user_header or not _in(request.remote, settings.trusted_proxies):
        return None
    user = request.headers.get(settings.proxy_user_header, "").strip()
    return user or None


async def _from_proxy(request: web.Request, settings: WebSettings, db: Any,
                      found: StaffSession | None, user: str) -> StaffSession | None:
    """A session for the proxy's user: the one the cookie names if it is theirs, else a
    new one (cookie set on the way out), so CSRF tokens work the same way."""
    if found is not None and found.user == user and found.via == "proxy":
        return found
    try:
        token, made = await asyncio.to_thread(sessions.open_session, db, user, "proxy",
                                              request.remote or "")
    except LookupError:  # the proxy knows them, the staff table does not: no access
        return None
    request[NEW_TOKEN_KEY] = token
    return made


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings: WebSettings = request.app["web_settings"]
    db = request.app["db"]
    token = request.cookies.get(COOKIE, "")
    found = (await asyncio.to_thread(sessions.load_session, db, token, lifetime(settings))
             if token else None)
    if settings.proxy_user_header:
        user = proxy_user(request, settings)
        found = await _from_proxy(request, settings, db, found, user) if user else (
            found if found is not None and found.via == "password" else None)
    request[STAFF_KEY] = found
    response = await handler(request)
    if (new := request.get(NEW_TOKEN_KEY)) is not None and not response.prepared:
        set_cookie(response, settings, COOKIE, new)
    return response


def current_staff(request: web.Request) -> StaffSession | None:
    """The signed-in staff member's session, or None."""
    found = request.get(STAFF_KEY)
    return found if isinstance(found, StaffSession) else None


def wants_page(request: web.Request) -> bool:
    return not request.path.startswith("/api/") and request.method in SAFE_METHODS


def signed_in(request: web.Request) -> StaffSession:
    """The session, or the way to sign in: a redirect for a page, 401 for the API."""
    staff = current_staff(request)
    if staff is not None:
        return staff
    if wants_page(request):
        raise web.HTTPFound(f"/login?next={request.path}")
    raise web.HTTPUnauthorized(text=json.dumps({"error": "NotSignedIn",
                                                "message": "sign in first"}),
                               content_type="application/json")


async def require(request: web.Request, action: Action | str, target: str = "",
                  **detail: Any) -> Actor:
    """The signed-in person if their role allows ``action``; 403 otherwise. Either way
    the audit log has the attempt first (who, what, on which target)."""
    staff = signed_in(request)
    try:
        return await asyncio.to_thread(authorize, request.app["db"], action, target,
                                       staff.user, {"via": "web", **detail})
    except AccessDenied as exc:
        raise web.HTTPForbidden(text=json.dumps({"error": "AccessDenied",
                                                 "message": str(exc)}),
                                content_type="application/json") from None


def _origin_of(request: web.Request) -> str | None:
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        return origin
    referer = request.headers.get("Referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}"
    return None


def same_site(request: web.Request, settings: WebSettings) -> bool:
    """Whether the request names this site (its Host, as the browser used it) or one of
    ``allowed_origins`` as where it came from."""
    origin = _origin_of(request)
    if origin is None:
        return False
    allowed = {o.rstrip("/") for o in settings.allowed_origins}
    host = request.headers.get("Host", "")
    return origin in allowed or urlsplit(origin).netloc == host


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


async def _token(request: web.Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return str((await request.post()).get(CSRF_FIELD, ""))
    return ""


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in SAFE_METHODS:
        return await handler(request)
    settings: WebSettings = request.app["web_settings"]
    if not same_site(request, settings):
        return refusal(403, "CsrfRefused", "the request did not come from this site")
    given = await _token(request)
    if request.path == "/login":
        expected = request.cookies.get(LOGIN_COOKIE, "")
    else:
        staff = current_staff(request)
        if staff is None:
            return refusal(401, "NotSignedIn", "sign in first")
        expected = staff.csrf
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return refusal(403, "CsrfRefused", "missing or wrong CSRF token: reload the page")
    return await handler(request)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No framing, no inline script, no caching of pages that hold patient data."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        if exc.status >= 400 and exc.content_type == "text/plain":
            # a refusal from aiohttp itself (404, 405...): the same shape as ours
            response = refusal(exc.status, exc.reason.replace(" ", ""), exc.text or exc.reason)
    if not response.prepared:
        headers = response.headers
        headers.setdefault("Content-Security-Policy",
                           "default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
                           "form-action 'self'")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        if not request.path.startswith("/static/"):
            headers.setdefault("Cache-Control", "no-store")
    if isinstance(response, web.HTTPException):
        raise response
    return response
