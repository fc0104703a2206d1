"""The master a submission is graded on is the notebook as nbgrader released it (its gradebook), header and
footer included; real releases through nbgrader's GenerateAssignment into a real SQLite gradebook."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from graders import cells
from graders.authoring.generate import release
from graders.grading.master import master_notebook
from graders.grading.prepare import prepare
from tests.realworld.conftest import add_homework, autograded, locked, new_course, solution

HW = "hw"


def released_course(root: Path, config: str = ""):  # noqa: ANN201 - a Course
    course = new_course(root, config)
    add_homework(course, HW, [locked("setup", "LIMIT = 3"),
                              solution("f", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
                              autograded("test_f", "assert f() == 1", 2)])
    return course


def master(course):  # noqa: ANN001, ANN201 - a Course, a NotebookNode
    with Gradebook(course.db_url, course.course_id) as gradebook:
        return master_notebook(course, gradebook.db, HW, HW)


def test_cells_changed_in_source_after_release_are_graded_as_released(tmp_path: Path):
    course = released_course(tmp_path / "course")
    release(course, HW)
    source = course.path("source", HW, f"{HW}.ipynb")
    edited = nbformat.read(source, as_version=4)
    edited.cells[0].source = "LIMIT = 1000"
    nbformat.write(edited, source)
    graded = {cells.grade_id(c): c for c in master(course).cells}
    assert graded["setup"].source == "LIMIT = 3"  # nbgrader's OverwriteCells uses the gradebook's source
    assert graded["test_f"].metadata.nbgrader["points"] == 2.0 and "checksum" in graded["f"].metadata.nbgrader


def test_header_and_footer_cells_are_restored_like_the_notebook_s_own(tmp_path: Path):
    course = released_course(tmp_path / "course", 'c.IncludeHeaderFooter.header = "header.ipynb"\n')
    header = nbformat.v4.new_notebook(cells=[locked("honour_code", "HONOUR = 'I did it myself'")])
    nbformat.write(header, course.path("header.ipynb"))
    released = nbformat.read(release(course, HW)[course.default_lang] / f"{HW}.ipynb", as_version=4)
    assert cells.grade_id(released.cells[0]) == "honour_code"
    tampered = copy.deepcopy(released)
    tampered.cells[0].source = "HONOUR = 'no'"
    prepared = prepare(master(course), tampered).notebook
    assert prepared.cells[0].source == "HONOUR = 'I did it myself'" and not prepare(master(course), tampered).notes
