"""A runner's warm kernels belong to its Dask worker: a worker that closes kills its sandboxed
zygotes and removes their memory cgroups (the RunnerKernels plugin's teardown). `run_job` outside
Dask is what `graders generate` does for the keys: every test's generated course goes through it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

from graders.dispatch.dispatcher import Dispatcher
from graders.grading.autograde import autograde
from tests.conftest import copy_course
from tests.helpers import solved_notebook, submit

HW = "hw1_backprop"
CGROUP_ROOT = Path("/sys/fs/cgroup")


def memory_cgroup(pid: int) -> Path:
    """The folder of the memory cgroup (v1) or the cgroup (v2) that process `pid` is in."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return CGROUP_ROOT / "memory" / path.lstrip("/")
        if controllers == "":
            v2 = CGROUP_ROOT / path.lstrip("/")
    return v2


def gone(pids: list[int], folders: set[Path], timeout_s: float = 15) -> tuple[list[int], list[Path]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
        left = [folder for folder in folders if folder.exists()]
        if not alive and not left:
            break
        time.sleep(0.2)
    return alive, left


def test_a_worker_that_closes_kills_its_kernels_and_removes_their_cgroups(hw1_generated, tmp_path):
    course = copy_course(hw1_generated, tmp_path / "course")
    submit(course, "alice", HW, solved_notebook(course, HW))
    dispatcher = Dispatcher(workers=1).open()
    try:
        outcomes = autograde(course, HW, dispatcher=dispatcher)
        assert [(o.state, o.score) for o in outcomes] == [("done", 100)]
        (worker_pid,) = dispatcher.client.run(os.getpid).values()
        sandboxes = [p.pid for p in psutil.Process(worker_pid).children(recursive=True)]
        assert sandboxes, "the worker has no warm kernel"
        cgroups = {memory_cgroup(pid) for pid in sandboxes} - {memory_cgroup(worker_pid)}
        assert cgroups, "the kernel has no memory cgroup of its own"  # else this test checks nothing

        dispatcher.client.retire_workers(close_workers=True)  # a clean close, not a kill

        alive, left = gone(sandboxes, cgroups)
        assert not alive, f"sandbox processes left: {alive}"
        assert not left, f"memory cgroups left: {left}"
    finally:
        dispatcher.close()

