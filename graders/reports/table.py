"""One table of a homework's grades: a row per student, a column per graded question.

Built from nbgrader's gradebook (scores, late penalties, manual flags, submission
times) and the platform's grading records (whether grading failed, and why, and
the notes of the latest grading), so that a crash never reads as a plain 0: a
failed or missing submission has no final score, and its status says why.

A question's column is `notebook:grade_id`, always: a homework of several
notebooks may reuse a grade id (nbgrader allows it), and a column name must not
change when a notebook is added to a homework.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy import select

from graders.course import Course
from graders.grading.counting import Counted, counted_handin
from graders.grading.deadlines import late_rules
from graders.states import FINAL_JOB_STATES, JobState
from graders.store import Store
from graders.store.gradebook import final_score, released_assignment
from graders.store.models import Attempt, Job

GRADED, NEEDS_MANUAL, MISSING, FAILED = "graded", "needs manual", "missing", "failed"


@dataclass(frozen=True)
class Question:
    notebook: str
    name: str  # nbgrader's grade id, unique within its notebook only
    max_score: float
    manual: bool

    @property
    def column(self) -> str:
        """The question's name in every report: `notebook:grade_id`."""
        return f"{self.notebook}:{self.name}"


def questions(store: Store, hw: str) -> list[Question]:
    """The graded cells of `hw`, in notebook order."""
    with store.gradebook() as gradebook:
        assignment = gradebook.find_assignment(hw)
        return [Question(nb.name, cell.name, cell.max_score, cell.cell_type == "markdown")
                for nb in assignment.notebooks for cell in nb.grade_cells]


def grade_table(store: Store, hw: str, course: Course | None = None) -> pd.DataFrame:
    """Columns: student, one per question (`notebook:grade_id`), raw_score, late_penalty, final_score,
    max_score, needs_manual, status, submitted_at (UTC), hours_late, notes.

    A row is the student's submission that counts: nbgrader's gradebook (the newest graded); with `course`,
    the one its homework's submission policy counts (`counts = "best"`: maybe an earlier graded hand-in,
    graders.grading.counting, and a note says so). Every export passes the course.

    status is "graded", "needs manual", "failed: <reason>" or "missing"; final_score is empty unless the
    submission was graded (possibly still waiting for a manual grade). A submission whose time is unknown
    (no readable timestamp.txt) has empty submitted_at, hours_late and late_penalty: no penalty was
    computed, and its notes say why. notes: the notes of the latest grading of each notebook.
    """
    latest = _latest_jobs(store, hw)
    failures, notes = _failures(latest), _notes(latest)
    graded = questions(store, hw)
    max_score = sum(q.max_score for q in graded)
    counted = _counted(store, course, hw) if course is not None else {}
    rows = []
    with store.gradebook() as gradebook:
        for student in sorted(s.id for s in gradebook.students):
            row = _row(gradebook, hw, student, graded, max_score, failures) | {"notes": notes.get(student, "")}
            rows.append(_counted_row(row, counted[student], graded) if student in counted else row)
    columns = ["student", *[q.column for q in graded], "raw_score", "late_penalty", "final_score", "max_score",
               "needs_manual", "status", "submitted_at", "hours_late", "notes"]
    return pd.DataFrame(rows, columns=columns)


def is_failed(status: str) -> bool:
    return status.startswith(FAILED)


def _row(gradebook: Gradebook, hw: str, student: str, graded: list[Question], max_score: float,
         failures: dict[str, str]) -> dict:
    row: dict = {"student": student, "max_score": max_score}
    try:
        submission = gradebook.find_submission(hw, student)
    except MissingEntry:
        row.update({q.column: None for q in graded})
        row.update(raw_score=None, late_penalty=None, final_score=None, needs_manual=False, status=MISSING,
                   submitted_at=None, hours_late=None)
        return row
    for question in graded:
        row[question.column] = gradebook.find_grade(question.name, question.notebook, hw, student).score
    known_time = submission.timestamp is not None
    penalty = (submission.late_submission_penalty or 0.0) if known_time else None
    needs_manual = bool(submission.needs_manual_grade)
    if student in failures:
        status = f"{FAILED}: {failures[student]}"
    else:
        status = NEEDS_MANUAL if needs_manual else GRADED
    row.update(raw_score=submission.score, late_penalty=penalty,
               final_score=None if is_failed(status) else final_score(submission),
               needs_manual=needs_manual, status=status, submitted_at=submission.timestamp,
               hours_late=round(submission.total_seconds_late / 3600, 2) if known_time else None)
    return row


def _counted(store: Store, course: Course, hw: str) -> dict[str, Counted]:
    """student -> the graded hand-in that counts instead of the gradebook's submission, for those who have one."""
    rules = late_rules(course, hw)
    with store.session() as session:
        students = [s.student_id for s in released_assignment(session, hw).submissions]
        found = {student: counted_handin(session, course, rules, student) for student in students}
    return {student: counted for student, counted in found.items() if counted is not None}


def _counted_row(row: dict, counted: Counted, graded: list[Question]) -> dict:
    """`row` (the gradebook's submission) with the scores and time of the hand-in that counts instead."""
    note = f"counts: the best graded submission, handed in {counted.submitted_at:%Y-%m-%d %H:%M} UTC"
    return row | {question.column: counted.grades.get((question.notebook, question.name)) for question in graded} | {
        "raw_score": counted.raw_score, "late_penalty": counted.late_penalty or 0.0,
        "final_score": counted.final_score, "status": NEEDS_MANUAL if row["needs_manual"] else GRADED,
        "submitted_at": counted.submitted_at, "hours_late": round(counted.seconds_late / 3600, 2),
        "notes": "; ".join(n for n in (note, row["notes"]) if n)}


def _latest_jobs(store: Store, hw: str) -> dict[tuple[str, str], Job]:
    """(student, notebook) -> the newest finished job."""
    with store.session() as session:
        jobs = session.scalars(select(Job).where(Job.assignment == hw, Job.state.in_(FINAL_JOB_STATES))
                               .order_by(Job.id)).all()
    return {(j.student, j.notebook): j for j in jobs}


def _notes(latest: dict[tuple[str, str], Job]) -> dict[str, str]:
    """student -> the notes of their latest jobs, "; "-joined; a note not shared by all their notebooks
    is prefixed with its notebook's name."""
    by_student: dict[str, dict[str, list[str]]] = {}
    for (student, notebook), job in sorted(latest.items()):
        by_student.setdefault(student, {})[notebook] = list(job.notes or [])
    notes = {}
    for student, per_notebook in by_student.items():
        seen: list[str] = []
        for notebook, items in per_notebook.items():
            for note in items:
                shared = all(note in other for other in per_notebook.values())
                text = note if shared else f"{notebook}: {note}"
                if text not in seen:
                    seen.append(text)
        notes[student] = "; ".join(seen)
    return notes


def _failures(latest: dict[tuple[str, str], Job]) -> dict[str, str]:
    """student -> reason, when the newest finished job of one of their notebooks failed."""
    failed: dict[str, list[tuple[str, str]]] = {}
    for (student, notebook), job in sorted(latest.items()):
        if job.state == JobState.FAILED:
            failed.setdefault(student, []).append((notebook, job.reason or "unknown reason"))
    return {student: items[0][1] if len(items) == 1 else "; ".join(f"{nb}: {reason}" for nb, reason in items)
            for student, items in failed.items()}


def attempts(store: Store, hw: str) -> pd.DataFrame:
    """Every grading attempt of `hw`: student, notebook, run, number, state, wall_s, cpu_s, peak_memory_mb,
    runner, device, reason, finished_at."""
    with store.session() as session:
        rows = session.execute(
            select(Job.student, Job.notebook, Job.run_id, Attempt.number, Attempt.state, Attempt.wall_s,
                   Attempt.cpu_s, Attempt.peak_memory_mb, Attempt.runner, Attempt.device, Attempt.reason,
                   Attempt.finished_at)
            .join(Attempt, Attempt.job_id == Job.id).where(Job.assignment == hw)
            .order_by(Job.run_id, Job.student, Job.notebook, Attempt.number)).all()
    return pd.DataFrame([r._asdict() for r in rows],
                        columns=["student", "notebook", "run_id", "number", "state", "wall_s", "cpu_s",
                                 "peak_memory_mb", "runner", "device", "reason", "finished_at"])


def lms_grade(row: pd.Series) -> tuple[float | None, str]:
    """What an LMS import gets for one homework: a score only once it is final, else none and why."""
    status = row["status"]
    if status == GRADED:
        if pd.isna(row["hours_late"]):
            return float(row["final_score"]), "submission time unknown: no late penalty computed"
        note = f"late penalty {row['late_penalty']:g}" if row["late_penalty"] else ""
        return float(row["final_score"]), note
    if status == NEEDS_MANUAL:
        return None, "needs manual grading"
    return None, status


def student_names(store: Store) -> dict[str, tuple[str, str]]:
    """student id -> (first name, last name) as the gradebook knows them (empty when unknown)."""
    with store.gradebook() as gradebook:
        return {s.id: (s.first_name or "", s.last_name or "") for s in gradebook.students}
