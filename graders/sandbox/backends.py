"""Sandbox backends: the command line that starts a grading kernel in isolation.

A backend only decides *how the kernel process is confined*; what runs inside
is always `python -m graders.sandbox.kernel` (see graders.sandbox.kernel for the per-submission
namespaces, limits and clean-up). One backend per class, chosen by name:

- `bubblewrap` (default): read-only system and Python files, nothing of the
  course (no source/, keys, gradebook, submissions), no network, own PID, IPC and
  UTS namespaces, an unprivileged uid per worker slot, dies with its runner. The
  runner's file store is bound read-only at FILES (the kernel covers it before
  student code runs).
- `none`: a plain subprocess, for machines without bubblewrap. Unsafe: student
  code runs as the grader's user and can read the course. Every attempt graded
  this way says so.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path

import graders
from graders.errors import UserError

SCRATCH = "/scratch"  # inside the sandbox: the kernel's tmpfs, replaced by a fresh one per submission
FILES = "/graders-files"  # inside the sandbox: the runner's file store (graders.sandbox.filestore), read-only
SLOT_UID_BASE = 60000  # worker slot k runs as uid 60000 + k when the grader is root
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "fonts", "localtime",
             "passwd", "group", "nsswitch.conf", "mime.types")
SITE_DIR_NAMES = ("site-packages", "dist-packages")  # never the course or the current folder, also on sys.path


class SandboxUnavailable(UserError, RuntimeError):
    """The requested sandbox backend cannot run on this machine."""


class Sandbox(ABC):
    """How a grading kernel process is confined."""

    name: str
    isolated: bool

    @abstractmethod
    def command(self, kernel_argv: list[str], slot: int, gpu: bool, files: str) -> list[str]:
        """The argv that starts `kernel_argv` (a python -m graders.sandbox.kernel line) confined,
        with the runner's file store folder `files` readable by the kernel."""

    def environment(self, gpu: bool) -> dict[str, str]:
        """The only environment variables the kernel sees: nothing of the grader's."""
        scratch = self.scratch()
        env = {
            "PATH": f"{Path(sys.prefix) / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "HOME": scratch,
            "TMPDIR": scratch,
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "MPLCONFIGDIR": f"{scratch}/matplotlib",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "PYTHONUNBUFFERED": "1",
        }
        if gpu and "CUDA_VISIBLE_DEVICES" in os.environ:
            env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
        elif not gpu:
            env["CUDA_VISIBLE_DEVICES"] = ""
        return env

    @abstractmethod
    def scratch(self) -> str:
        """The kernel's writable folder (a private tmpfs per submission when isolated)."""


class NoSandbox(Sandbox):
    """A plain subprocess: limits and clean-up, but no isolation from the course files."""

    name = "none"
    isolated = False

    def __init__(self) -> None:
        self._scratch = tempfile.mkdtemp(prefix="graders-unsafe-")

    def command(self, kernel_argv: list[str], slot: int, gpu: bool, files: str) -> list[str]:
        return kernel_argv + ["--scratch", self._scratch, "--files", files]

    def scratch(self) -> str:
        return self._scratch


class BubblewrapSandbox(Sandbox):
    """Bubblewrap (the Flatpak sandbox) around the kernel; see the module docstring."""

    name = "bubblewrap"
    isolated = True

    def __init__(self) -> None:
        self.bwrap = shutil.which("bwrap")
        if self.bwrap is None:
            raise SandboxUnavailable(
                "bubblewrap is not installed (apt-get install bubblewrap); "
                "pass --unsafe-no-sandbox to grade without isolation")

    def command(self, kernel_argv: list[str], slot: int, gpu: bool, files: str) -> list[str]:
        args = [self.bwrap, "--die-with-parent", "--new-session",
                "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
        # /tmp first: a course cloned under /tmp binds its virtualenv there; then it is made read-only,
        # so that no two submissions of one kernel can pass files through it.
        args += ["--perms", "1777", "--tmpfs", "/tmp"]
        args += _system_view() + _python_view()
        # GPU device nodes after --dev, which mounts a fresh /dev over whatever was bound there before.
        args += ["--remount-ro", "/tmp", "--proc", "/proc", "--dev", "/dev",
                 "--ro-bind", files, FILES] + (_gpu_view() if gpu else [])
        # The root and /dev are bwrap's own tmpfs: as an ordinary user the kernel owns them, and what it
        # wrote there would outlive a submission. Read-only (device nodes stay usable; each submission
        # gets its own /dev/shm and /scratch).
        args += ["--remount-ro", "/dev", "--perms", "1777", "--tmpfs", SCRATCH, "--remount-ro", "/",
                 "--chdir", SCRATCH, "--clearenv"]
        for key, value in self.environment(gpu).items():
            args += ["--setenv", key, value]
        argv = list(kernel_argv) + ["--isolate", "--scratch", SCRATCH, "--files", FILES]
        if os.geteuid() == 0:
            # Root keeps only the right to become the slot's own unprivileged uid, which
            # the kernel does first thing: process limits do not apply to root.
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            uid = SLOT_UID_BASE + slot
            argv += ["--uid", str(uid), "--gid", str(uid)]
        else:
            args += ["--unshare-user"]
        return args + ["--"] + argv


    def scratch(self) -> str:
        return SCRATCH


def _system_view() -> list[str]:
    args: list[str] = []
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    args += ["--ro-bind", "/usr", "/usr", "--perms", "0755", "--dir", "/etc"]
    for name in ETC_FILES:
        if os.path.lexists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return args


def _python_view() -> list[str]:
    """Read-only binds of the interpreter, the virtualenv and the graders package, nothing else.

    Site folders on sys.path count too: an environment for ordinary users (graders.hub.userenv)
    runs the system python and loads the project virtualenv's site-packages from elsewhere.
    """
    package = Path(graders.__file__).resolve().parent
    site_dirs = [Path(p).resolve() for p in sys.path if Path(p).name in SITE_DIR_NAMES and Path(p).is_dir()]
    wanted = [Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), package, *site_dirs]
    roots: list[Path] = []
    for path in sorted(wanted, key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(root) for root in roots + [Path("/usr")]):
            roots.append(path)
    args: list[str] = []
    made: set[Path] = {Path("/")}
    for root in roots:
        for parent in reversed(root.parents):
            if parent not in made:
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        args += ["--ro-bind", str(root), str(root)]
    if Path(sys.prefix) != Path(sys.prefix).resolve():
        args += ["--symlink", str(Path(sys.prefix).resolve()), sys.prefix]
    return args


def count_gpus() -> int:
    """NVIDIA GPUs on this machine (/dev/nvidia0, /dev/nvidia1, ...)."""
    return len(list(Path("/dev").glob("nvidia[0-9]*")))


def _gpu_view() -> list[str]:
    """The NVIDIA device nodes (driver libraries live under /usr, already bound)."""
    args: list[str] = []
    for device in sorted(Path("/dev").glob("nvidia*")):
        args += ["--dev-bind", str(device), str(device)]
    return args


def get_sandbox(name: str) -> Sandbox:
    """The backend called `name` ("bubblewrap" or "none")."""
    backends = {"bubblewrap": BubblewrapSandbox, "none": NoSandbox}
    if name not in backends:
        raise SandboxUnavailable(f"unknown sandbox {name!r} (choose from {', '.join(backends)})")
    return backends[name]()
