"""Grading through a real SLURM (slurmctld + slurmd on this machine, tests/integration/slurm_cluster.py) with
dask-jobqueue: `graders autograde HW --cluster slurm` gives the scores of a local run, GPU worker jobs carry
the GPU resource, and a worker job cancelled with scancel in the middle of a submission loses nothing."""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import time

import psutil
import pytest

from graders.course import Course
from graders.dispatch.dispatcher import Dispatcher
from graders.dispatch.runners import runners_for
from graders.grading.autograde import autograde
from tests.conftest import copy_course
from tests.helpers import cell_scores, records, small_class, solved_notebook, submit, with_cell_after
from tests.integration.slurm_cluster import SingleNodeSlurm, start_single_node_slurm

HW = "hw1_backprop"


@pytest.fixture(scope="module")
def slurm() -> SingleNodeSlurm:
    cluster = start_single_node_slurm()
    yield cluster
    cluster.stop()


@pytest.fixture
def slurm_course(slurm, hw1_generated, tmp_path, monkeypatch) -> Course:
    """A copy of the hw1 course whose nbgrader_config.py sends runners to `slurm`: one CPU job and one GPU job."""
    monkeypatch.setenv("SLURM_CONF", str(slurm.conf))
    course = copy_course(hw1_generated, tmp_path / "course")
    with open(course.path("nbgrader_config.py"), "a") as config:
        config.write(f"""
c.SlurmRunners.cpu_jobs = 1
c.SlurmRunners.gpu_jobs = 1
c.SlurmRunners.memory = "3GiB"
c.SlurmRunners.walltime = "00:30:00"
c.SlurmRunners.queue_wait_s = 120.0
c.SlurmRunners.shared_temp_directory = "{tmp_path / 'shared'}"
c.SlurmRunners.log_directory = "{tmp_path / 'slurm-logs'}"
""")
    return Course.load(course.root)


def test_a_class_graded_through_slurm_jobs_scores_as_a_local_run(slurm, slurm_course, hw1_generated, tmp_path):
    with open(slurm_course.path("nbgrader_config.py"), "a") as config:
        config.write("c.SlurmRunners.adapt = True\n")  # jobs start as work waits (a GPU job first)
    local = copy_course(hw1_generated, tmp_path / "local")
    students = small_class(local)
    expected = {o.student: (o.state, o.score, o.reason) for o in autograde(local, HW, workers=1)}
    assert small_class(slurm_course) == students

    result = subprocess.run([sys.executable, "-m", "graders", "autograde", HW, "--cluster", "slurm"],
                            cwd=slurm_course.root, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]

    jobs, attempts = records(slurm_course)
    assert {s: (j[-1].state, j[-1].score, j[-1].reason) for s, j in jobs.items()} == expected
    assert cell_scores(slurm_course, HW, students) == cell_scores(local, HW, students)
    runners = {a.runner for student in students for a in attempts[student]}
    assert all(r.startswith("tls://") for r in runners), runners  # SLURM workers, on TLS
    assert no_jobs_left(slurm), "the run did not cancel its worker jobs"


def no_jobs_left(slurm: SingleNodeSlurm, timeout_s: float = 60) -> bool:
    deadline = time.monotonic() + timeout_s
    while slurm.command("squeue", "--noheader").strip():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


class JobCanceller(threading.Thread):
    """Waits for a sandboxed process named `comm`, then scancels the SLURM job it runs in, once."""

    def __init__(self, slurm: SingleNodeSlurm, comm: str, timeout_s: float = 600) -> None:
        super().__init__(daemon=True)
        self.slurm, self.comm, self.deadline = slurm, comm, time.monotonic() + timeout_s
        self.cancelled: str | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            for proc in psutil.process_iter(["name"]):
                if proc.info["name"] == self.comm:
                    job = _slurm_job_of(proc)
                    if job is not None:
                        self.slurm.command("scancel", job)
                        self.cancelled = job
                        return
            time.sleep(0.1)


def _slurm_job_of(proc: psutil.Process) -> str | None:
    """The SLURM job id in the environment of `proc`'s nearest ancestor that has one (the worker)."""
    for parent in proc.parents():
        try:
            job = parent.environ().get("SLURM_JOB_ID")
        except psutil.Error:
            continue
        if job:
            return job
    return None


def test_a_worker_job_cancelled_mid_submission_loses_nothing(slurm, slurm_course):
    students = ["alice", "sleeper"]
    solved = solved_notebook(slurm_course, HW)
    submit(slurm_course, "alice", HW, solved)
    comm = f"sleep{secrets.token_hex(4)}"
    # Sleeps on every attempt, so the canceller finds the first one asleep; the retry then finishes.
    sleeper = f"import ctypes, time\nctypes.CDLL(None).prctl(15, {comm.encode()!r}, 0, 0, 0)\ntime.sleep(6)\n"
    submit(slurm_course, "sleeper", HW, with_cell_after(solved, "mlp", sleeper))
    canceller = JobCanceller(slurm, comm)
    dispatcher = Dispatcher(runners=runners_for(slurm_course.config, "slurm")).open()
    try:
        dispatcher.client.wait_for_workers(2, timeout=300)
        workers = dispatcher.client.scheduler_info(n_workers=-1)["workers"].values()
        resources = {w["name"]: w["resources"] for w in workers}
        queued = sorted(slurm.command("squeue", "--noheader", "--format=%j %b").splitlines())
        canceller.start()
        outcomes = {o.student: o for o in autograde(slurm_course, HW, dispatcher=dispatcher)}
        left = set(dispatcher.client.scheduler_info(n_workers=-1)["workers"])  # by address
    finally:
        canceller.stop.set()
        canceller.join()
        dispatcher.close()
    assert canceller.cancelled is not None, "the sleeping submission was never seen running"
    # one CPU job and one GPU job, whose worker carries the GPU resource as a local GPU worker does
    assert queued == ["graders-cpu N/A", "graders-gpu gres:gpu:1"]
    assert resources == {"graders-0": {"GPU": 1}, "graders-1": {}}

    assert sorted(outcomes) == students
    assert [(outcomes[s].state, outcomes[s].score) for s in students] == [("done", 100), ("done", 100)]
    jobs, attempts = records(slurm_course)
    assert [len(jobs[s]) for s in students] == [1, 1]
    assert [a.state for a in attempts["sleeper"]] == ["lost", "done"]
    assert attempts["sleeper"][0].reason == "runner died during the attempt"
    assert [a.state for a in attempts["alice"]] in (["done"], ["lost", "done"])  # alice may share the job

    assert attempts["sleeper"][1].runner in left  # retried on the job still running at the end
    assert not any(p.info["name"] == comm for p in psutil.process_iter(["name"]))  # died with its job
    assert no_jobs_left(slurm)
