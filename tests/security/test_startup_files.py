"""Startup files (sitecustomize.py, .pth, ~/.ipython, ~/.jupyter, matplotlibrc) written by one
submission never reach a later one, even one graded by a freshly started kernel on the same worker."""

from __future__ import annotations

from tests.security.conftest import STARTUP_MARKER, leaked_startup_files


def test_the_three_students_ran_in_a_row_on_one_worker(later_students):
    attempts = [later_students.attempts[s] for s in ("a_startup", "b_hang", "c_honest")]
    assert [len(a) for a in attempts] == [1, 1, 1]
    first, hang, honest = (a[0] for a in attempts)
    assert first.runner == hang.runner == honest.runner
    assert first.id < hang.id < honest.id
    assert hang.reason == "timeout"  # so the honest student got a new kernel, which reads startup files


def test_startup_files_land_only_in_the_scratch_space(later_students):
    out = later_students.outputs("a_startup")
    assert "ATTACK-RAN startup" in out
    assert "WRITABLE" not in out  # the platform's own code is read-only
    wrote = [line.split()[1] for line in out.splitlines() if line.startswith("WROTE ")]
    assert wrote and all(path.startswith("/scratch/") for path in wrote), wrote
    denied = [line.split()[1] for line in out.splitlines() if line.startswith("DENIED ")]
    assert any("site-packages" in path for path in denied) and any(".ipython" in path for path in denied)
    assert leaked_startup_files() == []


def test_a_later_student_on_the_same_worker_is_unaffected(later_students):
    honest = later_students.outcomes["c_honest"]
    assert honest.state == "done" and honest.score == honest.max_score == 100
    assert STARTUP_MARKER not in later_students.notebook_text("c_honest")
    assert STARTUP_MARKER not in later_students.notebook_text("b_hang")


def test_the_attacker_itself_gains_nothing(later_students):
    attacker = later_students.outcomes["a_startup"]
    assert attacker.score <= later_students.outcomes["c_honest"].score
