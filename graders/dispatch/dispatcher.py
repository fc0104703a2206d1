"""Jobs to runners through Dask distributed, with every attempt reported and lost ones retried.

The coordinator submits `graders.dispatch.worker.run_job` tasks; Dask workers run them
in their warm sandboxed kernels and return executions, never touching the
database. Where the workers come from is a `Runners` kind (graders.dispatch.runners:
this machine, a lab's scheduler, SLURM jobs); every worker gets the `RunnerKernels`
plugin, which owns its warm kernels and closes them when the worker closes. A worker
that dies makes Dask raise KilledWorker at once (allowed failures = 0, so no silent
re-run): the coordinator records that attempt as lost and submits the job again, up
to `max_attempts`. GPU workers carry a `GPU` resource; jobs of a homework with
`gpu = "required"` ask for it. When no runner has been connected for
`NO_RUNNER_GRACE_S` (plus the time the runners may take to start, such as a SLURM
queue's wait), the jobs left end as lost instead of waiting forever.

The contents of the jobs' files are scattered to the cluster once per run (Dask
keys `file-<sha256>-<random>`): a homework's data file that every job names travels to
each runner once, and a student's file is released when its job is final.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping

import dask
from distributed import Client, Future, as_completed

from graders.contract import Execution, GradingJob
from graders.crash import crash_point
from graders.dispatch.runners import LocalRunners, RemoteRunners, Runners
from graders.dispatch.runners.base import WORKER_CONFIG
from graders.dispatch.worker import RunnerKernels, run_job
from graders.errors import UserError


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
    """A Dask client on `runners` (default: a local cluster of `workers`, or the scheduler at `scheduler`)."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None, max_attempts: int = 3,
                 runners: Runners | None = None) -> None:
        self.runners = runners or (RemoteRunners(scheduler=scheduler) if scheduler
                                   else LocalRunners(workers=workers or 0))
        self.max_attempts = max_attempts
        self._client: Client | None = None
        self._pending: dict[str, tuple[GradingJob, Future]] = {}  # by task key, for the current run
        self._contents: Mapping[str, bytes] = {}  # sha256 -> the bytes of a file the jobs of the run name
        self._scattered: dict[str, Future] = {}  # sha256 -> those bytes on the cluster
        self._users: Counter[str] = Counter()  # sha256 -> jobs of the current run not final yet

    @property
    def workers(self) -> int:
        """How many runners were asked for (0: a scheduler someone else runs)."""
        return self.runners.size

    @property
    def scheduler(self) -> str:
        """Where the runners are, as recorded on a run: "local", a scheduler address, "slurm"."""
        return self.runners.description

    def open(self) -> "Dispatcher":
        """Start (or connect to) the runners; they stay up until `close`. `run` opens them if needed."""
        with dask.config.set({"distributed.scheduler.allowed-failures": 0, **WORKER_CONFIG}):
            self._client = Client(self.runners.start())
        # on every worker, also those that join later (SLURM jobs that leave the queue)
        self._client.register_plugin(RunnerKernels())
        return self

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self.runners.stop()

    def __enter__(self) -> "Dispatcher":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def client(self) -> Client:
        assert self._client is not None, "use Dispatcher as a context manager"
        return self._client

    def has_gpu_runner(self) -> bool:
        """A runner with a GPU is connected, or on its way (a GPU job waiting in SLURM's queue)."""
        if self.runners.promises_gpu:
            return True
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        return any(w.get("resources", {}).get("GPU", 0) > 0 for w in info.values())

    def run(self, jobs: Iterable[GradingJob], contents: Mapping[str, bytes] | None = None) -> Iterator[AttemptResult]:
        """Yield every attempt's result as it ends; lost attempts are retried before a final one.

        `contents` holds the bytes of every file the jobs name, by sha256 (`graders.grading.files`).
        """
        jobs = list(jobs)
        if self._client is None:
            self.open()
        if any(j.gpu == "required" for j in jobs) and not self.has_gpu_runner():
            raise NoGpuRunner("this homework requires a GPU and no runner has one")
        attempts: dict[str, int] = {}
        self._pending = {}
        self._users = Counter(sha for job in jobs for sha in {f.sha256 for f in job.files})
        self._contents, self._scattered = contents or {}, {}
        try:
            self._scatter(set(self._users))
        except TimeoutError:  # no runner to hold the files: nothing can run
            for job in jobs:
                yield AttemptResult(job, 1, None, None, self._no_runner(), True)
            return
        futures = as_completed()
        for job in jobs:
            attempts[job.key] = 1
            futures.add(self._submit(job, 1))
        crash_point("dispatched")
        watch = _RunnerWatch(self.client, self.grace_s)
        while not futures.is_empty():
            batch = futures.next_batch(block=False)
            if not batch:
                if watch.gave_up():
                    yield from self._abandon(self._no_runner(), attempts)
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
            if final:
                self._release_files(job)
            yield AttemptResult(job, number, None, None, _describe(exc), final)
            if not final:
                attempts[job.key] = number + 1
                try:
                    futures.add(self._submit(job, number + 1))
                except TimeoutError:  # its files were lost with their runner, and no runner is left
                    self._release_files(job)
                    yield AttemptResult(job, number + 1, None, None, self._no_runner(), True)
            return
        finally:
            future.release()
        self._release_files(job)
        yield AttemptResult(job, number, runner, execution, None, True)

    def _abandon(self, reason: str, attempts: dict[str, int]) -> Iterator[AttemptResult]:
        """End every job still waiting: a final lost attempt each, so that a later run grades them."""
        pending, self._pending = self._pending, {}
        self.client.cancel([future for _, future in pending.values()])
        for job, _ in pending.values():
            yield AttemptResult(job, attempts[job.key], None, None, reason, True)

    def _submit(self, job: GradingJob, number: int) -> Future:
        """Submit one attempt; Dask moves the contents of the job's files to its runner before it starts."""
        resources = {"GPU": 1} if job.gpu == "required" else None
        wanted = {f.sha256 for f in job.files}
        self._scatter({sha for sha in wanted if self._scattered[sha].status != "finished"})  # lost with a runner
        future = self.client.submit(run_job, job, {sha: self._scattered[sha] for sha in wanted},
                                    key=f"grade-{job.key}-{number}", pure=False, resources=resources)
        self._pending[future.key] = (job, future)
        return future

    def _scatter(self, shas: set[str]) -> None:
        """Put the contents of these files on the cluster; TimeoutError when no runner is there to hold them.

        A file that several jobs name (the homework's) goes to every runner at once, so that a runner
        that dies takes no copy that others need; a student's goes to one runner, fetched by the job's.
        """
        shared = {sha for sha in shas if self._users[sha] > 1}
        # a fresh key each time: the release of an earlier run's copy can never remove this one
        keys = {sha: f"file-{sha}-{uuid.uuid4().hex}" for sha in shas}
        for group, broadcast in ((shared, True), (shas - shared, False)):
            if group:
                scattered = self.client.scatter({keys[sha]: self._contents[sha] for sha in group},
                                                broadcast=broadcast, timeout=self.grace_s)
                self._scattered.update({sha: scattered[keys[sha]] for sha in group})

    @property
    def grace_s(self) -> float:
        """How long a run waits with no runner connected: NO_RUNNER_GRACE_S plus the runners' start-up wait."""
        return NO_RUNNER_GRACE_S + self.runners.start_wait_s

    def _no_runner(self) -> str:
        return f"no runner connected for {self.grace_s:g} s"

    def _release_files(self, job: GradingJob) -> None:
        """Forget the contents that no job left in the run needs: the runners free their memory."""
        for sha in {f.sha256 for f in job.files}:
            self._users[sha] -= 1
            if self._users[sha] <= 0:
                self._scattered.pop(sha, None)


class _RunnerWatch:
    """Says when the scheduler has had no worker at all for longer than `grace_s`."""

    def __init__(self, client: Client, grace_s: float) -> None:
        self.client, self.grace_s = client, grace_s
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
        return self._none_since is not None and now - self._none_since > self.grace_s


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":
        return "runner died during the attempt"
    return f"{name}: {str(exc)[:500]}"
