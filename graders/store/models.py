"""The platform's tables, beside nbgrader's gradebook in the same database.

PrairieLearn-style grading records: a run grades many jobs (one per student
notebook); a job has one or more attempts, each kept for ever with where and how
it ran and how it ended. Only the coordinator writes these rows.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from graders.states import JobState, RunState


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s"})


class GradingRun(Base):
    """One `graders autograde` (or validate, or grade-on-submit) invocation."""

    __tablename__ = "graders_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment: Mapped[str] = mapped_column(String(128), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(16), default=RunState.RUNNING)  # a RunState
    sandbox: Mapped[str] = mapped_column(String(32))
    workers: Mapped[int] = mapped_column(Integer)
    scheduler: Mapped[str] = mapped_column(String(256), default="local")
    jobs: Mapped[list[Job]] = relationship(back_populates="run")


class Job(Base):
    """Grading one student's notebook of one homework, identified by the submission's content."""

    __tablename__ = "graders_job"
    __table_args__ = (UniqueConstraint("run_id", "student", "notebook"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("graders_run.id"), index=True)
    assignment: Mapped[str] = mapped_column(String(128), index=True)
    student: Mapped[str] = mapped_column(String(128), index=True)
    notebook: Mapped[str] = mapped_column(String(128))
    submission_sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED)  # a JobState
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(Text)
    # Sentences for the TA and the student about this grading (cells restored, outputs capped, files not given...).
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # grade id -> auto score of each autograded cell, as the verdict gave it (nbgrader's gradebook keeps only the
    # newest grading's; a homework whose best submission counts needs every one's). None: graded before 0006.
    grades: Mapped[dict[str, float] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    run: Mapped[GradingRun] = relationship(back_populates="jobs")
    attempts: Mapped[list[Attempt]] = relationship(back_populates="job", order_by="Attempt.number")


class Attempt(Base):
    """One execution of a job on a runner: kept whether it succeeded, failed or was lost."""

    __tablename__ = "graders_attempt"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("graders_job.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # an AttemptState
    runner: Mapped[str | None] = mapped_column(String(256))
    device: Mapped[str | None] = mapped_column(String(256))
    sandbox: Mapped[str | None] = mapped_column(String(32))
    # What held all its processes to memory_mb together: a MemoryMechanism (cgroup v2, cgroup v1, watchdog).
    memory_mechanism: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    wall_s: Mapped[float | None] = mapped_column(Float)
    cpu_s: Mapped[float | None] = mapped_column(Float)
    peak_memory_mb: Mapped[float | None] = mapped_column(Float)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    log_tail: Mapped[str | None] = mapped_column(Text)
    job: Mapped[Job] = relationship(back_populates="attempts")


class Submission(Base):
    """A student's hand-in of a homework through the hub, as it arrived, before any grading.

    Written with the files in submitted/, so a submission waiting for grading is in the database: the hub
    shows it queued and grades it after a restart. Its state, score and feedback are never stored here:
    they come from the jobs that graded its content and from nbgrader's gradebook (graders.hub.submissions).
    """

    __tablename__ = "graders_submission"
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment: Mapped[str] = mapped_column(String(128), index=True)
    student: Mapped[str] = mapped_column(String(128), index=True)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the server's clock, as timestamp.txt
    # notebook name -> SHA-256 of what autograde grades (graders.grading.submission.submitted_notebook)
    notebooks: Mapped[dict[str, str]] = mapped_column(JSON)


class Extension(Base):
    """A student's own due date for a homework, granted by a person; the latest grant counts."""

    __tablename__ = "graders_extension"
    __table_args__ = (UniqueConstraint("assignment", "student"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment: Mapped[str] = mapped_column(String(128), index=True)
    student: Mapped[str] = mapped_column(String(128))
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    granted_by: Mapped[str] = mapped_column(String(128))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PolicyOverride(Base):
    """A student's own submission limits for a homework, granted by a person (`graders allow`); the latest grant
    replaces the previous one. None: the homework's (homework.toml)."""

    __tablename__ = "graders_policy_override"
    __table_args__ = (UniqueConstraint("assignment", "student"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment: Mapped[str] = mapped_column(String(128), index=True)
    student: Mapped[str] = mapped_column(String(128))
    total: Mapped[int | None] = mapped_column(Integer)
    per_day: Mapped[int | None] = mapped_column(Integer)
    min_delay_minutes: Mapped[float | None] = mapped_column(Float)
    closes: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    granted_by: Mapped[str] = mapped_column(String(128))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEvent(Base):
    """One change of a grade, penalty, extension or due date: who, when, old and new value. Never updated."""

    __tablename__ = "graders_audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))  # autograde | manual | late penalty | extension | ...
    assignment: Mapped[str] = mapped_column(String(128), index=True)
    student: Mapped[str | None] = mapped_column(String(128), index=True)
    notebook: Mapped[str | None] = mapped_column(String(128))
    item: Mapped[str] = mapped_column(String(256))  # e.g. "test_forward.auto_score", "late_penalty"
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
