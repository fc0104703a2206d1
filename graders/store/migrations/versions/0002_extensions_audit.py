"""Per-student extensions and the audit trail of grade changes.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "graders_extension",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("assignment", sa.String(128), nullable=False, index=True),
        sa.Column("student", sa.String(128), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sa.String(128), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("assignment", "student", name="uq_graders_extension_assignment"),
    )
    op.create_table(
        "graders_audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("assignment", sa.String(128), nullable=False, index=True),
        sa.Column("student", sa.String(128), index=True),
        sa.Column("notebook", sa.String(128)),
        sa.Column("item", sa.String(256), nullable=False),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("graders_audit")
    op.drop_table("graders_extension")
