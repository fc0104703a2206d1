"""Source notebooks that nbgrader refuses to release, refused by `graders generate` too, in one line that
names the cause (nbgrader's own validation, read out of its log); and notebooks graders cannot grade."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from graders.course import Course
from tests.realworld.conftest import add_homework, autograded, new_course, solution


def t_cell(**nbgrader: object):  # noqa: ANN201 - a NotebookNode
    """`t`, a test cell of f(), its nbgrader metadata changed by `nbgrader` (None: key removed)."""
    cell = autograded("t", "assert f() == 1", 1)
    for key, value in nbgrader.items():
        if value is None:
            del cell.metadata.nbgrader[key]
        else:
            cell.metadata.nbgrader[key] = value
    return cell


ANSWER = solution("f", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
REFUSED_BY_BOTH = {
    "old_schema": ([ANSWER, t_cell(schema_version=2)], "use an old version of the nbgrader metadata format"),
    "string_points": ([ANSWER, t_cell(points="2")], "'2' is not of type 'number'"),
    "bad_grade_id": ([ANSWER, t_cell(grade_id="t 1")], "'t 1' does not match '^[a-zA-Z0-9_\\\\-]*$'"),
    "twice_the_same_id": ([ANSWER, t_cell(), t_cell()], "Duplicate grade id: t"),
    "no_points": ([ANSWER, t_cell(points=None)], "nbgrader cell 't' does not have points"),
}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Course:
    built = new_course(tmp_path_factory.mktemp("refusals") / "course")
    for hw, (notebook_cells, _) in REFUSED_BY_BOTH.items():
        add_homework(built, hw, notebook_cells)
    r_notebook = add_homework(built, "r_kernel", [ANSWER, t_cell()]) / "r_kernel.ipynb"
    notebook = nbformat.read(r_notebook, as_version=4)
    notebook.metadata["kernelspec"] = {"display_name": "R", "language": "R", "name": "ir"}
    nbformat.write(notebook, r_notebook)
    return built


def command(tool: str, *args: str, course: Course) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", tool, *args], cwd=course.root, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("hw", sorted(REFUSED_BY_BOTH))
def test_what_nbgrader_will_not_release_graders_refuses_in_one_line_naming_the_cause(course, hw):
    theirs = command("nbgrader", "generate_assignment", hw, course=course)
    assert theirs.returncode != 0
    ours = command("graders", "generate", hw, course=course)
    lines = ours.stderr.strip().splitlines()
    assert ours.returncode == 1 and len(lines) == 1, ours.stderr
    assert lines[0].startswith(f"error: nbgrader could not generate {hw}: ") and REFUSED_BY_BOTH[hw][1] in lines[0]


def test_a_notebook_for_another_kernel_than_python_is_refused(course):
    ours = command("graders", "generate", "r_kernel", course=course)
    assert ours.returncode == 1
    assert ours.stderr.strip().splitlines() == [
        "error: r_kernel/r_kernel.ipynb is written for a R kernel: graders grades Python notebooks only"]
    assert not course.path("release", "r_kernel").exists()
