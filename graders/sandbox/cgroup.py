"""Memory cgroups a grader may create: v2 in a delegated subtree, or v1 where its hierarchy is writable.

Both kinds are created by the runner around one warm kernel's sandbox (graders.sandbox.memory
decides which, and what to do when a limit is hit) and offer the same few calls: adopt
processes, set the limit, count OOM kills, read the peak, list the processes, remove.

cgroup v2 (every current distribution) is used only in a subtree that was *delegated* to
the grader, never in one that systemd manages:

- the grader's own cgroup, when systemd delegated it (`Delegate=yes`: the `trusted.delegate`
  or `user.delegate` extended attribute) or, for an ordinary user, when the user owns it.
  The grader's processes move into a leaf (`graders-runners`), so that the `memory`
  controller can be enabled for the kernels' cgroups beside it ("no internal processes");
- otherwise a transient systemd scope per kernel (`systemd-run [--user] --scope -p Delegate=yes`),
  whose processes move into a leaf where the limit is set.

cgroup v1 (older hosts, many containers): a memory cgroup under the grader's own, where
that hierarchy is writable (root, usually).
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

V1_ROOT = Path("/sys/fs/cgroup/memory")
RUNNERS_LEAF = "graders-runners"  # where the grader's own processes go in a delegated v2 cgroup
DELEGATE_XATTRS = ("trusted.delegate", "user.delegate")  # set by systemd on Delegate=yes cgroups


@dataclass(frozen=True)
class CgroupPaths:
    """A process's cgroups, as /proc/<pid>/cgroup says (paths relative to each hierarchy's root)."""

    unified: str | None  # the v2 path ("0::/path"), None without a v2 hierarchy
    v1_memory: str | None  # the v1 memory controller's path, None without one


def parse_proc_cgroup(text: str) -> CgroupPaths:
    """Read /proc/<pid>/cgroup (lines "id:controllers:path")."""
    unified = memory = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            unified = path
        elif "memory" in controllers.split(","):
            memory = path
    return CgroupPaths(unified, memory)


def cgroup2_mount(mountinfo: str) -> Path | None:
    """Where the cgroup v2 hierarchy is mounted, from /proc/<pid>/mountinfo (None: no v2 mount)."""
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" in fields:
            dash = fields.index("-")
            if fields[dash + 1] == "cgroup2" and fields[3] == "/":
                return Path(fields[4])
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def own_paths(pid: int | str = "self") -> CgroupPaths:
    return parse_proc_cgroup(_read(Path(f"/proc/{pid}/cgroup")))


def _move(pid: int, group: Path) -> None:
    try:
        (group / "cgroup.procs").write_text(str(pid))
    except ProcessLookupError:
        pass


class _Cgroup(ABC):
    """A cgroup created by this process around one warm kernel's sandbox, removed by `remove`."""

    version: str

    def __init__(self, path: Path) -> None:
        self.path = path

    def adopt(self, pids: list[int]) -> None:
        """Move processes in; everything they fork afterwards stays in."""
        for pid in pids:
            _move(pid, self.path)

    def pids(self) -> list[int]:
        return [int(pid) for pid in _read(self.path / "cgroup.procs").split()]

    def remove(self) -> None:
        _remove(self.path)

    @abstractmethod
    def limit(self, limit_bytes: int) -> None:
        """Set the memory limit of everything inside."""

    @abstractmethod
    def oom_kills(self) -> int:
        """How many processes the OOM killer ended in here (0 once it is gone)."""

    @abstractmethod
    def usage_bytes(self) -> int:
        """The memory used inside: the peak since `reset_peak` where the kernel keeps one, else now."""

    def reset_peak(self) -> None:
        pass

    def _counter(self, file: str, name: str) -> int:
        for line in _read(self.path / file).splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
        return 0


class MemoryCgroup(_Cgroup):
    """A cgroup v1 memory cgroup under the grader's own."""

    version = "v1"

    @classmethod
    def create(cls, name: str) -> MemoryCgroup | None:
        """A new cgroup under this process's own memory cgroup, or None where that is not allowed."""
        own = own_paths().v1_memory
        if own is None or not os.access(V1_ROOT, os.W_OK) or not (V1_ROOT / own.lstrip("/")).is_dir():
            return None
        path = V1_ROOT / own.lstrip("/") / name
        try:
            path.mkdir()
            (path / "memory.swappiness").write_text("0")
        except OSError:
            return None
        return cls(path)

    def limit(self, limit_bytes: int) -> None:
        (self.path / "memory.limit_in_bytes").write_text(str(limit_bytes))

    def oom_kills(self) -> int:
        return self._counter("memory.oom_control", "oom_kill")

    def usage_bytes(self) -> int:
        text = _read(self.path / "memory.max_usage_in_bytes")
        return int(text) if text else 0

    def reset_peak(self) -> None:
        (self.path / "memory.max_usage_in_bytes").write_text("0")


class UnifiedCgroup(_Cgroup):
    """A cgroup v2 leaf with the memory controller, in a delegated subtree."""

    version = "v2"

    @classmethod
    def create(cls, home: Path, name: str) -> UnifiedCgroup | None:
        """A new leaf `name` in the delegated cgroup `home` (memory enabled there), or None on failure."""
        path = home / name
        try:
            path.mkdir(exist_ok=True)
            if "memory" not in _read(home / "cgroup.subtree_control").split():
                _enable_memory(home, path)
            if (path / "memory.swap.max").exists():
                (path / "memory.swap.max").write_text("0")  # the limit is on memory, not memory + swap
        except OSError:
            return None
        return cls(path)

    def limit(self, limit_bytes: int) -> None:
        (self.path / "memory.max").write_text(str(limit_bytes))

    def oom_kills(self) -> int:
        return self._counter("memory.events", "oom_kill")

    def usage_bytes(self) -> int:
        """The current usage (v2's peak cannot be reset per submission before Linux 6.12)."""
        text = _read(self.path / "memory.current")
        return int(text) if text else 0


def _enable_memory(home: Path, leaf: Path) -> None:
    """Move every process of `home` into `leaf`, then enable the memory controller for home's children."""
    for _ in range(3):  # a process forked meanwhile stays behind: move again
        for pid in _read(home / "cgroup.procs").split():
            _move(int(pid), leaf)
        try:
            (home / "cgroup.subtree_control").write_text("+memory")
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY:  # processes still there
                raise
    (home / "cgroup.subtree_control").write_text("+memory")


def _remove(path: Path) -> None:
    """Remove a cgroup once its processes are gone (they were killed just before)."""
    for _ in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)


def _manageable(group: Path) -> bool:
    """Whether this process can move processes into `group`'s children and give them a memory limit."""
    return all(os.access(group / name, os.W_OK) for name in ("cgroup.procs", "cgroup.subtree_control")) \
        and "memory" in _read(group / "cgroup.controllers").split()


def is_delegated(group: Path) -> bool:
    """Whether `group` was handed to this process to manage (see the module docstring)."""
    if not _manageable(group):
        return False
    for name in DELEGATE_XATTRS:
        try:
            if os.getxattr(group, name) == b"1":
                return True
        except OSError:
            pass
    return os.geteuid() != 0 and group.stat().st_uid == os.geteuid()


@functools.cache
def v2_mount() -> Path | None:
    return cgroup2_mount(_read(Path("/proc/self/mountinfo")))


def v2_path(pid: int | str = "self") -> Path | None:
    """The v2 cgroup folder of process `pid`, None without a v2 hierarchy."""
    mount, unified = v2_mount(), own_paths(pid).unified
    if mount is None or unified is None:
        return None
    return mount / unified.lstrip("/")


def delegated_home() -> Path | None:
    """The grader's own v2 cgroup when it is delegated (its `graders-runners` leaf's parent once used)."""
    own = v2_path()
    if own is None:
        return None
    if own.name == RUNNERS_LEAF:
        own = own.parent
    return own if is_delegated(own) else None


def runner_cgroup(name: str) -> UnifiedCgroup | None:
    """A memory leaf beside the grader's own processes, in its delegated cgroup."""
    home = delegated_home()
    if home is None:
        return None
    leaf = home / RUNNERS_LEAF
    if "memory" not in _read(home / "cgroup.subtree_control").split():
        try:
            leaf.mkdir(exist_ok=True)
            _enable_memory(home, leaf)
        except OSError:
            return None
    return UnifiedCgroup.create(home, name)


def scope_cgroup(pid: int, name: str) -> UnifiedCgroup | None:
    """A memory leaf inside the delegated systemd scope that process `pid` was started in."""
    scope = v2_path(pid)
    if scope is None or not scope.name.endswith(".scope") or not _manageable(scope):
        return None
    return UnifiedCgroup.create(scope, name)


def scope_command() -> list[str]:
    """The systemd-run prefix that starts a command in its own delegated scope, [] where systemd cannot."""
    return list(_scope_prefix())


USER_MANAGER_ENV = ("XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS")  # how systemd-run --user finds its manager


@functools.cache
def _scope_prefix() -> tuple[str, ...]:
    systemd_run = shutil.which("systemd-run")
    if systemd_run is None or not Path("/run/systemd/system").is_dir() or v2_mount() is None:
        return ()
    if os.geteuid() == 0:
        prefix: tuple[str, ...] = (systemd_run,)
    elif "XDG_RUNTIME_DIR" in os.environ:
        # A kernel starts with the sandbox's clean environment: the user manager's address goes on the line
        # (bwrap clears it again for what runs inside).
        prefix = ("env", *(f"{k}={os.environ[k]}" for k in USER_MANAGER_ENV if k in os.environ), systemd_run, "--user")
    else:
        return ()
    prefix += ("--scope", "--quiet", "--collect", "-p", "Delegate=yes", "--")
    try:
        probe = subprocess.run([*prefix, "cat", "/proc/self/cgroup"], capture_output=True, text=True, timeout=15,
                               env={"PATH": "/usr/bin:/bin"}, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    unified = parse_proc_cgroup(probe.stdout).unified
    if probe.returncode != 0 or unified is None:
        return ()
    parent = (v2_mount() / unified.lstrip("/")).parent  # the scope itself is gone: its slice says what it got
    return prefix if "memory" in _read(parent / "cgroup.subtree_control").split() else ()
