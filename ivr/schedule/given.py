"""Slots on record before a test conversation's call (``given: slots:``, read by
ivr/conversations/given.py), into that call's own in-memory database only:

    given:
      patients: [{dob: "19480315"}]
      slots:
        - {clinic: Digestive Clinic, department: gastroenterology, clinician: Dr Wang,
           start: "2026-11-26 09:00", minutes: 20}              # free
        - {..., booked: caller}    # the simulated caller's own appointment
        - {..., booked: other}     # someone else's: not offered

Rows are checked and written by the same code as ``ivr schedule import``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from ivr.schedule import PatientRef, number_context
from ivr.schedule.importing import COLUMNS, add_slots, read_rows
from ivr.schedule.tables import TableSchedule
from ivr.store.recorder import CallRecorder

KEYS = {*COLUMNS, "booked"}
BOOKED = ("caller", "other")
Rows = list[dict[str, Any]]


def _csv(rows: Rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row.get(c, "") for c in COLUMNS])
    return out.getvalue()


def problems(rows: Rows) -> list[str]:
    found = []
    for i, row in enumerate(rows, 1):
        if unknown := set(row) - KEYS:
            found.append(f"slot {i}: unknown key(s) {', '.join(sorted(unknown))} "
                         f"(keys: {', '.join(COLUMNS)}, booked)")
        if row.get("booked", "caller") not in BOOKED:
            found.append(f"slot {i}: booked '{row['booked']}' is not caller or other")
    _, bad = read_rows(_csv(rows), "given.slots")
    columns = {i + 1: c for i, c in enumerate(COLUMNS)}
    # the CSV's row 2 is the first slot
    return found + [f"slot {p.line - 1} ({columns.get(p.col, 'row')}): {p.message}" for p in bad]


def write(recorder: CallRecorder, rows: Rows, caller: str) -> None:
    slots, bad = read_rows(_csv(rows), "given.slots")
    if bad:
        raise ValueError("; ".join(map(str, bad)))
    add_slots(recorder.engine, slots, "test conversation")
    schedule = TableSchedule(recorder.engine)
    privacy = recorder.privacy
    for row, slot in zip(rows, slots, strict=True):
        if "booked" not in row:
            continue
        phone = privacy.caller_hash(caller)
        who = (PatientRef(phone, privacy.display_number(caller), None,
                          privacy.seal_number(caller, number_context(phone)))
               if row["booked"] == "caller" else PatientRef("someone else"))
        (found,) = [s for s, _b in schedule.listing(slot.department)
                    if s.starts_at == slot.starts_at and s.clinician == slot.clinician]
        schedule.book(found.id, who, "staff:test", now=slot.starts_at - dt.timedelta(days=1))
