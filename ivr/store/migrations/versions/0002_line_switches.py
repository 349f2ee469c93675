"""Line switches: the emergency override in the database, so that every engine sharing
it switches together (issue 13.6: several engines behind one Asterisk).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a database made by create_all (a seeded demo, an old tool) already has it: adopted
    if "line_switches" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "line_switches",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("is_on", sa.Boolean(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("line_switches")
