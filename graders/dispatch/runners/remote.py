"""Runners that someone else runs: a lab's Dask scheduler and its workers (see docs/RUNNERS.md)."""

from __future__ import annotations

from traitlets import Unicode

from graders.dispatch.runners.base import Runners


class RemoteRunners(Runners):
    """The workers of a scheduler at `scheduler`; they stay up (and warm) after the run."""

    kind = "remote"
    scheduler = Unicode("", help="Address of the Dask scheduler, tcp://host:8786; `--scheduler` overrides it."
                        ).tag(config=True)

    @property
    def description(self) -> str:
        return self.scheduler

    def start(self) -> str:
        return self.scheduler
