"""Staff sign-in over aiohttp's test server and a real database: Argon2id passwords,
server-side sessions with both expiries, CSRF and Origin checks, throttling, the proxy
identity, security headers, and the audit entries they leave."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.store.models import AuditEntry, StaffPassword, WebSession, utcnow
from ivr.web import auth, sessions
from ivr.web.passwords import PasswordError, check_password, set_password
from ivr.web.throttle import LoginThrottle
from tests.web.staff_app import PASSWORD, StaffSite, make_engine


@pytest.fixture
def engine(tmp_path):
    made = make_engine(tmp_path)
    yield made
    made.recorder.close()


def _audit(engine, action):
    with Session(engine.recorder.engine) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                              .order_by(AuditEntry.id)))


def _cookie(response, name):
    return next((c for c in response.headers.getall("Set-Cookie", [])
                 if c.startswith(f"{name}=")), "")


async def test_a_nurse_signs_in_and_gets_a_strict_http_only_session(engine):
    async with StaffSite(engine) as site:
        response = await site.sign_in("nurse")
        assert response.status == 302 and response.headers["Location"] == "/console"
        cookie = _cookie(response, auth.COOKIE)
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
        state = await (await site.client.get("/api/console/state")).json()
        assert (state["user"], state["role"], state["extension"]) == ("nurse", "agent", "1001")
    ok = [e for e in _audit(engine, "sign_in") if e.user == "nurse"]
    assert [e.allowed for e in ok] == [True]


async def test_the_password_is_stored_as_an_argon2id_hash_only(engine):
    with Session(engine.recorder.engine) as s:
        row = s.get(StaffPassword, "nurse")
    assert row.hash.startswith("$argon2id$") and PASSWORD not in row.hash
    assert check_password(engine.recorder.engine, "nurse", PASSWORD)
    assert not check_password(engine.recorder.engine, "nurse", PASSWORD + "x")
    assert not check_password(engine.recorder.engine, "nobody", PASSWORD)


def test_a_short_password_or_an_unknown_user_is_refused(engine):
    db = engine.recorder.engine
    with pytest.raises(PasswordError, match="at least 12 characters"):
        set_password(db, "nurse", "short", by="root")
    with pytest.raises(PasswordError, match="'ghost' is not a staff member"):
        set_password(db, "ghost", PASSWORD, by="root")


def test_only_a_staff_manager_sets_someone_elses_password(engine):
    from ivr.privacy import AccessDenied

    with pytest.raises(AccessDenied):
        set_password(engine.recorder.engine, "boss", PASSWORD + "!", by="nurse")
    set_password(engine.recorder.engine, "nurse", PASSWORD + "!", by="nurse")  # their own
    assert [e.allowed for e in _audit(engine, "manage_staff") if e.user == "nurse"] == [False]


async def test_a_wrong_password_is_refused_and_audited_without_saying_which(engine):
    async with StaffSite(engine) as site:
        wrong = await site.sign_in("nurse", "not the password at all")
        unknown = await site.sign_in("ghost", "not the password at all")
        for response in (wrong, unknown):
            assert response.status == 401
            assert "Wrong user name or password." in await response.text()
            assert not _cookie(response, auth.COOKIE)
    refused = [(e.user, e.allowed) for e in _audit(engine, "sign_in")]
    assert refused == [("nurse", False), ("ghost", False)]


async def test_failed_sign_ins_pause_the_account_even_for_the_right_password(tmp_path):
    engine = make_engine(tmp_path, login_max_failures=3)
    try:
        async with StaffSite(engine) as site:
            for _ in range(3):
                assert (await site.sign_in("nurse", "guess guess guess")).status == 401
            paused = await site.sign_in("nurse")
            assert paused.status == 429
            assert "Too many failed sign-ins: try again in" in await paused.text()
            assert (await site.sign_in("boss")).status == 429  # the same address, too
        throttled = [e for e in _audit(engine, "sign_in") if e.detail.get("throttled")]
        assert len(throttled) == 2 and not any(e.allowed for e in throttled)
    finally:
        engine.recorder.close()


def test_the_throttle_forgives_after_the_window():
    now = [0.0]
    throttle = LoginThrottle(2, 60.0, clock=lambda: now[0])
    throttle.failed("nurse", "10.0.0.1")
    throttle.failed("nurse", "10.0.0.2")
    assert throttle.retry_after("nurse", "10.0.0.3") == pytest.approx(60.0)
    assert throttle.retry_after("boss", "10.0.0.3") == 0
    now[0] = 61.0
    assert throttle.retry_after("nurse", "10.0.0.3") == 0


async def test_signing_in_needs_the_form_token_and_this_sites_origin(engine):
    async with StaffSite(engine) as site:
        await site.client.get("/login")
        no_token = await site.client.post("/login", data={"user": "nurse", "password": PASSWORD},
                                          headers={"Origin": site.origin},
                                          allow_redirects=False)
        assert no_token.status == 403
        assert (await no_token.json())["error"] == "CsrfRefused"
        foreign = await site.sign_in("nurse", Origin="https://evil.example")
        assert foreign.status == 403


async def test_a_state_change_needs_the_session_token_and_origin(engine):
    body = {"department": "cardiology"}
    async with StaffSite(engine) as site:
        assert (await site.post_json("/api/calls/c1/disposition", body, "x")).status == 401
        await site.sign_in("nurse")
        token = await site.csrf()
        cases = {"no token": (None, ""), "wrong token": ("nope", ""),
                 "other site": (token, "https://evil.example"), "no origin": (token, None)}
        for name, (given, origin) in cases.items():
            response = await site.post_json("/api/calls/c1/disposition", body, given, origin)
            assert response.status == 403, name
            assert (await response.json())["error"] == "CsrfRefused", name
        ok = await site.post_json("/api/calls/c1/disposition", body, token)
        assert ok.status == 404  # past the checks: no such call
        # another session's token is no good here
        other = site.fresh_client()
        await other.start_server()
        try:
            await site.sign_in("boss", client=other)
            theirs = await site.csrf(client=other)
            assert theirs != token
            assert (await site.post_json("/api/calls/c1/disposition", body, theirs)).status == 403
        finally:
            await other.close()


async def test_pages_need_a_session(engine):
    async with StaffSite(engine) as site:
        page = await site.client.get("/console", allow_redirects=False)
        assert page.status == 302 and page.headers["Location"] == "/login?next=/console"
        api = await site.client.get("/api/console/state")
        assert api.status == 401 and (await api.json())["error"] == "NotSignedIn"
        forged = site.fresh_client()
        forged.session.cookie_jar.update_cookies({auth.COOKIE: "made-up"})
        await forged.start_server()
        try:
            assert (await forged.get("/api/console/state")).status == 401
        finally:
            await forged.close()


async def test_signing_out_ends_the_session_on_the_server(engine):
    async with StaffSite(engine) as site:
        await site.sign_in("nurse")
        token = await site.csrf()
        cookie = site.client.session.cookie_jar.filter_cookies(site.server.make_url("/"))
        stolen = cookie[auth.COOKIE].value
        out = await site.client.post("/logout", data={"csrf": token},
                                     headers={"Origin": site.origin}, allow_redirects=False)
        assert out.status == 302 and out.headers["Location"] == "/login"
    assert sessions.load_session(engine.recorder.engine, stolen,
                                 auth.lifetime(engine.settings.web)) is None
    with Session(engine.recorder.engine) as s:
        assert s.scalar(select(WebSession)) is None


def test_sessions_expire_when_idle_and_at_their_absolute_limit(engine):
    db = engine.recorder.engine
    life = sessions.Lifetime(idle=timedelta(minutes=30), absolute=timedelta(hours=12))
    start = utcnow()
    token, made = sessions.open_session(db, "nurse", "password", now=start)
    with Session(db) as s:
        assert s.get(WebSession, made.id).id != token  # the table holds a hash, not the token
    assert sessions.load_session(db, token, life, start + timedelta(minutes=29)) is not None
    # kept alive every 29 min: still ends at 12 h
    moment = start
    while moment < start + timedelta(hours=11, minutes=30):
        moment += timedelta(minutes=29)
        assert sessions.load_session(db, token, life, moment) is not None
    assert sessions.load_session(db, token, life, start + timedelta(hours=12, minutes=1)) is None
    idle, _ = sessions.open_session(db, "nurse", "password", now=start)
    assert sessions.load_session(db, idle, life, start + timedelta(minutes=31)) is None


def test_a_removed_staff_member_is_signed_out(engine):
    from ivr.store.access import remove_staff

    db = engine.recorder.engine
    token, _ = sessions.open_session(db, "nurse", "password")
    remove_staff(db, "nurse", by="root")
    assert sessions.load_session(db, token, auth.lifetime(engine.settings.web)) is None


def test_a_new_password_signs_the_old_sessions_out(engine):
    db = engine.recorder.engine
    token, _ = sessions.open_session(db, "nurse", "password")
    set_password(db, "nurse", PASSWORD + "2", by="root")
    assert sessions.load_session(db, token, auth.lifetime(engine.settings.web)) is None


async def test_the_proxy_identity_is_believed_from_a_trusted_proxy_only(tmp_path):
    header = {"X-Remote-User": "nurse"}
    untrusted = make_engine(tmp_path / "a", proxy_user_header="X-Remote-User",
                            trusted_proxies=["10.9.9.9"])
    trusted = make_engine(tmp_path / "b", proxy_user_header="X-Remote-User",
                          trusted_proxies=["127.0.0.0/8"])
    try:
        async with StaffSite(untrusted) as site:
            response = await site.client.get("/api/console/state", headers=header)
            assert response.status == 401
        async with StaffSite(trusted) as site:
            response = await site.client.get("/api/console/state", headers=header)
            assert response.status == 200 and (await response.json())["user"] == "nurse"
            assert _cookie(response, auth.COOKIE)  # a session: its CSRF token works the same
            again = await site.client.get("/api/console/state", headers=header)
            assert not _cookie(again, auth.COOKIE)  # the same session
            other = await site.client.get("/api/console/state",
                                          headers={"X-Remote-User": "ghost"})
            assert other.status == 401  # the proxy knows them, the staff table does not
            gone = await site.client.get("/api/console/state")  # no header: no identity
            assert gone.status == 401
    finally:
        untrusted.recorder.close()
        trusted.recorder.close()


async def test_pages_carry_security_headers(engine):
    async with StaffSite(engine) as site:
        page = await site.client.get("/login")
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["Cache-Control"] == "no-store"
        missing = await site.client.get("/nowhere")
        assert missing.status == 404 and (await missing.json())["error"] == "NotFound"


async def test_after_sign_in_only_a_path_on_this_site_is_followed(engine):
    async with StaffSite(engine) as site:
        page = await site.client.get("/login?next=https://evil.example/")
        assert 'name="next" value="/console"' in await page.text()
