"""Homework files travel with the homework (#13 item 2).

A homework whose notebook reads `data.csv` and imports a helper module from a sub-folder: the
instructor solution runs beside them at `graders generate`, the release carries them (and no
instructor-only file), and every grading sandbox has them read-only at the same paths; a
student's own copy never replaces the instructor's unless homework.toml says it may.
"""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from graders.course import Course
from graders.grading.autograde import autograde
from tests.helpers import records, solved_notebook, submit
from tests.integration.test_dispatch import WorkerKiller
from tests.realworld.conftest import (
    add_homework,
    autograded,
    graders,
    latest_job,
    locked,
    markdown,
    new_course,
    solution,
    write_file,
)

HW = "hw_data"
DATA = "x1,x2,y\n" + "".join(f"{i},{i * i % 7},{2 * i - 3 * (i * i % 7) + 0.5}\n" for i in range(1, 21))
HELPER = "import numpy as np\n\n\ndef column_means(data):\n    return data.mean(axis=0)\n"
FILES = {"data.csv": DATA, "helpers/stats.py": HELPER, "params.json": json.dumps({"scale": 2.0}),
         "mutants.toml": "", "answers.secret": "the instructor's notes"}
CELLS = [
    markdown("Fit a linear model to `data.csv`."),
    locked("setup", "import numpy as np\nfrom helpers.stats import column_means\n"
                    "data = np.loadtxt('data.csv', delimiter=',', skiprows=1)"),
    solution("fit", "def fit(data):\n    ### BEGIN SOLUTION\n"
                    "    return np.linalg.lstsq(data[:, :-1], data[:, -1], rcond=None)[0]\n    ### END SOLUTION"),
    autograded("test_fit", "from graders.probes import probe\nprobe('column_means', column_means(data))\n"
                      "probe('fit', fit(data))\n### BEGIN HIDDEN TESTS\nprobe('fit_half', fit(data[::2]))\n"
                      "### END HIDDEN TESTS", points=3),
]
# A student cell placed before the instructor's first cell: it runs before data.csv is read.
TAMPER = """\
import json, os
print("PARAMS", open("params.json").read())
for path, text in [("data.csv", "x1,x2,y\\n0,0,0\\n"), ("helpers/stats.py", "def column_means(d):\\n    return 0\\n"),
                   ("params.json", "{}")]:
    try:
        with open(path, "w") as f:
            f.write(text)
        print("WROTE", path)
    except OSError as exc:
        print("REFUSED", path, type(exc).__name__)
for path in ["data.csv", "helpers"]:
    try:
        os.rename(path, path + ".old")
        print("RENAMED", path)
    except OSError as exc:
        print("REFUSED rename", path, type(exc).__name__)
print("FILES", json.dumps(sorted(os.path.join(d, f)[2:] for d, _, fs in os.walk(".") for f in fs)))
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The course with hw_data generated through the CLI, and what the command said."""
    course = new_course(tmp_path_factory.mktemp("homework-files") / "course", config=(
        'c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.secret"]\n'))
    add_homework(course, HW, CELLS, settings='preload = ["numpy"]\nstudent_may_replace = ["params.json"]\n',
                 files=FILES)
    return SimpleNamespace(course=course, command=graders(course, "generate", HW))


@pytest.fixture(scope="module")
def graded(generated: SimpleNamespace) -> SimpleNamespace:
    """A class graded through `graders autograde`: alice hands in the release as fetched; mallory and paula
    ship their own copies of the homework's files and try to overwrite them."""
    assert generated.command.returncode == 0, generated.command.stderr
    course = generated.course
    solved = solved_notebook(course, HW)
    release = course.path("release", HW)
    for student, own in [("alice", {}), ("mallory", {"data.csv": "x1,x2,y\n1,1,1\n2,1,1\n",
                                                     "helpers/stats.py": "def column_means(d):\n    return 0\n"}),
                         ("paula", {"params.json": json.dumps({"scale": 5.0})})]:
        notebook = solved if student == "alice" else _with_first_cell(solved, TAMPER)
        submit(course, student, HW, notebook)
        folder = course.submission_dir(student, HW)
        if student != "mallory":  # nbgrader's exchange submits the whole folder: the homework's files too
            shutil.copytree(release, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.ipynb"))
        for name, content in own.items():
            write_file(folder / name, content)
    return SimpleNamespace(course=course, command=graders(course, "autograde", HW, "--workers", "1"),
                           status=graders(course, "status", HW))


def _with_first_cell(notebook: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))
    notebook.cells.insert(0, nbformat.v4.new_code_cell(source))
    return notebook


def _output(course: Course, student: str) -> str:
    notebook = nbformat.read(course.autograded_dir(student, HW) / f"{HW}.ipynb", as_version=4)
    return "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)


def test_generate_runs_the_solution_beside_the_homework_files_and_releases_them(generated: SimpleNamespace) -> None:
    assert generated.command.returncode == 0, generated.command.stderr
    assert "keys: hw_data (3 probes)" in generated.command.stdout
    course = generated.course
    released = sorted(str(p.relative_to(course.path("release", HW))) for p in course.path("release", HW).rglob("*")
                      if p.is_file())
    assert released == ["data.csv", "helpers/stats.py", "hw_data.ipynb", "params.json"]


def test_generate_check_sees_a_changed_homework_file(generated: SimpleNamespace, tmp_path: Path) -> None:
    assert generated.command.returncode == 0, generated.command.stderr
    assert graders(generated.course, "generate", HW, "--check").returncode == 0
    copy = Course.load(shutil.copytree(generated.course.root, tmp_path / "copy"))
    (copy.path("source", HW, "helpers", "stats.py")).write_text(HELPER + "# fixed a typo\n")
    check = graders(copy, "generate", HW, "--check")
    assert check.returncode == 1 and "helpers/stats.py" in check.stderr


def test_a_correct_student_gets_full_marks(graded: SimpleNamespace) -> None:
    assert graded.command.returncode == 0, graded.command.stderr
    job = latest_job(graded.course, "alice")
    assert (job.state, job.score, job.max_score, job.notes) == ("done", 3, 3, [])


def test_a_students_own_copy_of_a_homework_file_is_not_graded_and_cannot_be_overwritten(
        graded: SimpleNamespace) -> None:
    job = latest_job(graded.course, "mallory")
    assert (job.state, job.score, job.max_score) == ("done", 3, 3)  # the instructor's data and helper were used
    assert job.notes == ["data.csv differs from the homework's own copy: graded with the homework's",
                         "helpers/stats.py differs from the homework's own copy: graded with the homework's"]
    assert "helpers/stats.py differs from the homework's own copy" in graded.status.stdout
    out = _output(graded.course, "mallory")
    assert "REFUSED data.csv" in out and "REFUSED helpers/stats.py" in out
    assert "REFUSED rename data.csv" in out and "REFUSED rename helpers" in out
    assert 'PARAMS {"scale": 2.0}' in out and "WROTE params.json" in out  # may be replaced: a writable copy


def test_a_homework_file_the_student_may_replace_is_graded_from_the_students_copy(graded: SimpleNamespace) -> None:
    job = latest_job(graded.course, "paula")
    assert (job.state, job.score, job.notes) == ("done", 3, [])
    assert 'PARAMS {"scale": 5.0}' in _output(graded.course, "paula")


def test_instructor_only_files_never_reach_the_sandbox(graded: SimpleNamespace) -> None:
    listed = next(line for line in _output(graded.course, "paula").splitlines() if line.startswith("FILES "))
    assert json.loads(listed.removeprefix("FILES ")) == ["data.csv", "helpers/stats.py", "params.json"]


def test_a_runner_killed_mid_run_takes_its_copies_of_the_files_and_the_retry_gets_them_again(
        generated: SimpleNamespace, tmp_path: Path) -> None:
    """One runner holds every file's only copy in the cluster; it dies while grading: the jobs'
    next attempts scatter the files again and grade with them, nothing lost, nothing graded twice."""
    assert generated.command.returncode == 0, generated.command.stderr
    course = Course.load(shutil.copytree(generated.course.root, tmp_path / "course"))
    comm = f"sleep{secrets.token_hex(4)}"
    sleeper = f"import ctypes, time\nctypes.CDLL(None).prctl(15, {comm.encode()!r}, 0, 0, 0)\ntime.sleep(4)\n"
    solved = solved_notebook(course, HW)
    for student, first in [("sleeper", sleeper), ("paula", TAMPER)]:
        submit(course, student, HW, _with_first_cell(solved, first))
        write_file(course.submission_dir(student, HW) / "params.json", json.dumps({"scale": 5.0}))
    killer = WorkerKiller(comm)
    killer.start()
    try:
        outcomes = {o.student: o for o in autograde(course, HW, students=["sleeper", "paula"], workers=1)}
    finally:
        killer.stop.set()
        killer.join()
    assert killer.killed is not None, "the sleeping submission was never seen running"
    assert {s: (o.state, o.score) for s, o in outcomes.items()} == {"sleeper": ("done", 3), "paula": ("done", 3)}
    _, attempts = records(course)
    assert [a.state for a in attempts["sleeper"]] == ["lost", "done"]
    assert [a.state for a in attempts["paula"]][-1] == "done"
    assert 'PARAMS {"scale": 5.0}' in _output(course, "paula")
