"""Where user namespaces are refused, a command stops before grading with one line: the cause and the fix.

The refusal is real and safe to provoke: `unshare --user --map-root-user` gives the test a
user namespace of its own whose `user.max_user_namespaces` (a per-namespace setting) it
lowers, and the grader then runs as an ordinary uid in a namespace below it. bubblewrap,
or the per-submission namespace inside the sandbox, then fails with ENOSPC, exactly as on
a host with `user.max_user_namespaces = 0`. Nothing outside the test's namespaces changes.
"""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import func, select

from graders.store import Store
from graders.store.models import Job
from tests.helpers import solved_notebook, submit

HW = "hw1_backprop"
CHECK = "from graders.sandbox import preflight; print(preflight.check('bubblewrap').problem)"


def _with_user_namespaces_capped(allowed: int, argv: list[str], cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run `argv` as uid 1000 in a namespace under one that allows only `allowed` more user namespaces."""
    script = (f'echo {allowed} > /proc/sys/user/max_user_namespaces && '
              'exec unshare --user --map-user=1000 --map-group=1000 "$@"')
    return subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c", script, "sh", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_bubblewrap_refused_a_namespace_is_one_line_naming_the_sysctl_and_its_fix():
    result = _with_user_namespaces_capped(1, [sys.executable, "-c", CHECK])
    assert result.returncode == 0, result.stderr
    [problem] = result.stdout.strip().splitlines()
    assert problem.startswith("user namespaces cannot be created here")
    assert "bwrap:" in problem and "ENOSPC" in problem  # bubblewrap's own words, quoted
    assert "sudo sysctl -w user.max_user_namespaces=" in problem


def test_a_refused_per_submission_namespace_is_caught_by_the_probe_not_by_every_job():
    # One more namespace allowed than bubblewrap needs: the sandbox starts, and the namespace that every
    # submission gets inside it is refused (how many bubblewrap itself makes depends on its version).
    problems = [_with_user_namespaces_capped(n, [sys.executable, "-c", CHECK]).stdout.strip() for n in range(1, 6)]
    inside = [p for p in problems if "(per submission)" in p]
    assert inside, problems
    assert "ENOSPC" in inside[0] and "sudo sysctl -w user.max_user_namespaces=" in inside[0]
    assert problems[-1] == "None"  # with enough of them, the probe passes: the cap was the cause


def test_autograde_stops_with_one_line_and_grades_nobody(hw1_course):
    submit(hw1_course, "alice", HW, solved_notebook(hw1_course, HW))
    result = _with_user_namespaces_capped(1, [sys.executable, "-m", "graders", "autograde", HW, "--workers", "1"],
                                          cwd=str(hw1_course.root))
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: user namespaces cannot be created here") and "sysctl" in line
    assert "Traceback" not in result.stdout + result.stderr
    store = Store(hw1_course.db_url, hw1_course.course_id)
    try:
        with store.session() as session:
            assert session.scalar(select(func.count()).select_from(Job)) == 0
    finally:
        store.close()
