"""Canvas gradebook import file (Grades > Import), laid out as Canvas's own gradebook export.

Columns: Student ("Last, First"), ID, SIS User ID, SIS Login ID, Section, one column per
homework (named after it: Canvas matches an existing assignment by name or creates
it), then Notes. The second row is Canvas's "Points Possible". Only final grades
carry a score; a failed, missing or not yet fully graded submission is left blank
(Canvas leaves blank cells ungraded, never 0) and Notes says why. Notes is Canvas's
own "Notes" gradebook column (enable it in the gradebook for Canvas to import it).
The student id (the JupyterHub user name) goes in SIS Login ID.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from graders.course import Course
from graders.reports.table import grade_table, lms_grade, student_names
from graders.store import Store

ID_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
NOTES = "Notes"


def write(store: Store, hws: list[str], out_dir: Path, course: Course | None = None) -> list[Path]:
    names = student_names(store)
    tables = {hw: grade_table(store, hw, course).set_index("student") for hw in hws}
    points = {"Student": "Points Possible", **{hw: float(t["max_score"].iloc[0]) if len(t) else None
                                               for hw, t in tables.items()}}
    rows = [points]
    for student in sorted(names):
        first, last = names[student]
        row = {"Student": f"{last}, {first}" if last or first else student, "SIS Login ID": student}
        notes = []
        for hw, table in tables.items():
            score, note = lms_grade(table.loc[student])
            row[hw] = score
            if note:
                notes.append(f"{hw}: {note}")
        row[NOTES] = "; ".join(notes)
        rows.append(row)
    path = out_dir / f"canvas_{hws[0] if len(hws) == 1 else 'all'}.csv"
    pd.DataFrame(rows, columns=[*ID_COLUMNS, *hws, NOTES]).to_csv(path, index=False)
    return [path]
