"""No output can end grading: every kind of output is kept within a limit per cell and per notebook.

One homework: a `show` cell where the student displays what they like, then `double`
and `triple` with their tests. Each student shows too much of one kind (16 large
matplotlib images, huge HTML and JSON, thousands of display updates and a live plot,
output spread over many cells) or sends what the wire cannot carry (a huge probe
value, a raw oversized message). What is over a limit is left out with a note in the
graded notebook and in the job's notes; the tests after it still score.
"""

from __future__ import annotations

import pytest

from graders.hub import feedback, pages
from graders.sandbox import wire
from tests.realworld.conftest import autograde, graders, homework_course, locked, probed, solution, submit_answers

HW = "outputs"
GRADED = {"state": "graded", "timestamp": "2026-11-20 10:00:00.000000 UTC"}  # a status the hub gives
SHOW = {
    "images": "for seed in range(16):\n"
              "    figure = plt.figure(figsize=(10, 10), dpi=100)\n"
              "    noise = np.random.default_rng(seed).random((1000, 1000, 3))\n"
              "    figure.add_axes([0, 0, 1, 1]).imshow(noise, interpolation='nearest')\n"
              "    plt.show()",
    "html_and_json": "display(HTML('<pre>' + 'x' * (24 << 20) + '</pre>'))\n"
                     "display(JSON({'values': list(range(4_000_000))}))",
    "updates": "progress = display(HTML('starting'), display_id=True)\n"
               "for step in range(3000):\n"
               "    progress.update(HTML(f'<b>step {step}</b>' + '.' * 12_000))",
}
LIVE_PLOT = "for step in range(20):\n    clear_output(wait=True)\n    plt.plot(range(step + 2))\n    plt.show()"
MANY_CELLS = [f"display(HTML('<p>{cell}</p>' + 'y' * 2_000_000))" for cell in range(10)]
HUGE_PROBE = "def double(x):\n    return [np.random.default_rng(0).random(1_000_000)] * 3"
RAW_FRAME = """import os, socket, struct
for fd in range(3, 64):
    try:
        if os.readlink(f'/proc/self/fd/{fd}').startswith('socket:'):
            socket.socket(fileno=os.dup(fd)).sendall(struct.pack('>I', 100 << 20) + b'{')
    except OSError:
        pass"""


@pytest.fixture(scope="module")
def graded_run(tmp_path_factory: pytest.TempPathFactory):
    course = homework_course(tmp_path_factory.mktemp("outputs") / "course", HW, [
        locked("setup", "import numpy as np\nimport matplotlib.pyplot as plt\n"
                      "from IPython.display import HTML, JSON, clear_output, display"),
        solution("show", "### BEGIN SOLUTION\nplt.plot([0, 1], [0, 1])\nplt.show()\n### END SOLUTION"),
        solution("double", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
        probed("test_double", 2, "probe('double_21', double(21))"),
        solution("triple", "def triple(x):\n    ### BEGIN SOLUTION\n    return 3 * x\n    ### END SOLUTION"),
        probed("test_triple", 2, "probe('triple_5', triple(5))"),
    ], cell_timeout_s=300, timeout_s=900, preload=["numpy", "matplotlib.pyplot"])  # a loaded machine is slow
    for student, source in SHOW.items():
        submit_answers(course, HW, student, {"show": source},
                       after={"show": [LIVE_PLOT]} if student == "updates" else {})
    submit_answers(course, HW, "many_cells", after={"show": MANY_CELLS})
    submit_answers(course, HW, "huge_probe", {"double": HUGE_PROBE})
    submit_answers(course, HW, "raw_frame", {"show": RAW_FRAME})
    submit_answers(course, HW, "correct")
    return autograde(course, HW)


def _notes(graded_run, student) -> list[str]:
    notes = graded_run.jobs[student].notes
    assert graded_run.notebook(student).metadata["graders"]["notes"] == notes  # what the feedback shows
    return notes


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.mark.parametrize("student", [*SHOW, "many_cells"])
def test_the_tests_after_too_much_output_still_score(graded_run, student):
    job = graded_run.jobs[student]
    assert (job.state, job.reason, job.score, job.max_score) == ("done", None, 4, 4)


@pytest.mark.parametrize("student, left_out", [
    ("images", "16 outputs (image/png)"),
    ("html_and_json", "2 outputs (application/json, text/html)"),
])
def test_outputs_over_the_cell_limit_are_left_out_with_a_note(graded_run, student, left_out):
    show = graded_run.cell(student, "show")
    assert f"[output limit: {left_out} left out here; a cell keeps at most 2 MiB of output]" in _text(show)
    assert not any(o.output_type == "display_data" for o in show.outputs)
    assert _notes(graded_run, student) == [
        f"Cell show produced more output than the 2 MiB a cell keeps: {left_out} were left out of the graded notebook."]
    path = graded_run.course.autograded_dir(student, HW) / f"{HW}.ipynb"
    assert path.stat().st_size < wire.MAX_CELL_OUTPUT_BYTES


def test_display_updates_change_their_output_in_place_as_in_jupyter(graded_run):
    show, live_plot = [c for c in graded_run.notebook("updates").cells if c.cell_type == "code"][1:3]
    [progress] = show.outputs
    assert progress.data["text/html"].startswith("<b>step 2999</b>")
    [last_figure] = live_plot.outputs  # each clear_output(wait=True) removed the figure before
    assert "image/png" in last_figure.data
    assert _notes(graded_run, "updates") == []


def test_output_over_the_notebook_limit_is_left_out_from_the_cell_that_reaches_it(graded_run):
    notes = _notes(graded_run, "many_cells")
    assert len(notes) == 1
    assert notes[0].startswith("The notebook produced more output than the 16 MiB it keeps: from cell")
    extra = [cell for cell in graded_run.notebook("many_cells").cells if cell.source in MANY_CELLS]
    kept = [c for c in extra if any(o.output_type == "display_data" for o in c.outputs)]
    capped = [c for c in extra if _text(c) == "\n[output limit: 1 output (text/html) left out here; "
                                              "a notebook keeps at most 16 MiB of output]\n"]
    assert (len(kept), len(capped)) == (8, 2)  # 2 MB each: the 9th would pass 16 MiB
    path = graded_run.course.autograded_dir("many_cells", HW) / f"{HW}.ipynb"
    assert path.stat().st_size < wire.MAX_NOTEBOOK_OUTPUT_BYTES + (1 << 20)


def test_a_probe_value_too_large_for_the_wire_fails_its_own_test_only(graded_run):
    job = graded_run.jobs["huge_probe"]
    assert (job.state, job.reason, job.score) == ("done", None, 2)
    assert graded_run.score("huge_probe", "test_triple") == 2
    [test] = graded_run.cell("huge_probe", "test_double").metadata["graders"]["tests"]
    assert not test["passed"]
    assert test["message"].startswith("not produced: ValueTooLarge: probe 'double_21': a message of ")
    assert test["message"].endswith(" MiB is over the 32 MiB limit")


def test_an_oversized_message_is_a_grader_side_reason_not_a_dead_kernel(graded_run):
    job = graded_run.jobs["raw_frame"]
    assert job.state == "failed"
    assert job.reason == "output too large for the grader: a message of 100.0 MiB is over the 32 MiB limit"
    assert [a.reason for a in graded_run.attempts["raw_frame"]] == [job.reason]  # a verdict, not retried


def test_a_correct_notebook_keeps_its_plot(graded_run):
    job = graded_run.jobs["correct"]
    assert (job.state, job.score, job.notes) == ("done", 4, [])
    assert any("image/png" in o.get("data", {}) for o in graded_run.cell("correct", "show").outputs)


def test_graders_status_and_the_feedback_show_what_was_left_out(graded_run):
    status = graders(graded_run.course, "status", HW)
    assert status.returncode == 0
    assert "Cell show produced more output than the 2 MiB a cell keeps" in " ".join(status.stdout.split())
    shown = feedback.build(graded_run.course.autograded_dir("images", HW) / f"{HW}.ipynb")
    assert shown["notes"] == graded_run.jobs["images"].notes
    assert "16 outputs (image/png) were left out" in pages.feedback_page(HW, [shown], GRADED, "en")
