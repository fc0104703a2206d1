"""The grader's side of a warm kernel: start it in a sandbox, run one notebook's cells, measure.

`WarmKernel` keeps one sandboxed zygote (graders.sandbox.kernel) alive and runs each
submission in a fresh fork of it, so numpy/torch are imported once per worker,
not once per submission. Every frame from the kernel is untrusted: a probe
counts for the cell this side sent, a malformed, unexpected or oversized frame
ends the attempt, and the whole-notebook timeout kills the whole sandbox (a new
zygote starts next time). A cell past its own time limit costs only its fork
(see `WarmKernel.execute`); graders.sandbox.record keeps what each cell gave.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from typing import Mapping

from graders.contract import CellRun, Execution, JobFile, Limits
from graders.sandbox import memory, wire
from graders.sandbox.backends import Sandbox
from graders.sandbox.filestore import FileStore
from graders.sandbox.record import RunRecord

DEFAULT_PRELOAD = ("numpy", "torch", "matplotlib.pyplot")
START_TIMEOUT_S = 120.0
INTERRUPT_GRACE_S = 5.0  # past a cell's limit, how long its interrupt may take before the grader kills its fork
MAX_PROBES_PER_CELL = 10_000


class KernelStartError(RuntimeError):
    """The sandboxed kernel did not start (infrastructure failure, worth a retry elsewhere)."""


class WarmKernel:
    """A sandboxed, pre-warmed interpreter that runs submissions one at a time in fresh forks."""

    def __init__(self, sandbox: Sandbox, slot: int = 0, gpu: bool = False,
                 preload: tuple[str, ...] = DEFAULT_PRELOAD) -> None:
        self.sandbox, self.slot, self.gpu, self.preload = sandbox, slot, gpu, preload
        self._proc: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._memory: memory.MemoryLimit | None = None
        self._files: FileStore | None = None
        self._stderr = tempfile.TemporaryFile()

    def start(self) -> None:
        """Start the zygote and wait until it has imported everything."""
        ours, theirs = socket.socketpair()
        argv = [sys.executable, "-m", "graders.sandbox.kernel", "--control-fd", str(theirs.fileno()),
                "--preload", ",".join(self.preload)]
        self._files = self._files or FileStore()
        self._proc = subprocess.Popen(
            memory.sandbox_command(self.sandbox.command(argv, self.slot, self.gpu, str(self._files.root))),
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr,
            env=self.sandbox.environment(self.gpu), start_new_session=True)
        theirs.close()
        self._control = ours
        try:
            wire.recv(ours, time.monotonic() + START_TIMEOUT_S)
        except (wire.Closed, wire.Timeout, wire.ProtocolError) as exc:
            self.close()
            raise KernelStartError(f"sandboxed kernel did not start ({type(exc).__name__}): "
                                   f"{self.stderr_tail()}") from None
        self._memory = memory.attach(f"graders-{os.getpid()}-{self.slot}-{self._proc.pid}", self._proc.pid)

    def close(self) -> None:
        """Kill the zygote and everything in its sandbox."""
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._proc.wait()
            self._proc = None
        if self._memory is not None:
            self._memory.close()
            self._memory = None
        if self._files is not None:
            self._files.close()
            self._files = None
        if self._control is not None:
            self._control.close()
            self._control = None

    def stderr_tail(self, size: int = 2000) -> str:
        self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, self._stderr.tell() - size))
        return self._stderr.read().decode(errors="replace").strip()

    def execute(self, cells: list[tuple[int, str]], limits: Limits, files: tuple[JobFile, ...] = (),
                contents: Mapping[str, bytes] | None = None, labels: dict[int, str] | None = None,
                environment: dict[str, str] | None = None) -> Execution:
        """Run the code `cells` ((notebook index, source) pairs) of one submission, with `files` in its
        working folder (`contents`: their bytes by sha256, at least of those not stored here yet);
        `labels` name cells in notes; `environment` is added to the code's environment variables.

        A cell is stopped after `limits.cell_timeout_s` by its own interrupt in the kernel; one
        that does not end within INTERRUPT_GRACE_S more (it caught the interrupt, or sits in C
        code) has its fork killed, and a fresh fork runs again the cells that completed before it
        (their first results stand) and goes on with the cells after it. `limits.wall_s` bounds
        the whole run: past it the sandbox is killed and the reason is "timeout".
        """
        if self._proc is None or self._proc.poll() is not None:
            self.close()
            self.start()
        self._files.put(files, contents or {})
        started = time.monotonic()
        record = RunRecord(list(cells), limits, files, labels or {}, started + limits.wall_s,
                           Execution(cells={index: CellRun() for index, _ in cells}, sandbox=self.sandbox.name),
                           environment or {})
        execution = record.execution
        limit = self._memory
        limit.begin(memory.limit_bytes(limits))  # one limit for every fork of this submission
        while True:
            runaway = self._run_fork(record)
            if _sandbox_lost(execution.reason):
                break
            self._collect_exit(execution, record.deadline)
            if runaway is None or execution.reason is not None or not record.pending():
                break
            record.restart_after(runaway)
        self._files.discard(files)
        used = limit.end()
        execution.memory_mechanism = limit.mechanism
        if used.peak_bytes:  # what the limit counts; ru_maxrss adds the pages the fork shares with the zygote
            execution.maxrss_kb = used.peak_bytes >> 10
        if used.exceeded and execution.reason != "timeout":
            execution.reason = memory.out_of_memory(limit.mechanism)
        # Subclasses count too: numpy raises _ArrayMemoryError, torch OutOfMemoryError.
        if execution.reason is None and any(
                str(out.get("ename", "")).endswith("MemoryError")
                for cell in execution.cells.values() for out in cell.outputs):
            execution.reason = "memory limit (MemoryError)"
        if _sandbox_lost(execution.reason):
            self.close()  # whatever is still running dies with the sandbox
        execution.wall_s = time.monotonic() - started
        return execution

    def _run_fork(self, record: RunRecord) -> int | None:
        """Run the submission in one fresh fork, replaying the cells it ran before (see `execute`).

        Returns the index of a cell that ran away (its fork is being killed), else None;
        a failure sets `execution.reason`.
        """
        execution = record.execution
        wire.send(self._control, {"op": "run", "limits": record.limits.for_kernel(),
                                  "files": [asdict(f) for f in record.files]})
        _, fds, _, _ = socket.recv_fds(self._control, 16, 1)
        with socket.socket(fileno=fds[0]) as job:
            try:
                wire.send(job, {"op": "setup", "environment": record.environment})
                self._expect(job, "ready", record.deadline)
                for index, source in record.cells:
                    if record.skipped(index):
                        continue
                    try:
                        self._run_cell(job, index, source, record)
                    except _Runaway:
                        wire.send(self._control, {"op": "kill"})
                        record.ran_away(index)
                        return index
                wire.send(job, {"op": "end"})
                execution.device = str(self._expect(job, "finished", record.deadline).get("device", "cpu"))[:200]
            except wire.Timeout:
                execution.reason = "timeout"
            except (wire.Closed, BrokenPipeError, ConnectionResetError):
                execution.reason = "kernel died"
            except wire.FrameTooLarge as exc:
                execution.reason = f"output too large for the grader: {exc}"
            except wire.ProtocolError as exc:
                execution.reason = f"protocol violation: {exc}"
        return None

    def _run_cell(self, job: socket.socket, index: int, source: str, record: RunRecord) -> None:
        wire.send(job, {"op": "cell", "source": source})
        result = record.start(index)
        limit = min(record.deadline, time.monotonic() + record.limits.cell_timeout_s + INTERRUPT_GRACE_S)
        while True:
            try:
                message = wire.recv(job, limit)
            except wire.Timeout:
                if limit >= record.deadline:
                    raise
                raise _Runaway() from None
            if message["op"] == "probe":
                if len(result.probes) >= MAX_PROBES_PER_CELL:
                    raise wire.ProtocolError("too many probes in one cell")
                result.probes.append(message)
            elif message["op"] == "done":
                record.finish(index, message)
                return
            else:
                # never echo the frame's text: it reaches feedback, and student code chose it
                raise wire.ProtocolError("unexpected frame (neither a probe nor a cell's result)")

    @staticmethod
    def _expect(job: socket.socket, op: str, deadline: float) -> dict:
        message = wire.recv(job, deadline)
        if message["op"] != op:
            raise wire.ProtocolError(f"expected a {op!r} frame, got another")
        return message

    def _collect_exit(self, execution: Execution, deadline: float) -> None:
        """The fork's exit status and usage, from the zygote (added up over the forks of one submission)."""
        try:
            message = wire.recv(self._control, max(deadline, time.monotonic()) + 10)
        except (wire.Closed, wire.Timeout, wire.ProtocolError):
            self.close()
            execution.reason = execution.reason or "sandbox lost"
            return
        execution.exit_code = int(message.get("code", -1))
        execution.cpu_s = (execution.cpu_s or 0.0) + float(message.get("cpu_s", 0.0))
        execution.maxrss_kb = max(execution.maxrss_kb or 0, int(message.get("maxrss_kb", 0)))
        if execution.reason == "kernel died":
            execution.reason = describe_exit(execution.exit_code)


class _Runaway(Exception):
    """A cell did not end within its time limit and the grace after its interrupt."""


def _sandbox_lost(reason: str | None) -> bool:
    """Whether the sandbox must die: something may still run in it, or its frames can no longer be read."""
    return reason is not None and (reason == "timeout" or reason.startswith(("protocol", "output too large")))


def describe_exit(code: int) -> str:
    """A TA-readable reason for a kernel that ended on its own before the last cell."""
    signals = {9: "killed (SIGKILL)", 24: "CPU time limit", 11: "crashed (segmentation fault)",
               6: "aborted (SIGABRT)", 15: "terminated (SIGTERM)"}
    if code > 128 and code - 128 in signals:
        return f"kernel {signals[code - 128]}"
    return f"kernel died (exit code {code})"
