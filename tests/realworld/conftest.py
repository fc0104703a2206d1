"""Small real-world courses, written from Python source strings and graded through the real CLI.

A fixture course is a folder with its own `nbgrader_config.py` and gradebook; a homework is one
notebook in nbgrader's format (cells made by `markdown`, `locked`, `solution` and `autograded`), its
`homework.toml` and any files beside it. `graders(course, ...)` runs `python -m graders` on it,
so every test goes through the CLI, the Dask runners and the bubblewrap sandbox a TA would use.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from graders.course import Course
from graders.store.models import Job
from tests.helpers import records

NBGRADER_CONFIG = """\
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "realworld"
c.CourseDirectory.db_url = "sqlite:///{root}/gradebook.db"
"""


def markdown(text: str) -> NotebookNode:
    return nbformat.v4.new_markdown_cell(text)


def _code(source: str, **nbgrader: object) -> NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"schema_version": 3, **nbgrader}
    return cell


def locked(grade_id: str, source: str) -> NotebookNode:
    """Instructor code the student may not change (imports, data loading)."""
    return _code(source, grade_id=grade_id, locked=True, solution=False, grade=False)


def solution(grade_id: str, source: str) -> NotebookNode:
    """The student's code cell; `source` marks the instructor's answer with ### BEGIN/END SOLUTION."""
    return _code(source, grade_id=grade_id, locked=False, solution=True, grade=False)


def autograded(grade_id: str, source: str, points: float) -> NotebookNode:
    """An autograded test cell (probes; hidden parts between ### BEGIN/END HIDDEN TESTS)."""
    return _code(source, grade_id=grade_id, locked=True, solution=False, grade=True, points=points)


def new_course(root: Path, config: str = "") -> Course:
    """An empty course at `root`; `config` is appended to its nbgrader_config.py."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(root=root) + config)
    return Course.load(root)


def add_homework(course: Course, hw: str, cells: list[NotebookNode], settings: str = "",
                 files: dict[str, bytes | str] | None = None) -> Path:
    """Write `source/<hw>/<hw>.ipynb` from `cells`, its homework.toml (`settings`) and `files` beside it."""
    folder = course.path("source", hw)
    folder.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / f"{hw}.ipynb")
    if settings:
        (folder / "homework.toml").write_text(settings)
    for name, content in (files or {}).items():
        write_file(folder / name, content)
    return folder


def write_file(path: Path, content: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


def graders(course: Course, *args: str, timeout_s: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m graders ARGS --course ROOT` as a TA would; wide output so that tables do not wrap."""
    return subprocess.run([sys.executable, "-m", "graders", *args, "--course", str(course.root)], check=False,
                          capture_output=True, text=True, timeout=timeout_s, env={**os.environ, "COLUMNS": "400"})


def latest_job(course: Course, student: str) -> Job:
    """The student's latest job, as the platform recorded it (state, score, notes)."""
    jobs, _ = records(course)
    return jobs[student][-1]
