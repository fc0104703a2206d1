"""Submissions as they arrive at the hub: the database, not status files, knows what waits for grading.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "graders_submission",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("assignment", sa.String(128), nullable=False, index=True),
        sa.Column("student", sa.String(128), nullable=False, index=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notebooks", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("graders_submission")
