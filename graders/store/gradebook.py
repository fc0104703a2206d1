"""Writing verdicts into nbgrader's gradebook, with nbgrader's own rules for manual review."""

from __future__ import annotations

from datetime import datetime

from nbgrader.api import Gradebook, MissingEntry

from graders.errors import UserError
from graders.grading.verdict import CellVerdict
from graders.store.audit import acting


class AssignmentNotReleased(UserError, LookupError):
    """The gradebook does not know the homework: `graders generate` was not run on this course."""


def record_grades(gradebook: Gradebook, assignment: str, student: str, notebook: str,
                  verdicts: list[CellVerdict], timestamp: datetime | None) -> None:
    """Store auto scores of one student's notebook; cells waiting for a person stay flagged.

    As in nbgrader's SaveAutoGrades, a manual score already given is kept and the
    cell is flagged for review rather than overwritten.
    """
    try:
        gradebook.find_assignment(assignment)
    except MissingEntry:
        raise AssignmentNotReleased(
            f"{assignment} is not in the gradebook: run `graders generate {assignment}` first") from None
    with acting("autograde"):
        gradebook.update_or_create_student(student)
        # None clears the time of an earlier submission (nbgrader would keep it): unknown is not on time
        gradebook.update_or_create_submission(assignment, student, timestamp=timestamp)
        grades = {g.name: g for g in gradebook.find_submission_notebook(notebook, assignment, student).grades}
        missing = [v.grade_id for v in verdicts if v.grade_id not in grades]
        if missing:
            raise AssignmentNotReleased(f"{assignment} in the gradebook has no cell {', '.join(missing)}: "
                                        f"run `graders generate {assignment}` again")
        with gradebook.db.no_autoflush:  # one flush (and one audit pass) at the commit
            for verdict in verdicts:
                grade = grades[verdict.grade_id]
                grade.auto_score = verdict.score
                grade.needs_manual_grade = grade.manual_score is not None or verdict.score is None
        gradebook.db.commit()
