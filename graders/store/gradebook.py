"""nbgrader's gradebook tables, written and read through nbgrader's own ORM models on the platform's session.

nbgrader's tables live in the same database as the platform's, so a result's grades are written in the
same transaction as its job and attempt (one engine, one commit), with nbgrader's `Gradebook` API left
for readers (formgrader, reports). What is written is what nbgrader's `update_or_create_student` and
`update_or_create_submission` would create, and nbgrader's rules for manual review.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from nbgrader.api import Assignment, Comment, Grade, Notebook, Student, SubmittedAssignment, SubmittedNotebook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from graders.errors import UserError
from graders.grading.verdict import CellVerdict
from graders.store.audit import acting


class AssignmentNotReleased(UserError, LookupError):
    """The gradebook does not know the homework: `graders generate` was not run on this course."""


def released_assignment(session: Session, assignment: str) -> Assignment:
    """nbgrader's Assignment row of `assignment`, or AssignmentNotReleased."""
    found = session.scalars(select(Assignment).where(Assignment.name == assignment)).first()
    if found is None:
        raise AssignmentNotReleased(
            f"{assignment} is not in the gradebook: run `graders generate {assignment}` first")
    return found


def find_submission(session: Session, assignment: str, student: str) -> SubmittedAssignment | None:
    return session.scalars(select(SubmittedAssignment).join(Assignment, SubmittedAssignment.assignment)
                           .where(Assignment.name == assignment, SubmittedAssignment.student_id == student)).first()


def record_grades(session: Session, assignment: str, student: str, notebook: str,
                  verdicts: list[CellVerdict], timestamp: datetime | None) -> SubmittedAssignment:
    """Store auto scores of one student's notebook in `session`'s transaction (flushed, not committed).

    As in nbgrader's SaveAutoGrades, a manual score already given is kept and the cell is flagged for
    review rather than overwritten. Returns the student's submission, its computed scores fresh.
    """
    with acting("autograde"):
        submission = _submission(session, released_assignment(session, assignment), student)
        # None clears the time of an earlier submission (nbgrader would keep it): unknown is not on time
        submission.timestamp = timestamp
        submitted = next((nb for nb in submission.notebooks if nb.notebook.name == notebook), None)
        grades = {grade.cell.name: grade for grade in submitted.grades} if submitted is not None else {}
        missing = [v.grade_id for v in verdicts if v.grade_id not in grades]
        if missing:
            raise AssignmentNotReleased(f"{assignment} in the gradebook has no cell {', '.join(missing)}: "
                                        f"run `graders generate {assignment}` again")
        for verdict in verdicts:
            grade = grades[verdict.grade_id]
            grade.auto_score = verdict.score
            grade.needs_manual_grade = grade.manual_score is not None or verdict.score is None
        session.flush()  # audited here, as "autograde"
    # nbgrader's scores are SQL expressions over the grades: read them again, now that the grades changed
    session.expire(submission)
    for submitted in submission.notebooks:
        session.expire(submitted)
    return submission


def recorded_auto_score(session: Session, assignment: str, student: str, notebook: str) -> float | None:
    """The sum of the auto scores the gradebook holds for one student's notebook; None when it holds none."""
    total, count = session.execute(
        select(func.sum(Grade.auto_score), func.count(Grade.id))
        .join(SubmittedNotebook, Grade.notebook).join(Notebook, SubmittedNotebook.notebook)
        .join(SubmittedAssignment, SubmittedNotebook.assignment).join(Assignment, SubmittedAssignment.assignment)
        .where(Assignment.name == assignment, SubmittedAssignment.student_id == student,
               Notebook.name == notebook)).one()
    return None if count == 0 else float(total or 0.0)


def same_score(a: float | None, b: float | None) -> bool:
    """Scores as the database sums them (floats, in any order) and as the verdict rounds them."""
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


@dataclass(frozen=True)
class CellMark:
    """What nbgrader's gradebook holds for one cell of a student's notebook (formgrader writes it)."""

    score: float | None  # nbgrader's Grade.score: a person's score, else the auto score, plus extra credit
    by_person: bool  # the score is a person's (a TA's), not the autograder's
    comment: str | None  # a person's comment on the cell


def cell_marks(session: Session, assignment: str, student: str, notebook: str) -> dict[str, CellMark]:
    """By cell name: the grades and comments of `student`'s `notebook` of `assignment` (empty if none)."""
    submission = find_submission(session, assignment, student)
    submitted = next((nb for nb in submission.notebooks if nb.notebook.name == notebook), None) \
        if submission is not None else None
    if submitted is None:
        return {}
    comments = {c.cell.name: c.manual_comment for c in submitted.comments if (c.manual_comment or "").strip()}
    marks = {g.cell.name: CellMark(g.score, g.manual_score is not None, comments.get(g.cell.name))
             for g in submitted.grades}
    return {**{name: CellMark(None, False, text) for name, text in comments.items()}, **marks}


def final_score(submission: SubmittedAssignment) -> float:
    """A student's score for a homework: nbgrader's score less its late penalty, never below 0."""
    return max(0.0, submission.score - (submission.late_submission_penalty or 0.0))


def _submission(session: Session, assignment: Assignment, student: str) -> SubmittedAssignment:
    """The student's submission of `assignment`, created with nbgrader's whole structure when new."""
    if session.get(Student, student) is None:
        session.add(Student(id=student))
    submission = session.scalars(select(SubmittedAssignment).where(
        SubmittedAssignment.assignment_id == assignment.id, SubmittedAssignment.student_id == student)).first()
    if submission is not None:
        return submission
    # As nbgrader's Gradebook.add_submission: a notebook per notebook, a grade per graded cell, a comment
    # per solution or task cell, so formgrader finds every cell it expects.
    submission = SubmittedAssignment(assignment=assignment, student_id=student)
    rows: list[object] = [submission]
    with session.no_autoflush:  # rows join the session together, below
        for notebook in assignment.notebooks:
            submitted = SubmittedNotebook(notebook=notebook, assignment=submission)
            rows.append(submitted)
            rows += [Grade(cell=cell, notebook=submitted) for cell in notebook.grade_cells]
            rows += [Comment(cell=cell, notebook=submitted) for cell in notebook.solution_cells]
            for cell in notebook.task_cells:
                rows += [Comment(cell=cell, notebook=submitted), Grade(cell=cell, notebook=submitted)]
    session.add_all(rows)
    session.flush()  # the empty structure first, as nbgrader commits it: the scores below read as changes
    return submission
