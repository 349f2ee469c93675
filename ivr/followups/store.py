"""Follow-ups in the database: what is due, who calls it, what came of it.

Synchronous functions on a SQLAlchemy engine (the call records' database); the
scheduler runs them in a worker thread. Each is one transaction.

A follow-up moves ``open`` -> ``calling`` -> ``open`` (try again later) | ``done`` |
``failed`` (staff must handle it), or is ``cancelled``/closed by staff at any time.
``claim`` and ``claim_due`` are conditional UPDATEs, so of two engines polling the same
database only one calls the patient (``claim_due`` also skips rows another engine's
transaction holds: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so racing engines share
the due list instead of queueing behind each other). While ``calling``,
``next_attempt_at`` holds the claim's lease; the engine placing the call renews it at
every poll (:func:`renew`), so a follow-up still ``calling`` past its lease is one whose
engine stopped: :func:`expire_leases` (any engine) takes it back and it is tried again.

Times are UTC. SQLite keeps them without an offset; every value written here is UTC,
so comparisons in SQL hold.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload

from ivr.followups import outcomes as o
from ivr.store.models import FollowUp, FollowUpAttempt, aware, utcnow

OPEN, CALLING, DONE, FAILED, CANCELLED = "open", "calling", "done", "failed", "cancelled"
UNFINISHED = (OPEN, CALLING, FAILED)  # what staff still see
DEFAULT_RETRY_AFTER = (timedelta(minutes=30), timedelta(hours=2))
DEFAULT_LEASE = timedelta(hours=2)


class FollowupError(LookupError):
    """No such follow-up, or it cannot change that way (already closed...)."""


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (UTC)")
    return now.astimezone(UTC)


def _session(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)


def due(engine: Engine, now: datetime | None = None, limit: int | None = None) -> list[FollowUp]:
    """Open follow-ups whose next attempt is due, oldest first, not past their attempts."""
    now = _utc(now)
    query = (select(FollowUp)
             .where(FollowUp.status == OPEN, FollowUp.next_attempt_at <= now,
                    FollowUp.attempts < FollowUp.max_attempts)
             .order_by(FollowUp.next_attempt_at, FollowUp.id))
    if limit is not None:
        query = query.limit(limit)
    with _session(engine) as s:
        return list(s.scalars(query))


def claim(engine: Engine, followup_id: str, now: datetime | None = None,
          lease: timedelta = DEFAULT_LEASE) -> bool:
    """open -> calling, only if it is still open and due: True for exactly one claimant."""
    now = _utc(now)
    with _session(engine) as s, s.begin():
        result = s.execute(
            update(FollowUp)
            .where(FollowUp.id == followup_id, FollowUp.status == OPEN,
                   FollowUp.next_attempt_at <= now)
            .values(status=CALLING, next_attempt_at=now + lease)
            .execution_options(synchronize_session=False))
        return result.rowcount == 1  # type: ignore[attr-defined]


def claim_due(engine: Engine, now: datetime | None = None, limit: int = 1,
              lease: timedelta = DEFAULT_LEASE) -> list[FollowUp]:
    """Claim up to ``limit`` due follow-ups at once (open -> calling, oldest first) and
    return them: each row goes to exactly one of the engines racing for it."""
    now = _utc(now)
    if limit <= 0:
        return []
    candidates = (select(FollowUp.id)
                  .where(FollowUp.status == OPEN, FollowUp.next_attempt_at <= now,
                         FollowUp.attempts < FollowUp.max_attempts)
                  .order_by(FollowUp.next_attempt_at, FollowUp.id)
                  .limit(limit)
                  .with_for_update(skip_locked=True))  # PostgreSQL; SQLite ignores it
    with _session(engine) as s, s.begin():
        ids = list(s.scalars(candidates))
        if not ids:
            return []
        # conditional all the same: SQLite has no row locks, and the WHERE is the claim
        won = set(s.scalars(
            update(FollowUp)
            .where(FollowUp.id.in_(ids), FollowUp.status == OPEN,
                   FollowUp.next_attempt_at <= now)
            .values(status=CALLING, next_attempt_at=now + lease)
            .returning(FollowUp.id)
            .execution_options(synchronize_session=False)))
        items = s.scalars(select(FollowUp).where(FollowUp.id.in_(won))).all()
        return sorted(items, key=lambda item: ids.index(item.id))


def renew(engine: Engine, followup_ids: Collection[str], now: datetime | None = None,
          lease: timedelta = DEFAULT_LEASE) -> int:
    """Extend the lease of calls this engine still follows (``calling`` only): a live
    call is never taken back by another engine; a dead engine's lapse. Returns rows."""
    now = _utc(now)
    if not followup_ids:
        return 0
    with _session(engine) as s, s.begin():
        result = s.execute(update(FollowUp)
                           .where(FollowUp.id.in_(list(followup_ids)),
                                  FollowUp.status == CALLING)
                           .values(next_attempt_at=now + lease)
                           .execution_options(synchronize_session=False))
        return result.rowcount  # type: ignore[attr-defined,no-any-return]


def retry_delay(attempts: int, retry_after: Sequence[timedelta]) -> timedelta:
    """The pause after the ``attempts``-th unanswered call (the last value repeats)."""
    steps = list(retry_after) or list(DEFAULT_RETRY_AFTER)
    return steps[min(max(attempts, 1), len(steps)) - 1]


def _apply_attempt(s: Session, item: FollowUp, outcome: str, call_id: str | None,
                   now: datetime, retry_after: Sequence[timedelta]) -> None:
    s.add(FollowUpAttempt(followup_id=item.id, at=now, call_id=call_id, outcome=outcome))
    item.attempts += 1
    item.last_outcome = outcome
    kind = o.kind_of(outcome)
    if item.status in (DONE, CANCELLED) or (item.status == FAILED and kind != "done"):
        return  # staff closed it meanwhile, or it already waits for them: keep that
    if kind == "done":
        item.status, item.closed_at = DONE, now
    elif kind == "retry" and item.attempts < item.max_attempts:
        item.status = OPEN
        item.next_attempt_at = now + retry_delay(item.attempts, retry_after)
    else:
        item.status = FAILED


def record_attempt(engine: Engine, followup_id: str, outcome: str, call_id: str | None = None,
                   *, now: datetime | None = None,
                   retry_after: Sequence[timedelta] = DEFAULT_RETRY_AFTER) -> FollowUp:
    """Note one call attempt and move the follow-up on (see :mod:`ivr.followups.outcomes`):
    done, open again after a pause, or failed (listed for staff)."""
    now = _utc(now)
    with _session(engine) as s, s.begin():
        item = s.get(FollowUp, followup_id)
        if item is None:
            raise FollowupError(f"no follow-up {followup_id}")
        _apply_attempt(s, item, outcome[:32], call_id, now, retry_after)
        return item


def expire_leases(engine: Engine, now: datetime | None = None,
                  retry_after: Sequence[timedelta] = DEFAULT_RETRY_AFTER,
                  keep: Collection[str] = ()) -> list[str]:
    """Follow-ups still ``calling`` past their lease (an engine stopped mid-call) get a
    ``lost`` attempt and are tried again. ``keep``: calls this engine knows are live."""
    now = _utc(now)
    taken = []
    with _session(engine) as s, s.begin():
        stale = s.scalars(select(FollowUp.id).where(FollowUp.status == CALLING,
                                                    FollowUp.next_attempt_at <= now)).all()
        for followup_id in stale:
            if followup_id in keep:
                continue
            won = s.execute(update(FollowUp)
                            .where(FollowUp.id == followup_id, FollowUp.status == CALLING,
                                   FollowUp.next_attempt_at <= now)
                            .values(status=OPEN)
                            .execution_options(synchronize_session=False))
            if won.rowcount == 1:  # type: ignore[attr-defined]
                item = s.get(FollowUp, followup_id)
                assert item is not None
                _apply_attempt(s, item, o.LOST, None, now, retry_after)
                taken.append(followup_id)
    return taken


def overdue(engine: Engine, now: datetime | None = None) -> list[FollowUp]:
    """What staff must handle: failed follow-ups, and unfinished ones past their deadline."""
    now = _utc(now)
    with _session(engine) as s:
        return list(s.scalars(
            select(FollowUp)
            .where(FollowUp.status.in_(UNFINISHED),
                   (FollowUp.status == FAILED) | (FollowUp.deadline_at < now))
            .order_by(FollowUp.deadline_at, FollowUp.id)))


def unfinished(engine: Engine) -> list[FollowUp]:
    """Open, calling and failed follow-ups, the next due first."""
    with _session(engine) as s:
        return list(s.scalars(select(FollowUp).where(FollowUp.status.in_(UNFINISHED))
                              .order_by(FollowUp.next_attempt_at, FollowUp.id)))


def get(engine: Engine, followup_id: str) -> FollowUp | None:
    """One follow-up with its attempts."""
    with _session(engine) as s:
        return s.scalar(select(FollowUp).where(FollowUp.id == followup_id)
                        .options(selectinload(FollowUp.tries)))


def find(engine: Engine, id_or_prefix: str) -> FollowUp:
    """A follow-up by its id or an unambiguous start of it (as listed: 8 characters)."""
    key = id_or_prefix.strip().lower()
    if len(key) < 4:
        raise FollowupError(f"'{id_or_prefix}': give at least 4 characters of the id")
    with _session(engine) as s:
        ids = s.scalars(select(FollowUp.id).where(FollowUp.id.startswith(key, autoescape=True))
                        .limit(2)).all()
    if not ids:
        raise FollowupError(f"no follow-up {id_or_prefix}")
    if len(ids) > 1:
        raise FollowupError(f"'{id_or_prefix}' matches several follow-ups: give more of the id")
    item = get(engine, ids[0])
    assert item is not None
    return item


def _finish(engine: Engine, followup_id: str, status: str, by: str, note: str,
            now: datetime | None) -> FollowUp:
    now = _utc(now)
    with _session(engine) as s, s.begin():
        item = s.get(FollowUp, followup_id)
        if item is None:
            raise FollowupError(f"no follow-up {followup_id}")
        if item.status in (DONE, CANCELLED):
            raise FollowupError(f"follow-up {followup_id[:8]} is already {item.status}")
        verb = "closed" if status == DONE else "cancelled"
        # The follow-up has no column for a staff note yet: it is kept with the reason.
        line = f"[{verb} {now:%Y-%m-%d %H:%M} UTC by {by}{': ' + note if note else ''}]"
        item.reason = f"{item.reason}\n{line}".strip()
        item.status, item.closed_at = status, now
        item.last_outcome = f"{verb}_by_staff"
        return item


def close(engine: Engine, followup_id: str, by: str, note: str = "",
          now: datetime | None = None) -> FollowUp:
    """Staff close the matter (they reached the patient, or it is settled). ``note`` must
    already be masked (the caller's privacy.mask)."""
    return _finish(engine, followup_id, DONE, by, note, now)


def cancel(engine: Engine, followup_id: str, by: str, note: str = "",
           now: datetime | None = None) -> FollowUp:
    """Staff cancel it (created by mistake, the patient asked not to be called)."""
    return _finish(engine, followup_id, CANCELLED, by, note, now)


def as_dict(item: FollowUp, now: datetime | None = None) -> dict[str, object]:
    """For listings: masked number only, never the sealed one."""
    now = _utc(now)
    deadline = aware(item.deadline_at)

    def iso(moment: datetime | None) -> str | None:
        moment = aware(moment)
        return moment.isoformat() if moment else None

    return {
        "id": item.id, "kind": item.kind, "status": item.status,
        "number": item.number_masked, "flow": item.flow, "language": item.language,
        "due_at": iso(item.due_at), "deadline_at": iso(item.deadline_at),
        "next_attempt_at": iso(item.next_attempt_at) if item.status == OPEN else None,
        "attempts": item.attempts, "max_attempts": item.max_attempts,
        "last_outcome": item.last_outcome, "created_by": item.created_by,
        "call_id": item.call_id, "reason": item.reason,
        "overdue": item.status == FAILED or (
            item.status in UNFINISHED and deadline is not None and deadline < now),
        "closed_at": iso(item.closed_at),
    }
