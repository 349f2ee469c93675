"""A test conversation's ``given``: rows on record before the call.

The simulator gives every call a fresh in-memory database (ivr.flows.simulator),
so a conversation that needs a registered patient or a results status says so:

    given:
      patients: [{dob: "19480315", mrn: "P1001"}]     # number: the simulated caller's
      results: [{patient: P1001, test: blood, taken: 2026-11-28, status: ready}]
      slots: [...]              # appointment slots (ivr/schedule/given.py)
      staff_changes: [{start: "2026-11-26 09:00", cancelled: true}]  # or moved_to: TIME

Rows go in through the same code as production (``CallRecorder.add_patient``, the
results import and its checks), and only into that call's database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from typing import Any

from ivr.results import importer
from ivr.store.recorder import CallRecorder

SIM_CALLER = "13800138000"  # the simulator's caller number (ivr.flows.simulator.SimChannel)
PATIENT_KEYS = {"number", "dob", "mrn", "language"}
Rows = list[dict[str, Any]]


def _patients(rows: Rows) -> list[str]:
    found = []
    for i, row in enumerate(rows, 1):
        if unknown := set(row) - PATIENT_KEYS:
            found.append(f"patient {i}: unknown key(s) {', '.join(sorted(unknown))} "
                         f"(keys: {', '.join(sorted(PATIENT_KEYS))})")
        dob = str(row.get("dob", ""))
        if not re.fullmatch(r"\d{8}", dob):
            found.append(f"patient {i}: dob '{dob}' is not a date like \"19480315\" (quoted)")
            continue
        try:
            dt.datetime.strptime(dob, "%Y%m%d")
        except ValueError:
            found.append(f"patient {i}: dob '{dob}' is not a date")
    return found


def _results_csv(rows: Rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(importer.COLUMNS)
    for row in rows:
        writer.writerow([row.get("patient", ""), row.get("test", ""), row.get("taken", ""),
                         row.get("status", "")])
    return out.getvalue()


def _results(rows: Rows) -> list[str]:
    found = [f"result {i}: unknown key(s) {', '.join(sorted(unknown))} "
             "(keys: patient, test, taken, status)"
             for i, row in enumerate(rows, 1)
             if (unknown := set(row) - {"patient", "test", "taken", "status"})]
    _, findings = importer.parse(_results_csv(rows), "given.results")
    # the CSV's line 2 is the first result
    return found + [f"result {f.line - 1}: {f.message}" for f in findings]


def _slots(rows: Rows) -> list[str]:
    from ivr.schedule import given as schedule_given

    return schedule_given.problems(rows)


def _local(text: Any) -> dt.datetime:
    """'2026-11-26 09:00', the hospital's time, as the slots are written."""
    from ivr.schedule.spoken import ZONE

    return dt.datetime.strptime(str(text), "%Y-%m-%d %H:%M").replace(tzinfo=ZONE)


def _staff_changes(rows: Rows) -> list[str]:
    found = []
    for i, row in enumerate(rows, 1):
        if unknown := set(row) - {"start", "cancelled", "moved_to"}:
            found.append(f"change {i}: unknown key(s) {', '.join(sorted(unknown))} "
                         "(keys: start, cancelled, moved_to)")
        if bool(row.get("cancelled")) == ("moved_to" in row):
            found.append(f"change {i}: either cancelled: true or moved_to: TIME")
        for key in ("start", "moved_to"):
            if key in row or key == "start":
                try:
                    _local(row.get(key, ""))
                except ValueError:
                    found.append(f"change {i}: {key} '{row.get(key, '')}' is not a time like "
                                 "\"2026-11-26 09:00\"")
    return found


def _write_staff_changes(recorder: CallRecorder, rows: Rows) -> None:
    """The hospital cancels or moves the caller's bookings (the given slots booked by
    'caller'), through the schedule's own code, as ``ivr schedule`` would."""
    from ivr.schedule.tables import TableSchedule

    schedule = TableSchedule(recorder.engine)
    listed = schedule.listing()
    for row in rows:
        start = _local(row["start"])
        (booking,) = [b for s, b in listed if b is not None and s.starts_at == start]
        now = start - dt.timedelta(days=2)
        if row.get("cancelled"):
            schedule.cancel(booking.id, "staff:test", now=now)
        else:
            to = _local(row["moved_to"])
            (slot,) = [s for s, b in listed if b is None and s.starts_at == to]
            schedule.change(booking.id, slot.id, "staff:test", now=now)


CHECKS: dict[str, Callable[[Rows], list[str]]] = {"patients": _patients, "results": _results,
                                                  "slots": _slots,
                                                  "staff_changes": _staff_changes}


def problems(given: dict[str, Rows]) -> list[tuple[str, str]]:
    """(kind, message) for every row that could not go on record."""
    found = []
    for kind, rows in given.items():
        check = CHECKS.get(kind)
        if check is None:
            found.append((kind, f"given: no kind '{kind}' ({', '.join(CHECKS)})"))
            continue
        found += [(kind, f"given.{kind}: {message}") for message in check(rows)]
    return found


def prepare(given: dict[str, Rows]) -> Callable[[CallRecorder], None] | None:
    """What the simulator writes into the call's database before the call."""
    if not given:
        return None

    def write(recorder: CallRecorder) -> None:
        for row in given.get("patients", []):
            recorder.add_patient(str(row.get("number", SIM_CALLER)), str(row["dob"]),
                                 str(row.get("mrn", "")), str(row.get("language", "")))
        if given.get("results"):
            rows, findings = importer.parse(_results_csv(given["results"]), "given.results")
            if findings:
                raise ValueError("; ".join(map(str, findings)))
            with recorder.sessions.begin() as s:
                importer.store(s, rows, recorder.privacy, "test conversation")
        if given.get("slots"):  # appointment slots (ivr/schedule/given.py)
            from ivr.schedule import given as schedule_given

            schedule_given.write(recorder, given["slots"], SIM_CALLER)
        if given.get("staff_changes"):  # the hospital changed them since (ivr/notices/)
            _write_staff_changes(recorder, given["staff_changes"])
    return write
