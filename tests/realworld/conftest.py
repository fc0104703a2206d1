"""Tiny courses written from Python source strings, graded through the real CLI and bubblewrap sandbox.

Each real-world fault kind gets its own small homework, built with these helpers:

    course = homework_course(tmp / "course", "hw_x", [
        markdown("# A homework"),
        solution("square", "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"),
        graded("test_square", 2, "probe('square', square(3))"),
    ], cell_timeout_s=2)                       # writes source/hw_x/, runs `graders generate hw_x`
    submit_answers(course, "hw_x", "alice", {"square": "def square(x):\n    return x ** 2"})
    graded_run = autograde(course, "hw_x")     # `graders autograde hw_x --workers 1`, then what it recorded

Solution cells a student does not answer keep the instructor's solution, so each
student differs from a correct one only where a test says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from graders import cells
from graders.authoring.demo import solved
from graders.course import Course
from graders.store.models import Attempt, Job
from tests.conftest import new_course
from tests.helpers import records, submit

CLI_TIMEOUT_S = 1800


def markdown(text: str) -> NotebookNode:
    return nbformat.v4.new_markdown_cell(text)


def code(grade_id: str, source: str) -> NotebookNode:
    """A locked instructor code cell (setup, imports)."""
    return _cell(source, grade_id, grade=False, solution=False, locked=True)


def solution(grade_id: str, source: str) -> NotebookNode:
    """A cell the student writes; the instructor's answer between ### BEGIN SOLUTION and ### END SOLUTION."""
    return _cell(source, grade_id, grade=False, solution=True, locked=False)


def graded(grade_id: str, points: float, source: str) -> NotebookNode:
    """An autograded test cell (probes; a hidden part between ### BEGIN/END HIDDEN TESTS)."""
    return _cell("from graders.probes import probe\n" + source, grade_id, grade=True, solution=False, locked=True,
                 points=points)


def _cell(source: str, grade_id: str, **nbgrader: object) -> NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, **nbgrader}
    return cell


def homework_course(folder: Path, hw: str, notebook_cells: list[NotebookNode], **settings: object) -> Course:
    """A course with one homework `hw` made of `notebook_cells` and `settings` (homework.toml), generated."""
    course = new_course(folder)
    source = course.path("source", hw)
    source.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=notebook_cells), source / f"{hw}.ipynb")
    (source / "homework.toml").write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items()))
    result = graders(course, "generate", hw)
    assert result.returncode == 0, result.stderr
    return course


def submit_answers(course: Course, hw: str, student: str, answers: dict[str, str] | None = None,
                   after: dict[str, list[str]] | None = None) -> Path:
    """Hand in the release with the instructor's solutions, but `answers` (grade id -> source) in their
    cells and `after` (grade id -> sources) as new code cells of the student's right after that cell."""
    notebook = solved(course, hw, hw)
    for cell in list(notebook.cells):
        gid = cells.grade_id(cell)
        if gid in (answers or {}):
            cell.source = answers[gid]
        for offset, extra in enumerate((after or {}).get(gid, []), start=1):
            notebook.cells.insert(notebook.cells.index(cell) + offset, nbformat.v4.new_code_cell(extra))
    return submit(course, student, hw, notebook)


def graders(course: Course, *args: str) -> subprocess.CompletedProcess:
    """The `graders` command, run as a TA runs it, on `course`."""
    env = dict(os.environ, COLUMNS="500")  # Rich tables: room for the notes column
    return subprocess.run([sys.executable, "-m", "graders", *args, "--course", str(course.root)],
                          capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=env, check=False)


@dataclass
class GradedRun:
    """What `graders autograde` recorded for each student (their latest job), and the graded notebooks."""

    course: Course
    hw: str
    jobs: dict[str, Job]
    attempts: dict[str, list[Attempt]]

    def notebook(self, student: str) -> NotebookNode:
        return nbformat.read(self.course.autograded_dir(student, self.hw) / f"{self.hw}.ipynb", as_version=4)

    def cell(self, student: str, grade_id: str) -> NotebookNode:
        return next(c for c in self.notebook(student).cells if cells.grade_id(c) == grade_id)

    def score(self, student: str, grade_id: str) -> float:
        return self.cell(student, grade_id).metadata["graders"]["score"]


def autograde(course: Course, hw: str) -> GradedRun:
    """`graders autograde hw --workers 1` on every submission, then the jobs and attempts it recorded."""
    result = graders(course, "autograde", hw, "--workers", "1")
    assert result.returncode == 0, result.stderr
    jobs, attempts = records(course)
    return GradedRun(course, hw, {student: job[-1] for student, job in jobs.items()}, attempts)
