"""The staff web application (aiohttp), served in the engine's own event loop.

``build_app(engine)`` assembles it: middlewares (security headers, session, CSRF), the
sign-in pages and the agent console, then each other part's ``setup(app)`` (the
wallboard, the operations endpoints) when that module is installed. ``app["engine"]``
is the Engine; its database and privacy come from ``engine.recorder``. Database work
runs in worker threads: the loop also carries callers' audio.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import warnings
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from ivr.settings import WebSettings
from ivr.web import auth

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
# other parts' routes: module -> its setup(app) (absent until that part is installed)
EXTENSIONS = ("ivr.web.wallboard", "ivr.obs.http")
PURGE_EVERY = 600.0  # s between sweeps of expired session rows


def templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("ivr.web", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined)


def render(request: web.Request, name: str, **context: Any) -> web.Response:
    """A page from ``ivr/web/templates`` with the signed-in person and CSRF token."""
    staff = auth.current_staff(request)
    html = request.app["templates"].get_template(name).render(
        staff=staff, csrf=staff.csrf if staff else "", **context)
    return web.Response(text=html, content_type="text/html")


def build_app(engine: Any) -> web.Application:
    """The application for ``engine`` (its settings, recorder, live board...)."""
    from ivr.web import console, login

    app = web.Application(middlewares=[auth.security_headers, auth.session_middleware,
                                       auth.csrf_middleware],
                          client_max_size=64 * 1024)  # forms only: nothing large comes in
    with warnings.catch_warnings():  # the contract's plain keys, shared by every part
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        app["engine"] = engine
        app["web_settings"] = engine.settings.web
        app["db"] = engine.recorder.engine
        app["privacy"] = engine.recorder.privacy
        app["templates"] = templates()
    app.router.add_static("/static", HERE / "static", name="static")
    login.setup(app)
    console.setup(app)
    for module in EXTENSIONS:
        if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None:
            continue
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module).setup(app)
    app.cleanup_ctx.append(_purge_sessions)
    return app


async def _purge_sessions(app: web.Application) -> Any:
    from ivr.web import sessions

    settings: WebSettings = app["web_settings"]

    async def sweep() -> None:
        while True:
            try:
                await asyncio.to_thread(sessions.purge_expired, app["db"],
                                        auth.lifetime(settings))
            except Exception:
                log.exception("could not purge expired web sessions; trying again later")
            await asyncio.sleep(PURGE_EVERY)

    task = asyncio.ensure_future(sweep())
    yield
    task.cancel()


class WebServer:
    """The running site; ``cleanup()`` ends open event streams first, then stops."""

    def __init__(self, runner: web.AppRunner) -> None:
        self.runner = runner
        self.app = runner.app

    @property
    def port(self) -> int:
        """The port listened on (the one chosen when the setting is 0)."""
        server = self.runner.addresses[0]
        return int(server[1])

    async def cleanup(self) -> None:
        from ivr.web.console import close_streams

        close_streams(self.app)
        await self.runner.cleanup()


async def start_web(engine: Any) -> WebServer:
    """Serve ``build_app(engine)`` on ``settings.web.host:port`` until ``cleanup()``."""
    settings: WebSettings = engine.settings.web
    # no access log: URLs hold call ids; a stuck handler may delay a stop 5 s at most
    runner = web.AppRunner(build_app(engine), access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    server = WebServer(runner)
    log.info("staff web pages on http://%s:%s/", settings.host, server.port)
    return server
