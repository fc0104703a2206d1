"""`graders doctor`: what this machine will enforce before a class is graded, and what it lacks.

Every finding is checked, not assumed: the sandbox runs graders.sandbox.selftest (user
namespaces, network, limits) through graders.sandbox.preflight, the memory limit is
attached to a real process the way a kernel's is (graders.sandbox.memory), the database
and a Dask scheduler are connected to. A finding FAILs when grading this course here
would not work or not be safe: no sandbox, a homework that requires a GPU where there is
none, a database or scheduler that does not answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from enum import StrEnum

from graders.course import Course
from graders.errors import UserError
from graders.sandbox import memory, preflight
from graders.sandbox.backends import count_gpus

CONNECT_TIMEOUT_S = 5


class Status(StrEnum):
    OK = "ok"
    INFO = "info"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    """One line of the report: what was checked, how it went, what was found."""

    name: str
    status: Status
    detail: str


def diagnose(course: Course, backend: str = "bubblewrap", scheduler: str | None = None,
             full: bool = True) -> list[Finding]:
    """Check this machine for grading `course` with `backend`; `full` adds torch, the database and `scheduler`."""
    findings = _sandbox(backend) + [_memory_limit()]
    gpus = count_gpus()
    findings.append(_gpus(gpus, full))
    if full and scheduler:
        runners, gpus = _scheduler(scheduler)
        findings.append(runners)
    findings += _homeworks(course, gpus, "the scheduler's workers" if full and scheduler else "this machine")
    if full:
        findings.append(_database(course.db_url))
    return findings


def failed(findings: list[Finding]) -> bool:
    return any(f.status == Status.FAIL for f in findings)


def summary(findings: list[Finding]) -> str:
    """The report in one line, e.g. for the start of `graders autograde`."""
    parts = []
    for finding in findings:
        if finding.status == Status.FAIL:
            parts.append(f"{finding.name} FAILED")
        elif finding.name in SUMMARY_WORDS:
            parts.append(SUMMARY_WORDS[finding.name](finding.detail))
    return "doctor: " + ", ".join(parts)


SUMMARY_WORDS = {
    "sandbox": lambda detail: detail.split(" (")[0],
    "user namespaces": lambda detail: "user namespaces ok",
    "network": lambda detail: "network isolated",
    "memory limit": lambda detail: f"memory limit: {detail.split(':')[0]}",
    "process and file limits": lambda detail: "process and file limits ok",
    "GPUs": lambda detail: detail.split(";")[0],
}


def _sandbox(backend: str) -> list[Finding]:
    try:
        check = preflight.check(backend)
    except UserError as exc:  # bubblewrap not installed
        return [Finding("sandbox", Status.FAIL, str(exc))]
    if not check.isolated:
        return [Finding("sandbox", Status.INFO, "none: NO isolation, student code runs as you and sees the course")]
    who = ("as root: kernels run as uids 60000 + slot" if os.geteuid() == 0
           else f"as uid {os.geteuid()}: in user namespaces")
    findings = [Finding("sandbox", Status.OK, f"{check.version} ({shutil.which('bwrap')}, {who})")]
    if check.problem is not None:
        return findings + [Finding("user namespaces", Status.FAIL, check.problem)]
    findings.append(Finding("user namespaces", Status.OK, "allowed: the sandbox's, and one per submission inside it"))
    findings.append(Finding("network", Status.OK, f"isolated: interfaces inside {', '.join(check.interfaces)}; "
                                                  f"a port on the grader's loopback: {check.host_port}"))
    limited = {"processes": check.processes_limited, "file size": check.files_limited}
    missing = [name for name, ok in limited.items() if not ok]
    findings.append(Finding("process and file limits", Status.FAIL, f"NOT enforced: {', '.join(missing)}") if missing
                    else Finding("process and file limits", Status.OK, "enforced (checked): processes, file size; "
                                 "CPU time and address space by setrlimit too"))
    return findings


def _memory_limit() -> Finding:
    mechanism, where = memory.probe()
    return Finding("memory limit", Status.OK, f"{mechanism}: {where}")


def _gpus(count: int, full: bool) -> Finding:
    names = []
    if count and shutil.which("nvidia-smi"):
        try:
            names = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                                   capture_output=True, text=True, timeout=30, check=False).stdout.strip().splitlines()
        except (OSError, subprocess.TimeoutExpired):
            pass
    detail = f"{count} GPU{'s' if count != 1 else ''}" + (f" ({'; '.join(names)})" if names else "")
    if full:
        detail += "; " + _torch_versions()
    return Finding("GPUs", Status.OK if count else Status.INFO, detail)


def _torch_versions() -> str:
    try:
        import torch
    except ImportError:
        return "torch not installed"
    cuda = torch.version.cuda or "none"
    usable = "yes" if torch.cuda.is_available() else "no"
    return f"torch {torch.__version__}, built for CUDA {cuda}, CUDA usable: {usable}"


def _homeworks(course: Course, gpus: int, where: str) -> list[Finding]:
    findings = []
    for hw in course.assignments():
        homework = course.homework(hw)
        limits = homework.limits
        detail = (f"gpu {homework.gpu}; {limits.memory_mb} MiB, {limits.processes} processes, {limits.file_mb} MiB "
                  f"files, {limits.scratch_mb} MiB scratch, {limits.cpu_s} s CPU, {limits.wall_s:g} s wall")
        if homework.gpu == "required" and not gpus:
            findings.append(Finding(hw, Status.FAIL, f"requires a GPU and none was seen on {where} ({detail})"))
        else:
            findings.append(Finding(hw, Status.OK, detail))
    return findings


def _database(url: str) -> Finding:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        folder = os.path.dirname(os.path.abspath(path)) if path else ""
        if os.path.exists(path) and os.access(path, os.W_OK) or not os.path.exists(path) and os.access(folder, os.W_OK):
            return Finding("database", Status.OK, f"{shown} (writable)")
        return Finding("database", Status.FAIL, f"{shown}: not writable by uid {os.geteuid()}")
    engine = None
    try:
        engine = create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # whatever the driver raises (or its absence): the TA reads one line
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if parsed.password:
            message = message.replace(str(parsed.password), "***")
        return Finding("database", Status.FAIL, f"{shown} does not answer: {message}")
    finally:
        if engine is not None:
            engine.dispose()
    return Finding("database", Status.OK, f"{shown} (connected)")


def _scheduler(address: str) -> tuple[Finding, int]:
    """The scheduler's finding, and how many of its workers have a GPU."""
    from distributed import Client

    try:
        with Client(address, timeout=f"{CONNECT_TIMEOUT_S}s") as client:
            workers = list(client.scheduler_info(n_workers=-1)["workers"].values())
    except (OSError, ValueError) as exc:  # unreachable, or not a scheduler address
        return Finding("scheduler", Status.FAIL, f"{address} does not answer: {exc}"), 0
    gpu_workers = sum(1 for w in workers if w.get("resources", {}).get("GPU", 0) > 0)
    return Finding("scheduler", Status.OK if workers else Status.FAIL,
                   f"{address}: {len(workers)} workers, {gpu_workers} with a GPU"), gpu_workers
