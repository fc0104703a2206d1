"""Due dates, per-student extensions and late penalties.

Due dates live in the course config (`c.Graders.due = {"hw1_backprop": "2026-11-20 23:59 UTC"}`; a
homework without one there keeps the due date set in the gradebook the nbgrader way), extensions
in the platform's `graders_extension` table, and the late-penalty policy is nbgrader's own
extension point: the `LateSubmissionPlugin` class named by `c.AssignLatePenalties.plugin_class`
(nbgrader's "none"/"zero" methods, or `graders.grading.deadlines.PercentPerDay` below).
Penalties are recomputed from the scores already in the gradebook, so changing a policy, a
due date or an extension never re-runs a notebook; autograde applies them in the transaction
that records the grades (`penalize`), so a stored score never waits for its penalty. nbgrader's
own `Assignment.duedate` and
`SubmittedAssignment.extension` are kept in step, so formgrader shows the same.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path

from dateutil import parser as dateparser
from dateutil.tz import gettz, tzoffset
from nbgrader.api import Assignment, SubmittedAssignment
from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.preprocessors import AssignLatePenalties
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
    `c.AssignLatePenalties.plugin_class = "graders.grading.deadlines.PercentPerDay"`,
    `c.PercentPerDay.percent_per_day = 10`.
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


# Zone abbreviations as people and nbgrader's exchange write them (its `%Z` gives "PST" for
# America/Los_Angeles in winter). Each names a fixed offset, standard or summer time, in hours.
# Ambiguous ones stay out (IST: India, Ireland or Israel); CST is North America's Central time.
ZONE_ABBREVIATIONS = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2, "MET": 1, "MEST": 2,
    "EET": 2, "EEST": 3, "MSK": 3,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10, "NST": -3.5, "NDT": -2.5, "AST": -4, "ADT": -3,
}
TIMESTAMP_FALLBACKS = ("none", "mtime")
_MONTH_NAME = re.compile(r"(?i)\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]|$)")
_POSIX_OFFSET = re.compile(r"(?i)\b(?:UTC|GMT)\s*[+-]\s*\d")  # "UTC+3": POSIX reads it as 3 hours *behind*


def parse_datetime(text: str) -> datetime:
    """A date and time as naive UTC, from any form nbgrader, an exchange or a person writes.

    Accepted: nbgrader's own "2026-11-20 23:59:00.000000 UTC", ISO 8601 with `T` or a space, an offset
    (`+01:00`, `-0800`, with or without a space) or `Z`, a zone abbreviation (ZONE_ABBREVIATIONS) or an
    IANA name (`Europe/Paris`), with or without seconds and microseconds; or a date with the month in
    words ("Fri Nov 20 12:00:00 PST 2026", RFC 2822). No zone means UTC, as in nbgrader. The date and
    the time (hours and minutes) must both be given.

    Raises CourseError (one line) for anything else: an unknown or ambiguous zone, a numeric date that
    is not YYYY-MM-DD (05/06 is May or June), a missing date or time; never a silent guess.
    """
    stripped = " ".join(str(text).split())
    try:
        if not (_ISO_DATE.match(stripped) or _MONTH_NAME.search(stripped)):
            raise ValueError("write the date as YYYY-MM-DD or with the month in words")
        if _POSIX_OFFSET.search(stripped):
            raise ValueError("ambiguous offset after UTC/GMT: write +01:00 alone")
        zone = None
        rest, _, last = stripped.rpartition(" ")
        if "/" in last:  # an IANA name ("Europe/Paris"), which dateutil's parser does not read
            zone = gettz(last)
            if zone is None:
                raise ValueError(f"unknown time zone {last!r}")
            stripped = rest
        # Parsed with two different defaults: a field that differs was not in the text.
        first = dateparser.parse(stripped, default=datetime(2000, 1, 1, 0, 0), tzinfos=_zone)
        second = dateparser.parse(stripped, default=datetime(2001, 2, 2, 1, 1), tzinfos=_zone)
        missing = [f for f in ("year", "month", "day", "hour", "minute") if getattr(first, f) != getattr(second, f)]
        if missing:
            raise ValueError(f"no {' or '.join(missing)} given")
        if zone is not None:
            if first.tzinfo is not None:
                raise ValueError("two time zones given")
            first = first.replace(tzinfo=zone)
        return naive_utc(first)
    except (ValueError, OverflowError) as exc:
        raise CourseError(f"not a date and time: {str(text).strip()!r} ({exc})") from None


def _zone(name: str | None, offset: int | None) -> tzinfo | None:
    """dateutil's `tzinfos` hook: a named zone from ZONE_ABBREVIATIONS, else a numeric offset, else UTC."""
    if name is None:
        return None if offset is None else tzoffset(None, offset)
    hours = ZONE_ABBREVIATIONS.get(name.upper())
    if hours is None:
        raise ValueError(f"unknown time zone {name!r}")
    if offset is not None and offset != hours * 3600:  # "EST+3"
        raise ValueError(f"time zone {name!r} and offset {offset / 3600:+g} h disagree")
    return tzoffset(name, int(hours * 3600))


@dataclass(frozen=True)
class SubmissionTime:
    """When a submission was handed in (naive UTC; None: unknown), and a note when not from timestamp.txt."""

    when: datetime | None
    note: str | None = None


def submission_time(folder: Path, fallback: str = "none") -> SubmissionTime:
    """The time in `folder`'s timestamp.txt, as nbgrader's exchange writes it.

    A missing or unreadable stamp is never read as on time in silence: the result carries a note for
    the job, and the time is the newest modification time of the submitted notebooks only when
    `fallback` is "mtime" (the course's `timestamp_fallback`); else it is unknown (None), and no late
    penalty is computed for it (the reports say so).
    """
    try:
        text = (folder / "timestamp.txt").read_text(errors="replace")
        return SubmissionTime(parse_datetime(text))
    except FileNotFoundError:
        problem = "no timestamp.txt"
    except OSError as exc:
        problem = f"timestamp.txt could not be read ({exc.strerror})"
    except CourseError:
        shown = " ".join(text.split())
        problem = "timestamp.txt is empty" if not shown else \
            f"timestamp.txt could not be read ({shown if len(shown) <= 40 else shown[:39] + '…'!r})"
    mtimes = [p.stat().st_mtime for p in folder.glob("*.ipynb")] if fallback == "mtime" else []
    if mtimes:
        when = datetime.fromtimestamp(max(mtimes), timezone.utc).replace(tzinfo=None)
        return SubmissionTime(when, f"{problem}: submission time taken from the notebook's modification time "
                                    f"({when:%Y-%m-%d %H:%M} UTC)")
    return SubmissionTime(None, f"{problem}: submission time unknown, no late penalty computed")


def timestamp_fallback(course: Course) -> str:
    """`c.Graders.timestamp_fallback`: "none" (default) or "mtime", for submissions without a readable stamp."""
    fallback = str(course.config.Graders.get("timestamp_fallback", "none"))
    if fallback not in TIMESTAMP_FALLBACKS:
        raise CourseError(f"c.Graders.timestamp_fallback must be one of {', '.join(TIMESTAMP_FALLBACKS)}, "
                          f"not {fallback!r}")
    return fallback


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
        old = naive_utc(extension.until) if extension else None
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


def stale_penalty_students(course: Course, store: Store, hw: str) -> list[str]:
    """The students of `hw` whose due date, extension or late penalties in the gradebook no longer follow the
    course's rules (`apply_penalties` would change them); reads only."""
    rules = late_rules(course, hw)
    with store.session() as session:
        return [s.student_id for s in released_assignment(session, hw).submissions
                if penalties_stale(session, rules, s)]


def penalize(session: Session, rules: LateRules, submission: SubmittedAssignment) -> list[PenaltyChange]:
    """Bring one submission's due date, extension and late penalties in line with `rules`.

    In the caller's transaction (flushed, not committed): autograde applies it with the grades it records,
    so a stored score never waits for its penalty. Idempotent: what is already right is not written again.
    """
    with audit.acting("late penalty"):
        assignment = submission.assignment
        rules = _with_gradebook_due(rules, assignment)
        if assignment.duedate != rules.due:
            audit.record(session, rules.hw, None, "due_date", assignment.duedate, rules.due)
            assignment.duedate = rules.due
        extension, changes = _late_plan(session, rules, submission)
        if submission.extension != extension:
            submission.extension = extension
        by_name = {notebook.name: notebook for notebook in submission.notebooks}
        for change in changes:
            by_name[change.notebook].late_submission_penalty = change.new
        session.flush()  # audited here, as "late penalty"
    return changes


def penalties_stale(session: Session, rules: LateRules, submission: SubmittedAssignment) -> bool:
    """Whether `penalize` would change anything in one submission (due date, extension, penalties); writes nothing."""
    rules = _with_gradebook_due(rules, submission.assignment)
    extension, changes = _late_plan(session, rules, submission)
    return bool(changes) or submission.assignment.duedate != rules.due or submission.extension != extension


def _with_gradebook_due(rules: LateRules, assignment: Assignment) -> LateRules:
    """`rules`, or, for a homework not in c.Graders.due, the due date set the nbgrader way (formgrader, `nbgrader
    db assignment add --duedate`), which stands."""
    return replace(rules, due=assignment.duedate) if rules.due is None and assignment.duedate else rules


def _late_plan(session: Session, rules: LateRules,
               submission: SubmittedAssignment) -> tuple[timedelta | None, list[PenaltyChange]]:
    """The extension `submission` should carry, and its notebooks' penalties that differ from the stored ones."""
    student = submission.student_id
    extension = extended_by(rules.due, extension_until(session, rules.hw, student))
    late = seconds_late(rules.due, submission.timestamp, extension)  # from the rules, not the stored dates
    changes = []
    for notebook in submission.notebooks:
        penalty = notebook_penalty(rules, student, notebook.score, late)
        if notebook.late_submission_penalty != penalty:
            changes.append(PenaltyChange(student, notebook.name, notebook.late_submission_penalty, penalty))
    return extension, changes


def extension_until(session: Session, hw: str, student: str) -> datetime | None:
    """The end of `student`'s extension of `hw` (naive UTC), or None when they have none."""
    granted = session.scalars(select(Extension.until).where(Extension.assignment == hw,
                                                            Extension.student == student)).first()
    return naive_utc(granted) if granted else None


def extended_by(due: datetime | None, until: datetime | None) -> timedelta | None:
    """How far an extension until `until` moves the due date `due`; None when it does not move it (an
    extension granted before the due date was moved past it no longer extends anything)."""
    return until - due if due is not None and until is not None and until > due else None


def seconds_late(due: datetime | None, submitted_at: datetime | None, extension: timedelta | None) -> float:
    """Seconds past the due date (moved by `extension`) of a hand-in at `submitted_at` (naive UTC), as nbgrader's
    SubmittedAssignment.total_seconds_late: 0 when on time, or when either time is unknown."""
    if submitted_at is None or due is None:
        return 0.0
    return max(0.0, (submitted_at - (due + (extension or timedelta(0)))).total_seconds())


def notebook_penalty(rules: LateRules, student: str, score: float, seconds_late: float) -> float | None:
    """The late penalty of one notebook scoring `score`, handed in `seconds_late` late, as nbgrader's
    AssignLatePenalties gives it: only when late, and never below 0 or above the score."""
    if seconds_late <= 0:
        return None
    penalty = rules.policy.late_submission_penalty(student, score, seconds_late)
    return None if penalty is None else min(max(0.0, float(penalty)), score)


def naive_utc(value: datetime) -> datetime:
    """`value` as naive UTC (an aware one converted; a naive one is UTC already)."""
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
