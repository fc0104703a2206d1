import copy
import json

import nbformat
import pytest
from nbgrader.utils import compute_checksum

from graders import cells
from graders.grading.prepare import BadSubmission, prepare, read_submission
from tests.conftest import REPO

SOURCE = REPO / "source" / "hw1_backprop" / "hw1_backprop.ipynb"


@pytest.fixture
def instructor():
    return nbformat.read(SOURCE, as_version=4)


def graded_tests(notebook):
    return {cells.grade_id(c): c for c in notebook.cells if cells.is_autograded_test(c)}


def test_deleted_and_edited_test_cells_come_back_from_the_instructor(instructor):
    submitted = copy.deepcopy(instructor)
    test_cells = [c for c in submitted.cells if cells.is_autograded_test(c)]
    submitted.cells.remove(test_cells[0])
    test_cells[1].source = "pass  # nothing to see"
    test_cells[1].metadata.nbgrader["points"] = 1000
    prepared = prepare(instructor, submitted)
    assert graded_tests(prepared.notebook).keys() == graded_tests(instructor).keys()
    for gid, cell in graded_tests(prepared.notebook).items():
        assert cell.source == graded_tests(instructor)[gid].source
        assert cell.metadata.nbgrader == graded_tests(instructor)[gid].metadata.nbgrader
    assert any("restored" in note for note in prepared.notes)


def test_invented_and_duplicated_grade_ids_lose_their_grading_metadata(instructor):
    submitted = copy.deepcopy(instructor)
    fake = nbformat.v4.new_code_cell("print('free points')")
    fake.metadata["nbgrader"] = {"grade": True, "solution": False, "points": 50, "grade_id": "bonus",
                                 "locked": True, "schema_version": 3}
    solution = next(c for c in submitted.cells if cells.is_solution(c) and c.cell_type == "code")
    twin = copy.deepcopy(solution)
    submitted.cells[1:1] = [fake, twin]
    prepared = prepare(instructor, submitted)
    graded = [cells.grade_id(c) for c in prepared.notebook.cells if cells.is_grade(c)]
    assert "bonus" not in graded
    assert sum(cells.grade_id(c) == cells.grade_id(solution) for c in prepared.notebook.cells) == 1
    assert sum(c.source == solution.source for c in prepared.notebook.cells) == 2


def test_student_cells_keep_their_place_after_the_cell_they_followed(instructor):
    submitted = copy.deepcopy(instructor)
    anchor = next(i for i, c in enumerate(submitted.cells) if cells.is_autograded_test(c))
    submitted.cells.insert(anchor + 1, nbformat.v4.new_code_cell("helper = 1"))
    prepared = prepare(instructor, submitted).notebook
    index = next(i for i, c in enumerate(prepared.cells) if c.source == "helper = 1")
    assert cells.grade_id(prepared.cells[index - 1]) == cells.grade_id(submitted.cells[anchor])


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"{not json", "not valid JSON"),
    (b'{"hello": 1}', "not a Jupyter notebook"),
    (b" " * (21 * 2**20) + b"{}", "too large"),
])
def test_unreadable_submissions_are_refused_with_a_one_line_reason(data, reason):
    with pytest.raises(BadSubmission, match=reason):
        read_submission(data)


def test_an_nbformat_3_notebook_is_converted_and_noted():
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {},
          "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 1", "language": "python",
                                     "outputs": [], "metadata": {}}]}]}
    notebook, notes = read_submission(json.dumps(v3).encode())
    assert notebook.cells[0].source == "x = 1" and notes == ["converted from nbformat 3"]


STUB = "YOUR ANSWER HERE"


def answer_cell(source, grade_id="q", kind="markdown"):
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    return make(source, metadata={"nbgrader": {"grade": True, "solution": True, "locked": False, "points": 2,
                                               "grade_id": grade_id, "schema_version": 3}})


@pytest.fixture
def written():
    """A master with one written answer (its released checksum as the gradebook keeps it) and its release."""
    released = answer_cell(STUB)
    master_cell = answer_cell("The solution.")
    master_cell.metadata.nbgrader["checksum"] = compute_checksum(released)
    return nbformat.v4.new_notebook(cells=[master_cell]), nbformat.v4.new_notebook(cells=[released])


def manual_scores(master, submitted):
    from graders.authoring.keys import NotebookKey
    from graders.contract import Execution
    from graders.grading.submission import judge

    prepared = prepare(master, submitted)
    return [v.score for v in judge(prepared.notebook, NotebookKey("nb", {}), Execution(cells={}))], prepared.notes


def test_an_answer_left_as_released_scores_0_and_any_change_waits_for_a_ta(written):
    master, release = written
    assert manual_scores(master, release)[0] == [0.0]
    for change in ("My answer.", STUB + " ", ""):  # nbgrader's checksum: any change to the text is an answer
        changed = copy.deepcopy(release)
        changed.cells[0].source = change
        assert manual_scores(master, changed)[0] == [None]


def test_a_duplicated_answer_grades_its_last_copy_and_always_waits_for_a_ta(written):
    master, release = written
    twice = copy.deepcopy(release)
    twice.cells.append(copy.deepcopy(release.cells[0]))  # both copies as released: still a person looks
    twice.cells[0].source = "My answer, in the first copy."
    scores, notes = manual_scores(master, twice)
    assert scores == [None] and notes == ["answer cell q appears 2 times: the last copy is graded"]
    prepared = prepare(master, twice).notebook
    assert [cells.grade_id(c) for c in prepared.cells] == [None, "q"]


def test_an_answer_cell_whose_type_the_student_changed_is_graded_as_released(written):
    master, release = written
    as_code = copy.deepcopy(release)
    as_code.cells[0] = nbformat.v4.new_code_cell(STUB, metadata=as_code.cells[0].metadata)
    prepared = prepare(master, as_code).notebook
    assert prepared.cells[0].cell_type == "markdown" and manual_scores(master, as_code)[0] == [0.0]


@pytest.mark.parametrize("version, age", [(2, "an old"), (None, "an old"), (4, "a newer")])
def test_nbgrader_metadata_of_another_schema_is_refused_with_nbgrader_update(written, version, age):
    _, release = written
    if version is None:
        del release.cells[0].metadata.nbgrader["schema_version"]
    else:
        release.cells[0].metadata.nbgrader["schema_version"] = version
    with pytest.raises(BadSubmission, match=f"^{age} nbgrader metadata schema .*nbgrader update"):
        read_submission(nbformat.writes(release).encode())
