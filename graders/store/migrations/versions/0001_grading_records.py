"""Grading runs, jobs and attempts.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "graders_run",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("assignment", sa.String(128), nullable=False, index=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("sandbox", sa.String(32), nullable=False),
        sa.Column("workers", sa.Integer, nullable=False),
        sa.Column("scheduler", sa.String(256), nullable=False),
    )
    op.create_table(
        "graders_job",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("graders_run.id"), nullable=False, index=True),
        sa.Column("assignment", sa.String(128), nullable=False, index=True),
        sa.Column("student", sa.String(128), nullable=False, index=True),
        sa.Column("notebook", sa.String(128), nullable=False),
        sa.Column("submission_sha256", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("max_score", sa.Float),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("run_id", "student", "notebook", name="uq_graders_job_run_id"),
    )
    op.create_table(
        "graders_attempt",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("graders_job.id"), nullable=False, index=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("runner", sa.String(256)),
        sa.Column("device", sa.String(256)),
        sa.Column("sandbox", sa.String(32)),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("wall_s", sa.Float),
        sa.Column("cpu_s", sa.Float),
        sa.Column("peak_memory_mb", sa.Float),
        sa.Column("exit_code", sa.Integer),
        sa.Column("reason", sa.Text),
        sa.Column("log_tail", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("graders_attempt")
    op.drop_table("graders_job")
    op.drop_table("graders_run")
