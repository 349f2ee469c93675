"""Notices pushed to the line (issue 15.5): which appointment changes made by the
hospital (bookings cancelled or moved by staff) a patient's call has been told.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a database made by create_all (a seeded demo) already has it: adopted
    if "notices" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("heard_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("call_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("booking_id"),
    )
    op.create_index(op.f("ix_notices_phone_hash"), "notices", ["phone_hash"])


def downgrade() -> None:
    op.drop_index(op.f("ix_notices_phone_hash"), table_name="notices")
    op.drop_table("notices")
