"""One table of a homework's grades: a row per student, a column per graded question.

Built from nbgrader's gradebook (scores, late penalties, manual flags) and the
platform's grading records (whether grading failed, and why), so that a crash
never reads as a plain 0.
"""

from __future__ import annotations

import pandas as pd
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy import select

from graders.store import Store
from graders.store.models import Job


def grade_table(store: Store, hw: str) -> pd.DataFrame:
    """Columns: student, one per question (grade id), raw_score, late_penalty, final_score, max_score,
    needs_manual, status."""
    status = _latest_status(store, hw)
    rows = []
    with store.gradebook() as gradebook:
        assignment = gradebook.find_assignment(hw)
        questions = [(nb.name, cell.name, cell.max_score) for nb in assignment.notebooks for cell in nb.grade_cells]
        max_score = sum(m for _, _, m in questions)
        for student in sorted(s.id for s in gradebook.students):
            rows.append(_row(gradebook, hw, student, questions, max_score, status))
    columns = ["student", *[q for _, q, _ in questions], "raw_score", "late_penalty", "final_score",
               "max_score", "needs_manual", "status"]
    return pd.DataFrame(rows, columns=columns)


def _row(gradebook: Gradebook, hw: str, student: str, questions: list, max_score: float,
         status: dict[str, str]) -> dict:
    row: dict = {"student": student, "max_score": max_score}
    try:
        submission = gradebook.find_submission(hw, student)
    except MissingEntry:
        row.update({q: None for _, q, _ in questions})
        row.update(raw_score=None, late_penalty=None, final_score=None, needs_manual=False, status="missing")
        return row
    for notebook, question, _ in questions:
        grade = gradebook.find_grade(question, notebook, hw, student)
        row[question] = grade.score
    penalty = submission.late_submission_penalty or 0.0
    row.update(raw_score=submission.score, late_penalty=penalty, final_score=max(0.0, submission.score - penalty),
               needs_manual=bool(submission.needs_manual_grade), status=status.get(student, "graded"))
    if row["needs_manual"] and row["status"] == "graded":
        row["status"] = "needs manual"
    return row


def _latest_status(store: Store, hw: str) -> dict[str, str]:
    """student -> "graded" or "failed: reason", from the newest finished job of each notebook."""
    status: dict[str, str] = {}
    with store.session() as session:
        jobs = session.scalars(select(Job).where(Job.assignment == hw, Job.state.in_(("done", "failed")))
                               .order_by(Job.id)).all()
    latest = {(j.student, j.notebook): j for j in jobs}
    for (student, _), job in sorted(latest.items()):
        if job.state == "failed":
            status[student] = f"failed: {job.reason}"
        else:
            status.setdefault(student, "graded")
    return status
