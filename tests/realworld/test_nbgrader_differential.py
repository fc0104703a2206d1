"""Plain nbgrader homeworks graded twice, by `nbgrader autograde` 0.9.6 and by `graders autograde`, cell for cell.

One small course is built twice from the same Python definitions; each copy is released and graded
by its own tool through its real command line (graders: in the bubblewrap sandbox), with the same
submissions, and every grade is read back from each gradebook with nbgrader's own API:
(auto score, max score, needs manual grade) per cell, and the late penalty per notebook.
Where the two differ on purpose, the test says so and docs/COMPATIBILITY.md says why.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat
import nbgrader
import pytest
from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry

from graders import cells
from graders.authoring.demo import fill_solutions
from graders.course import Course
from tests.helpers import records
from tests.realworld.conftest import (
    FAST_HOMEWORK,
    add_homework,
    autograded,
    hand_in,
    locked,
    manual,
    markdown,
    new_course,
    solution,
    task,
    write_file,
)

# The autotest templates nbgrader documents (it ships no default): a course copies them to its root.
AUTOTESTS = Path(nbgrader.__file__).parent / "docs" / "source" / "user_guide" / "autotests.yml"
DUE = datetime(2030, 1, 2)
LATE = "2030-01-03 12:00:00.000000 UTC"
# Both tools read the same config: nbgrader's late-penalty method and IgnorePattern.
CONFIG = """
c.LateSubmissionPlugin.penalty_method = "zero"
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = "harmless warning"
"""

SQUARES = [
    markdown("# Squares"),
    locked("setup", "import os\nFACTOR = 2"),
    solution("square", "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"),
    autograded("test_square", "assert square(3) == 9\n### BEGIN HIDDEN TESTS\nassert square(-2) == 4\n"
                              "### END HIDDEN TESTS", 1),
    autograded("test_partial", "score = 0\nfor x in (1, 2, 4):\n    score += square(x) == x * x\nscore", 3),
    manual("explain", "### BEGIN SOLUTION\nBecause squares grow.\n### END SOLUTION", 2),
    manual("plot", "### BEGIN SOLUTION\nprint('a plot')\n### END SOLUTION", 2, kind="code"),
    solution("value", "### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION"),
    autograded("test_auto", "### AUTOTEST answer", 2),
    autograded("test_hashed", "### HASHED AUTOTEST answer", 2),
    task("essay", "Write two lines about squares in your own notebook.", 1),
    autograded("test_factor", "assert FACTOR * square(2) == 8", 1),
    autograded("test_data", "with open('data/side.txt') as f:\n    side = int(f.read())\nassert square(side) == 9", 1),
]
PART1 = [
    solution("double", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
    autograded("test_double", "assert double(4) == 8", 2),
]
PART2 = [
    solution("half", "def half(x):\n    ### BEGIN SOLUTION\n    return x / 2\n    ### END SOLUTION"),
    autograded("test_half", "assert half(4) == 2", 1),
    manual("why", "### BEGIN SOLUTION\nIt is fast.\n### END SOLUTION", 2),
    task("tidy", "Keep the notebook tidy.", 1),
]
TRAINING = [
    nbformat.v4.new_code_cell("import os\n"  # a notebook skips its slow training while graded
                              "SLOW = os.environ.get('NBGRADER_EXECUTION') != 'autograde'"),
    autograded("test_graded_quickly", "assert not SLOW", 1),
]
HOMEWORKS = {"hw_squares": {"squares": SQUARES}, "hw_parts": {"part1": PART1, "part2": PART2},
             "hw_training": {"training": TRAINING}, "hw_legacy": {"legacy": PART2}}
FILES = {"hw_squares": {"data/side.txt": "3\n"}}  # read from the notebook's folder


def _cell(nb, grade_id):  # noqa: ANN001, ANN202
    return next(c for c in nb.cells if cells.grade_id(c) == grade_id)


def edited(nb, **sources: str):  # noqa: ANN001, ANN201
    """A copy of `nb` with the cells of these grade ids rewritten."""
    nb = copy.deepcopy(nb)
    for grade_id, source in sources.items():
        _cell(nb, grade_id).source = source
    return nb


def without(nb, *grade_ids: str):  # noqa: ANN001, ANN201
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if cells.grade_id(c) not in grade_ids]
    return nb


@dataclass
class Graded:
    """Both gradebooks, read back: (hw, student, notebook, grade id) -> (auto score, max score, needs manual),
    and (hw, student, notebook, "late penalty") -> penalty; every command run: (tool, command, hw) -> its result."""

    course: Course  # graders' copy
    graders: dict
    nbgrader: dict
    runs: dict[tuple[str, str, str], subprocess.CompletedProcess]

    def cells(self, hw: str, student: str) -> tuple[dict, dict]:
        """(ours, nbgrader's) grades of one student: (notebook, grade id or "late penalty") -> value."""
        for (tool, command, name), result in self.runs.items():
            assert name != hw or result.returncode == 0, f"{tool} {command} {hw}: {result.stderr[-3000:]}"
        return self.unchecked_cells(hw, student)

    def unchecked_cells(self, hw: str, student: str) -> tuple[dict, dict]:
        pick = lambda grades: {k[2:]: v for k, v in grades.items() if k[:2] == (hw, student)}  # noqa: E731
        return pick(self.graders), pick(self.nbgrader)


def run(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", tool, *args], cwd=cwd, capture_output=True, text=True, timeout=900)


def read_grades(course: Course, homeworks: list[str]) -> dict:
    grades = {}
    with Gradebook(course.db_url, course.course_id) as gradebook:
        for hw in homeworks:
            try:
                submissions = gradebook.find_assignment(hw).submissions
            except MissingEntry:  # not even released: its tests fail with the reason
                continue
            for submission in submissions:
                for nb in submission.notebooks:
                    grades[hw, submission.student_id, nb.name, "late penalty"] = nb.late_submission_penalty
                    for grade in nb.grades:
                        grades[hw, submission.student_id, nb.name, grade.name] = (
                            grade.auto_score, grade.max_score, grade.needs_manual_grade)
    return grades


def in_schema(nb, version: int):  # noqa: ANN001, ANN201
    """`nb` as an older nbgrader released it: its cells' metadata in schema `version`."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if "nbgrader" in cell.metadata:
            cell.metadata.nbgrader["schema_version"] = version
    return nb


def course(root: Path) -> Course:
    """The course, as its instructor wrote it (both tools get their own copy)."""
    built = new_course(root, CONFIG)
    for hw, notebooks in HOMEWORKS.items():
        add_homework(built, hw, notebooks, FAST_HOMEWORK, FILES.get(hw))
    write_file(built.path("autotests.yml"), AUTOTESTS.read_text())
    return built


@pytest.fixture(scope="module")
def gradebooks(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    base = tmp_path_factory.mktemp("differential")
    ours, theirs = course(base / "graders"), course(base / "nbgrader")
    runs = {}
    for hw in HOMEWORKS:
        for tool, built, command in (("graders", ours, "generate"), ("nbgrader", theirs, "generate_assignment")):
            runs[tool, "generate", hw] = run(tool, command, hw, cwd=built.root)
        for built in (ours, theirs):  # a due date set nbgrader's own way: in the gradebook
            with Gradebook(built.db_url, built.course_id) as gradebook:
                gradebook.update_or_create_assignment(hw, duedate=DUE)

    def release(hw: str, name: str, solutions: list[NotebookNode] | None = None) -> NotebookNode:
        released = nbformat.read(theirs.path("release", hw, f"{name}.ipynb"), as_version=4)
        return fill_solutions(released, nbformat.v4.new_notebook(cells=solutions)) if solutions else released

    squares, solved = release("hw_squares", "squares"), release("hw_squares", "squares", SQUARES)
    part1, part2 = release("hw_parts", "part1", PART1), release("hw_parts", "part2", PART2)
    students = {
        ("hw_squares", "blank"): {"squares": squares},
        ("hw_squares", "solved"): {"squares": solved},
        ("hw_squares", "answered"): {"squares": edited(squares, explain="Because x * x.", plot="print('my plot')")},
        ("hw_squares", "partial"): {"squares": edited(solved, square="def square(x):\n"
                                                                     "    return x * x if x < 3 else 0")},
        ("hw_squares", "hidden"): {"squares": edited(solved, square="def square(x):\n    return x * abs(x)")},
        ("hw_squares", "tampered"): {"squares": edited(squares, setup="import os\nFACTOR = 4", test_square="pass",
                                                       test_auto="pass")},
        ("hw_squares", "noisy"): {"squares": edited(solved, square=(
            "import sys\ndef square(x):\n    print('debug', file=sys.stderr)\n    return x * x"))},
        ("hw_squares", "warned"): {"squares": edited(solved, square=(
            "import sys\ndef square(x):\n    print('a harmless warning', file=sys.stderr)\n    return x * x"))},
        ("hw_squares", "deleted"): {"squares": without(solved, "test_square", "test_auto")},
        ("hw_parts", "both"): {"part1": part1, "part2": part2},
        ("hw_parts", "missing"): {"part1": part1},
        ("hw_training", "trainer"): {"training": release("hw_training", "training")},
        ("hw_legacy", "current"): {"legacy": release("hw_legacy", "legacy", PART2)},
        ("hw_legacy", "legacy"): {"legacy": in_schema(release("hw_legacy", "legacy", PART2), 2)},
        ("hw_legacy", "garbled"): {"legacy": b""},
    }
    for built in (ours, theirs):
        for (hw, student), notebooks in students.items():
            hand_in(built, student, hw, notebooks)
        hand_in(built, "late", "hw_squares", {"squares": solved}, timestamp=LATE)

    for hw in HOMEWORKS:
        if all(runs[tool, "generate", hw].returncode == 0 for tool in ("graders", "nbgrader")):
            runs["graders", "autograde", hw] = run("graders", "autograde", hw, "--workers", "1", cwd=ours.root)
            runs["nbgrader", "autograde", hw] = run("nbgrader", "autograde", hw, cwd=theirs.root)
    return Graded(ours, read_grades(ours, list(HOMEWORKS)), read_grades(theirs, list(HOMEWORKS)), runs)


@pytest.mark.parametrize("hw, student", [
    pytest.param("hw_squares", "blank", id="a blank submission"),
    pytest.param("hw_squares", "answered", id="written answers, code left blank"),
    pytest.param("hw_squares", "solved", id="a correct solution"),
    pytest.param("hw_squares", "partial", id="a test cell ending with a number: partial credit"),
    pytest.param("hw_squares", "hidden", id="wrong only on the hidden tests"),
    pytest.param("hw_squares", "tampered", id="edited locked and test cells"),
    pytest.param("hw_squares", "noisy", id="stderr in test cells"),
    pytest.param("hw_squares", "warned", id="stderr matched by IgnorePattern"),
    pytest.param("hw_squares", "late", id="a late submission"),
    pytest.param("hw_training", "trainer", id="code that tests NBGRADER_EXECUTION"),
    pytest.param("hw_parts", "both", id="several notebooks"),
    pytest.param("hw_parts", "missing", id="a missing notebook"),
])
def test_graded_cell_for_cell_as_nbgrader_grades_it(gradebooks, hw, student):
    ours, theirs = gradebooks.cells(hw, student)
    assert theirs, f"nbgrader graded nothing for {student}"
    assert ours == theirs


def test_what_the_same_grades_are(gradebooks):
    """The values both tools agree on, for the cases where agreeing on a wrong value would hide a fault."""
    blank, _ = gradebooks.cells("hw_squares", "blank")
    assert blank["squares", "explain"] == blank["squares", "plot"] == (0.0, 2.0, False)
    assert blank["squares", "test_auto"] == blank["squares", "test_hashed"] == (0.0, 2.0, False)
    assert gradebooks.cells("hw_squares", "answered")[0]["squares", "explain"] == (None, 2.0, True)
    assert gradebooks.cells("hw_squares", "partial")[0]["squares", "test_partial"] == (2.0, 3.0, False)
    assert gradebooks.cells("hw_squares", "solved")[0]["squares", "test_data"] == (1.0, 1.0, False)  # data/side.txt
    assert gradebooks.cells("hw_squares", "late")[0]["squares", "late penalty"] == 10.0  # "zero": all 10 points
    assert gradebooks.cells("hw_training", "trainer")[0]["training", "test_graded_quickly"] == (1.0, 1.0, False)
    missing, _ = gradebooks.cells("hw_parts", "missing")
    assert missing["part2", "why"] == (0.0, 2.0, False) and missing["part2", "tidy"] == (0.0, 1.0, False)


def test_deleted_test_cells_run_where_nbgrader_leaves_them_for_a_ta(gradebooks):
    """Deliberately different (docs/COMPATIBILITY.md): graders puts deleted test cells back and runs them;
    nbgrader, unless `OverwriteCells.add_missing_cells`, leaves their grade empty and flagged for manual grading."""
    ours, theirs = gradebooks.cells("hw_squares", "deleted")
    for cell in (("squares", "test_square"), ("squares", "test_auto")):
        assert theirs[cell] == (None, ours[cell][1], True)
        assert ours[cell] == (ours[cell][1], ours[cell][1], False)
    rest = {k: v for k, v in ours.items() if k[1] not in ("test_square", "test_auto")}
    assert rest == {k: v for k, v in theirs.items() if k in rest}


def test_a_submission_in_an_old_metadata_schema_is_refused_and_says_to_run_nbgrader_update(gradebooks):
    """nbgrader's autograde stops the whole run at such a notebook (the students after it stay ungraded);
    graders fails that notebook alone with nbgrader's advice, and grades the others (docs/COMPATIBILITY.md)."""
    theirs = gradebooks.runs["nbgrader", "autograde", "hw_legacy"]
    assert theirs.returncode != 0 and "nbgrader update" in theirs.stderr
    assert gradebooks.runs["graders", "autograde", "hw_legacy"].returncode == 0
    jobs, _ = records(gradebooks.course)
    assert "nbgrader update" in jobs["legacy"][-1].reason and jobs["legacy"][-1].state == "failed"
    ours, _ = gradebooks.unchecked_cells("hw_legacy", "legacy")
    assert ours == {("legacy", "late penalty"): None, ("legacy", "test_half"): (0.0, 1.0, False),
                    ("legacy", "why"): (0.0, 2.0, False), ("legacy", "tidy"): (0.0, 1.0, False)}
    ours, theirs = gradebooks.unchecked_cells("hw_legacy", "current")  # graded before nbgrader stopped
    assert ours == theirs and ours["legacy", "test_half"] == (1.0, 1.0, False)


def test_an_empty_notebook_scores_0_everywhere_and_leaves_nothing_for_a_ta(gradebooks):
    """nbgrader fails on it and records nothing (its grades wait for a TA); graders scores it as nbgrader scores
    a missing notebook, with the reason on the job (docs/COMPATIBILITY.md)."""
    ours, theirs = gradebooks.unchecked_cells("hw_legacy", "garbled")
    assert ours == {("legacy", "late penalty"): None, ("legacy", "test_half"): (0.0, 1.0, False),
                    ("legacy", "why"): (0.0, 2.0, False), ("legacy", "tidy"): (0.0, 1.0, False)}
    assert {v for k, v in theirs.items() if k[1] != "late penalty"} == {(None, 1.0, True), (None, 2.0, True)}
    jobs, _ = records(gradebooks.course)
    assert jobs["garbled"][-1].state == "failed" and jobs["garbled"][-1].reason == "empty notebook file"
