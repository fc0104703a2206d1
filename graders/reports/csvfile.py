"""The full grade table as CSV, one file per homework: every question, penalty, status and failure reason."""

from __future__ import annotations

from pathlib import Path

from graders.course import Course
from graders.reports.table import grade_table
from graders.store import Store


def write(store: Store, hws: list[str], out_dir: Path, course: Course | None = None) -> list[Path]:
    paths = []
    for hw in hws:
        path = out_dir / f"{hw}.csv"
        grade_table(store, hw, course).to_csv(path, index=False)
        paths.append(path)
    return paths
