"""Migration 0008 (bookings.number_sealed) on SQLite and PostgreSQL: a database at 0007
with bookings keeps every row, the old bookings have no number (their patients hear a
change on their next call), and down again the one-active-booking-per-slot index holds."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError

from ivr.store.database import alembic_config, current_revision, make_engine, schema_diff

WHEN = dt.datetime(2026, 12, 3, 1, 0, tzinfo=dt.UTC)


def _to(engine: sa.Engine, revision: str, down: bool = False) -> None:
    with engine.begin() as conn:
        (command.downgrade if down else command.upgrade)(alembic_config(connection=conn),
                                                         revision)


def _booking(conn: sa.Connection, status: str) -> None:
    conn.execute(sa.text(
        "INSERT INTO bookings (slot_id, patient_hash, patient_masked, status, booked_at, "
        "booked_by, ended_by) VALUES (1, 'h', '138******01', :status, :at, 'phone', '')"),
        {"status": status, "at": WHEN})


def test_0008_adds_the_sealed_number_and_keeps_the_bookings(db_url):
    engine = make_engine(db_url)
    try:
        _to(engine, "0007")
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO clinics (name) VALUES ('Digestive Clinic')"))
            conn.execute(sa.text("INSERT INTO clinicians (clinic_id, name) VALUES (1, 'Dr Wang')"))
            conn.execute(sa.text(
                "INSERT INTO slots (clinic_id, clinician_id, department, starts_at, minutes, "
                "source) VALUES (1, 1, 'gastroenterology', :at, 20, 'test')"), {"at": WHEN})
            _booking(conn, "cancelled")
            _booking(conn, "booked")
        _to(engine, "head")
        assert current_revision(engine) == "0008" and schema_diff(engine) == []
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT status, number_sealed FROM bookings "
                                        "ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [("cancelled", None), ("booked", None)]
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE bookings SET number_sealed = :b WHERE status = "
                                 "'booked'"), {"b": b"\x00sealed\xff"})
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT number_sealed FROM bookings WHERE status = "
                                        "'booked'")).scalar() == b"\x00sealed\xff"

        _to(engine, "0007", down=True)
        columns = {c["name"] for c in sa.inspect(engine).get_columns("bookings")}
        assert "number_sealed" not in columns and "moved_to" in columns
        with engine.begin() as conn:
            _booking(conn, "cancelled")  # ended bookings of a slot: as many as there are
        try:
            with engine.begin() as conn:
                _booking(conn, "booked")
        except IntegrityError:
            pass
        else:
            raise AssertionError("a second active booking of the slot after the downgrade")
        _to(engine, "head")
        assert schema_diff(engine) == []
    finally:
        engine.dispose()
