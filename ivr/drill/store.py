"""Drill results in the records database (table ``drills``), for ``ivr report``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ivr.drill.steps import DrillResult
from ivr.store.models import Drill


def save(engine: Engine, result: DrillResult) -> int:
    with Session(engine) as s, s.begin():
        row = Drill(started_at=result.started_at, scenario=result.scenario,
                    passed=result.passed, time_to_human_s=result.time_to_human_s,
                    steps=result.steps_json(), call_id=result.call_id)
        s.add(row)
        s.flush()
        return row.id


def between(engine: Engine, since: datetime, until: datetime) -> list[Drill]:
    with Session(engine, expire_on_commit=False) as s:
        return list(s.scalars(select(Drill).where(Drill.started_at >= since,
                                                  Drill.started_at < until)
                              .order_by(Drill.started_at)))
