"""What `graders status` shows: the latest run per homework, a row per job with its last attempt.

Three renderings of the same rows: a table for people (`graders status`), CSV and JSON for
scripts (`--format csv|json`), with every value in full (no truncated ids or reasons).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from graders.course import Course
from graders.store import NoRecords, Store
from graders.store.models import GradingRun, Job


@dataclass(frozen=True)
class JobRow:
    """One job as status shows it; times in seconds, memory in MiB, None where unknown."""

    student: str
    notebook: str
    state: str
    score: float | None
    max_score: float | None
    attempts: int
    runner: str | None
    device: str | None
    wall_s: float | None
    cpu_s: float | None
    peak_memory_mb: float | None
    memory_mechanism: str | None  # what held the memory limit (cgroup v2, cgroup v1, watchdog)
    reason: str | None
    notes: list[str]


COLUMNS = tuple(f.name for f in fields(JobRow))


@dataclass
class RunView:
    run_id: int
    assignment: str
    state: str
    sandbox: str
    started: datetime
    rows: list[JobRow]


def latest_runs(course: Course, hw: str | None = None) -> list[RunView]:
    """The newest grading run of each homework (or of `hw`), oldest homework name first; reads only."""
    try:
        store = Store(course.db_url, course.course_id, read_only=True)
    except NoRecords:
        return []
    try:
        with store.session() as session:
            newest = select(func.max(GradingRun.id)).group_by(GradingRun.assignment)
            if hw:
                newest = newest.where(GradingRun.assignment == hw)
            runs = session.scalars(select(GradingRun).where(GradingRun.id.in_(newest))
                                   .options(selectinload(GradingRun.jobs).selectinload(Job.attempts))
                                   .order_by(GradingRun.assignment)).all()
            return [RunView(r.id, r.assignment, r.state, r.sandbox, r.started_at,
                            [job_row(j) for j in sorted(r.jobs, key=lambda j: (j.student, j.notebook))])
                    for r in runs]
    finally:
        store.close()


def job_row(job: Job) -> JobRow:
    last = job.attempts[-1] if job.attempts else None
    return JobRow(job.student, job.notebook, str(job.state), job.score, job.max_score, len(job.attempts),
                  last and last.runner, last and last.device, last and last.wall_s, last and last.cpu_s,
                  last and last.peak_memory_mb, last and last.memory_mechanism, job.reason, list(job.notes or []))


def table_cells(row: JobRow) -> list[str]:
    """The row as the table's text cells, in COLUMNS order but with score and runner/device joined."""
    def num(value: float | None, fmt: str = "{:.2f}") -> str:
        return fmt.format(value) if value is not None else "-"

    score = f"{row.score:g}/{row.max_score:g}" if row.score is not None and row.max_score else "-"
    where = f"{row.runner or '-'} / {row.device or '-'}" if row.attempts else "-"
    return [row.student, row.notebook, row.state, score, str(row.attempts), where, num(row.wall_s),
            num(row.cpu_s), _memory(row), row.reason or "", "; ".join(row.notes)]


TABLE_HEADERS = ("student", "notebook", "state", "score", "attempts", "runner/device", "wall s", "cpu s",
                 "peak MiB (limit)", "reason", "notes")


def to_csv(runs: list[RunView]) -> str:
    """One CSV row per job, prefixed by its run (assignment, run_id, run_state); notes joined by "; "."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("assignment", "run_id", "run_state", *COLUMNS))
    for run in runs:
        for row in run.rows:
            values = asdict(row)
            values["notes"] = "; ".join(row.notes)
            writer.writerow((run.assignment, run.run_id, run.state, *("" if v is None else v
                                                                       for v in values.values())))
    return buffer.getvalue()


def to_json(runs: list[RunView]) -> str:
    """A list of runs, each with its jobs as objects (the JobRow fields)."""
    return json.dumps([{"run_id": run.run_id, "assignment": run.assignment, "state": run.state,
                        "sandbox": run.sandbox, "started": run.started.isoformat(),
                        "jobs": [asdict(row) for row in run.rows]} for run in runs], indent=1)


def _memory(row: JobRow) -> str:
    """Peak MiB and what held the limit, e.g. "1280 (cgroup v1)"."""
    if row.peak_memory_mb is None:
        return "-"
    return f"{row.peak_memory_mb:.0f}" + (f" ({row.memory_mechanism})" if row.memory_mechanism else "")
