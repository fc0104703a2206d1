"""Attack cells that a student could hand in, and the checks that grading left the machine clean.

Every attack is Python source for one notebook cell, run inside the real sandbox.
Each one is bounded so that the machine stays safe even if the sandbox were
broken: at most 4 GiB of memory (2.4 GiB over 8 processes), 1000 forked processes living 20 s, 200 MB of
output, a 60 s loop, a daemon that exits after 20 s, new files under unique names
(mode "x": nothing existing is overwritten; the fixtures remove them if they ever
appear on the host), existing platform files opened for appending with nothing
written, no signal sent to any process but the kernel itself. Every attack prints
`ATTACK-RAN <name>` so that a test can tell "blocked" from "never ran".
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import psutil

SANDBOX_UID_BASE = 60000  # graders.sandbox.backends.SLOT_UID_BASE: as root, kernels run as 60000 + slot
PR_SET_NAME = 15
OWN_USER_NAMESPACE = os.readlink("/proc/self/ns/user")


def _name_process(comm: str) -> str:
    """Source that renames the current process (its `comm`, 15 bytes at most) so psutil can find it."""
    assert len(comm) <= 15
    return f"import ctypes\nctypes.CDLL(None).prctl({PR_SET_NAME}, {comm.encode()!r}, 0, 0, 0)\n"


def read_files(targets: list[str]) -> str:
    return f"""
import glob, os
targets = {targets!r}
for path in targets:
    try:
        if os.path.isdir(path):
            print("READ-OK", path, sorted(os.listdir(path))[:50])
        else:
            with open(path, "rb") as f:
                print("READ-OK", path, f.read(300))
    except OSError as exc:
        print("DENIED", path, type(exc).__name__)
# the same paths through the root and cwd links of every process the kernel can see
for link in glob.glob("/proc/[0-9]*/root") + glob.glob("/proc/[0-9]*/cwd"):
    for path in targets:
        try:
            with open(link + path, "rb") as f:
                print("READ-OK", link + path, f.read(300))
        except OSError:
            pass
print("ATTACK-RAN read", len(targets))
"""


def write_files(new_files: list[str], existing_files: list[str], gradebook: str) -> str:
    return f"""
import os, sqlite3
for path in {new_files!r}:
    try:
        with open(path, "x") as f:
            f.write("PWNED")
        print("WROTE", path)
    except OSError as exc:
        print("DENIED", path, type(exc).__name__)
for path in {existing_files!r}:
    try:
        with open(path, "ab") as f:
            f.write(b" ")
        print("WROTE", path)
    except OSError as exc:
        print("DENIED", path, type(exc).__name__)
try:
    if not os.path.exists({gradebook!r}):
        raise FileNotFoundError({gradebook!r})
    db = sqlite3.connect({gradebook!r}, timeout=2)
    db.execute("UPDATE grade SET manual_score = 1000")
    db.commit()
    print("WROTE gradebook")
except Exception as exc:
    print("DENIED gradebook", type(exc).__name__)
print("ATTACK-RAN write")
"""


def network(port: int, host_ips: list[str]) -> str:
    """Connect to the test's listening `port`, then to every port of localhost and of the host's
    addresses (an address the kernel says is unreachable is skipped whole), DNS and the internet."""
    return f"""
import errno, socket
found, scanned = [], 0
for host in ["127.0.0.1", "::1", *{host_ips!r}]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family)
    s.settimeout(2)
    try:
        s.connect((host, {port}))
        found.append((host, {port}))
        code = 0
    except OSError as exc:
        code = exc.errno
        print("BLOCKED", host, {port}, type(exc).__name__, errno.errorcode.get(code))
    finally:
        s.close()
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
        print("UNREACHABLE", host)
        continue
    for p in range(1, 65536):  # the Dask scheduler, nanny, workers and dashboard, a hub...
        s = socket.socket(family)
        s.settimeout(0.5)
        try:
            s.connect((host, p))
            if s.getsockname() != s.getpeername():  # not a TCP self-connect on an ephemeral port
                found.append((host, p))
        except OSError:
            pass
        finally:
            s.close()
        scanned += 1
    print("SCANNED", host)
try:
    socket.getaddrinfo("pypi.org", 443)
    found.append("dns")
except OSError as exc:
    print("BLOCKED dns", type(exc).__name__)
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("1.1.1.1", 443))
    found.append("internet")
except OSError as exc:
    print("BLOCKED internet", type(exc).__name__)
finally:
    s.close()
print("OPEN:", found)
print("ATTACK-RAN network")
"""


ENVIRONMENT = """
import glob, os
print("ENV", dict(os.environ))
for path in glob.glob("/proc/[0-9]*/environ") + glob.glob("/proc/[0-9]*/cmdline"):
    try:
        with open(path, "rb") as f:
            print(path, f.read(4000))
    except OSError as exc:
        print(path, "DENIED", type(exc).__name__)
print("ATTACK-RAN env")
"""

# 128 MiB chunks of touched memory, 4 GiB at most; the chunks are dropped before the error goes up.
MEMORY_BOMB = """
import numpy as np
chunks = []
try:
    for i in range(32):
        chunks.append(np.ones(16 * 2**20))
        print("ALLOCATED-MIB", 128 * (i + 1), flush=True)
finally:
    print("ATTACK-RAN memory")
    del chunks
"""


MEMORY_PROCESSES, MEMORY_PER_PROCESS_MIB, MEMORY_HOLD_S = 8, 300, 30


def memory_bomb_processes(comm: str) -> str:
    """8 children named `comm` that each touch 300 MiB (2.4 GiB together) and hold it for 30 s.

    The parent prints `ALL-HELD-MIB 2400` once every child has its memory, and the
    children then exit on their own: the bomb is bounded even if no limit stopped it.
    """
    return _name_process(comm) + f"""
import os, numpy as np, time
print("ATTACK-RAN memory_procs", flush=True)
report_r, report_w = os.pipe()
for _ in range({MEMORY_PROCESSES}):
    if os.fork() == 0:
        try:
            a = np.ones({MEMORY_PER_PROCESS_MIB} * 2**17)  # float64: 300 MiB, every page touched
            os.write(report_w, b"x")
            time.sleep({MEMORY_HOLD_S})
        finally:
            os._exit(0)
held, end = 0, time.monotonic() + 60
while held < {MEMORY_PROCESSES} and time.monotonic() < end:
    held += len(os.read(report_r, 16))
if held == {MEMORY_PROCESSES}:
    print("ALL-HELD-MIB", {MEMORY_PROCESSES * MEMORY_PER_PROCESS_MIB}, flush=True)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
"""


def fork_bomb(comm: str) -> str:
    """Up to 1000 children, each named `comm` and living 20 s, forked by a small interpreter
    (forking the kernel itself, torch loaded, would only make the test slower)."""
    bomb = f"""
import ctypes, os, time
forked, error = 0, None
for _ in range(1000):
    try:
        pid = os.fork()
    except OSError as exc:
        error = exc
        break
    if pid == 0:
        try:
            os.closerange(0, 3)  # let the parent's reader see the end of its output
            ctypes.CDLL(None).prctl({PR_SET_NAME}, {comm.encode()!r}, 0, 0, 0)
            time.sleep(20)
        finally:
            os._exit(0)
    forked += 1
print("FORKED", forked, "STOPPED-BY", type(error).__name__)
"""
    return f"""
import subprocess, sys
print(subprocess.run([sys.executable, "-S", "-c", {bomb!r}], capture_output=True, text=True).stdout)
print("ATTACK-RAN fork")
"""


def hang(comm: str) -> str:
    """A busy loop that ignores every catchable signal and exception, for 60 s at most."""
    return _name_process(comm) + """
import signal, time
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM, signal.SIGUSR1,
            signal.SIGUSR2, signal.SIGXCPU, signal.SIGQUIT):
    signal.signal(sig, signal.SIG_IGN)
print("ATTACK-RAN hang", flush=True)
end = time.monotonic() + 60
while time.monotonic() < end:
    try:
        pass
    except BaseException:
        pass
"""


OS_EXIT = "import os\nos._exit(0)\n"
SIGKILL_SELF = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
FLOOD_MB = 200
FLOOD = f"""
import sys
print("ATTACK-RAN flood", flush=True)
chunk = "x" * (1 << 20)
for _ in range({FLOOD_MB}):
    sys.stdout.write(chunk)
"""

DAEMON_LIFE_S = 20


def daemon(marker: str, targets: list[str]) -> str:
    """Double fork + setsid; the grandchild appends to `targets` twice a second for DAEMON_LIFE_S.

    The last target is in the submission's scratch folder, so the cell can tell that the
    daemon runs; the others are host paths it must never reach.
    """
    body = (f"import sys, time\nend = time.monotonic() + {DAEMON_LIFE_S}\n"
            "while time.monotonic() < end:\n"
            "    for p in sys.argv[1:-1]:\n"
            "        try:\n            open(p, 'a').write('daemon\\n')\n        except OSError:\n            pass\n"
            "    time.sleep(0.5)\n")
    return f"""
import os, sys, time
pid = os.fork()
if pid == 0:
    try:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", {body!r}, *{targets!r}, {marker!r}])
    finally:
        os._exit(0)
os.waitpid(pid, 0)
for _ in range(100):
    if os.path.exists({targets[-1]!r}):
        print("DAEMON-ALIVE")
        break
    time.sleep(0.1)
print("ATTACK-RAN daemon")
"""


def startup_payload(marker: str) -> str:
    """What a startup file would do to a later student: print a marker and disable every probe."""
    return (f"# {marker}\nprint({marker!r})\n"
            "try:\n    import graders.probes as _p\n    _p.probe = lambda *a, **k: None\nexcept Exception:\n    pass\n")


def startup_files(marker: str, host_home_targets: list[str]) -> str:
    payload = startup_payload(marker)
    pth = f"import sys; print({marker!r})\n"
    return f"""
import os, site, sys
import graders
payload, pth = {payload!r}, {pth!r}
home = os.path.expanduser("~")
dirs = [*site.getsitepackages(), site.getusersitepackages(), os.path.dirname(os.__file__), os.getcwd(), "/tmp"]
targets = [(os.path.join(d, name), payload) for d in dirs for name in ("sitecustomize.py", "usercustomize.py")]
targets += [(os.path.join(d, "zz_graders_attack.pth"), pth) for d in site.getsitepackages()]
targets += [(os.path.join(h, ".ipython", "profile_default", "startup", "00-attack.py"), payload)
            for h in (home, "/tmp", *{host_home_targets!r})]
targets += [(os.path.join(h, ".jupyter", "jupyter_config.py"), payload) for h in (home, "/tmp", *{host_home_targets!r})]
targets += [(os.path.join(os.environ.get("MPLCONFIGDIR", "/tmp/matplotlib"), "matplotlibrc"),
             "# {marker}\\nbackend: agg\\n")]
for path, content in targets:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "x") as f:
            f.write(content)
        print("WROTE", path)
    except OSError as exc:
        print("DENIED", path, type(exc).__name__)
# the platform's own code: opened for appending, nothing written
for path in [os.path.join(os.path.dirname(graders.__file__), n) for n in ("probes.py", "kernel.py", "__init__.py")]:
    try:
        open(path, "ab").close()
        print("WRITABLE", path)
    except OSError as exc:
        print("DENIED", path, type(exc).__name__)
get_ipython().events.register("pre_run_cell", lambda *a: print({marker!r}))
print("ATTACK-RAN startup")
"""


# --- checks -----------------------------------------------------------------------------


def tree_digest(root: Path, skip: tuple[str, ...] = ("autograded", "gradebook.db")) -> dict[str, str]:
    """sha256 of every file under `root`, except what grading is expected to write."""
    digest = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in skip or rel.parts[0].startswith("gradebook.db"):
            continue
        if path.is_file() or path.is_symlink():
            digest[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "link"
        elif path.is_dir():
            digest[str(rel) + "/"] = "dir"
    return digest


def _is_ours_or_orphaned(proc: psutil.Process, me: int) -> bool:
    """A sandbox process left by this test run: one of our descendants, or one no live grader holds.

    Another session's live sandboxes (other uids 60000+ on a shared machine) sit under
    a bwrap whose parent is that session's grader; a sandbox whose grader died is
    reparented to init (or holds no bwrap at all) and counts as left behind.
    """
    try:
        parents = proc.parents()
        if any(p.pid == me for p in parents):
            return True
        wrappers = [p for p in parents if p.name() == "bwrap"]
        return not wrappers or wrappers[-1].ppid() <= 1
    except psutil.Error:
        return False


def is_sandboxed(pid: int, uid: int) -> bool:
    """Whether process `pid` (of real uid `uid`) is a sandboxed kernel or submission.

    As root, kernels run as uids 60000 + slot. As an ordinary user they run as that user, in
    user namespaces of their own: a process of ours in another user namespace, or one that
    hides its namespace from us (the non-dumpable zygote), is one.
    """
    if os.geteuid() == 0:
        return uid >= SANDBOX_UID_BASE
    if uid != os.getuid():
        return False
    try:
        return os.readlink(f"/proc/{pid}/ns/user") != OWN_USER_NAMESPACE
    except PermissionError:
        return True
    except OSError:
        return False


def sandbox_processes(since: float, descendants_of: int | None = None) -> list[dict]:
    """Live (non-zombie) sandboxed processes (see is_sandboxed) started after `since` and belonging to us."""
    me = descendants_of if descendants_of is not None else psutil.Process().pid
    found = []
    for proc in psutil.process_iter(["pid", "uids", "create_time", "status", "cmdline", "name"]):
        info = proc.info
        if info["uids"] is None or not is_sandboxed(proc.pid, info["uids"].real):
            continue
        if info["status"] == psutil.STATUS_ZOMBIE or info["create_time"] < since - 1:
            continue
        if _is_ours_or_orphaned(proc, me):
            found.append({k: info[k] for k in ("pid", "name", "cmdline")} | {"uid": info["uids"].real})
    return found


def processes_matching(marker: str) -> list[dict]:
    """Live processes (any uid) whose name or command line contains `marker`."""
    found = []
    for proc in psutil.process_iter(["pid", "name", "cmdline", "status"]):
        info = proc.info
        if info["status"] == psutil.STATUS_ZOMBIE:
            continue
        text = " ".join(info["cmdline"] or []) + " " + (info["name"] or "")
        if marker in text and proc.pid != psutil.Process().pid:
            found.append({"pid": info["pid"], "name": info["name"], "cmdline": info["cmdline"]})
    return found


def wait_until_gone(check, timeout_s: float = 10.0) -> list:  # noqa: ANN001 - a callable
    """Poll `check()` until it returns nothing (sandboxes die asynchronously when a cluster closes)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = check()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)
