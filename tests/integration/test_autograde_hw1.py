"""HW1 graded end to end like a TA would: a class with honest, partial, crashing and cheating
students, real bubblewrap sandboxes, real Dask workers, a real SQLite gradebook."""

from __future__ import annotations

import nbformat
import pandas as pd
import pytest
from nbgrader.api import Gradebook

from graders.authoring.validate import load_mutants, mutate
from graders.grading.autograde import autograde
from graders.reports.export import write_report
from graders.store import Store
from tests.helpers import release_notebook, solved_notebook, submit, with_cell_after

HW = "hw1_backprop"

NOISY = "import sys, warnings\nwarnings.warn('deprecated thing')\nprint('debug output', file=sys.stderr)"
# Cheats that decide-inside-the-kernel graders fall for: make every comparison true, hide errors.
PATCH_ALLCLOSE = """
import torch, numpy, sys
torch.allclose = lambda *a, **k: True
numpy.allclose = lambda *a, **k: True
get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)
sys.excepthook = lambda *a: None
"""
# Rewrite every later cell (the hidden tests included) before it runs.
REWRITE_LATER_CELLS = """
ip = get_ipython()
ip.input_transformers_cleanup.append(lambda lines: ["pass\\n"])
"""


@pytest.fixture(scope="module")
def graded_class(hw1_generated, tmp_path_factory):
    from tests.conftest import copy_course

    course = copy_course(hw1_generated, tmp_path_factory.mktemp("class") / "course")
    solved = solved_notebook(course, HW)
    wrong = mutate(solved, load_mutants(course, HW)[1])
    submit(course, "alice", HW, solved)
    submit(course, "bob", HW, with_cell_after(solved, "mlp", NOISY))
    submit(course, "eve", HW, wrong)
    submit(course, "carol", HW, with_cell_after(wrong, "mlp", PATCH_ALLCLOSE))
    submit(course, "dave", HW, with_cell_after(solved, "setup_torch", REWRITE_LATER_CELLS))
    submit(course, "frank", HW, with_cell_after(solved, "setup_torch", "import os\nos._exit(1)"))
    submit(course, "grace", HW, release_notebook(course, HW))
    submit(course, "oscar", HW, with_cell_after(solved, "np_sgd", "def predict(params, X):\n    return y_test"))
    submit(course, "mallory", HW, b"{this is not a notebook")
    outcomes = autograde(course, HW, workers=2)
    return course, {o.student: o for o in outcomes}


def test_a_correct_solution_earns_every_autograded_point(graded_class):
    _, outcomes = graded_class
    alice = outcomes["alice"]
    assert alice.state == "done" and alice.score == alice.max_score == 100


def test_warnings_and_stderr_output_never_cost_points(graded_class):
    _, outcomes = graded_class
    assert outcomes["bob"].score == outcomes["alice"].score


def test_a_known_wrong_solution_loses_points_and_a_blank_one_earns_none(graded_class):
    _, outcomes = graded_class
    assert 0 < outcomes["eve"].score < outcomes["eve"].max_score
    assert outcomes["grace"].score == 0


def test_patching_allclose_and_swallowing_exceptions_gains_nothing(graded_class):
    _, outcomes = graded_class
    assert outcomes["carol"].score == outcomes["eve"].score


def test_rewriting_later_cells_gains_nothing(graded_class):
    _, outcomes = graded_class
    assert outcomes["dave"].score == 0


def test_predicting_the_visible_labels_earns_nothing_on_the_hidden_split(graded_class):
    course, outcomes = graded_class
    notebook = nbformat.read(course.autograded_dir("oscar", HW) / f"{HW}.ipynb", as_version=4)
    [train] = [c.metadata["graders"] for c in notebook.cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == "test_np_train"]
    tests = {test["name"]: test["passed"] for test in train["tests"]}
    assert tests.pop("np_hidden_predictions") is False and all(tests.values())  # the rest of train is right
    assert outcomes["oscar"].score == pytest.approx(outcomes["alice"].score - (train["max_points"] - train["score"]))


def test_a_kernel_that_exits_is_a_failed_attempt_with_its_reason_not_a_silent_zero(graded_class):
    _, outcomes = graded_class
    frank = outcomes["frank"]
    assert frank.state == "failed" and frank.reason == "kernel died (exit code 1)"


def test_an_unreadable_notebook_fails_alone_with_its_reason(graded_class):
    _, outcomes = graded_class
    assert outcomes["mallory"].state == "failed"
    assert outcomes["mallory"].reason.startswith("not valid JSON")
    assert outcomes["alice"].state == "done"


def test_scores_are_readable_with_nbgrader_gradebook_and_manual_questions_wait_for_a_person(graded_class):
    course, outcomes = graded_class
    with Gradebook(course.db_url, course.course_id) as gradebook:
        submission = gradebook.find_submission(HW, "alice")
        assert submission.code_score == outcomes["alice"].score
        manual = [g for nb in submission.notebooks for g in nb.grades if g.cell_type == "markdown"]
        assert len(manual) >= 2 and all(g.needs_manual_grade and g.auto_score is None for g in manual)
        assert gradebook.find_submission(HW, "eve").code_score == outcomes["eve"].score


def test_every_attempt_is_recorded_with_runner_device_and_timings(graded_class):
    course, _ = graded_class
    from sqlalchemy import select

    from graders.store.models import Attempt, Job

    store = Store(course.db_url, course.course_id)
    with store.session() as session:
        attempts = session.execute(select(Job.student, Attempt).join(Attempt)).all()
    store.close()
    by_student = {student: attempt for student, attempt in attempts}
    assert by_student["alice"].state == "done" and by_student["alice"].device == "cpu"
    assert by_student["alice"].sandbox == "bubblewrap" and by_student["alice"].cpu_s > 0
    assert by_student["frank"].state == "failed" and by_student["frank"].exit_code == 1


def test_the_autograded_notebook_keeps_outputs_and_per_test_verdicts(graded_class):
    course, _ = graded_class
    notebook = nbformat.read(course.autograded_dir("eve", HW) / f"{HW}.ipynb", as_version=4)
    verdicts = [c.metadata["graders"] for c in notebook.cells if "graders" in c.metadata]
    assert any(t["passed"] is False for v in verdicts for t in v.get("tests", []))
    assert any(c.get("outputs") for c in notebook.cells if c.cell_type == "code")


def test_csv_report_has_a_row_per_student_and_a_column_per_question(graded_class, tmp_path):
    course, outcomes = graded_class
    store = Store(course.db_url, course.course_id)
    path = write_report(store, HW, "csv", tmp_path)
    store.close()
    table = pd.read_csv(path).set_index("student")
    assert {f"{HW}:test_forward", f"{HW}:q_backprop", "raw_score", "late_penalty", "needs_manual",
            "status"} <= set(table.columns)
    assert table.loc["alice", f"{HW}:test_forward"] > 0
    assert table.loc["frank", "status"] == "failed: kernel died (exit code 1)"
    assert table.loc["alice", "status"] == "needs manual"


def test_a_second_run_skips_unchanged_submissions_and_regrades_a_resubmission(graded_class):
    course, outcomes = graded_class
    submit(course, "eve", HW, solved_notebook(course, HW))
    again = {o.student: o for o in autograde(course, HW, workers=1)}
    assert {s for s, o in again.items() if o.state != "skipped"} == {"eve"}
    assert again["eve"].score == outcomes["alice"].score
