"""One memory limit for everything a submission starts, on any host.

A submission is a fork of the warm kernel and may fork more; RLIMIT_AS (set in the
kernel) bounds each process alone, so N processes could hold N times memory_mb. Around
each warm kernel's sandbox the runner attaches the first of these that the host allows:

1. **cgroup v2**: a memory leaf in a delegated subtree, the grader's own cgroup or a
   transient systemd scope per kernel (graders.sandbox.cgroup);
2. **cgroup v1**: a memory cgroup under the grader's own, where that hierarchy is writable;
3. **watchdog**: a thread in the runner, outside the sandbox, that sums the memory of the
   submission's process tree (graders.sandbox.watchdog) five times a second.

With a cgroup the kernel's OOM killer ends a process when the limit is hit (never the
sandbox itself or the zygote, which are shielded where the grader may shield them); in
every case the runner then kills what is left of the submission, so a submission past
its limit is stopped as a whole, whatever the host, and its attempt says so:
"out of memory (<mechanism>)". Each attempt records the mechanism that held it.

The limit is memory_mb plus MEMORY_SLACK: copy-on-write copies of the zygote's pages
(Python touches reference counts) and, for cgroups, page cache.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass

from graders.contract import Limits, MemoryMechanism
from graders.sandbox import cgroup, watchdog

MEMORY_SLACK = 256 << 20
WATCH_INTERVAL_S = 0.2  # how often the runner looks: a cgroup's OOM kill count, or the watchdog's sum


@dataclass(frozen=True)
class MemoryUse:
    """How one submission used its memory limit."""

    peak_bytes: int  # the highest total seen (0 where the mechanism cannot tell)
    exceeded: bool  # it went past the limit and was stopped


def limit_bytes(limits: Limits) -> int:
    """The limit on a submission's processes together, in bytes."""
    return (limits.memory_mb << 20) + MEMORY_SLACK


def out_of_memory(mechanism: MemoryMechanism) -> str:
    """The reason recorded for a submission stopped at its memory limit."""
    return f"out of memory ({mechanism})"


def sandbox_command(argv: list[str]) -> list[str]:
    """`argv` (a sandbox's command line), in its own delegated systemd scope when that is how limits are set here."""
    if cgroup.delegated_home() is not None:
        return argv
    return cgroup.scope_command() + argv


class MemoryLimit(ABC):
    """The limit around one warm kernel's sandbox: `begin` and `end` bracket each submission."""

    mechanism: MemoryMechanism

    def __init__(self, sandbox_pid: int) -> None:
        self.sandbox_pid = sandbox_pid
        # The sandbox's own processes (bwrap, the zygote) once it is ready: never a submission's.
        self.sandbox = frozenset({sandbox_pid, *watchdog.descendants(sandbox_pid)})
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._exceeded = False
        self._peak = 0

    def begin(self, limit: int) -> None:
        """Hold the submission that starts next to `limit` bytes, and watch it."""
        self.end()  # an earlier submission whose attempt broke off before its `end`
        self._exceeded, self._peak = False, 0
        self._set(limit)
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="graders-memory", daemon=True)
        self._thread.start()

    def end(self) -> MemoryUse:
        """Stop watching; how the submission that just ended used its limit."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            if not self._exceeded and self._over():  # hit after the last look
                self._exceeded = True
        return MemoryUse(self._peak, self._exceeded)

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_INTERVAL_S):
            if self._over():
                self._exceeded = True
                for pid in self._submission():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                return

    @abstractmethod
    def _set(self, limit: int) -> None:
        """Apply `limit` (bytes) for the next submission."""

    @abstractmethod
    def _over(self) -> bool:
        """Whether the current submission went past its limit (and note its peak)."""

    @abstractmethod
    def _submission(self) -> list[int]:
        """The current submission's processes."""

    def close(self) -> None:
        """Stop watching and release what the limit holds (the sandbox was killed just before)."""
        self.end()


class CgroupLimit(MemoryLimit):
    """A memory cgroup (v2 or v1) holding the sandbox and everything its zygote forks."""

    def __init__(self, group: cgroup.UnifiedCgroup | cgroup.MemoryCgroup, sandbox_pid: int) -> None:
        super().__init__(sandbox_pid)
        self.group = group
        self.mechanism = MemoryMechanism.CGROUP_V2 if group.version == "v2" else MemoryMechanism.CGROUP_V1
        self._kills_before = 0
        group.adopt(sorted(self.sandbox))
        for pid in self.sandbox:  # the OOM killer must pick the submission, never the zygote it forks from
            _write_quietly(f"/proc/{pid}/oom_score_adj", "-1000")

    def _set(self, limit: int) -> None:
        self.group.limit(limit)
        self.group.reset_peak()
        self._kills_before = self.group.oom_kills()

    def _over(self) -> bool:
        self._peak = max(self._peak, self.group.usage_bytes())
        return self.group.oom_kills() > self._kills_before

    def _submission(self) -> list[int]:
        return [pid for pid in self.group.pids() if pid not in self.sandbox]

    def close(self) -> None:
        super().close()
        self.group.remove()


class WatchdogLimit(MemoryLimit):
    """The runner sums the submission's memory (graders.sandbox.watchdog) and kills it past the limit."""

    mechanism = MemoryMechanism.WATCHDOG

    def _set(self, limit: int) -> None:
        self._limit = limit
        # The zygote's resident size now: what a fresh fork shares with it (see graders.sandbox.watchdog).
        self._baseline = max(watchdog.resident_bytes(pid) for pid in self.sandbox)

    def _over(self) -> bool:
        charged = watchdog.charged_bytes(self._submission(), self._baseline)
        self._peak = max(self._peak, charged)
        return charged > self._limit

    def _submission(self) -> list[int]:
        return [pid for pid in watchdog.descendants(self.sandbox_pid) if pid not in self.sandbox]


def attach(name: str, sandbox_pid: int) -> MemoryLimit:
    """The best limit this host allows around the sandbox started as `sandbox_pid` (see the module docstring)."""
    group = cgroup.runner_cgroup(name) or cgroup.scope_cgroup(sandbox_pid, name) or cgroup.MemoryCgroup.create(name)
    if group is not None:
        try:
            return CgroupLimit(group, sandbox_pid)
        except OSError:  # the sandbox could not be moved in after all
            group.remove()
    return WatchdogLimit(sandbox_pid)


def probe() -> tuple[MemoryMechanism, str]:
    """The mechanism a kernel started now would get, and where it acts: attached to a sleeping process, then
    released."""
    process = subprocess.Popen(sandbox_command([sys.executable, "-c", "import time; time.sleep(60)"]),
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        limit = attach(f"graders-probe-{os.getpid()}-{process.pid}", process.pid)
    finally:
        process.kill()
        process.wait()
    limit.close()
    if isinstance(limit, CgroupLimit):
        return limit.mechanism, f"a memory cgroup per kernel in {limit.group.path.parent}"
    return limit.mechanism, "the runner sums the memory (PSS) of each submission's processes 5 times a second"


def _write_quietly(path: str, text: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError:
        pass
