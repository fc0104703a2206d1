"""Small real-world courses, written from Python source strings and graded through the real CLI.

A fixture course is a folder with its own `nbgrader_config.py` and gradebook; a homework is one or
more notebooks in nbgrader's format (cells made by `markdown`, `locked`, `solution`, `autograded`,
`manual` and `task`), its `homework.toml` and any files beside it. `graders(course, ...)` runs
`python -m graders` on it, so every test goes through the CLI, the Dask runners and the bubblewrap
sandbox a TA would use; students hand in released notebooks as nbgrader's exchange lays them out.
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
from tests.helpers import records, submit

NBGRADER_CONFIG = """\
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "realworld"
c.CourseDirectory.db_url = "sqlite:///{root}/gradebook.db"
"""
FAST_HOMEWORK = 'preload = []\ntimeout_s = 60\n'  # homework.toml: no torch to import, a small notebook


def markdown(text: str) -> NotebookNode:
    return nbformat.v4.new_markdown_cell(text)


def _code(source: str, **nbgrader: object) -> NotebookNode:
    return _with_nbgrader(nbformat.v4.new_code_cell(source), nbgrader)


def _with_nbgrader(cell: NotebookNode, nbgrader: dict) -> NotebookNode:
    cell.metadata["nbgrader"] = {"schema_version": 3, **nbgrader}
    return cell


def locked(grade_id: str, source: str) -> NotebookNode:
    """Instructor code the student may not change (imports, data loading)."""
    return _code(source, grade_id=grade_id, locked=True, solution=False, grade=False)


def solution(grade_id: str, source: str) -> NotebookNode:
    """The student's code cell; `source` marks the instructor's answer with ### BEGIN/END SOLUTION."""
    return _code(source, grade_id=grade_id, locked=False, solution=True, grade=False)


def autograded(grade_id: str, source: str, points: float) -> NotebookNode:
    """An autograded test cell (asserts or probes; hidden parts between ### BEGIN/END HIDDEN TESTS)."""
    return _code(source, grade_id=grade_id, locked=True, solution=False, grade=True, points=points)


def manual(grade_id: str, source: str, points: float, kind: str = "markdown") -> NotebookNode:
    """An answer a TA grades ("Manually graded answer": written, or code); `source` is the model answer."""
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    return _with_nbgrader(cell, dict(grade_id=grade_id, locked=False, solution=True, grade=True, points=points))


def task(grade_id: str, source: str, points: float) -> NotebookNode:
    """Instructions a TA grades from the whole notebook ("Manually graded task")."""
    return _with_nbgrader(nbformat.v4.new_markdown_cell(source), dict(
        grade_id=grade_id, locked=True, solution=False, grade=False, task=True, points=points))


def new_course(root: Path, config: str = "") -> Course:
    """An empty course at `root`; `config` is appended to its nbgrader_config.py."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(root=root) + config)
    return Course.load(root)


def add_homework(course: Course, hw: str, notebooks: list[NotebookNode] | dict[str, list[NotebookNode]],
                 settings: str = "", files: dict[str, bytes | str] | None = None) -> Path:
    """Write `source/<hw>/`: its notebooks (a list of cells is one notebook named `hw`; or name -> cells),
    its homework.toml (`settings`, none when empty) and `files` beside them (relative path -> content)."""
    folder = course.path("source", hw)
    folder.mkdir(parents=True, exist_ok=True)
    for name, notebook_cells in (notebooks if isinstance(notebooks, dict) else {hw: notebooks}).items():
        notebook = nbformat.v4.new_notebook(cells=notebook_cells)
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, folder / f"{name}.ipynb")
    if settings:
        (folder / "homework.toml").write_text(settings)
    for name, content in (files or {}).items():
        write_file(folder / name, content)
    return folder


def make_course(root: Path, hw: str, notebooks: dict[str, list[NotebookNode]], *, config: str = "",
                homework: str = FAST_HOMEWORK) -> Course:
    """A new course at `root` with one homework `hw` (see `new_course` and `add_homework`)."""
    course = new_course(root, config)
    add_homework(course, hw, notebooks, homework)
    return course


def write_file(path: Path, content: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


def graders(course: Course, *args: str, timeout_s: float = 1800) -> subprocess.CompletedProcess:
    """Run `python -m graders ARGS --course ROOT` as a TA would; wide output so that tables do not wrap."""
    return subprocess.run([sys.executable, "-m", "graders", *args, "--course", str(course.root)], check=False,
                          capture_output=True, text=True, timeout=timeout_s, env={**os.environ, "COLUMNS": "400"})


def run_graders(course: Course, *args: str, timeout_s: float = 1800) -> str:
    """`graders(...)` that must succeed; its standard output."""
    result = graders(course, *args, timeout_s=timeout_s)
    assert result.returncode == 0, f"graders {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def answered(course: Course, hw: str, notebook: str, answers: dict[str, str]) -> NotebookNode:
    """The released `notebook` with the solution cells named in `answers` (grade id -> source) filled in."""
    released = nbformat.read(course.path("release", hw, f"{notebook}.ipynb"), as_version=4)
    for cell in released.cells:
        if cells.grade_id(cell) in answers:
            cell.source = answers[cells.grade_id(cell)]
    return released


def hand_in(course: Course, student: str, hw: str, notebooks: dict[str, NotebookNode | bytes],
            timestamp: str | None = "2026-11-20 12:00:00.000000 UTC") -> Path:
    """`student`'s submission folder with `notebooks` (name -> notebook, or the file's bytes) and timestamp.txt
    (None: none)."""
    folder = course.submission_dir(student, hw)
    folder.mkdir(parents=True, exist_ok=True)
    for name, notebook in notebooks.items():
        if isinstance(notebook, bytes):
            write_file(folder / f"{name}.ipynb", notebook)
        else:
            nbformat.write(notebook, folder / f"{name}.ipynb")
    if timestamp is not None:
        (folder / "timestamp.txt").write_text(timestamp)
    return folder


def latest_job(course: Course, student: str) -> Job:
    """The student's latest job, as the platform recorded it (state, score, notes)."""
    jobs, _ = records(course)
    return jobs[student][-1]


def probed(grade_id: str, points: float, source: str) -> NotebookNode:
    """An autograded test cell that emits values with `probe` (imported for it)."""
    return autograded(grade_id, "from graders.probes import probe\n" + source, points)


def homework_course(folder: Path, hw: str, notebook_cells: list[NotebookNode], **settings: object) -> Course:
    """A new course with one homework `hw` made of `notebook_cells` and `settings` (homework.toml), generated."""
    course = new_course(folder)
    add_homework(course, hw, notebook_cells, "".join(f"{key} = {json.dumps(value)}\n"
                                                     for key, value in settings.items()))
    run_graders(course, "generate", hw)
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
    run_graders(course, "autograde", hw, "--workers", "1")
    jobs, attempts = records(course)
    return GradedRun(course, hw, {student: job[-1] for student, job in jobs.items()}, attempts)
