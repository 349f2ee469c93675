"""Role checks against the staff table, with an audit entry for every attempt.

Every command that reads patient data goes through ``authorize`` first: it looks
the person up in ``staff``, decides with the role table (``ivr.privacy.roles``),
and writes who asked for what, allowed or refused, before any data is read. The
identity is the operating-system account (or ``IVR_STAFF_USER`` where staff share
a service account behind a login of their own); the database credentials remain
the real boundary, this is the record of who used them for what.
"""

from __future__ import annotations

import getpass
import os
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ivr.privacy import AccessDenied
from ivr.privacy.roles import Action, Actor, Role, allowed
from ivr.store.models import AuditEntry, StaffMember

USER_ENV = "IVR_STAFF_USER"


def current_user() -> str:
    return os.environ.get(USER_ENV) or getpass.getuser()


def audit(engine: Engine, user: str, role: str, action: str, target: str, ok: bool,
          detail: dict[str, Any] | None = None) -> None:
    with Session(engine) as s, s.begin():
        s.add(AuditEntry(user=user, role=role, action=action, target=target[:128],
                         allowed=ok, detail=detail or {}))


def authorize(engine: Engine, action: Action | str, target: str = "",
              user: str | None = None, detail: dict[str, Any] | None = None) -> Actor:
    """The caller's Actor if their role allows ``action``; AccessDenied otherwise.
    Either way an audit entry is written first."""
    user = user or current_user()
    with Session(engine) as s:
        member = s.get(StaffMember, user)
    role = member.role if member else ""
    ok = bool(member) and allowed(role, action)
    audit(engine, user, role, str(action), target, ok, detail)
    if not ok:
        raise AccessDenied(role or "no role", str(action), user)
    return Actor(user, Role(role))


def add_staff(engine: Engine, user: str, role: str, by: str | None = None) -> None:
    """Give ``user`` a role. The very first account must be an admin (bootstrap);
    after that only someone allowed to manage staff may add people."""
    by = by or current_user()
    Role(role)  # ValueError on an unknown role
    with Session(engine) as s:
        empty = not s.scalar(select(func.count()).select_from(StaffMember))
    if empty:
        if role != Role.ADMIN:
            raise AccessDenied("no role", "manage_staff", by)
        audit(engine, by, "", "manage_staff", f"{user}={role}", True, {"bootstrap": True})
    else:
        authorize(engine, Action.MANAGE_STAFF, f"{user}={role}", user=by)
    with Session(engine) as s, s.begin():
        member = s.get(StaffMember, user)
        if member is None:
            s.add(StaffMember(user=user, role=role))
        else:
            member.role = role


def remove_staff(engine: Engine, user: str, by: str | None = None) -> bool:
    authorize(engine, Action.MANAGE_STAFF, f"-{user}", user=by)
    with Session(engine) as s, s.begin():
        member = s.get(StaffMember, user)
        if member is None:
            return False
        s.delete(member)
        return True
