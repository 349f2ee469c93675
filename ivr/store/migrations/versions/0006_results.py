"""Results status (issue 15.4): whether a patient's test is ready, and the patient
number's keyed hash on the registry that links the two. Status only: the table has
no column a value or a diagnosis could go in.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    # a database made by create_all (a seeded demo) already has them: adopted
    if "mrn_hash" not in {c["name"] for c in inspector.get_columns("patients")}:
        with op.batch_alter_table("patients") as batch:
            batch.add_column(sa.Column("mrn_hash", sa.String(length=64), nullable=True))
            batch.create_index(op.f("ix_patients_mrn_hash"), ["mrn_hash"])
    if "test_results" in inspector.get_table_names():
        return
    op.create_table(
        "test_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_hash", sa.String(length=64), nullable=False),
        sa.Column("test_kind", sa.String(length=16), nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_hash", "test_kind", "taken_on",
                            name="uq_test_results_test"),
    )
    op.create_index(op.f("ix_test_results_patient_hash"), "test_results", ["patient_hash"])


def downgrade() -> None:
    op.drop_index(op.f("ix_test_results_patient_hash"), table_name="test_results")
    op.drop_table("test_results")
    with op.batch_alter_table("patients") as batch:
        batch.drop_index(op.f("ix_patients_mrn_hash"))
        batch.drop_column("mrn_hash")
