"""The grading kernel: a warm interpreter inside the sandbox, forked once per submission.

`python -m graders.sandbox.kernel --control-fd N` imports the heavy modules once (numpy,
torch, IPython, ...) and waits on its control socket. For each `run` request it
hands the grader a fresh socket pair end and forks:

    zygote ─ fork ─> C1: new user, mount, pid, ipc namespaces; waits for C2
                        └ fork ─> C2: pid 1 of the new namespace, private scratch; reaps
                                    └ fork ─> C3: limits, no capabilities; runs the cells

When C2 exits the kernel kills every process left in its namespace, and its
tmpfs vanishes with its mount namespace: nothing a submission starts or writes
outlives it, and the zygote (which no child can see or trace) stays clean for
the next one. Frames on the job socket come from untrusted code; the grader
attributes probes to the cell it sent, never to what a frame claims.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import io
import os
import resource
import signal
import socket
import sys
import tempfile
import time
from typing import Any

from graders import probes
from graders.contract import CellStatus
from graders.sandbox import wire

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV = 0x4000, 0x40000, 0x2, 0x4
PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 4, 38
SCRATCH = "/scratch"  # set by --scratch; the submission's only writable place (also HOME and TMPDIR)
OUTPUT_LIMIT = 1 << 20  # characters of captured output kept per cell

_libc = ctypes.CDLL(None, use_errno=True)


def main(argv: list[str] | None = None) -> None:
    """Warm up, then serve `run` requests on the control socket until it closes."""
    parser = argparse.ArgumentParser(prog="graders.sandbox.kernel")
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--uid", type=int)
    parser.add_argument("--gid", type=int)
    parser.add_argument("--isolate", action="store_true", help="namespaces per submission")
    parser.add_argument("--preload", default="")
    parser.add_argument("--scratch", default=SCRATCH)
    args = parser.parse_args(argv)
    _set_scratch(args.scratch)
    if args.uid is not None:
        _drop_to(args.uid, args.gid if args.gid is not None else args.uid)
    # Non-dumpable: a submission running as the same uid cannot ptrace or read our memory.
    _prctl(PR_SET_DUMPABLE, 0)
    control = socket.socket(fileno=args.control_fd)
    shell = _warm_up([m for m in args.preload.split(",") if m])
    wire.send(control, {"op": "ready", "python": sys.version.split()[0]})
    while True:
        try:
            request = wire.recv(control)
        except wire.Closed:
            return
        if request["op"] == "run":
            _serve_one(control, shell, request["limits"], args.isolate)


# Modules that a preloaded one imports on first use, in every fresh fork unless the zygote did:
# torch's backward(gradient) pulls in symbolic_shapes and sympy (~480 modules, ~0.4 s CPU).
FIRST_USE_IMPORTS = {"torch": ("torch.fx.experimental.symbolic_shapes",)}


def _warm_up(preload: list[str]) -> Any:
    for name in preload:
        importlib.import_module(name)
        for lazy in FIRST_USE_IMPORTS.get(name, ()):
            try:
                importlib.import_module(lazy)
            except ImportError:  # another torch version: it only costs time
                pass
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    shell = _shell_class(InteractiveShell).instance(config=config)
    shell.enable_matplotlib("inline")  # figures become display_data outputs, kept in feedback
    _format_one_traceback(shell)
    return shell


def _format_one_traceback(shell: Any) -> None:
    """IPython's first traceback in a process imports its helpers and has inspect resolve the file
    of every loaded module (~50 ms CPU with torch): pay that here, not in every fork with an error."""
    try:
        exec(compile("raise RuntimeError", "<warm-up>", "exec"))
    except RuntimeError:
        shell.InteractiveTB.structured_traceback(*sys.exc_info())
    del shell.InteractiveTB.tb  # as if no error was ever shown: %debug has nothing to open


def _shell_class(base: type) -> type:
    class GradingShell(base):  # type: ignore[misc, valid-type]
        """An IPython shell whose tracebacks become notebook error outputs."""

        capture: "CellCapture | None" = None

        def _showtraceback(self, etype, evalue, stb):  # noqa: ANN001 - IPython's signature
            if self.capture is not None:
                self.capture.add_error(etype, evalue, stb)

        def enable_gui(self, gui=None):  # noqa: ANN001 - no event loop: inline figures only
            pass

    return GradingShell


def _serve_one(control: socket.socket, shell: Any, limits: dict, isolate: bool) -> None:
    grader_end, child_end = socket.socketpair()
    socket.send_fds(control, [b"job"], [grader_end.fileno()])
    grader_end.close()
    pid = os.fork()
    if pid == 0:
        try:
            control.close()
            _first_child(child_end, shell, limits, isolate)
        finally:
            os._exit(70)
    child_end.close()
    _, status, usage = os.wait4(pid, 0)
    wire.send(control, {
        "op": "exit",
        "code": _status_code(status),
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "maxrss_kb": usage.ru_maxrss,
    })


def _first_child(sock: socket.socket, shell: Any, limits: dict, isolate: bool) -> None:
    """C1: enter fresh namespaces, start C2 as their pid 1, pass on its exit status."""
    if isolate:
        _enter_namespaces()
    pid = os.fork()
    if pid == 0:
        try:
            _namespace_init(sock, shell, limits, isolate)
        finally:
            os._exit(70)
    sock.close()
    _, status = os.waitpid(pid, 0)
    os._exit(_status_code(status))


def _namespace_init(sock: socket.socket, shell: Any, limits: dict, isolate: bool) -> None:
    """C2: private scratch space, then run C3 and reap every orphan until C3 ends."""
    if isolate:
        _private_scratch(limits)
    else:
        os.setsid()
    pid = os.fork()
    if pid == 0:
        try:
            _execute(sock, shell, limits)
            os._exit(0)
        finally:
            os._exit(70)
    sock.close()
    while True:
        reaped, status = os.waitpid(-1, 0)
        if reaped == pid:
            os._exit(_status_code(status))


def _execute(sock: socket.socket, shell: Any, limits: dict) -> None:
    """C3: apply limits, then run the cells the grader sends, one at a time."""
    _drop_capabilities()
    _apply_limits(limits)
    _quiet_std_fds()
    workdir = _workdir()
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    os.environ.update(HOME=workdir, TMPDIR=SCRATCH)
    tempfile.tempdir = None  # the zygote may have cached a temporary folder it saw before the fork
    setup = wire.recv(sock)
    for relpath, content in setup.get("files", {}).items():
        _write_file(relpath, content)
    probes._emit = lambda record: wire.send(sock, {"op": "probe", **record})
    wire.send(sock, {"op": "ready"})
    while True:
        request = wire.recv(sock)
        if request["op"] == "end":
            wire.send(sock, {"op": "finished", "device": _device_name()})
            return
        started = time.monotonic()
        outputs, status = run_cell(shell, request["source"])
        wire.send(sock, {"op": "done", "outputs": outputs, "status": status,
                         "seconds": time.monotonic() - started})


def run_cell(shell: Any, source: str) -> tuple[list[dict], str]:
    """Run one cell in `shell`; return its nbformat outputs and how it ended."""
    capture = CellCapture(shell.execution_count)
    shell.capture = capture
    saved = sys.stdout, sys.stderr, shell.display_pub, shell.display_trap.hook
    sys.stdout, sys.stderr = capture.stream("stdout"), capture.stream("stderr")
    shell.display_pub = capture.publisher(shell)
    shell.display_trap.hook = capture.display_hook(shell)
    try:
        result = shell.run_cell(source, store_history=True)
    finally:
        sys.stdout, sys.stderr, shell.display_pub, shell.display_trap.hook = saved
        shell.capture = None
    capture.finish()
    failed = result.error_before_exec is not None or result.error_in_exec is not None
    return capture.outputs, CellStatus.ERROR if failed or capture.errored else CellStatus.OK


class CellCapture:
    """Collects one cell's outputs in notebook order, keeping at most OUTPUT_LIMIT characters."""

    def __init__(self, execution_count: int) -> None:
        self.outputs: list[dict] = []
        self.execution_count = execution_count
        self.kept = 0
        self.dropped = 0
        self.errored = False

    def add_stream(self, name: str, text: str) -> None:
        room = OUTPUT_LIMIT - self.kept
        if len(text) > room:
            self.dropped += len(text) - max(room, 0)
            text = text[: max(room, 0)]
            if not text:
                return
        self.kept += len(text)
        last = self.outputs[-1] if self.outputs else None
        if last and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def add_error(self, etype: type, evalue: BaseException, stb: list[str]) -> None:
        self.errored = True
        self.outputs.append({"output_type": "error", "ename": getattr(etype, "__name__", str(etype)),
                             "evalue": str(evalue)[:2000], "traceback": [s[:4000] for s in stb[-20:]]})

    def add_display(self, data: dict, metadata: dict, result: bool) -> None:
        data = {k: v for k, v in data.items() if isinstance(v, (str, dict, list))}
        if result:
            self.outputs.append({"output_type": "execute_result", "data": data, "metadata": metadata,
                                 "execution_count": self.execution_count})
        else:
            self.outputs.append({"output_type": "display_data", "data": data, "metadata": metadata})

    def finish(self) -> None:
        if self.dropped:
            self.outputs.append({"output_type": "stream", "name": "stderr",
                                 "text": f"\n[output truncated: {self.dropped} characters dropped]\n"})
            self.dropped = 0

    def stream(self, name: str) -> "_CapturedStream":
        return _CapturedStream(self, name)

    def publisher(self, shell: Any) -> Any:
        from IPython.core.displaypub import DisplayPublisher

        capture = self

        class Publisher(DisplayPublisher):
            def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):  # noqa: ANN001
                capture.add_display(dict(data), dict(metadata or {}), result=False)

        return Publisher(shell=shell)

    def display_hook(self, shell: Any) -> Any:
        capture = self

        def hook(value: Any) -> None:
            if value is None:
                return
            shell.user_ns["_"] = value
            data, metadata = shell.display_formatter.format(value)
            capture.add_display(data, metadata, result=True)

        return hook


class _CapturedStream(io.TextIOBase):
    def __init__(self, capture: CellCapture, name: str) -> None:
        self._capture, self._name = capture, name

    def write(self, text: str) -> int:
        self._capture.add_stream(self._name, str(text))
        return len(text)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False


def _device_name() -> str:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        return f"cuda: {torch.cuda.get_device_name()}"
    return "cpu"


def _write_file(relpath: str, content: str) -> None:
    import base64

    workdir = _workdir()
    path = os.path.normpath(os.path.join(workdir, relpath))
    if not path.startswith(workdir + os.sep):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(base64.b64decode(content))


def _set_scratch(path: str) -> None:
    global SCRATCH
    SCRATCH = path


def _workdir() -> str:
    return os.path.join(SCRATCH, "work")


def _status_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code  # killed by signal N -> 128 + N, as shells say


# --- isolation primitives -------------------------------------------------------------


def _drop_to(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def _prctl(option: int, value: int) -> None:
    _libc.prctl(option, value, 0, 0, 0)


def _enter_namespaces() -> None:
    uid, gid = os.getuid(), os.getgid()
    _prctl(PR_SET_DUMPABLE, 1)  # else /proc/self/uid_map belongs to root and cannot be written
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("0")  # the zygote is shielded from the OOM killer; its submissions are not
    if _libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC) != 0:
        raise OSError(ctypes.get_errno(), "unshare failed")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    if _libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                   data.encode() if data else None) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target} failed")


def _private_scratch(limits: dict) -> None:
    _mount("none", "/", None, MS_REC | MS_PRIVATE, None)
    size = f"size={int(limits.get('scratch_mb', 512))}m"
    _mount("tmpfs", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, size + ",mode=1777")
    if os.path.isdir("/dev/shm"):
        _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")


def _drop_capabilities() -> None:
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    _libc.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)())
    _prctl(PR_SET_NO_NEW_PRIVS, 1)


def _apply_limits(limits: dict) -> None:
    mib = 1 << 20
    address_space = _virtual_size() + int(limits.get("memory_mb", 4096)) * mib
    settings = {
        resource.RLIMIT_AS: address_space,
        resource.RLIMIT_CPU: int(limits.get("cpu_s", 600)),
        resource.RLIMIT_NPROC: int(limits.get("processes", 256)),
        resource.RLIMIT_FSIZE: int(limits.get("file_mb", 64)) * mib,
        resource.RLIMIT_NOFILE: 1024,
        resource.RLIMIT_CORE: 0,
    }
    for which, value in settings.items():
        resource.setrlimit(which, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with EFBIG instead


def _virtual_size() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def _quiet_std_fds() -> None:
    """Point fds 0-2 away from the grader's pipes; output written below Python goes nowhere."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


if __name__ == "__main__":
    main()
