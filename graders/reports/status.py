"""What `graders status` shows: the latest run per homework, a row per job with its attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from graders.course import Course
from graders.store import Store
from graders.store.models import Attempt, GradingRun, Job


@dataclass
class RunView:
    run_id: int
    assignment: str
    state: str
    sandbox: str
    started: datetime
    rows: list[tuple[str, ...]]


def latest_runs(course: Course, hw: str | None = None) -> list[RunView]:
    store = Store(course.db_url, course.course_id)
    try:
        with store.session() as session:
            newest = select(func.max(GradingRun.id)).group_by(GradingRun.assignment)
            if hw:
                newest = newest.where(GradingRun.assignment == hw)
            runs = session.scalars(select(GradingRun).where(GradingRun.id.in_(newest))
                                   .options(selectinload(GradingRun.jobs).selectinload(Job.attempts))
                                   .order_by(GradingRun.assignment)).all()
            return [RunView(r.id, r.assignment, r.state, r.sandbox, r.started_at,
                            [_job_row(j) for j in sorted(r.jobs, key=lambda j: (j.student, j.notebook))])
                    for r in runs]
    finally:
        store.close()


def _job_row(job: Job) -> tuple[str, ...]:
    last = job.attempts[-1] if job.attempts else None
    score = f"{job.score:g}/{job.max_score:g}" if job.score is not None and job.max_score else "-"

    def num(value: float | None, fmt: str = "{:.2f}") -> str:
        return fmt.format(value) if value is not None else "-"

    where = f"{last.runner or '-'} / {last.device or '-'}" if last else "-"
    return (job.student, job.notebook, job.state, score, str(len(job.attempts)), where,
            num(last and last.wall_s), num(last and last.cpu_s), _memory(last), job.reason or "",
            "; ".join(job.notes or []))


def _memory(attempt: Attempt | None) -> str:
    """Peak MiB and what held the limit, e.g. "1280 (cgroup v1)"."""
    if attempt is None or attempt.peak_memory_mb is None:
        return "-"
    return f"{attempt.peak_memory_mb:.0f}" + (f" ({attempt.memory_mechanism})" if attempt.memory_mechanism else "")
