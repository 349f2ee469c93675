"""``ivr results import FILE.csv``: the lab's or clinic's status export into the table.

Columns (a header row, any order, case-insensitive): ``patient_number``, ``test``,
``taken`` (YYYY-MM-DD) and ``status`` (ready | pending | clinic_will_call). Every
problem is reported with its line and column, all of them at once, and a file with
any problem imports nothing (half a file would tell some callers stale news). A
column that could carry a value or a diagnosis is refused by name: the line holds
the status only. A row for a test already on record (same patient, kind, date)
updates its status.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.findings import Finding
from ivr.results.kinds import ALIASES, KINDS, STATUSES
from ivr.store.models import ResultStatus, utcnow

COLUMNS = ("patient_number", "test", "taken", "status")
HEADER_ALIASES = {"patient": "patient_number", "patient number": "patient_number",
                  "mrn": "patient_number", "test kind": "test", "test_kind": "test",
                  "kind": "test", "taken date": "taken", "taken_on": "taken", "date": "taken"}


class Hasher(Protocol):
    def hash_value(self, value: str, purpose: str) -> str: ...


@dataclass(frozen=True)
class Row:
    line: int
    patient_number: str
    kind: str
    taken: dt.date
    status: str


@dataclass(frozen=True)
class Imported:
    added: int
    updated: int


def _column(name: str) -> str:
    key = name.strip().lower().replace("-", " ")
    return HEADER_ALIASES.get(key, key.replace(" ", "_"))


def parse(text: str, file: str = "<csv>", today: dt.date | None = None
          ) -> tuple[list[Row], list[Finding]]:
    """The rows of a status export, or every finding that stops it."""
    findings: list[Finding] = []
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        return [], [Finding(file, 1, 1, "the file is empty: expected a header row "
                            f"({', '.join(COLUMNS)})")]
    names = [_column(h) for h in header]
    where: dict[str, int] = {}
    for col, name in enumerate(names, 1):
        if name not in COLUMNS:
            findings.append(Finding(file, 1, col, f"column '{header[col - 1].strip()}' is not "
                                    "imported: the line holds a test's status only, never a "
                                    f"value or a diagnosis (columns: {', '.join(COLUMNS)})"))
        elif name in where:
            findings.append(Finding(file, 1, col, f"column '{name}' appears twice"))
        else:
            where[name] = col
    for name in COLUMNS:
        if name not in where:
            findings.append(Finding(file, 1, 1, f"column '{name}' is missing"))
    if findings:
        return [], findings
    rows: list[Row] = []
    seen: dict[tuple[str, str, dt.date], int] = {}
    for line_no, cells in enumerate(reader, 2):
        if not any(c.strip() for c in cells):
            continue  # a blank line
        row, problems = _row(cells, where, len(header), file, line_no, today)
        findings += problems
        if row is None:
            continue
        key = (row.patient_number, row.kind, row.taken)
        if key in seen:
            findings.append(Finding(file, line_no, 1, "the same test (patient, kind, date) as "
                                    f"line {seen[key]}"))
            continue
        seen[key] = line_no
        rows.append(row)
    if not rows and not findings:
        findings.append(Finding(file, 2, 1, "no rows after the header"))
    return (rows, []) if not findings else ([], findings)


def _row(cells: list[str], where: dict[str, int], width: int, file: str, line: int,
         today: dt.date | None) -> tuple[Row | None, list[Finding]]:
    if len(cells) != width:
        return None, [Finding(file, line, 1, f"{len(cells)} cells, the header has {width}")]
    cell = {name: cells[col - 1].strip() for name, col in where.items()}
    found: list[Finding] = []

    def bad(name: str, message: str) -> None:
        found.append(Finding(file, line, where[name], f"{name}: {message}"))

    number = cell["patient_number"]
    if not number:
        bad("patient_number", "empty")
    kind = ALIASES.get(cell["test"].lower(), cell["test"].lower())
    if kind not in KINDS:
        bad("test", f"'{cell['test']}' is not a test kind ({', '.join(KINDS)})")
    taken = None
    try:
        taken = dt.date.fromisoformat(cell["taken"])
        if len(cell["taken"]) != 10:
            raise ValueError
    except ValueError:
        bad("taken", f"'{cell['taken']}' is not a date like 2026-11-28")
    if taken and today and taken > today:
        bad("taken", f"{taken} is in the future")
    status = cell["status"].lower()
    if status not in STATUSES:
        bad("status", f"'{cell['status']}' is not one of {', '.join(STATUSES)}")
    if found or taken is None:
        return None, found
    return Row(line, number, kind, taken, status), []


def store(s: Session, rows: list[Row], hasher: Hasher, source: str = "") -> Imported:
    """Add or update the rows (in the caller's transaction)."""
    added = updated = 0
    for row in rows:
        patient = hasher.hash_value(row.patient_number, "mrn")
        existing = s.scalar(select(ResultStatus).where(
            ResultStatus.patient_hash == patient, ResultStatus.test_kind == row.kind,
            ResultStatus.taken_on == row.taken))
        if existing is None:
            s.add(ResultStatus(patient_hash=patient, test_kind=row.kind, taken_on=row.taken,
                               status=row.status, source=source[:200]))
            added += 1
        elif existing.status != row.status:
            existing.status, existing.updated_at, existing.source = (row.status, utcnow(),
                                                                     source[:200])
            updated += 1
    return Imported(added, updated)


def read_file(path: Path) -> str:
    """The file's text (UTF-8, a spreadsheet's byte-order mark dropped)."""
    return path.read_text(encoding="utf-8-sig")
