"""Building submissions in a course's `submitted/` folder, as nbgrader's exchange lays them out,
and reading back the jobs and attempts the platform recorded for them."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
from nbformat import NotebookNode
from nbgrader.api import Gradebook
from sqlalchemy import select

from graders import cells
from graders.authoring.demo import solved
from graders.authoring.validate import load_mutants, mutate
from graders.course import Course
from graders.store import Store
from graders.store.models import Attempt, Job


def release_notebook(course: Course, hw: str) -> NotebookNode:
    return nbformat.read(course.path("release", hw, f"{hw}.ipynb"), as_version=4)


def solved_notebook(course: Course, hw: str) -> NotebookNode:
    """What a perfect student hands in: the release with the instructor's solution cells filled in."""
    return solved(course, hw, hw)


def with_cell_after(notebook: NotebookNode, grade_id: str, source: str) -> NotebookNode:
    """A copy of `notebook` with a student code cell inserted right after cell `grade_id`."""
    notebook = copy.deepcopy(notebook)
    index = next(i for i, c in enumerate(notebook.cells) if cells.grade_id(c) == grade_id)
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return notebook


def submit(course: Course, student: str, hw: str, notebook: NotebookNode | bytes,
           timestamp: str = "2026-11-20 12:00:00.000000 UTC") -> Path:
    folder = course.submission_dir(student, hw)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hw}.ipynb"
    if isinstance(notebook, bytes):
        path.write_bytes(notebook)
    else:
        nbformat.write(notebook, path)
    (folder / "timestamp.txt").write_text(timestamp)
    return path


def records(course: Course) -> tuple[dict[str, list[Job]], dict[str, list[Attempt]]]:
    """The platform's jobs and attempts, by student, oldest first."""
    store = Store(course.db_url, course.course_id)
    jobs: dict[str, list[Job]] = {}
    attempts: dict[str, list[Attempt]] = {}
    with store.session() as session:
        for job in session.scalars(select(Job).order_by(Job.id)):
            jobs.setdefault(job.student, []).append(job)
        for student, attempt in session.execute(select(Job.student, Attempt).join(Attempt).order_by(Attempt.id)):
            attempts.setdefault(student, []).append(attempt)
    store.close()
    return jobs, attempts


def small_class(course: Course) -> list[str]:
    """Five hw1_backprop submissions: full marks, two partly wrong, blank, and one whose kernel exits."""
    hw = "hw1_backprop"
    solved = solved_notebook(course, hw)
    mutants = load_mutants(course, hw)
    submit(course, "alice", hw, solved)
    submit(course, "bob", hw, mutate(solved, mutants[0]))
    submit(course, "carol", hw, mutate(solved, mutants[2]))
    submit(course, "dave", hw, release_notebook(course, hw))
    submit(course, "erin", hw, with_cell_after(solved, "test_grad_b1", "import os\nos._exit(3)"))
    return ["alice", "bob", "carol", "dave", "erin"]


def cell_scores(course: Course, hw: str, students: list[str]) -> dict[tuple[str, str], float | None]:
    """Every graded cell's score in nbgrader's gradebook, by (student, cell)."""
    with Gradebook(course.db_url, course.course_id) as gradebook:
        return {(student, grade.name): grade.auto_score
                for student in students
                for notebook in gradebook.find_submission(hw, student).notebooks
                for grade in notebook.grades}


def csv_report_row(course: Course, hw: str, student: str, out: Path) -> pd.Series:
    """`student`'s row of `graders report HW --format csv`, as a TA exports it (run through the CLI into `out`)."""
    result = subprocess.run([str(Path(sys.executable).parent / "graders"), "report", hw, "--format", "csv",
                             "--out", str(out), "--course", str(course.root)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return pd.read_csv(out / f"{hw}.csv").set_index("student").loc[student]
