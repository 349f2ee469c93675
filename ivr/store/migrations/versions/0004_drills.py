"""Drills (issue 14.7): each ``ivr drill`` call's result, and the call it placed, so the
reports leave drill calls out of the patients' figures.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a database made by create_all (a seeded demo) already has it: adopted
    if "drills" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "drills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scenario", sa.String(length=32), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("time_to_human_s", sa.Float(), nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("call_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_drills_started_at"), "drills", ["started_at"])
    op.create_index(op.f("ix_drills_call_id"), "drills", ["call_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_drills_call_id"), table_name="drills")
    op.drop_index(op.f("ix_drills_started_at"), table_name="drills")
    op.drop_table("drills")
