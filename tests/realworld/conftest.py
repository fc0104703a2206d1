"""Small courses written from Python source strings, graded through the real CLI and sandbox.

A test describes a homework as notebooks of cells (`locked`, `solution`, `graded`),
gets a course folder in nbgrader's layout (the repository's nbgrader_config.py
plus the test's own settings), releases it with `graders generate`, hands in
students' notebooks as nbgrader's exchange lays them out, and grades and reports
with `python -m graders ...`, as a TA would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from graders import cells
from graders.course import Course
from tests.conftest import new_course

FAST_HOMEWORK = 'preload = []\ntimeout_s = 60\n'  # homework.toml: no torch to import, a small notebook


def _nbgrader(grade_id: str, *, solution: bool, grade: bool, points: float = 0) -> dict:
    return {"nbgrader": {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": not solution,
                         "points": points, "schema_version": 3}}


def locked(grade_id: str, source: str) -> NotebookNode:
    """A locked instructor code cell (imports, helpers)."""
    return nbformat.v4.new_code_cell(source, metadata=_nbgrader(grade_id, solution=False, grade=False))


def solution(grade_id: str, source: str) -> NotebookNode:
    """A cell the student completes (autograded through the tests, not graded itself)."""
    return nbformat.v4.new_code_cell(source, metadata=_nbgrader(grade_id, solution=True, grade=False))


def graded(grade_id: str, source: str, points: float) -> NotebookNode:
    """A locked test cell worth `points` (nbgrader asserts, or probes)."""
    return nbformat.v4.new_code_cell(source, metadata=_nbgrader(grade_id, solution=False, grade=True, points=points))


def make_course(root: Path, hw: str, notebooks: dict[str, list[NotebookNode]], *, config: str = "",
                homework: str = FAST_HOMEWORK) -> Course:
    """A course at `root` whose homework `hw` has `notebooks` (name -> cells); `config` is appended to
    nbgrader_config.py."""
    course = new_course(root)
    (root / "nbgrader_config.py").write_text((root / "nbgrader_config.py").read_text() + "\n" + config)
    folder = root / "source" / hw
    folder.mkdir(parents=True)
    for name, notebook_cells in notebooks.items():
        nbformat.write(nbformat.v4.new_notebook(cells=notebook_cells), folder / f"{name}.ipynb")
    (folder / "homework.toml").write_text(homework)
    return Course.load(course.root)


def run_graders(course: Course, *args: str, timeout: float = 600) -> str:
    """`python -m graders ARGS --course ROOT`; its standard output (a wide console), or fail with its stderr."""
    result = subprocess.run([sys.executable, "-m", "graders", *args, "--course", str(course.root)],
                            capture_output=True, text=True, timeout=timeout, env={**os.environ, "COLUMNS": "400"})
    assert result.returncode == 0, f"graders {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def answered(course: Course, hw: str, notebook: str, answers: dict[str, str]) -> NotebookNode:
    """The released `notebook` with the solution cells named in `answers` (grade id -> source) filled in."""
    released = nbformat.read(course.path("release", hw, f"{notebook}.ipynb"), as_version=4)
    for cell in released.cells:
        if cells.grade_id(cell) in answers:
            cell.source = answers[cells.grade_id(cell)]
    return released


def hand_in(course: Course, student: str, hw: str, notebooks: dict[str, NotebookNode],
            timestamp: str | None = "2026-11-20 12:00:00.000000 UTC") -> Path:
    """`student`'s submission folder with `notebooks` (name -> notebook) and timestamp.txt (None: none)."""
    folder = course.submission_dir(student, hw)
    folder.mkdir(parents=True, exist_ok=True)
    for name, notebook in notebooks.items():
        nbformat.write(notebook, folder / f"{name}.ipynb")
    if timestamp is not None:
        (folder / "timestamp.txt").write_text(timestamp)
    return folder
