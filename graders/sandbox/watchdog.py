"""How much memory a submission's processes hold together, measured from outside the sandbox.

Where no memory cgroup can be made (an ordinary user on cgroup v1, a read-only cgroup
mount), graders.sandbox.memory's watchdog sums this several times a second and kills the
tree past the limit.

What is counted: the proportional set size (PSS, /proc/<pid>/smaps_rollup) of every
process of the submission. A page mapped by n processes counts 1/n for each, so pages
the submission's processes share among themselves (a parent's arrays inherited by its
forked children, a shared mapping passed around) count once in the sum, and cannot be
used to hide memory, whereas a plain sum of RSS would count them n times and a sum of
USS (private pages only) not at all. Every submission is a fork of the warm kernel (the
zygote, with numpy and torch loaded); the zygote's pages that a submission still shares
count partly in the sum, so the zygote's whole resident size at the start is taken off
(`baseline`): the charge is never more than what the submission itself added (pages it
allocated or copied on write), and at most a fraction of the zygote's size less.

A process whose smaps cannot be read (it made itself non-dumpable) counts its whole RSS,
an upper bound, so hiding only costs the hider.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def descendants(pid: int) -> list[int]:
    """Every living descendant of process `pid`, parents before their children ([] once it is gone)."""
    tasks = Path(f"/proc/{pid}/task")
    if (tasks / str(pid) / "children").exists():  # Linux with CONFIG_PROC_CHILDREN: no scan of /proc
        found, queue = [], [pid]
        while queue:
            parent = queue.pop(0)
            try:
                children = [int(c) for task in (Path(f"/proc/{parent}/task")).iterdir()
                            for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            queue += children
        return found
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def resident_bytes(pid: int) -> int:
    """The resident set size of `pid` (0 once it is gone); /proc/<pid>/statm is readable by anyone."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def proportional_bytes(pid: int) -> int:
    """The proportional set size of `pid`, or its resident size where smaps cannot be read."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return resident_bytes(pid)
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) << 10
    return 0  # a zombie: no memory left


def charged_bytes(pids: list[int], baseline: int) -> int:
    """What the processes `pids` hold together beyond `baseline` bytes (the zygote's resident size)."""
    return max(0, sum(proportional_bytes(pid) for pid in pids) - baseline)
