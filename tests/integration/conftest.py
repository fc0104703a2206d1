"""A tiny homework course: two quick probed questions, nothing preloaded, so a class grades in seconds.

For the tests that grade many times (crash at every write boundary, the hub's queue): hw1 would spend
most of their time importing torch. Its due date is a day before the fixture was made, so a submission
stamped now is late (10 % per started day, the course's PercentPerDay policy).
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode

from graders import cells
from graders.authoring.generate import generate
from graders.course import Course
from tests.conftest import copy_course, new_course
from tests.helpers import solved_notebook

TINY = "tiny"
TINY_POINTS = {"test_add": 3, "test_double": 2}
WRONG_DOUBLE_POINTS = 3  # what the wrong notebook earns: add right, double wrong
# Twelve hours ago, fixed at import: a hand-in made during the test run is late by less than one day even
# when the whole suite runs for hours (one started day: 10 % off).
DUE = (datetime.now(timezone.utc) - timedelta(hours=12)).replace(microsecond=0, tzinfo=None)


def _cell(source: str, grade_id: str, *, solution: bool = False, points: int | None = None) -> NotebookNode:
    meta = {"grade": points is not None, "grade_id": grade_id, "locked": not solution, "schema_version": 3,
            "solution": solution, **({"points": points} if points is not None else {})}
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": meta})


def tiny_source() -> NotebookNode:
    notebook = nbformat.v4.new_notebook(cells=[
        _cell("from graders.probes import probe", "setup"),
        _cell("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION", "add",
              solution=True),
        _cell('probe("add_small", add(2, 3), exact=True)\n### BEGIN HIDDEN TESTS\n'
              'probe("add_large", add(10**6, 7), exact=True)\n### END HIDDEN TESTS', "test_add",
              points=TINY_POINTS["test_add"]),
        _cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION", "double",
              solution=True),
        _cell('probe("double", double(21), exact=True)', "test_double", points=TINY_POINTS["test_double"]),
    ])
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return notebook


@pytest.fixture(scope="session")
def tiny_generated(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """A course with the tiny homework released and keyed (do not modify: use `tiny_course`)."""
    root: Path = tmp_path_factory.mktemp("tiny-generated") / "course"
    course = new_course(root)
    source = course.path("source", TINY)
    source.mkdir(parents=True)
    nbformat.write(tiny_source(), source / f"{TINY}.ipynb")
    (source / "homework.toml").write_text('timeout_s = 60\npreload = []\n')
    config = course.path("nbgrader_config.py")
    config.write_text(config.read_text() + f'\nc.Graders.due = {{**c.Graders.due, "{TINY}": "{DUE} UTC"}}\n')
    course = Course.load(root)
    generate(course, TINY)
    return course


@pytest.fixture
def tiny_course(tiny_generated: Course, tmp_path: Path) -> Course:
    """A private copy of the generated tiny course."""
    return copy_course(tiny_generated, tmp_path / "course")


def tiny_solved(course: Course) -> NotebookNode:
    return solved_notebook(course, TINY)


def tiny_wrong(course: Course) -> NotebookNode:
    """The solution with `double` wrong: loses test_double's points."""
    notebook = copy.deepcopy(tiny_solved(course))
    for cell in notebook.cells:
        if cells.grade_id(cell) == "double":
            cell.source = cell.source.replace("2 * x", "3 * x")
    return notebook
