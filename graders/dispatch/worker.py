"""The runner's side of grading: the job that travels to it, and its execution in a warm kernel.

Dask workers import only this module (and the runner and sandbox it needs) to
run a job, so a worker starts without the coordinator's notebook and database
libraries. A worker's warm kernels (each a sandboxed zygote and its memory
cgroup) belong to its `RunnerKernels` plugin, which the Dispatcher registers on
every worker: they are closed when the worker closes. A job run in a plain
process (`graders generate`) uses this process's kernels, closed by
`close_kernels`.
"""

from __future__ import annotations

import os
import re
import socket
import zlib
from typing import Mapping

from distributed import WorkerPlugin, get_worker

from graders.contract import Execution, GradingJob
from graders.sandbox.backends import count_gpus, get_sandbox
from graders.sandbox.runner import WarmKernel


class WarmKernels:
    """One runner's warm kernels, by (sandbox, GPU, preload), started on first use and closed together."""

    def __init__(self) -> None:
        self._kernels: dict[tuple, WarmKernel] = {}

    def get(self, job: GradingJob, slot: int, use_gpu: bool) -> WarmKernel:
        key = (job.sandbox, use_gpu, job.preload)
        kernel = self._kernels.get(key)
        if kernel is None:
            kernel = self._kernels[key] = WarmKernel(get_sandbox(job.sandbox), slot, use_gpu, job.preload)
        return kernel

    def close(self) -> None:
        """Kill every kernel's sandbox and remove its memory cgroup."""
        while self._kernels:
            self._kernels.popitem()[1].close()


class RunnerKernels(WorkerPlugin):
    """Owns a Dask worker's warm kernels: none at setup, all closed at teardown (the worker closes).

    Idempotent: a coordinator that connects to a long-lived scheduler keeps the kernels that
    earlier runs warmed instead of replacing the plugin (which would close them).
    """

    name = "graders-kernels"
    idempotent = True

    def setup(self, worker) -> None:  # noqa: ANN001 - a distributed.Worker
        self.kernels = WarmKernels()

    def teardown(self, worker) -> None:  # noqa: ANN001
        self.kernels.close()


_process_kernels = WarmKernels()  # run_job outside Dask: graders generate


def run_job(job: GradingJob, contents: Mapping[str, bytes] | None = None) -> tuple[str, Execution]:
    """Execute `job` in this runner's warm kernel for its settings; return (runner, execution).

    `contents` holds the bytes of the job's files by sha256 (at least those the kernel lacks).
    Raises RuntimeError on a Dask worker without the `RunnerKernels` plugin (the Dispatcher registers it).
    """
    worker = _this_worker()
    if worker is None:
        runner, slot, has_gpu = f"{socket.gethostname()}:{os.getpid()}", 0, count_gpus() > 0
        kernels = _process_kernels
    else:
        runner, slot = worker.address, slot_of(worker.name)
        has_gpu = worker.state.total_resources.get("GPU", 0) > 0
        plugin = worker.plugins.get(RunnerKernels.name)
        if plugin is None:
            raise RuntimeError(f"runner {runner} has no {RunnerKernels.name} plugin: "
                               "submit jobs through graders.dispatch.dispatcher.Dispatcher")
        kernels = plugin.kernels
    use_gpu = job.gpu != "none" and has_gpu
    return runner, kernels.get(job, slot, use_gpu).execute(list(job.cells), job.limits, job.files, contents, job.labels,
                                                           job.environment)


def close_kernels() -> None:
    """Close the kernels that `run_job` started in this process outside Dask."""
    _process_kernels.close()


SLOT_IN_NAME = re.compile(r"(?:^|-)(\d{1,3})$")


def slot_of(name: object) -> int:
    """A worker's sandbox slot: the number its name ends with ("3", "gpu-node1-3"), else one from a hash.

    Workers on one machine need distinct slots (each slot is its own sandbox uid): local workers are
    named 0..N-1, SLURM worker jobs `graders-<n>`, and `dask worker --name HOST --nworkers K` names
    them HOST-0..HOST-(K-1).
    """
    match = SLOT_IN_NAME.search(str(name))
    return int(match.group(1)) if match else zlib.crc32(str(name).encode()) % 1000


def _this_worker():  # noqa: ANN202 - a distributed.Worker or None
    try:
        return get_worker()
    except ValueError:
        return None
