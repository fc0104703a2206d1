"""Due dates, per-student extensions and late penalties.

Due dates live in the course config (`c.Graders.due = {"hw1_backprop": "2026-11-20 23:59 UTC"}`),
extensions in the platform's `graders_extension` table, and the late-penalty
policy is nbgrader's own extension point: the `LateSubmissionPlugin` class named
by `c.AssignLatePenalties.plugin_class` (nbgrader's "none"/"zero" methods, or
`graders.grading.deadlines.PercentPerDay` below). Penalties are recomputed from the
scores already in the gradebook, so changing a policy, a due date or an
extension never re-runs a notebook; autograde applies them in the transaction that
records the grades (`penalize`), so a stored score never waits for its penalty. nbgrader's own `Assignment.duedate` and
`SubmittedAssignment.extension` are kept in step, so formgrader shows the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

from dateutil.parser import isoparse
from dateutil.tz import gettz
from nbgrader.api import SubmittedAssignment
from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.preprocessors import AssignLatePenalties
from nbgrader.utils import parse_utc
from sqlalchemy import select
from sqlalchemy.orm import Session
from traitlets import Float

from graders.course import Course, CourseError
from graders.store import Store, audit
from graders.store.gradebook import released_assignment
from graders.store.models import Extension


class PercentPerDay(LateSubmissionPlugin):
    """Lose `percent_per_day` % of the score per started day late, after a grace period; 0 past `zero_after_days`.

    Select it in nbgrader_config.py:
    `c.AssignLatePenalties.plugin_class = "graders.grading.deadlines.PercentPerDay"`, `c.PercentPerDay.percent_per_day = 10`.
    """

    percent_per_day = Float(10.0, help="percent of the score lost per started day late").tag(config=True)
    grace_minutes = Float(0.0, help="minutes after the due date that cost nothing").tag(config=True)
    zero_after_days = Float(None, allow_none=True, help="days late after which the score is 0").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float | None:
        late = total_seconds_late - self.grace_minutes * 60
        if late <= 0:
            return None
        if self.zero_after_days is not None and total_seconds_late > self.zero_after_days * 86400:
            return score
        days = math.ceil(late / 86400)
        return score * min(1.0, days * self.percent_per_day / 100)


@dataclass(frozen=True)
class PenaltyChange:
    student: str
    notebook: str
    old: float | None
    new: float | None


def parse_datetime(text: str) -> datetime:
    """A date and time as nbgrader writes them ("2026-11-20 23:59:00 UTC", "... Europe/Paris", "... +01:00",
    ISO 8601; UTC when no zone is given), as naive UTC."""
    parts = text.strip().split(" ")
    try:
        if len(parts) == 3 and parts[2][:1] in "+-":
            # nbgrader's parse_utc would look "+01:00" up as a zone name, find none and read the time as UTC
            return parse_utc(isoparse(f"{parts[0]}T{parts[1]}{parts[2]}"))
        if len(parts) == 3 and gettz(parts[2]) is None:
            raise ValueError(f"unknown time zone {parts[2]!r}")
        return parse_utc(text.strip())
    except (ValueError, OverflowError) as exc:
        raise CourseError(f"not a date and time: {text!r} ({exc})") from None


def due_date(course: Course, hw: str) -> datetime | None:
    """`hw`'s due date (naive UTC) from `c.Graders.due`, or None when it has none."""
    due = dict(course.config.Graders.get("due", {}))
    return parse_datetime(str(due[hw])) if hw in due else None


def late_policy(course: Course) -> LateSubmissionPlugin:
    """The course's LateSubmissionPlugin, configured exactly as nbgrader's AssignLatePenalties would."""
    assigner = AssignLatePenalties(config=course.config)
    assigner.init_plugin()
    return assigner.plugin_inst


def grant_extension(course: Course, store: Store, hw: str, student: str, until: datetime) -> list[PenaltyChange]:
    """Give `student` until `until` (naive UTC) for `hw`, replacing any earlier extension; recompute penalties."""
    course.check_assignment(hw)
    due = due_date(course, hw)
    if due is None:
        raise CourseError(f"{hw} has no due date: set c.Graders.due[{hw!r}] in nbgrader_config.py")
    if until <= due:
        raise CourseError(f"an extension must end after the due date of {hw} ({due:%Y-%m-%d %H:%M} UTC)")
    with audit.acting("extension"), store.session() as session:
        extension = session.scalars(select(Extension).where(Extension.assignment == hw,
                                                            Extension.student == student)).first()
        old = _naive_utc(extension.until) if extension else None
        if extension is None:
            extension = Extension(assignment=hw, student=student)
            session.add(extension)
        extension.until = until.replace(tzinfo=timezone.utc)
        extension.granted_by = audit.current_actor().who
        extension.granted_at = datetime.now(timezone.utc)
        audit.record(session, hw, student, "extension", old, until)
    return apply_penalties(course, store, hw, [student])


@dataclass(frozen=True)
class LateRules:
    """What a homework's late penalties follow: its due date (naive UTC, None: none) and the course's policy."""

    hw: str
    due: datetime | None
    policy: LateSubmissionPlugin


def late_rules(course: Course, hw: str) -> LateRules:
    return LateRules(course.check_assignment(hw), due_date(course, hw), late_policy(course))


def apply_penalties(course: Course, store: Store, hw: str, students: list[str] | None = None) -> list[PenaltyChange]:
    """Bring `hw`'s due date, extensions and late penalties in the gradebook in line with the course's policy."""
    rules = late_rules(course, hw)
    changes: list[PenaltyChange] = []
    with store.session() as session:
        for submission in released_assignment(session, hw).submissions:
            if students is None or submission.student_id in students:
                changes += penalize(session, rules, submission)
    return changes


def penalize(session: Session, rules: LateRules, submission: SubmittedAssignment) -> list[PenaltyChange]:
    """Bring one submission's due date, extension and late penalties in line with `rules`.

    In the caller's transaction (flushed, not committed): autograde applies it with the grades it records,
    so a stored score never waits for its penalty. Idempotent: what is already right is not written again.
    """
    student = submission.student_id
    with audit.acting("late penalty"):
        assignment = submission.assignment
        if assignment.duedate != rules.due:
            audit.record(session, rules.hw, None, "due_date", assignment.duedate, rules.due)
            assignment.duedate = rules.due
        granted = session.scalars(select(Extension.until).where(Extension.assignment == rules.hw,
                                                                Extension.student == student)).first()
        extended, due = _naive_utc(granted) if granted else None, rules.due
        # an extension granted before the due date was moved past it no longer extends anything
        extension = extended - due if due is not None and extended is not None and extended > due else None
        if submission.extension != extension:
            submission.extension = extension
        seconds_late = submission.total_seconds_late
        changes = []
        for notebook in submission.notebooks:
            penalty = _penalty(rules.policy, student, notebook.score, seconds_late)
            if notebook.late_submission_penalty != penalty:
                changes.append(PenaltyChange(student, notebook.name, notebook.late_submission_penalty, penalty))
                notebook.late_submission_penalty = penalty
        session.flush()  # audited here, as "late penalty"
    return changes


def _penalty(policy: LateSubmissionPlugin, student: str, score: float, seconds_late: float) -> float | None:
    """As nbgrader's AssignLatePenalties: only when late, and never below 0 or above the score."""
    if seconds_late <= 0:
        return None
    penalty = policy.late_submission_penalty(student, score, seconds_late)
    return None if penalty is None else min(max(0.0, float(penalty)), score)


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
