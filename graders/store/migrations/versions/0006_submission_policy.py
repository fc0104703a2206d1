"""Submission policies: a student's own limits granted by a TA, and each grading's per-cell scores (best counts).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "graders_policy_override",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("assignment", sa.String(128), nullable=False, index=True),
        sa.Column("student", sa.String(128), nullable=False),
        sa.Column("total", sa.Integer),
        sa.Column("per_day", sa.Integer),
        sa.Column("min_delay_minutes", sa.Float),
        sa.Column("closes", sa.DateTime(timezone=True)),
        sa.Column("granted_by", sa.String(128), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("assignment", "student", name="uq_graders_policy_override_assignment"),
    )
    with op.batch_alter_table("graders_job") as batch:
        batch.add_column(sa.Column("grades", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("graders_job") as batch:
        batch.drop_column("grades")
    op.drop_table("graders_policy_override")
