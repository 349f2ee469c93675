"""Staff web sign-in (issue 14.2): Argon2id password hashes and server-side sessions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a database made by create_all (a seeded demo) already has them: adopted
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "staff_passwords" not in existing:
        op.create_table(
            "staff_passwords",
            sa.Column("user", sa.String(length=64), nullable=False),
            sa.Column("hash", sa.String(length=256), nullable=False),
            sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(["user"], ["staff.user"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("user"),
        )
    if "web_sessions" not in existing:
        op.create_table(
            "web_sessions",
            sa.Column("id", sa.String(length=64), nullable=False),
            sa.Column("user", sa.String(length=64), nullable=False),
            sa.Column("csrf", sa.String(length=64), nullable=False),
            sa.Column("via", sa.String(length=16), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("remote", sa.String(length=64), nullable=False),
            sa.ForeignKeyConstraint(["user"], ["staff.user"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_web_sessions_user", "web_sessions", ["user"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_user", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("staff_passwords")
