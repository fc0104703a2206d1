"""Which graded hand-in gives a student's score for a homework: the newest (nbgrader's) or the best.

nbgrader's gradebook holds one submission per student and homework: the newest graded one (the
files in submitted/, which formgrader shows). That is what counts by default (`counts = "last"`).
With `counts = "best"` the score of another graded hand-in may count instead, derived from what the
platform keeps of every grading: the hub's record of each hand-in (graders_submission: when, and the
content of each notebook) and the jobs that graded that content (graders_job: per-cell auto scores).

A hand-in's score is computed as nbgrader computes the gradebook's: its autograded cells' scores,
plus the written answers as the TA graded them (manual grading happens once, in formgrader, on the
newest hand-in: those points count with whichever hand-in counts), less the late penalty of its
own time under the course's policy (per notebook, as nbgrader's AssignLatePenalties). The best is
the highest final score among hand-ins whose every notebook was graded (not failed); on a tie the
gradebook's counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from graders.course import Course
from graders.grading.deadlines import LateRules, extended_by, extension_until, naive_utc, notebook_penalty, seconds_late
from graders.grading.policy import Counts
from graders.states import AttemptState, JobState
from graders.store.gradebook import final_score, find_submission
from graders.store.models import Submission
from graders.store.records import graded_job, latest_job


@dataclass(frozen=True)
class Counted:
    """A graded hand-in whose score counts instead of the gradebook's."""

    submitted_at: datetime  # naive UTC
    grades: dict[tuple[str, str], float]  # (notebook, grade id) -> score, every graded cell
    raw_score: float
    late_penalty: float | None  # None: not late
    final_score: float
    seconds_late: float


def counted_handin(session: Session, course: Course, rules: LateRules, student: str) -> Counted | None:
    """The graded hand-in of `rules.hw` whose score counts instead of the gradebook's; None when the gradebook's
    counts (the homework counts the last, nothing is graded, or the gradebook's is the best)."""
    hw = rules.hw
    if course.homework(hw).policy.counts != Counts.BEST:
        return None
    submission = find_submission(session, hw, student)
    if submission is None:
        return None
    standing_ok = all(job is not None and job.state == JobState.DONE
                      for job in (graded_job(session, hw, student, nb.name) for nb in submission.notebooks))
    manual = {nb.name: {grade.name: grade.score for grade in nb.grades} for nb in submission.notebooks}
    extension = extended_by(rules.due, extension_until(session, hw, student))
    best: Counted | None = None
    best_final = final_score(submission) if standing_ok else None
    handins = session.scalars(select(Submission).where(Submission.assignment == hw, Submission.student == student)
                              .order_by(Submission.id.desc()))
    for handin in handins:
        at = naive_utc(handin.submitted_at)
        if at == submission.timestamp:
            continue  # the gradebook's own
        scored = _score(session, rules, handin, at, manual, extension)
        if scored is not None and (best_final is None or scored.final_score > best_final):
            best, best_final = scored, scored.final_score
    return best


def _score(session: Session, rules: LateRules, handin: Submission, at: datetime, manual: dict[str, dict[str, float]],
           extension: timedelta | None) -> Counted | None:
    """`handin`'s score, if each of its notebooks was graded (a job of its content done, its cell scores kept)."""
    late_s = seconds_late(rules.due, at, extension)
    grades: dict[tuple[str, str], float] = {}
    raw, penalties = 0.0, []
    for notebook, sha in sorted(handin.notebooks.items()):
        job = latest_job(session, rules.hw, handin.student, notebook, final=True, sha256=sha)
        if job is None or job.state != JobState.DONE or job.grades is None \
                or all(attempt.state == AttemptState.LOST for attempt in job.attempts):
            return None
        cells = {**manual.get(notebook, {}), **job.grades}
        grades.update({(notebook, name): score for name, score in cells.items()})
        raw += sum(cells.values())
        penalties.append(notebook_penalty(rules, handin.student, sum(cells.values()), late_s))
    late = [p for p in penalties if p is not None]
    penalty = sum(late) if late else None
    return Counted(at, grades, raw, penalty, max(0.0, raw - (penalty or 0.0)), late_s)
