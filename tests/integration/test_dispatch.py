"""Dispatch through Dask, with real workers and sandboxes: the number of workers changes nothing,
a worker killed in the middle of a class run loses no job and grades none twice, and a run left
without any runner ends instead of waiting forever."""

from __future__ import annotations

import secrets
import signal
import threading
import time

import psutil
import pytest
from distributed import LocalCluster
from nbgrader.api import Gradebook

from graders.dispatch import dispatcher as dispatch
from graders.grading.autograde import autograde
from tests.conftest import copy_course
from tests.helpers import cell_scores, records, small_class, solved_notebook, submit, with_cell_after

HW = "hw1_backprop"
SANDBOX_UID_BASE = 60000


def test_one_and_two_workers_give_identical_scores(hw1_generated, tmp_path):
    results = {}
    for workers in (1, 2):
        course = copy_course(hw1_generated, tmp_path / f"workers{workers}")
        students = small_class(course)
        outcomes = {o.student: (o.state, o.score, o.max_score, o.reason)
                    for o in autograde(course, HW, workers=workers)}
        results[workers] = outcomes, cell_scores(course, HW, students)
    assert results[1] == results[2]
    outcomes, _ = results[1]
    assert outcomes["alice"][:2] == ("done", 100) and outcomes["dave"][:2] == ("done", 0)
    assert 0 < outcomes["bob"][1] < 100 and 0 < outcomes["carol"][1] < 100
    assert outcomes["erin"][0] == "failed" and outcomes["erin"][3] == "kernel died (exit code 3)"


def _worker_of(proc: psutil.Process, me: int) -> psutil.Process | None:
    """The ancestor of `proc` that is a direct child of this test process: a Dask worker."""
    for parent in proc.parents():
        if parent.ppid() == me:
            return parent
    return None


class WorkerKiller(threading.Thread):
    """Waits for a sandboxed process named `comm`, then SIGKILLs the Dask worker above it, once."""

    def __init__(self, comm: str, timeout_s: float = 240) -> None:
        super().__init__(daemon=True)
        self.comm, self.deadline = comm, time.monotonic() + timeout_s
        self.killed: dict | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        me = psutil.Process().pid
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            for proc in psutil.process_iter(["name", "uids"]):
                if proc.info["name"] != self.comm or proc.info["uids"].real < SANDBOX_UID_BASE:
                    continue
                try:
                    worker = _worker_of(proc, me)
                    if worker is None:
                        continue
                    cmdline = " ".join(worker.cmdline())
                    worker.send_signal(signal.SIGKILL)
                except psutil.Error:
                    continue
                self.killed = {"pid": worker.pid, "cmdline": cmdline}
                return
            time.sleep(0.1)


@pytest.fixture
def killed_run(hw1_generated, tmp_path):
    course = copy_course(hw1_generated, tmp_path / "course")
    students = small_class(course)
    comm = f"sleep{secrets.token_hex(4)}"
    # Sleeps on every attempt, so the killer finds the first one asleep; the retry then finishes.
    sleeper = f"import ctypes, time\nctypes.CDLL(None).prctl(15, {comm.encode()!r}, 0, 0, 0)\ntime.sleep(4)\n"
    submit(course, "sleeper", HW, with_cell_after(solved_notebook(course, HW), "mlp", sleeper))
    killer = WorkerKiller(comm)
    killer.start()
    started = time.time()
    try:
        outcomes = {o.student: o for o in autograde(course, HW, workers=2)}
    finally:
        killer.stop.set()
        killer.join()
    return course, students + ["sleeper"], outcomes, killer.killed, comm, started


def test_killing_a_worker_mid_run_loses_nothing_and_grades_nothing_twice(killed_run):
    course, students, outcomes, killed, comm, started = killed_run
    assert killed is not None, "the sleeping submission was never seen running"
    assert "multiprocessing" in killed["cmdline"]  # a Dask worker process spawned by the LocalCluster

    assert sorted(outcomes) == sorted(students)  # every submission has its one outcome
    assert outcomes["sleeper"].state == "done" and outcomes["sleeper"].score == 100
    assert outcomes["alice"].score == 100 and outcomes["dave"].score == 0
    assert outcomes["erin"].reason == "kernel died (exit code 3)"

    jobs, attempts = records(course)
    for student in students:
        assert len(jobs[student]) == 1, student  # one job per submission...
        assert jobs[student][0].state in ("done", "failed"), student
        states = [a.state for a in attempts[student]]
        finished = [s for s in states if s != "lost"]
        assert len(finished) == 1 and states[-1] == finished[0], (student, states)  # ...graded once, last
        assert [a.number for a in attempts[student]] == list(range(1, len(states) + 1)), student
    sleeper = attempts["sleeper"]
    assert [a.state for a in sleeper] == ["lost", "done"]
    assert sleeper[0].reason == "runner died during the attempt"
    assert jobs["sleeper"][0].score == 100

    with Gradebook(course.db_url, course.course_id) as gradebook:
        assert sorted(s.student.id for s in gradebook.assignment_submissions(HW)) == sorted(students)
        assert gradebook.find_submission(HW, "sleeper").code_score == 100

    # the killed worker's sandbox died with it
    deadline = time.monotonic() + 10
    while any(p.info["name"] == comm for p in psutil.process_iter(["name"])) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(p.info["name"] == comm for p in psutil.process_iter(["name"]))


def test_a_run_left_without_runners_ends_its_jobs_as_lost_and_the_next_run_grades_them(
        hw1_generated, tmp_path, monkeypatch):
    course = copy_course(hw1_generated, tmp_path / "course")
    submit(course, "alice", HW, solved_notebook(course, HW))
    monkeypatch.setattr(dispatch, "NO_RUNNER_GRACE_S", 2.0)
    outcomes = []
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as empty:
        # in a daemon thread, so that a run that waits forever fails this test instead of hanging CI
        run = threading.Thread(target=lambda: outcomes.extend(autograde(course, HW, scheduler=empty.scheduler_address)),
                               daemon=True)
        run.start()
        run.join(timeout=60)
        assert not run.is_alive(), "the run still waits for a runner"
    assert [(o.state, o.reason) for o in outcomes] == [("failed", "no runner connected for 2 s")]
    jobs, attempts = records(course)
    assert [a.state for a in attempts["alice"]] == ["lost"]

    again = autograde(course, HW, workers=1)  # same content, but it was never graded: not skipped
    assert [(o.state, o.score) for o in again] == [("done", 100)]
