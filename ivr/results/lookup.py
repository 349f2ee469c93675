"""The verified caller's own results statuses: by their registry row, never by phone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.store.models import Patient, ResultStatus


@dataclass(frozen=True)
class Status:
    kind: str
    taken: dt.date
    status: str

    @property
    def ref(self) -> str:
        """What a call event records of it: which test, when, which status (no value)."""
        return f"{self.kind}@{self.taken.isoformat()}:{self.status}"


def statuses(s: Session, patient_id: int, today: dt.date, within_days: int = 90,
             limit: int = 3) -> list[Status]:
    """The patient's tests taken in the last ``within_days``, newest first."""
    mrn_hash = s.scalar(select(Patient.mrn_hash).where(Patient.id == patient_id))
    if not mrn_hash:
        return []
    rows = s.scalars(select(ResultStatus).where(
        ResultStatus.patient_hash == mrn_hash,
        ResultStatus.taken_on >= today - dt.timedelta(days=within_days),
        ResultStatus.taken_on <= today,
    ).order_by(ResultStatus.taken_on.desc(), ResultStatus.test_kind).limit(limit))
    return [Status(r.test_kind, r.taken_on, r.status) for r in rows]


def all_rows(s: Session, limit: int = 200) -> list[ResultStatus]:
    """For ``ivr results list``: newest tests first (patients shown as hashes only)."""
    return list(s.scalars(select(ResultStatus).order_by(ResultStatus.taken_on.desc(),
                                                        ResultStatus.id).limit(limit)))
