"""The grader's side of a warm kernel: start it in a sandbox, run one notebook's cells, measure.

`WarmKernel` keeps one sandboxed zygote (graders.sandbox.kernel) alive and runs each
submission in a fresh fork of it, so numpy/torch are imported once per worker,
not once per submission. Every frame from the kernel is untrusted: a probe
counts for the cell this side sent, a malformed or unexpected frame ends the
attempt, and a timeout kills the whole sandbox (a new zygote starts next time).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from graders.contract import CellRun, CellStatus, Execution, Limits
from graders.sandbox import memory, wire
from graders.sandbox.backends import Sandbox

DEFAULT_PRELOAD = ("numpy", "torch", "matplotlib.pyplot")
START_TIMEOUT_S = 120.0
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
        self._stderr = tempfile.TemporaryFile()

    def start(self) -> None:
        """Start the zygote and wait until it has imported everything."""
        ours, theirs = socket.socketpair()
        argv = [sys.executable, "-m", "graders.sandbox.kernel", "--control-fd", str(theirs.fileno()),
                "--preload", ",".join(self.preload)]
        self._proc = subprocess.Popen(
            memory.sandbox_command(self.sandbox.command(argv, self.slot, self.gpu)), pass_fds=[theirs.fileno()],
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
        if self._control is not None:
            self._control.close()
            self._control = None

    def stderr_tail(self, size: int = 2000) -> str:
        self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, self._stderr.tell() - size))
        return self._stderr.read().decode(errors="replace").strip()

    def execute(self, cells: list[tuple[int, str]], limits: Limits,
                files: dict[str, str] | None = None) -> Execution:
        """Run the code `cells` ((notebook index, source) pairs) of one submission."""
        if self._proc is None or self._proc.poll() is not None:
            self.close()
            self.start()
        started = time.monotonic()
        deadline = started + limits.wall_s
        execution = Execution(cells={index: CellRun() for index, _ in cells}, sandbox=self.sandbox.name)
        limit = self._memory
        limit.begin(memory.limit_bytes(limits))
        wire.send(self._control, {"op": "run", "limits": limits.for_kernel()})
        _, fds, _, _ = socket.recv_fds(self._control, 16, 1)
        with socket.socket(fileno=fds[0]) as job:
            execution.reason = self._drive(job, cells, files or {}, deadline, execution)
        runaway = execution.reason == "timeout" or (execution.reason or "").startswith("protocol")
        if not runaway:
            self._collect_exit(execution, deadline)
        used = limit.end()
        execution.memory_mechanism = limit.mechanism
        execution.maxrss_kb = max(execution.maxrss_kb or 0, used.peak_bytes >> 10)
        if used.exceeded and execution.reason != "timeout":
            execution.reason = memory.out_of_memory(limit.mechanism)
        if runaway:
            self.close()  # whatever is still running dies with the sandbox
        execution.wall_s = time.monotonic() - started
        return execution

    def _drive(self, job: socket.socket, cells: list[tuple[int, str]], files: dict[str, str],
               deadline: float, execution: Execution) -> str | None:
        try:
            wire.send(job, {"op": "setup", "files": files})
            self._expect(job, "ready", deadline)
            for index, source in cells:
                self._run_cell(job, index, source, deadline, execution.cells[index])
            wire.send(job, {"op": "end"})
            execution.device = str(self._expect(job, "finished", deadline).get("device", "cpu"))[:200]
            return None
        except wire.Timeout:
            return "timeout"
        except (wire.Closed, BrokenPipeError, ConnectionResetError):
            return "kernel died"
        except wire.ProtocolError as exc:
            return f"protocol violation: {exc}"

    def _run_cell(self, job: socket.socket, index: int, source: str, deadline: float,
                  result: CellRun) -> None:
        wire.send(job, {"op": "cell", "source": source})
        result.status = CellStatus.RUNNING
        while True:
            message = wire.recv(job, deadline)
            if message["op"] == "probe":
                if len(result.probes) >= MAX_PROBES_PER_CELL:
                    raise wire.ProtocolError("too many probes in one cell")
                result.probes.append(message)
            elif message["op"] == "done":
                outputs = message.get("outputs")
                if not isinstance(outputs, list):
                    raise wire.ProtocolError("cell result without outputs")
                result.outputs = outputs
                result.status = CellStatus.ERROR if message.get("status") == CellStatus.ERROR else CellStatus.OK
                result.seconds = float(message.get("seconds", 0.0))
                return
            else:
                raise wire.ProtocolError(f"unexpected {message['op']!r} frame")

    @staticmethod
    def _expect(job: socket.socket, op: str, deadline: float) -> dict:
        message = wire.recv(job, deadline)
        if message["op"] != op:
            raise wire.ProtocolError(f"expected {op!r}, got {message['op']!r}")
        return message

    def _collect_exit(self, execution: Execution, deadline: float) -> None:
        try:
            message = wire.recv(self._control, max(deadline, time.monotonic()) + 10)
        except (wire.Closed, wire.Timeout, wire.ProtocolError):
            self.close()
            execution.reason = execution.reason or "sandbox lost"
            return
        execution.exit_code = int(message.get("code", -1))
        execution.cpu_s = float(message.get("cpu_s", 0.0))
        execution.maxrss_kb = int(message.get("maxrss_kb", 0))
        if execution.reason == "kernel died":
            execution.reason = describe_exit(execution.exit_code)
        # Subclasses count too: numpy raises _ArrayMemoryError, torch OutOfMemoryError.
        if execution.reason is None and any(
                str(out.get("ename", "")).endswith("MemoryError")
                for cell in execution.cells.values() for out in cell.outputs):
            execution.reason = "memory limit (MemoryError)"


def describe_exit(code: int) -> str:
    """A TA-readable reason for a kernel that ended on its own before the last cell."""
    signals = {9: "killed (SIGKILL)", 24: "CPU time limit", 11: "crashed (segmentation fault)",
               6: "aborted (SIGABRT)", 15: "terminated (SIGTERM)"}
    if code > 128 and code - 128 in signals:
        return f"kernel {signals[code - 128]}"
    return f"kernel died (exit code {code})"
