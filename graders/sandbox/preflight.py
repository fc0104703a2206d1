"""Before grading: can this machine sandbox a submission? One probe per grader process, and a one-line answer.

`check(backend)` starts graders.sandbox.selftest in the backend's sandbox, with the kernel's
own command line, and reads what it found: user namespaces (bubblewrap's own, and the one
each submission gets inside), network isolation, process and file limits. `require(backend)`
turns a failure into one line naming the cause and the fix (SandboxUnavailable, a
UserError), so that a command stops before grading instead of failing every submission.

Where user namespaces are refused, `explain` names why from the failure (bubblewrap's
message, or the step of the selftest that failed) and the host's settings:

- Ubuntu 23.10+ (AppArmor): `kernel.apparmor_restrict_unprivileged_userns = 1`. bubblewrap
  gets a namespace without rights and says "setting up uid map: Permission denied";
- Debian's and older Ubuntu's switch: `kernel.unprivileged_userns_clone = 0`. bubblewrap says
  "No permissions to create(ing) new namespace, likely because the kernel does not allow
  non-privileged user namespaces";
- a limit of 0 (RHEL 7, hardened hosts): `user.max_user_namespaces = 0`. bubblewrap says
  "Creating new namespace failed: nesting depth or /proc/sys/user/max_*_namespaces exceeded
  (ENOSPC)" (bubblewrap.c, 0.7 and later).
"""

from __future__ import annotations

import functools
import json
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from graders.sandbox.backends import NoSandbox, SandboxUnavailable, get_sandbox

PROBE_TIMEOUT_S = 60
SYSCTLS = {  # name -> file; the ones that decide whether unprivileged user namespaces may be created
    "kernel.apparmor_restrict_unprivileged_userns": "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
    "kernel.unprivileged_userns_clone": "/proc/sys/kernel/unprivileged_userns_clone",
    "user.max_user_namespaces": "/proc/sys/user/max_user_namespaces",
}
APPARMOR_PROFILE = "/etc/apparmor.d/bwrap"  # the README's troubleshooting section gives its content


@dataclass(frozen=True)
class SandboxCheck:
    """What the selftest found in one sandbox backend on this machine."""

    backend: str
    version: str  # e.g. "bubblewrap 0.8.0"; "" for none
    problem: str | None  # one line, cause and fix; None when submissions can be sandboxed
    isolated: bool = False  # per-submission namespaces and private scratch
    interfaces: tuple[str, ...] = ()
    host_port: str = ""  # the grader's loopback port seen from inside: refused | unreachable | open
    processes_limited: bool = False
    files_limited: bool = False
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def network_isolated(self) -> bool:
        return set(self.interfaces) <= {"lo"} and self.host_port != "open"


def require(backend: str) -> None:
    """Return if `backend` can sandbox submissions here; else raise SandboxUnavailable (one line: cause and fix)."""
    if backend == NoSandbox.name:  # nothing to check: the loud warning is the CLI's
        return
    problem = check(backend).problem
    if problem is not None:
        raise SandboxUnavailable(problem)


@functools.cache
def check(backend: str) -> SandboxCheck:
    """Run the selftest in `backend`'s sandbox, once per process (see the module docstring)."""
    sandbox = get_sandbox(backend)  # SandboxUnavailable when bubblewrap is not installed
    version = _version(getattr(sandbox, "bwrap", None))
    with socket.socket() as listener, tempfile.TemporaryDirectory(prefix="graders-probe-") as files:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        argv = [sys.executable, "-m", "graders.sandbox.selftest", "--port", str(listener.getsockname()[1])]
        try:
            # an empty file store, as a warm kernel's before its first job
            run = subprocess.run(sandbox.command(argv, 0, False, files), env=sandbox.environment(False),
                                 capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            return SandboxCheck(backend, version, f"the {backend} sandbox did not answer within {PROBE_TIMEOUT_S} s")
    try:
        found = json.loads(run.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        failure = _first_error(run.stderr) or f"exit code {run.returncode}"
        return SandboxCheck(backend, version, explain(failure, read_sysctls()))
    problem = explain(found["failed"], read_sysctls()) if found.get("failed") else None
    result = SandboxCheck(backend, version, problem, bool(found.get("isolated")), tuple(found.get("interfaces", ())),
                          found.get("host_port", ""), bool(found.get("processes_limited")),
                          bool(found.get("files_limited")), found)
    if result.ok and sandbox.isolated and not result.network_isolated:
        return SandboxCheck(backend, version, f"the {backend} sandbox does not isolate the network here "
                            f"(interfaces {', '.join(result.interfaces)}; the grader's port: {result.host_port})")
    return result


def explain(failure: str, sysctls: Mapping[str, str]) -> str:
    """One line: why a sandbox could not be made (`failure`: bubblewrap's message or a selftest step) and the fix."""
    low = failure.lower()
    userns = any(word in low for word in ("namespace", "uid map", "uid_map", "enospc", "unshare"))
    maximum = sysctls.get("user.max_user_namespaces")
    if "enospc" in low or "no space left" in low or (userns and maximum == "0"):
        cause = ("user.max_user_namespaces is 0" if maximum == "0" else "their limit is reached "
                 f"(user.max_user_namespaces is {maximum or '?'} here, or lower in a parent namespace)")
        return (f"user namespaces cannot be created here: {cause} ({failure}); "
                "fix: `sudo sysctl -w user.max_user_namespaces=15000` (and the same line in /etc/sysctl.d/ to keep it)")
    if userns and sysctls.get("kernel.unprivileged_userns_clone") == "0":
        return ("unprivileged user namespaces are switched off (kernel.unprivileged_userns_clone = 0): "
                f"{failure}; fix: `sudo sysctl -w kernel.unprivileged_userns_clone=1` "
                "(and the same line in /etc/sysctl.d/ to keep it)")
    if userns and sysctls.get("kernel.apparmor_restrict_unprivileged_userns") == "1":
        return ("AppArmor refuses user namespaces to unconfined programs "
                f"(kernel.apparmor_restrict_unprivileged_userns = 1): {failure}; fix: an AppArmor profile for bwrap "
                f"that allows `userns` in {APPARMOR_PROFILE} (README, Troubleshooting), or "
                "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`")
    if "does not support user namespaces" in low or "einval" in low:
        return f"this kernel has no user namespaces (CONFIG_USER_NS): {failure}; grade as root or on another machine"
    if userns and ("permission" in low or "eperm" in low or "not permitted" in low):
        return (f"user namespaces are refused here ({failure}), by no setting graders knows (a container's "
                "seccomp profile?); run `graders doctor` on the host, or grade on a machine that allows them")
    return f"the sandbox cannot start here: {failure}"


def read_sysctls() -> dict[str, str]:
    """The settings of SYSCTLS that this kernel has."""
    values = {}
    for name, path in SYSCTLS.items():
        try:
            values[name] = Path(path).read_text().strip()
        except OSError:
            pass
    return values


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return next((line for line in lines if line.startswith("bwrap:")), lines[-1] if lines else "")


def _version(bwrap: str | None) -> str:
    if bwrap is None:
        return ""
    try:
        return subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10,
                              check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "bubblewrap (version unknown)"
