"""The kinds of runners a run can use, chosen by name (`graders autograde HW --cluster KIND`)."""

from __future__ import annotations

from traitlets.config import Config

from graders.dispatch.runners.base import Runners
from graders.dispatch.runners.local import LocalRunners
from graders.dispatch.runners.remote import RemoteRunners
from graders.errors import UserError

KINDS = ("local", "remote", "slurm")


class RunnersError(UserError, ValueError):
    """An unknown kind of runners, or one without what it needs."""


def runners_for(config: Config, kind: str | None = None, workers: int | None = None,
                scheduler: str | None = None) -> Runners:
    """The runners of `kind` configured by `config` (the course's nbgrader_config.py).

    `kind` defaults to "remote" when a `scheduler` address is given, else "local"; `workers` and
    `scheduler` override the config of the local and remote kinds. Raises RunnersError.
    """
    kind = kind or ("remote" if scheduler else "local")
    if kind not in KINDS:
        raise RunnersError(f"unknown cluster {kind!r} (known: {', '.join(KINDS)})")
    if scheduler and kind != "remote":
        raise RunnersError(f"--scheduler is for --cluster remote, not {kind}")
    if workers and kind != "local":
        raise RunnersError(f"--workers is for --cluster local; {kind} runners are set in nbgrader_config.py")
    if kind == "local":
        runners: Runners = LocalRunners(config=config)
        runners.workers = workers or runners.workers
    elif kind == "remote":
        runners = RemoteRunners(config=config)
        runners.scheduler = scheduler or runners.scheduler
        if not runners.scheduler:
            raise RunnersError("--cluster remote needs --scheduler tcp://HOST:PORT "
                               "(or c.RemoteRunners.scheduler in nbgrader_config.py)")
    else:
        from graders.dispatch.runners.slurm import SlurmRunners  # imports dask-jobqueue

        runners = SlurmRunners(config=config)
    return runners
