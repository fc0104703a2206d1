"""A runaway cell costs its own test only: it is stopped at the homework's `cell_timeout_s`, the later cells still run.

One homework: `square` then `cube`, each with a visible and a hidden probe. Each runaway
student's `square` never returns for a negative input, in its own way: a Python loop, a
retry loop that swallows the interrupt, a sleep, a loop in C code that never checks for
signals. `cube` is right and must score; the job names the cell that timed out.
"""

from __future__ import annotations

import pytest

from graders.grading.verdict import TIMED_OUT_MESSAGE
from graders.hub import feedback, pages
from tests.realworld.conftest import (
    autograde,
    graders,
    homework_course,
    locked,
    markdown,
    probed,
    solution,
    submit_answers,
)

HW = "runaway"
GRADED = {"state": "graded", "timestamp": "2026-11-20 10:00:00.000000 UTC"}  # a status the hub gives
CELL_TIMEOUT_S = 2
# The body of each runaway student's square(x) before `return x * x`.
NEVER_RETURNS = {
    "loops": "while x < 0:\n        pass",
    "swallows_the_interrupt": "while x < 0:\n        try:\n            time.sleep(0.01)\n"
                              "        except BaseException:\n            pass",
    "sleeps": "if x < 0:\n        time.sleep(3600)",
    "stuck_in_c": "if x < 0:\n        collections.deque(itertools.count(), maxlen=0)",
}
IGNORE_THE_INTERRUPT = ("swallows_the_interrupt", "stuck_in_c")
TIMED_OUT_NOTE = f"Cell test_square timed out after {CELL_TIMEOUT_S} s (the limit for one cell) and was stopped."


@pytest.fixture(scope="module")
def graded_run(tmp_path_factory: pytest.TempPathFactory):
    course = homework_course(tmp_path_factory.mktemp("runaway") / "course", HW, [
        markdown("# Squares and cubes"),
        locked("setup", "import collections, itertools, time"),
        solution("square", "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"),
        probed("test_square", 2, "probe('square_3', square(3))\n"
                                 "### BEGIN HIDDEN TESTS\nprobe('square_minus_2', square(-2))\n### END HIDDEN TESTS"),
        solution("cube", "def cube(x):\n    ### BEGIN SOLUTION\n    return x ** 3\n    ### END SOLUTION"),
        probed("test_cube", 3, "probe('cube_2', cube(2))\n"
                               "### BEGIN HIDDEN TESTS\nprobe('cube_minus_3', cube(-3))\n### END HIDDEN TESTS"),
    ], cell_timeout_s=CELL_TIMEOUT_S, timeout_s=40, preload=[])
    for student, body in NEVER_RETURNS.items():
        submit_answers(course, HW, student, {"square": f"def square(x):\n    {body}\n    return x * x"})
    submit_answers(course, HW, "correct")
    return autograde(course, HW)


@pytest.mark.parametrize("student", NEVER_RETURNS)
def test_the_cells_after_a_runaway_cell_still_run_and_score(graded_run, student):
    job = graded_run.jobs[student]
    assert (job.state, job.reason) == ("done", None)
    assert graded_run.score(student, "test_cube") == 3
    assert job.score == 3 and job.max_score == 5  # test_square: 0, though square(3) came before square(-2) hung
    assert len(graded_run.attempts[student]) == 1  # stopped, not retried


@pytest.mark.parametrize("student", NEVER_RETURNS)
def test_the_timed_out_cell_scores_zero_and_says_why(graded_run, student):
    verdict = graded_run.cell(student, "test_square").metadata["graders"]
    assert verdict["score"] == 0  # even the probe it emitted before it ran away
    assert [(t["name"], t["passed"], t["message"]) for t in verdict["tests"]] == [
        (name, False, f"not produced: {TIMED_OUT_MESSAGE}") for name in ("square_3", "square_minus_2")]
    errors = [o for o in graded_run.cell(student, "test_square").outputs if o.output_type == "error"]
    assert [(e.ename, e.evalue) for e in errors] == [("CellTimeoutError", f"cell timed out after {CELL_TIMEOUT_S} s")]


@pytest.mark.parametrize("student", NEVER_RETURNS)
def test_the_job_record_names_the_cell_that_timed_out(graded_run, student):
    notes = graded_run.jobs[student].notes
    assert notes[0] == TIMED_OUT_NOTE
    assert graded_run.notebook(student).metadata["graders"]["notes"] == notes


@pytest.mark.parametrize("student", IGNORE_THE_INTERRUPT)
def test_a_cell_that_ignores_its_interrupt_ends_with_its_fork_and_the_cells_before_it_run_again(graded_run, student):
    assert graded_run.jobs[student].notes[1:] == [
        ("Cell test_square did not stop when interrupted, so its sandbox was restarted: the 2 cells before it ran "
        "again (their first results stand), then the cells after it.")]


def test_an_interrupted_cell_needs_no_restart(graded_run):
    for student in set(NEVER_RETURNS) - set(IGNORE_THE_INTERRUPT):
        assert graded_run.jobs[student].notes == [TIMED_OUT_NOTE]


def test_a_correct_notebook_is_untouched_by_the_limit(graded_run):
    job = graded_run.jobs["correct"]
    assert (job.state, job.score, job.notes) == ("done", 5, [])


def test_graders_status_and_the_feedback_show_the_timed_out_cell(graded_run):
    status = graders(graded_run.course, "status", HW)
    assert status.returncode == 0
    assert "Cell test_square timed out after 2 s" in " ".join(status.stdout.split())
    path = graded_run.course.autograded_dir("loops", HW) / f"{HW}.ipynb"
    shown = feedback.build(path)
    assert shown["notes"] == [TIMED_OUT_NOTE]
    assert TIMED_OUT_NOTE in pages.feedback_page(HW, [shown], GRADED, "en")
