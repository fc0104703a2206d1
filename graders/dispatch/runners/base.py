"""What every kind of runners gives the Dispatcher: a Dask cluster or scheduler to connect to.

A kind is a traitlets class, configured in the course's nbgrader_config.py under its own name
(`c.LocalRunners.workers = 8`, `c.SlurmRunners.queue = "teaching"`), as nbgrader's exchange
has an abstract class and a default backend.
"""

from __future__ import annotations

from typing import ClassVar

from distributed.deploy import Cluster
from traitlets.config import LoggingConfigurable

# Settings of every runner (Dask worker) process, whoever starts it. Daemonic workers could not start
# processes of their own; the statistical profiler samples every worker thread 100 times a second
# for a dashboard we do not serve (about 9 ms of CPU per submission).
WORKER_CONFIG = {"distributed.worker.daemon": False, "distributed.worker.profile.enabled": False}


def worker_environment() -> dict[str, str]:
    """WORKER_CONFIG as the DASK_* environment variables of a worker started by another program."""
    return {"DASK_" + key.upper().replace(".", "__").replace("-", "_"): str(value)
            for key, value in WORKER_CONFIG.items()}


class Runners(LoggingConfigurable):
    """Where a run's runners come from; `start` gives what `distributed.Client` connects to."""

    kind: ClassVar[str]

    def start(self) -> Cluster | str:
        """Start (or find) the runners: a Dask cluster object, or a scheduler address."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop what `start` started (nothing for a scheduler someone else runs)."""

    @property
    def description(self) -> str:
        """Recorded on the run: "local", the scheduler's address, "slurm"."""
        return self.kind

    @property
    def size(self) -> int:
        """How many runners are asked for (0: not ours to know, as with a lab's scheduler)."""
        return 0

    @property
    def promises_gpu(self) -> bool:
        """Whether runners with a GPU are on their way even before any has connected."""
        return False

    @property
    def start_wait_s(self) -> float:
        """How long the first runner may take to appear beyond the usual grace (a job's queue wait)."""
        return 0.0
