"""Student files are never silently dropped (#13 item 3).

Students hand in trained weights beside the notebook, which loads them. A file within the homework's
limits reaches the sandbox (a 6.1 MiB one too, which used to vanish); one over the per-file limit or
over the total is left out with a note that the job records, `graders status` shows and the
student's feedback carries. Handed in through the hub (the Assignments tab's Submit), the files
beside the notebook travel too (they used to stay behind: only notebooks were sent). The files are
made with numpy at test time.
"""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pytest
from nbgrader.coursedir import CourseDirectory

from graders.authoring.demo import fill_solutions
from graders.authoring.source import instructor_notebook
from graders.course import Course
from graders.hub import feedback
from graders.hub.exchange import submission_files
from graders.hub.service import Exchange, GradingQueue
from tests.helpers import release_notebook, submit
from tests.realworld.conftest import (
    add_homework,
    autograded,
    graders,
    latest_job,
    locked,
    new_course,
    solution,
    write_file,
)

HW = "hw_weights"
ROWS, COLS = 1000, 800  # float64: 6.4 MB (6.1 MiB)
CELLS = [
    locked("setup", "import numpy as np"),
    solution("model", "### BEGIN SOLUTION\nW = np.linspace(1.0, 2.0, 1000 * 800).reshape(1000, 800)\n"
                      "### END SOLUTION"),
    autograded("test_model", "from graders.probes import probe\nprobe('prediction', np.linspace(0.0, 1.0, 1000) @ W)\n"
                             "### BEGIN HIDDEN TESTS\nprobe('corner', W[:2, :2])\n### END HIDDEN TESTS", points=2),
]
SETTINGS = 'preload = ["numpy"]\nextra_file_mb = 8\nextra_files_total_mb = 10\n'
WEIGHTS = np.linspace(1.0, 2.0, ROWS * COLS).reshape(ROWS, COLS)
LOADS = {"una": "W = np.load('weights.npy')",  # 6.1 MiB: within the 8 MB limit
         "olga": "W = np.load('checkpoint.npy')[:1000]",  # 8.5 MiB: over the limit for one file
         "tess": "W = np.load('weights.npy')"}  # 6.1 MiB, after two 4 MiB logs: over the 10 MB total


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    course = new_course(tmp_path_factory.mktemp("student-files") / "course")
    add_homework(course, HW, CELLS, settings=SETTINGS)
    generated = graders(course, "generate", HW)
    assert generated.returncode == 0, generated.stderr
    files = {"una": {"weights.npy": _npy(WEIGHTS)},
             "olga": {"checkpoint.npy": _npy(np.vstack([WEIGHTS, WEIGHTS[:400]]))},
             "tess": {"a_log.npy": _npy(np.zeros(1 << 19)), "b_log.npy": _npy(np.zeros(1 << 19)),
                      "weights.npy": _npy(WEIGHTS)}}
    instructor = instructor_notebook(course, HW, HW)
    for student, load in LOADS.items():
        notebook = fill_solutions(release_notebook(course, HW), instructor)
        next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "model").source = load
        submit(course, student, HW, notebook)
        for name, content in files[student].items():
            write_file(course.submission_dir(student, HW) / name, content)
    return SimpleNamespace(course=course, command=graders(course, "autograde", HW, "--workers", "1"),
                           status=graders(course, "status", HW))


def _feedback_notes(course: Course, student: str) -> list[str]:
    return feedback.build(course.autograded_dir(student, HW) / f"{HW}.ipynb")["notes"]


def test_a_file_within_the_limit_reaches_the_sandbox(graded: SimpleNamespace) -> None:
    assert graded.command.returncode == 0, graded.command.stderr
    job = latest_job(graded.course, "una")
    assert (job.state, job.score, job.max_score, job.notes) == ("done", 2, 2, [])


def test_a_file_over_the_limit_is_left_out_with_a_note_for_the_ta_and_the_student(graded: SimpleNamespace) -> None:
    note = "checkpoint.npy (8.5 MB) not provided to the grader: limit 8 MB per file"
    job = latest_job(graded.course, "olga")
    assert (job.score, job.notes) == (0, [note])
    assert note in graded.status.stdout
    assert _feedback_notes(graded.course, "olga") == [note]


def test_files_over_the_total_are_left_out_with_a_note(graded: SimpleNamespace) -> None:
    note = "weights.npy (6.1 MB) not provided to the grader: limit 10 MB for all of a student's files together"
    job = latest_job(graded.course, "tess")
    assert (job.score, job.notes) == (0, [note])
    assert note in graded.status.stdout
    assert _feedback_notes(graded.course, "tess") == [note]
    output = "".join(o.get("evalue", "") for c in nbformat.read(
        graded.course.autograded_dir("tess", HW) / f"{HW}.ipynb", as_version=4).cells
        if c.cell_type == "code" for o in c.outputs)
    assert "weights.npy" in output  # the notebook's own error says which file it missed


def test_files_beside_the_notebook_handed_in_through_the_hub_reach_the_sandbox(graded: SimpleNamespace,
                                                                                tmp_path: Path) -> None:
    """The student's folder as Jupyter leaves it: the fetched release, the weights, a checkpoint copy and
    fetched feedback (nbgrader's ignore globs keep those two out), handed in as the hub's exchange does."""
    course = graded.course
    folder = tmp_path / HW
    notebook = fill_solutions(release_notebook(course, HW), instructor_notebook(course, HW, HW))
    next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "model").source = \
        "W = np.load('trained/weights.npy')"
    write_file(folder / f"{HW}.ipynb", nbformat.writes(notebook).encode())
    write_file(folder / "trained" / "weights.npy", _npy(WEIGHTS))
    write_file(folder / ".ipynb_checkpoints" / f"{HW}-checkpoint.ipynb", b"{}")
    write_file(folder / "feedback" / "2026-11-20 12:00:00 UTC" / f"{HW}.html", b"<html></html>")
    handed_in, links_out = submission_files(folder, CourseDirectory(config=course.config).ignore)
    assert (handed_in, links_out) == ([f"{HW}.ipynb", "trained/weights.npy"], [])
    exchange = Exchange(course)
    queue = GradingQueue(exchange, workers=1)
    try:
        exchange.submit("hana", HW, {path: (folder / path).read_bytes() for path in handed_in})
        queue.grade("hana", HW)
        status = exchange.status("hana", HW)
    finally:
        queue.close()
        exchange.close()
    job = latest_job(course, "hana")
    assert (status["state"], job.state, job.score, job.max_score, job.notes) == ("graded", "done", 2, 2, [])
