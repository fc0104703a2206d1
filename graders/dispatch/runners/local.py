"""Runners on this machine: one single-threaded Dask worker per slot, the first ones with a GPU each."""

from __future__ import annotations

import logging
import os

from distributed import Nanny, Scheduler, SpecCluster
from traitlets import Int

from graders.dispatch.runners.base import Runners
from graders.sandbox.backends import count_gpus

LOOPBACK = "127.0.0.1"  # a local cluster is reachable from this machine only


class LocalRunners(Runners):
    """A cluster of this machine's own workers, started for the run and stopped after it."""

    kind = "local"
    workers = Int(0, help="Local Dask workers (0: one per core); `--workers` overrides it.").tag(config=True)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._cluster: SpecCluster | None = None

    @property
    def size(self) -> int:
        return self.workers or os.cpu_count() or 1

    def start(self) -> SpecCluster:
        self._cluster = local_cluster(self.size, count_gpus())
        return self._cluster

    def stop(self) -> None:
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


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
