"""Appointment self-service (issue 15.3): the embedded schedule's clinics, clinicians,
slots and bookings. One active booking per slot is a unique index over the rows whose
status is 'booked' (partial index, PostgreSQL and SQLite alike): double booking is
refused by the database itself, whichever engine the callers reached.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status = 'booked'")


def upgrade() -> None:
    # a database made by create_all (a seeded demo) already has them: adopted
    if "bookings" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "clinics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "clinicians",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("clinic_id", "name", name="uq_clinicians_name"),
    )
    op.create_index(op.f("ix_clinicians_clinic_id"), "clinicians", ["clinic_id"])
    op.create_table(
        "slots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["clinician_id"], ["clinicians.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("clinician_id", "starts_at", name="uq_slots_start"),
    )
    op.create_index(op.f("ix_slots_clinic_id"), "slots", ["clinic_id"])
    op.create_index(op.f("ix_slots_clinician_id"), "slots", ["clinician_id"])
    op.create_index(op.f("ix_slots_department"), "slots", ["department"])
    op.create_index(op.f("ix_slots_starts_at"), "slots", ["starts_at"])
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("patient_hash", sa.String(length=64), nullable=False),
        sa.Column("patient_masked", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("booked_by", sa.String(length=128), nullable=False),
        sa.Column("call_id", sa.String(length=36), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=128), nullable=False),
        sa.Column("moved_to", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["slot_id"], ["slots.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_bookings_slot_id"), "bookings", ["slot_id"])
    op.create_index(op.f("ix_bookings_patient_hash"), "bookings", ["patient_hash"])
    op.create_index(op.f("ix_bookings_call_id"), "bookings", ["call_id"])
    op.create_index("uq_bookings_active_slot", "bookings", ["slot_id"], unique=True,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)


def downgrade() -> None:
    op.drop_index("uq_bookings_active_slot", table_name="bookings")
    for name in ("call_id", "patient_hash", "slot_id"):
        op.drop_index(op.f(f"ix_bookings_{name}"), table_name="bookings")
    op.drop_table("bookings")
    for name in ("starts_at", "department", "clinician_id", "clinic_id"):
        op.drop_index(op.f(f"ix_slots_{name}"), table_name="slots")
    op.drop_table("slots")
    op.drop_index(op.f("ix_clinicians_clinic_id"), table_name="clinicians")
    op.drop_table("clinicians")
    op.drop_table("clinics")
