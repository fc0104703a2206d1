"""Notes on a job: what the TA and the student should read about its grading.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("graders_job") as batch:
        batch.add_column(sa.Column("notes", sa.JSON, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("graders_job") as batch:
        batch.drop_column("notes")
