"""Submission policies as they apply to one student: the homework's, a TA's override, the hand-ins so far.

The homework's policy is in its homework.toml (graders.grading.policy); what a TA grants one student
(`graders allow`) is a row of `graders_policy_override`, audited; the hand-ins are the hub's records
(`graders_submission`): every hand-in the hub accepted counts, graded yet or not. A student's hard
close moves with their extension (graders_extension) by as much as their due date does, unless a TA
set their close.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from graders.course import Course
from graders.grading.deadlines import due_date, extended_by, extension_until, naive_utc
from graders.grading.policy import Standing, SubmissionPolicy, check_limits
from graders.store import Store, audit
from graders.store.models import PolicyOverride, Submission


def student_policy(session: Session, course: Course, hw: str, student: str) -> tuple[SubmissionPolicy, datetime | None]:
    """`student`'s policy for `hw` (the homework's, with their override) and their hard close (naive UTC)."""
    policy = course.homework(hw).policy
    override = _override(session, hw, student)
    if override is not None:
        policy = policy.overridden(total=override.total, per_day=override.per_day,
                                   min_delay_minutes=override.min_delay_minutes)
        if override.closes is not None:
            return policy, naive_utc(override.closes)
    if policy.closes is None:
        return policy, None
    moved = extended_by(due_date(course, hw), extension_until(session, hw, student))
    return policy, policy.closes + moved if moved else policy.closes


def standing(session: Session, course: Course, hw: str, student: str, now: datetime | None = None) -> Standing:
    """Where `student` stands for `hw` at `now` (default: the server's clock; naive UTC)."""
    policy, closes = student_policy(session, course, hw, student)
    handins = session.scalars(select(Submission.submitted_at).where(Submission.assignment == hw,
                                                                    Submission.student == student))
    return policy.standing([naive_utc(t) for t in handins], now or _now(), closes)


def allow(course: Course, store: Store, hw: str, student: str, *, total: int | None = None,
          per_day: int | None = None, min_delay_minutes: float | None = None,
          closes: datetime | None = None) -> Standing:
    """Give `student` their own limits for `hw` (None: the homework's), replacing any earlier grant; audited.

    Raises ValueError (one line) for a bad limit; returns where the student stands now.
    """
    course.check_assignment(hw)
    wanted = {**check_limits({"total": total, "per_day": per_day, "min_delay_minutes": min_delay_minutes}),
              "closes": closes}
    with audit.acting("submission policy"), store.session() as session:
        override = _override(session, hw, student)
        if override is None:
            override = PolicyOverride(assignment=hw, student=student)
            session.add(override)
        for name, new in wanted.items():
            old = getattr(override, name)
            old = naive_utc(old) if isinstance(old, datetime) else old
            if old != new:
                audit.record(session, hw, student, f"submissions.{name}", old, new)
            setattr(override, name, new.replace(tzinfo=timezone.utc) if isinstance(new, datetime) else new)
        override.granted_by = audit.current_actor().who
        override.granted_at = datetime.now(timezone.utc)
        session.flush()
        return standing(session, course, hw, student)


def _override(session: Session, hw: str, student: str) -> PolicyOverride | None:
    return session.scalars(select(PolicyOverride).where(PolicyOverride.assignment == hw,
                                                        PolicyOverride.student == student)).first()


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
