"""Moodle gradebook import file (Grades > Import > CSV file), laid out as Moodle's own export.

Columns: Username (map it to "username" on import: the JupyterHub user name), First name,
Last name, then per homework "<hw> (Real)" with the final score and "<hw> (Feedback)"
(map it to "Feedback for <hw>"). A failed, missing or not yet fully graded submission
has an empty grade, which Moodle's import skips (never a 0), and its feedback says why.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from graders.course import Course
from graders.reports.table import grade_table, lms_grade, student_names
from graders.store import Store

ID_COLUMNS = ["Username", "First name", "Last name"]


def grade_column(hw: str) -> str:
    return f"{hw} (Real)"


def feedback_column(hw: str) -> str:
    return f"{hw} (Feedback)"


def write(store: Store, hws: list[str], out_dir: Path, course: Course | None = None) -> list[Path]:
    names = student_names(store)
    tables = {hw: grade_table(store, hw, course).set_index("student") for hw in hws}
    rows = []
    for student in sorted(names):
        first, last = names[student]
        row = {"Username": student, "First name": first, "Last name": last}
        for hw, table in tables.items():
            row[grade_column(hw)], row[feedback_column(hw)] = lms_grade(table.loc[student])
        rows.append(row)
    columns = [*ID_COLUMNS, *[c for hw in hws for c in (grade_column(hw), feedback_column(hw))]]
    path = out_dir / f"moodle_{hws[0] if len(hws) == 1 else 'all'}.csv"
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return [path]
