"""The runner's side of grading: the job that travels to it, and its execution in a warm kernel.

Dask workers import only this module (and the runner and sandbox it needs) to
run a job, so a worker starts without the coordinator's notebook and database
libraries.
"""

from __future__ import annotations

import os
import socket
import zlib

from graders.contract import Execution, GradingJob
from graders.sandbox.backends import count_gpus, get_sandbox
from graders.sandbox.runner import WarmKernel

_kernels: dict[tuple, WarmKernel] = {}


def run_job(job: GradingJob) -> tuple[str, Execution]:
    """Execute `job` in this process's warm kernel for its settings; return (runner, execution)."""
    runner, slot, has_gpu = _this_runner()
    use_gpu = job.gpu != "none" and has_gpu
    cache_key = (job.sandbox, use_gpu, job.preload)
    kernel = _kernels.get(cache_key)
    if kernel is None:
        kernel = _kernels[cache_key] = WarmKernel(get_sandbox(job.sandbox), slot, use_gpu, job.preload)
    return runner, kernel.execute(list(job.cells), job.limits, job.files, job.labels)


def close_kernels() -> None:
    while _kernels:
        _kernels.popitem()[1].close()


def _this_runner() -> tuple[str, int, bool]:
    """(name, sandbox slot, has a GPU) of the Dask worker running us, or of this process."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}", 0, count_gpus() > 0
    slot = int(worker.name) if str(worker.name).isdigit() else zlib.crc32(str(worker.name).encode()) % 1000
    return worker.address, slot, worker.state.total_resources.get("GPU", 0) > 0
