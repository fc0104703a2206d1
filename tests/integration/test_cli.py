"""The `graders` command as a TA meets it: one-line errors and non-zero exits on bad input."""

import json
import os
import subprocess
import sys

from graders.sandbox import memory


def graders(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "graders", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=env)


def test_unknown_homework_is_a_one_line_error(hw1_course):
    result = graders("autograde", "hw9_nothing", cwd=hw1_course.root)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: unknown homework 'hw9_nothing' (known: hw1_backprop)"]


def test_missing_student_folder_is_a_one_line_error(hw1_course):
    result = graders("autograde", "hw1_backprop", "--student", "nobody", cwd=hw1_course.root)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "no submission folder" in result.stderr


def test_outside_a_course_folder_is_a_one_line_error(tmp_path):
    result = graders("status", cwd=tmp_path)
    assert result.returncode == 1 and "not a course folder" in result.stderr


def test_generate_check_fails_on_a_stale_release(hw1_course):
    release = hw1_course.path("release", "hw1_backprop", "hw1_backprop.ipynb")
    notebook = json.loads(release.read_text())
    notebook["cells"][0]["source"] = "edited by hand"
    release.write_text(json.dumps(notebook))
    result = graders("generate", "hw1_backprop", "--check", cwd=hw1_course.root)
    assert result.returncode == 1 and "is stale" in result.stderr


def test_status_shows_the_latest_run(hw1_course):
    from graders.grading.autograde import autograde
    from tests.helpers import solved_notebook, submit

    submit(hw1_course, "alice", "hw1_backprop", solved_notebook(hw1_course, "hw1_backprop"))
    autograde(hw1_course, "hw1_backprop", workers=1)
    wide = {**os.environ, "COLUMNS": "250"}  # one line per job
    result = graders("status", "hw1_backprop", cwd=hw1_course.root, env=wide)
    assert result.returncode == 0 and "alice" in result.stdout and "done" in result.stdout
    assert f"({memory.probe()[0]})" in result.stdout  # what held its memory limit



def test_autograde_refuses_without_bubblewrap_unless_told_to_run_unsafe(hw1_course):
    import os

    from tests.helpers import solved_notebook, submit

    submit(hw1_course, "alice", "hw1_backprop", solved_notebook(hw1_course, "hw1_backprop"))
    no_bwrap = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # bwrap lives in /usr/bin
    refused = subprocess.run([sys.executable, "-m", "graders", "autograde", "hw1_backprop"], env=no_bwrap,
                             cwd=hw1_course.root, capture_output=True, text=True, timeout=600)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "error: bubblewrap is not installed (apt-get install bubblewrap); "
        "pass --unsafe-no-sandbox to grade without isolation"]
    unsafe = subprocess.run([sys.executable, "-m", "graders", "autograde", "hw1_backprop", "--workers", "1",
                             "--unsafe-no-sandbox"], env=no_bwrap, cwd=hw1_course.root, capture_output=True,
                            text=True, timeout=600)
    assert unsafe.returncode == 0 and "WARNING: grading WITHOUT a sandbox" in unsafe.stderr
    status = graders("status", "hw1_backprop", cwd=hw1_course.root)
    assert "run 1 (done, none," in " ".join(status.stdout.split())


def test_bench_runs_the_repository_benchmark_with_its_own_options(tmp_path):
    result = graders("bench", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: bench_autograde.py") and "--skip-nbgrader" in result.stdout
