"""One memory limit for everything a submission starts: a memory cgroup per warm kernel.

RLIMIT_AS bounds each process, so a submission that forks could hold N x memory_mb.
Where the grader may create cgroups (cgroup v1 memory controller writable, as for
root in most containers), each warm kernel and all its forks live in their own
memory cgroup, nested in the grader's own. Its limit is set before every submission
(submissions of one kernel never overlap), and the kernel's OOM killer ends the
submission's processes when they exceed it together. Elsewhere only the
per-process limits apply.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

V1_ROOT = Path("/sys/fs/cgroup/memory")


class MemoryCgroup:
    """A memory cgroup created by this process, removed by `remove`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, name: str) -> "MemoryCgroup | None":
        """A new cgroup under this process's own memory cgroup, or None where that is not allowed."""
        own = _own_v1_memory_path()
        if own is None:
            return None
        path = V1_ROOT / own.lstrip("/") / name
        try:
            path.mkdir()
            (path / "memory.swappiness").write_text("0")
        except OSError:
            return None
        return cls(path)

    def adopt(self, pids: list[int]) -> None:
        """Move processes in; everything they fork afterwards stays in."""
        for pid in pids:
            try:
                (self.path / "cgroup.procs").write_text(str(pid))
            except ProcessLookupError:
                pass

    def limit(self, limit_bytes: int) -> None:
        (self.path / "memory.limit_in_bytes").write_text(str(limit_bytes))

    def oom_kills(self) -> int:
        """How many processes the OOM killer ended in this cgroup (0 once it is gone)."""
        try:
            lines = (self.path / "memory.oom_control").read_text().splitlines()
        except OSError:
            return 0
        return next((int(line.split()[1]) for line in lines if line.startswith("oom_kill ")), 0)

    def peak_bytes(self) -> int:
        try:
            return int((self.path / "memory.max_usage_in_bytes").read_text())
        except OSError:
            return 0

    def reset_peak(self) -> None:
        (self.path / "memory.max_usage_in_bytes").write_text("0")

    def remove(self) -> None:
        """Remove the cgroup once its processes are gone (they were killed just before)."""
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.05)


def _own_v1_memory_path() -> str | None:
    if not os.access(V1_ROOT, os.W_OK):
        return None
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return path if (V1_ROOT / path.lstrip("/")).is_dir() else None
    return None
