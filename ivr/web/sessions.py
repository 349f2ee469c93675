"""Server-side sessions of signed-in staff: random tokens in the cookie, their SHA-256 in
``web_sessions``; an idle and an absolute expiry, both checked on every request.

A session whose staff member was removed (or whose role changed) follows the staff
table: the role is read with the session, never kept in the cookie.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ivr.store.models import StaffMember, WebSession, aware, utcnow

TOUCH_EVERY = timedelta(seconds=30)  # seen_at written at most this often (fewer writes)


@dataclass(frozen=True)
class StaffSession:
    """Who this browser is signed in as, with the CSRF token of the session."""

    id: str  # sha256 of the cookie token: safe to log and to key caches on
    user: str
    role: str
    csrf: str
    via: str
    created_at: datetime
    seen_at: datetime


@dataclass(frozen=True)
class Lifetime:
    idle: timedelta
    absolute: timedelta


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(engine: Engine, user: str, via: str, remote: str = "",
                 now: datetime | None = None) -> tuple[str, StaffSession]:
    """A new session for ``user``: the cookie token (shown once) and the session."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    row = WebSession(id=token_id(token), user=user, csrf=secrets.token_urlsafe(32), via=via,
                     created_at=now, seen_at=now, remote=remote[:64])
    with Session(engine, expire_on_commit=False) as s, s.begin():
        role = s.get(StaffMember, user)
        if role is None:
            raise LookupError(f"no staff member {user}")
        s.add(row)
    return token, StaffSession(row.id, user, role.role, row.csrf, via, now, now)


def load_session(engine: Engine, token: str, lifetime: Lifetime,
                 now: datetime | None = None) -> StaffSession | None:
    """The live session of ``token``, its idle clock restarted; None (and the row gone)
    when it expired, was closed, or its staff member no longer exists."""
    if not token or len(token) > 128:
        return None
    now = now or utcnow()
    sid = token_id(token)
    with Session(engine) as s, s.begin():
        found = s.execute(select(WebSession, StaffMember.role)
                          .join(StaffMember, StaffMember.user == WebSession.user)
                          .where(WebSession.id == sid)).first()
        if found is None:
            return None
        row, role = found
        created, seen = aware(row.created_at), aware(row.seen_at)
        assert created is not None and seen is not None
        if now - seen > lifetime.idle or now - created > lifetime.absolute:
            s.delete(row)
            return None
        if now - seen >= TOUCH_EVERY:
            row.seen_at = seen = now
        return StaffSession(row.id, row.user, role, row.csrf, row.via, created, seen)


def close_session(engine: Engine, token: str) -> None:
    with Session(engine) as s, s.begin():
        s.execute(delete(WebSession).where(WebSession.id == token_id(token)))


def close_user_sessions(engine: Engine, user: str) -> int:
    with Session(engine) as s, s.begin():
        result = s.execute(delete(WebSession).where(WebSession.user == user))
        return result.rowcount  # type: ignore[attr-defined]


def purge_expired(engine: Engine, lifetime: Lifetime, now: datetime | None = None) -> int:
    """Delete sessions past either expiry (the server does it now and then)."""
    now = now or utcnow()
    with Session(engine) as s, s.begin():
        result = s.execute(delete(WebSession).where(or_(
            WebSession.seen_at < now - lifetime.idle,
            WebSession.created_at < now - lifetime.absolute)))
        return result.rowcount  # type: ignore[attr-defined]
