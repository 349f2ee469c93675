"""Outbound calls about a change the hospital made (issue 15.5): a booking keeps the
number it was booked from, sealed with AES-GCM (bound to the phone's keyed hash,
``ivr.schedule.number_context``), opened only to place that call. Bookings made before
have none: their patients hear the change on their next call.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a database made by create_all (a seeded demo) already has it: adopted
    if "number_sealed" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("bookings")}:
        return
    with op.batch_alter_table("bookings") as batch:
        batch.add_column(sa.Column("number_sealed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bookings") as batch:
        batch.drop_column("number_sealed")
