"""A coordinator killed mid-run (SIGKILL, no clean-up) and started again resumes: what finished is
not graded again, what did not finish is, and the killed run leaves no runner or sandbox behind."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time

import psutil
from sqlalchemy import select

from graders.grading.autograde import autograde
from graders.store import Store
from graders.store.models import GradingRun
from tests.conftest import copy_course
from tests.helpers import records, solved_notebook, submit, with_cell_after

HW = "hw1_backprop"
QUICK = ["alice", "bob", "carol"]
SLEEP_S = 40  # long enough to be unfinished when the coordinator is killed


def run_states(course) -> list[str]:  # noqa: ANN001 - a Course
    store = Store(course.db_url, course.course_id)
    try:
        with store.session() as session:
            return list(session.scalars(select(GradingRun.state).order_by(GradingRun.id)))
    finally:
        store.close()


def wait_for(condition, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def named(comm: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == comm]


def test_a_coordinator_killed_mid_run_resumes_without_grading_anything_twice(hw1_generated, tmp_path):
    course = copy_course(hw1_generated, tmp_path / "course")
    solved = solved_notebook(course, HW)
    for student in QUICK:
        submit(course, student, HW, solved)
    comm = f"nap{secrets.token_hex(4)}"
    nap = f"import ctypes, time\nctypes.CDLL(None).prctl(15, {comm.encode()!r}, 0, 0, 0)\ntime.sleep({SLEEP_S})\n"
    submit(course, "sleeper", HW, with_cell_after(solved, "mlp", nap))

    coordinator = subprocess.Popen(
        [sys.executable, "-m", "graders", "autograde", HW, "--workers", "2", "--course", str(course.root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def quick_done_and_sleeper_asleep() -> bool:
            jobs = records(course)[0]
            done = all(s in jobs and jobs[s][-1].state == "done" for s in QUICK)
            return done and bool(named(comm))
        wait_for(quick_done_and_sleeper_asleep, 120, "the quick submissions graded while the sleeper sleeps")
        tree = [coordinator.pid] + [p.pid for p in psutil.Process(coordinator.pid).children(recursive=True)]
        coordinator.send_signal(signal.SIGKILL)
        coordinator.wait()
    finally:
        if coordinator.poll() is None:
            os.killpg(coordinator.pid, signal.SIGKILL)
            coordinator.wait()
    # the killed coordinator's workers and their sandboxes go away on their own
    wait_for(lambda: not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                             for pid in tree), 60, "the killed run's workers and sandboxes to exit")
    assert named(comm) == []
    assert [job.state for job in records(course)[0]["sleeper"]] == ["running"]

    outcomes = {o.student: o for o in autograde(course, HW, workers=1)}

    assert {s: outcomes[s].state for s in QUICK} == {s: "skipped" for s in QUICK}
    assert outcomes["sleeper"].state == "done" and outcomes["sleeper"].score == 100
    jobs = records(course)[0]
    assert all(len(jobs[s]) == 1 and jobs[s][0].state == "done" for s in QUICK)  # graded once
    assert [job.state for job in jobs["sleeper"]] == ["interrupted", "done"]
    assert run_states(course) == ["interrupted", "done"]
