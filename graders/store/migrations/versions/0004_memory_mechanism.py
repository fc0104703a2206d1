"""Which mechanism held an attempt's processes to its memory limit: cgroup v2, cgroup v1 or watchdog.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("graders_attempt") as batch:
        batch.add_column(sa.Column("memory_mechanism", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("graders_attempt") as batch:
        batch.drop_column("memory_mechanism")
