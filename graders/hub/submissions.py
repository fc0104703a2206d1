"""Submissions as the hub shows them, read from the database each time: the service keeps nothing of its own.

A submission is recorded (`record`) when its files land in submitted/, before any grading. Its state
comes from the jobs that graded its content, by the rule autograde itself follows
(`graders.store.records.graded_job`); its score and late penalty from nbgrader's gradebook, as
`graders report --format csv` computes its `final_score`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from graders.course import Course
from graders.grading.counting import counted_handin
from graders.grading.deadlines import late_rules, submission_time
from graders.grading.submission import submitted_notebook
from graders.states import JobState, SubmissionState
from graders.store.gradebook import final_score, find_submission
from graders.store.models import Submission
from graders.store.records import graded_job, latest_job

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"  # nbgrader's timestamp.txt format
# a submission's state from its notebooks' states, the first that any notebook is in
PRECEDENCE = (SubmissionState.GRADING, SubmissionState.QUEUED, SubmissionState.FAILED, SubmissionState.GRADED)


@dataclass(frozen=True)
class SubmissionStatus:
    """What the hub shows of a student's newest submission of a homework (JSON-ready through `as_dict`)."""

    assignment_id: str
    student: str
    state: SubmissionState
    timestamp: str  # when it arrived (server clock), in nbgrader's timestamp format
    reason: str | None = None  # why grading failed, per notebook
    # once its grading ended: the homework's final score in the CSV report (late penalty applied), from the
    # hand-in that counts (this one; or, when the homework counts the best, maybe an earlier one)
    score: float | None = None
    max_score: float | None = None
    late_penalty: float | None = None  # of the hand-in that counts
    needs_manual: bool = False  # a manual question still waits for a grader
    counted_timestamp: str | None = None  # when the hand-in that counts arrived (nbgrader's format); None: unknown

    def as_dict(self) -> dict:
        return {**asdict(self), "state": str(self.state)}


def record(session: Session, course: Course, hw: str, student: str, submitted_at: datetime) -> Submission:
    """Record the submission now in `student`'s folder of `hw`, handed in at `submitted_at` (UTC)."""
    folder = course.submission_dir(student, hw)
    submission = Submission(assignment=hw, student=student, submitted_at=_utc(submitted_at),
                            notebooks={nb: submitted_notebook(folder, nb)[1] for nb in course.notebooks(hw)})
    session.add(submission)
    session.flush()
    return submission


def latest(session: Session, hw: str, student: str) -> Submission | None:
    return session.scalars(select(Submission).where(Submission.assignment == hw, Submission.student == student)
                           .order_by(Submission.id.desc()).limit(1)).first()


def status(session: Session, course: Course, hw: str, student: str) -> SubmissionStatus | None:
    """The state of `student`'s newest submission of `hw`, the homework's score once its grading ended; None if
    there is none."""
    submission = latest(session, hw, student)
    if submission is None:
        return None
    state, reason = _state(session, submission)
    result = SubmissionStatus(hw, student, state, _utc(submission.submitted_at).strftime(TIMESTAMP_FORMAT), reason)
    if not state.ended:
        return result
    graded = find_submission(session, hw, student)
    counted = counted_handin(session, course, late_rules(course, hw), student) if graded is not None else None
    if counted is not None:  # the homework counts the best graded hand-in, and that is an earlier one
        return replace(result, score=counted.final_score, max_score=graded.max_score,
                       late_penalty=counted.late_penalty or 0.0, needs_manual=bool(graded.needs_manual_grade),
                       counted_timestamp=counted.submitted_at.strftime(TIMESTAMP_FORMAT))
    if state != SubmissionState.GRADED:
        return result
    return replace(result, score=final_score(graded), max_score=graded.max_score,
                   late_penalty=graded.late_submission_penalty or 0.0, needs_manual=bool(graded.needs_manual_grade),
                   counted_timestamp=graded.timestamp.strftime(TIMESTAMP_FORMAT) if graded.timestamp else None)


def waiting(session: Session) -> list[tuple[str, str]]:
    """(student, homework) of every newest submission that is queued or being graded, oldest first."""
    newest = select(func.max(Submission.id)).group_by(Submission.assignment, Submission.student)
    found = []
    for submission in session.scalars(select(Submission).where(Submission.id.in_(newest)).order_by(Submission.id)):
        if _state(session, submission)[0] in (SubmissionState.QUEUED, SubmissionState.GRADING):
            found.append((submission.student, submission.assignment))
    return found


def _state(session: Session, submission: Submission) -> tuple[SubmissionState, str | None]:
    """The state of a hand-in, from its notebooks' (the first of PRECEDENCE), and why it failed."""
    states, reasons = [], []
    for notebook, sha in sorted(submission.notebooks.items()):
        state, reason = _notebook_state(session, submission, notebook, sha)
        states.append(state)
        if reason:
            reasons.append(f"{notebook}: {reason}")
    state = next(s for s in PRECEDENCE if s in states)
    return state, "; ".join(reasons) or None if state == SubmissionState.FAILED else None


def adopt(session: Session, course: Course, released: list[str]) -> int:
    """Record the submissions in submitted/ whose timestamp.txt the database does not know; return how many.

    That is what was submitted before the database recorded submissions (the JSON status files of older
    versions, hub/status/, are no longer read: their states and scores are derived again from the
    database), what was copied there by hand, and what a service killed between writing the files and
    the record left behind.
    """
    count = 0
    for hw in released:
        for student in course.students_with_submissions(hw):
            stamp = submission_time(course.submission_dir(student, hw)).when
            known = latest(session, hw, student)
            if stamp is not None and (known is None or _utc(known.submitted_at) != _utc(stamp)):
                record(session, course, hw, student, stamp)
                count += 1
    return count


def students(session: Session) -> list[str]:
    return list(session.scalars(select(Submission.student).distinct().order_by(Submission.student)))


def _notebook_state(session: Session, submission: Submission, notebook: str,
                    sha: str) -> tuple[SubmissionState, str | None]:
    """The state of one notebook of `submission` (content `sha`), and why it failed."""
    hw, student = submission.assignment, submission.student
    graded = graded_job(session, hw, student, notebook)
    if graded is not None and graded.submission_sha256 == sha:
        if graded.state == JobState.DONE:
            return SubmissionState.GRADED, None
        return SubmissionState.FAILED, graded.reason or "unknown reason"
    job = latest_job(session, hw, student, notebook, sha256=sha)
    if job is not None and job.state == JobState.RUNNING:
        return SubmissionState.GRADING, None
    if job is not None and job.state == JobState.FAILED and _utc(job.created_at) >= _utc(submission.submitted_at):
        # no verdict (every attempt lost, or the run stopped on an error first): shown until graded again
        return SubmissionState.FAILED, job.reason or "unknown reason"
    return SubmissionState.QUEUED, None  # not graded yet, interrupted, or graded before a newer content


def _utc(value: datetime) -> datetime:
    """Aware UTC (the database may return naive UTC)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)

