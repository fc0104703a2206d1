"""Jobs to runners through Dask distributed, with every attempt reported and lost ones retried.

The coordinator submits `graders.dispatch.worker.run_job` tasks; Dask workers run them
in their warm sandboxed kernels and return executions, never touching the
database. Local runs use a SpecCluster so that each worker can be told its own
GPU. A worker that dies makes Dask raise KilledWorker at once (allowed
failures = 0, so no silent re-run): the coordinator records that attempt as lost
and submits the job again, up to `max_attempts`. GPU workers carry a `GPU`
resource; jobs of a homework with `gpu = "required"` ask for it. When no runner
has been connected for `NO_RUNNER_GRACE_S` (a remote cluster whose workers are
all gone, workers that cannot start), the jobs left end as lost instead of
waiting forever.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Iterable, Iterator

import dask
from distributed import Client, Future, Nanny, Scheduler, SpecCluster, as_completed

from graders.contract import Execution, GradingJob
from graders.crash import crash_point
from graders.dispatch.worker import run_job
from graders.errors import UserError
from graders.sandbox.backends import count_gpus


@dataclass
class AttemptResult:
    """How one attempt of a job ended. `error` is an infrastructure failure (no execution)."""

    job: GradingJob
    number: int
    runner: str | None
    execution: Execution | None
    error: str | None
    final: bool


NO_RUNNER_GRACE_S = 120.0
POLL_S = 0.05  # how often a run with nothing finished looks again


class NoGpuRunner(UserError, RuntimeError):
    """A homework requires a GPU and no runner has one."""


class Dispatcher:
    """A Dask client on a local cluster (default) or on a remote scheduler address."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None, max_attempts: int = 3) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.scheduler = scheduler
        self.max_attempts = max_attempts
        self._cluster: SpecCluster | None = None
        self._client: Client | None = None
        self._pending: dict[str, tuple[GradingJob, Future]] = {}  # by task key, for the current run

    def open(self) -> "Dispatcher":
        """Connect to the scheduler, or start the local cluster; its runners stay up until `close`."""
        with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                              "distributed.worker.daemon": False,
                              # Dask's statistical profiler samples every worker thread 100 times a
                              # second for a dashboard we do not serve: about 9 ms of CPU per submission.
                              "distributed.worker.profile.enabled": False}):
            if self.scheduler:
                self._client = Client(self.scheduler)
            else:
                self._cluster = local_cluster(self.workers, count_gpus())
                self._client = Client(self._cluster)
        return self

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> "Dispatcher":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def client(self) -> Client:
        assert self._client is not None, "use Dispatcher as a context manager"
        return self._client

    def has_gpu_runner(self) -> bool:
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        return any(w.get("resources", {}).get("GPU", 0) > 0 for w in info.values())

    def run(self, jobs: Iterable[GradingJob]) -> Iterator[AttemptResult]:
        """Yield every attempt's result as it ends; lost attempts are retried before a final one."""
        jobs = list(jobs)
        if any(j.gpu == "required" for j in jobs) and not self.has_gpu_runner():
            raise NoGpuRunner("this homework requires a GPU and no runner has one")
        attempts: dict[str, int] = {}
        self._pending = {}
        futures = as_completed()
        for job in jobs:
            attempts[job.key] = 1
            futures.add(self._submit(job, 1))
        crash_point("dispatched")
        watch = _RunnerWatch(self.client)
        while not futures.is_empty():
            batch = futures.next_batch(block=False)
            if not batch:
                if watch.gave_up():
                    yield from self._abandon(f"no runner connected for {NO_RUNNER_GRACE_S:g} s", attempts)
                    return
                time.sleep(POLL_S)
                continue
            for future in batch:
                yield from self._result(future, attempts, futures)

    def _result(self, future: Future, attempts: dict[str, int], futures: as_completed) -> Iterator[AttemptResult]:
        job, _ = self._pending.pop(future.key)
        number = attempts[job.key]
        try:
            runner, execution = future.result()
        except Exception as exc:  # KilledWorker, a kernel that cannot start, a runner bug
            final = number >= self.max_attempts
            yield AttemptResult(job, number, None, None, _describe(exc), final)
            if not final:
                attempts[job.key] = number + 1
                futures.add(self._submit(job, number + 1))
            return
        finally:
            future.release()
        yield AttemptResult(job, number, runner, execution, None, True)

    def _abandon(self, reason: str, attempts: dict[str, int]) -> Iterator[AttemptResult]:
        """End every job still waiting: a final lost attempt each, so that a later run grades them."""
        pending, self._pending = self._pending, {}
        self.client.cancel([future for _, future in pending.values()])
        for job, _ in pending.values():
            yield AttemptResult(job, attempts[job.key], None, None, reason, True)

    def _submit(self, job: GradingJob, number: int) -> Future:
        resources = {"GPU": 1} if job.gpu == "required" else None
        future = self.client.submit(run_job, job, key=f"grade-{job.key}-{number}", pure=False,
                                    resources=resources)
        self._pending[future.key] = (job, future)
        return future


class _RunnerWatch:
    """Says when the scheduler has had no worker at all for longer than NO_RUNNER_GRACE_S."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._checked = 0.0
        self._none_since: float | None = None

    def gave_up(self) -> bool:
        now = time.monotonic()
        if now - self._checked >= 1.0:  # ask the scheduler at most once a second
            self._checked = now
            if self.client.nthreads():
                self._none_since = None
            elif self._none_since is None:
                self._none_since = now
        return self._none_since is not None and now - self._none_since > NO_RUNNER_GRACE_S


LOOPBACK = "127.0.0.1"  # a local cluster is reachable from this machine only


def local_cluster(workers: int, gpus: int) -> SpecCluster:
    """One single-threaded worker per slot; the first `gpus` own one GPU each (a `GPU` resource)."""
    specs = {}
    for slot in range(workers):
        has_gpu = slot < gpus
        specs[slot] = {"cls": Nanny, "options": {
            "nthreads": 1, "memory_limit": 0, "name": slot, "host": LOOPBACK, "silence_logs": logging.ERROR,
            "resources": {"GPU": 1} if has_gpu else {},
            "env": {"CUDA_VISIBLE_DEVICES": str(slot) if has_gpu else ""}}}
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": f"{LOOPBACK}:0", "host": LOOPBACK}}
    return SpecCluster(workers=specs, scheduler=scheduler, silence_logs=logging.ERROR)


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":
        return "runner died during the attempt"
    return f"{name}: {str(exc)[:500]}"
