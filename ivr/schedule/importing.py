"""Slots from a CSV file (``ivr schedule import``): ``clinic, department, clinician,
start, minutes``, one slot a row. Every problem is reported at once as
``file:row:col: message`` (row 1 is the header; col counts fields from 1), and a file
with any problem imports nothing: half a clinic's week is worse than none. Importing
the same file again adds nothing (a clinician's slot is unique by its start).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ivr.departments import DEPARTMENTS
from ivr.findings import Finding
from ivr.store import models as m

COLUMNS = ("clinic", "department", "clinician", "start", "minutes")
# departments a patient books with; the rest are desks and teams, not clinics
NOT_BOOKABLE = frozenset({"emergency", "crisis", "pharmacy", "appointments", "results",
                          "billing", "complaints", "operator"})
BOOKABLE = tuple(d for d in DEPARTMENTS if d not in NOT_BOOKABLE)
MAX_BYTES = 5_000_000
DEFAULT_ZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class SlotRow:
    clinic: str
    department: str
    clinician: str
    starts_at: dt.datetime  # aware
    minutes: int


def parse_start(text: str, zone: ZoneInfo) -> dt.datetime:
    """``2026-12-03 09:30`` (the hospital's local time) or with an offset."""
    moment = dt.datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def read_rows(text: str, file: str = "<csv>", zone: str = DEFAULT_ZONE
              ) -> tuple[list[SlotRow], list[Finding]]:
    """The slots of a CSV text, or every problem that stops it from importing."""
    tz = ZoneInfo(zone)
    problems: list[Finding] = []
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return [], [Finding(file, 1, 1, f"empty file: expected a header {','.join(COLUMNS)}")]
    except csv.Error as exc:
        return [], [Finding(file, 1, 1, f"not CSV: {exc}")]
    where: dict[str, int] = {}
    for i, name in enumerate(header):
        if name not in COLUMNS:
            problems.append(Finding(file, 1, i + 1, f"unknown column '{name}' (columns: "
                                    f"{', '.join(COLUMNS)})"))
        elif name in where:
            problems.append(Finding(file, 1, i + 1, f"column '{name}' twice"))
        else:
            where[name] = i
    for name in COLUMNS:
        if name not in where:
            problems.append(Finding(file, 1, len(header) + 1, f"missing column '{name}'"))
    if problems:
        return [], problems
    rows: list[SlotRow] = []
    seen: dict[tuple[str, str, dt.datetime], int] = {}
    try:
        for fields in reader:
            line = reader.line_num
            if not any(f.strip() for f in fields):
                continue  # a blank line
            row = _row(fields, where, header, file, line, tz, problems)
            if row is None:
                continue
            key = (row.clinic, row.clinician, row.starts_at)
            if key in seen:
                problems.append(Finding(file, line, where["start"] + 1,
                                        f"{row.clinician} at {row.starts_at:%Y-%m-%d %H:%M} "
                                        f"is already row {seen[key]}"))
                continue
            seen[key] = line
            rows.append(row)
    except csv.Error as exc:
        problems.append(Finding(file, reader.line_num, 1, f"not CSV: {exc}"))
    return ([] if problems else rows), problems


def _row(fields: list[str], where: dict[str, int], header: list[str], file: str, line: int,
         tz: ZoneInfo, problems: list[Finding]) -> SlotRow | None:
    before = len(problems)
    if len(fields) != len(header):
        problems.append(Finding(file, line, min(len(fields), len(header)) + 1,
                                f"{len(fields)} fields, the header has {len(header)}"))
        return None
    value = {name: fields[i].strip() for name, i in where.items()}

    def bad(name: str, message: str) -> None:
        problems.append(Finding(file, line, where[name] + 1, message))

    for name in ("clinic", "clinician"):
        if not value[name]:
            bad(name, f"{name} is empty")
        elif len(value[name]) > 100:
            bad(name, f"{name} is longer than 100 characters")
    department = value["department"]
    if department not in BOOKABLE:
        hint = ("not a clinic patients book with" if department in DEPARTMENTS
                else "unknown department")
        bad("department", f"'{department}': {hint} (one of {', '.join(BOOKABLE)})")
    starts_at = None
    try:
        starts_at = parse_start(value["start"], tz)
    except ValueError:
        bad("start", f"'{value['start']}' is not a start time like 2026-12-03 09:30")
    minutes = None
    try:
        minutes = int(value["minutes"])
        if not 5 <= minutes <= 480:
            bad("minutes", f"{minutes} minutes: a slot lasts 5 to 480 minutes")
    except ValueError:
        bad("minutes", f"'{value['minutes']}' is not a whole number of minutes")
    if len(problems) > before or starts_at is None or minutes is None:
        return None
    return SlotRow(value["clinic"], department, value["clinician"], starts_at, minutes)


def read_file(path: Path, zone: str = DEFAULT_ZONE) -> tuple[list[SlotRow], list[Finding]]:
    file = str(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            return [], [Finding(file, 1, 1, f"larger than {MAX_BYTES} bytes")]
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [Finding(file, 1, 1, f"not UTF-8 text: {exc.reason}")]
    except OSError as exc:
        return [], [Finding(file, 1, 1, f"cannot read: {exc.strerror}")]
    return read_rows(text, file, zone)


def add_slots(engine: Engine, rows: list[SlotRow], source: str = "") -> tuple[int, int]:
    """Write the slots in one transaction; (added, already there)."""
    added = kept = 0
    with Session(engine) as s, s.begin():
        clinics: dict[str, m.Clinic] = {}
        clinicians: dict[tuple[str, str], m.Clinician] = {}
        for row in rows:
            clinic = clinics.get(row.clinic) or s.scalar(
                select(m.Clinic).where(m.Clinic.name == row.clinic))
            if clinic is None:
                clinic = m.Clinic(name=row.clinic)
                s.add(clinic)
                s.flush()
            clinics[row.clinic] = clinic
            key = (row.clinic, row.clinician)
            person = clinicians.get(key) or s.scalar(select(m.Clinician).where(
                m.Clinician.clinic_id == clinic.id, m.Clinician.name == row.clinician))
            if person is None:
                person = m.Clinician(clinic_id=clinic.id, name=row.clinician)
                s.add(person)
                s.flush()
            clinicians[key] = person
            start = row.starts_at.astimezone(dt.UTC)
            if s.scalar(select(m.Slot.id).where(m.Slot.clinician_id == person.id,
                                                m.Slot.starts_at == start)) is not None:
                kept += 1
                continue
            s.add(m.Slot(clinic_id=clinic.id, clinician_id=person.id,
                         department=row.department, starts_at=start, minutes=row.minutes,
                         source=source[:200]))
            added += 1
    return added, kept
