"""Staff web passwords: Argon2id hashes (argon2-cffi, RFC 9106 parameters) in the database.

A wrong user and a wrong password cost the same time (a dummy hash is verified), so the
sign-in page does not tell which accounts exist. Hashes made with older parameters are
upgraded at the next good sign-in.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ivr.privacy.roles import Action
from ivr.store.access import audit, authorize
from ivr.store.models import StaffMember, StaffPassword, utcnow

MIN_LENGTH = 12  # NIST SP 800-63B asks for at least 8; these accounts read patient data
MAX_LENGTH = 256  # beyond this a request is an attack on the hasher, not a password
_HASHER = PasswordHasher()  # argon2id, time_cost 3, 64 MiB, parallelism 4
_DUMMY = _HASHER.hash("not a password: evens out the time of an unknown user")


class PasswordError(ValueError):
    """A password that cannot be set (too short, too long, unknown staff member)."""


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"a password has at most {MAX_LENGTH} characters")


def set_password(engine: Engine, user: str, password: str, by: str) -> None:
    """Give ``user`` a new password (their own, or anyone's for staff managers); audited.
    Signs out every session of ``user``: whoever knew the old password is out."""
    from ivr.web.sessions import close_user_sessions

    check_strength(password)
    with Session(engine) as s:
        member = s.get(StaffMember, user)
    if member is None:
        raise PasswordError(f"'{user}' is not a staff member (ivr staff add {user} ROLE)")
    if by == user:
        audit(engine, by, member.role, "set_password", user, True)
    else:
        authorize(engine, Action.MANAGE_STAFF, f"password {user}", user=by)
    digest = _HASHER.hash(password)
    with Session(engine) as s, s.begin():
        row = s.get(StaffPassword, user)
        if row is None:
            s.add(StaffPassword(user=user, hash=digest))
        else:
            row.hash, row.set_at = digest, utcnow()
    close_user_sessions(engine, user)


def check_password(engine: Engine, user: str, password: str) -> bool:
    """Whether ``password`` is ``user``'s (a staff member with a password set). Slow on
    purpose (~0.1 s, 64 MiB): run it in a worker thread."""
    if len(password) > MAX_LENGTH:
        return False
    with Session(engine) as s:
        row = s.get(StaffPassword, user)
        member = s.get(StaffMember, user)
    digest = row.hash if row is not None and member is not None else _DUMMY
    try:
        _HASHER.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return False
    if row is None or member is None:
        return False
    if _HASHER.check_needs_rehash(digest):
        with Session(engine) as s, s.begin():
            fresh = s.get(StaffPassword, user)
            if fresh is not None:
                fresh.hash = _HASHER.hash(password)
    return True
