"""Reading the grading records: which job's grading stands for a student's notebook.

Autograde skips a notebook whose content has a standing grading and regrades every other one; the hub
derives a submission's state from the same rule, so the two never disagree about what is graded.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from graders.states import FINAL_JOB_STATES, AttemptState
from graders.store.gradebook import recorded_auto_score, same_score
from graders.store.models import Job


def latest_job(session: Session, hw: str, student: str, notebook: str, *, final: bool = False,
               sha256: str | None = None) -> Job | None:
    """The newest job of one student's notebook (only final ones; only for that content), attempts loaded."""
    query = select(Job).where(Job.assignment == hw, Job.student == student, Job.notebook == notebook)
    if final:
        query = query.where(Job.state.in_(FINAL_JOB_STATES))
    if sha256 is not None:
        query = query.where(Job.submission_sha256 == sha256)
    return session.scalars(query.options(selectinload(Job.attempts)).order_by(Job.id.desc()).limit(1)).first()


def graded_job(session: Session, hw: str, student: str, notebook: str) -> Job | None:
    """The job whose grading stands for one student's notebook, or None when it needs grading.

    That is the newest final job, if one of its attempts ran (a job whose attempts were all lost has no
    verdict) and nbgrader's gradebook holds its score (grades lost or removed since are graded again).
    """
    job = latest_job(session, hw, student, notebook, final=True)
    if job is None or not any(attempt.state != AttemptState.LOST for attempt in job.attempts):
        return None
    return job if same_score(recorded_auto_score(session, hw, student, notebook), job.score) else None
