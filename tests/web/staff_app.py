"""The staff web app over a real database and the real live board, for pure tests:
aiohttp's TestServer/TestClient (pytest-aiohttp is not installed), no Asterisk.

``StaffSite`` signs people in like a browser would (the login page's token, Origin).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from ivr.live.board import LiveBoard
from ivr.settings import Settings, load_settings
from ivr.store.access import add_staff
from ivr.store.recorder import CallRecorder
from ivr.web.app import build_app
from ivr.web.passwords import set_password

PASSWORD = "correct horse battery staple"
STAFF = {"root": "admin", "nurse": "agent", "boss": "supervisor", "checker": "auditor"}
EXTENSIONS = {"nurse": "1001", "boss": "1002"}


@dataclass
class WebEngine:
    """The parts of ``ivr.engine.Engine`` the web pages read, real ones all."""

    settings: Settings
    recorder: CallRecorder
    live: LiveBoard
    flows: Any = None
    ami: Any = None


def web_settings(tmp: Path, **web: Any) -> Settings:
    return load_settings(state_dir=tmp / "state",
                         engine={"database_url": f"sqlite:///{tmp / 'calls.sqlite3'}"},
                         web={"agent_extensions": EXTENSIONS, **web})


def make_engine(tmp: Path, **web: Any) -> WebEngine:
    settings = web_settings(tmp, **web)
    recorder = CallRecorder(settings.database_url, settings=settings)
    db = recorder.engine
    add_staff(db, "root", "admin", by="root")
    for user, role in STAFF.items():
        if user != "root":
            add_staff(db, user, role, by="root")
        set_password(db, user, PASSWORD, by="root")
    return WebEngine(settings, recorder, LiveBoard(recorder.privacy.display_number))


class StaffSite:
    def __init__(self, engine: WebEngine) -> None:
        self.engine = engine
        self.server = TestServer(build_app(engine))
        self.client: TestClient | None = None

    async def __aenter__(self) -> StaffSite:
        self.client = TestClient(self.server, cookie_jar=aiohttp.CookieJar(unsafe=True))
        await self.client.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.client is not None
        await self.client.close()

    @property
    def origin(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def fresh_client(self) -> TestClient:
        """Another browser (its own cookies) on the same server."""
        return TestClient(self.server, cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def sign_in(self, user: str, password: str = PASSWORD,
                      client: TestClient | None = None,
                      **headers: str) -> aiohttp.ClientResponse:
        client = client or self.client
        assert client is not None
        page = await client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', await page.text())
        assert token, "the sign-in page has its token"
        return await client.post("/login", data={"user": user, "password": password,
                                                 "csrf": token.group(1), "next": "/console"},
                                 headers={"Origin": self.origin, **headers},
                                 allow_redirects=False)

    async def csrf(self, client: TestClient | None = None) -> str:
        client = client or self.client
        assert client is not None
        page = await client.get("/console")
        found = re.search(r'name="csrf-token" content="([^"]+)"', await page.text())
        assert found, "the console page has the session's CSRF token"
        return found.group(1)

    async def post_json(self, path: str, body: Any, token: str | None,
                        origin: str | None = "", client: TestClient | None = None
                        ) -> aiohttp.ClientResponse:
        client = client or self.client
        assert client is not None
        headers = {"Origin": self.origin if origin == "" else origin} if origin is not None \
            else {}
        if token is not None:
            headers["X-CSRF-Token"] = token
        return await client.post(path, json=body, headers=headers)
