"""Where the fixed cost of one submission goes, inside a warm sandboxed kernel.

    .venv/bin/python bench/profile_kernel.py [--runs 20] [--cells 26]

Starts the real bubblewrap kernel (graders.sandbox.kernel, hw1_backprop's preloads) with
timers around its per-submission steps, runs notebooks whose code cells do
nothing, and prints the median wall time of each step, as seen from the
process that took it (all clocks are CLOCK_MONOTONIC, shared across the
sandbox's namespaces), and the attempt's CPU time and page faults.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from graders.authoring.source import instructor_notebook
from graders.course import Course
from graders.sandbox.backends import get_sandbox
from graders.sandbox.runner import WarmKernel

REPO = Path(__file__).resolve().parent.parent
TIMING_FD = 99

# Runs in the kernel instead of `-m graders.sandbox.kernel`: the same main(), with timed steps. Timings go
# to a copy of the kernel's stderr that survives _quiet_std_fds (which only touches fds 0-2).
INSTRUMENTED = f"""
import os, resource, sys, time
os.dup2(2, {TIMING_FD})
now = time.monotonic
def log(name, start, end=None):
    os.write({TIMING_FD}, f"T {{os.getpid()}} {{name}} {{start:.6f}} {{(end or now()) - start:.6f}}\\n".encode())
import graders.sandbox.kernel as k
def timed(name, function):
    def run(*args, **kwargs):
        start = now()
        try:
            return function(*args, **kwargs)
        finally:
            log(name, start)
    return run
for name in ("_enter_namespaces", "_private_scratch", "_drop_capabilities", "_apply_limits",
             "_quiet_std_fds", "run_cell"):
    setattr(k, name, timed(name, getattr(k, name)))
real_fork, real_exit, real_wait4, real_waitpid = os.fork, os._exit, os.wait4, os.waitpid
def fork():
    start = now()
    pid = real_fork()
    log("fork_parent_side" if pid else "fork_child_starts", start)
    return pid
def _exit(code):
    ru = resource.getrusage(resource.RUSAGE_SELF)
    os.write({TIMING_FD}, f"X {{os.getpid()}} {{now():.6f}} {{ru.ru_utime + ru.ru_stime:.6f}} {{ru.ru_minflt}}\\n".encode())
    real_exit(code)
def wait4(pid, options):
    result = real_wait4(pid, options)
    os.write({TIMING_FD}, f"W {{os.getpid()}} {{now():.6f}}\\n".encode())
    return result
def waitpid(pid, options):
    result = real_waitpid(pid, options)
    os.write({TIMING_FD}, f"W {{os.getpid()}} {{now():.6f}}\\n".encode())
    return result
os.fork, os._exit, os.wait4, os.waitpid = fork, _exit, wait4, waitpid
WARM_UP
k.main(sys.argv[1:])
"""


class InstrumentedSandbox:
    """The bubblewrap sandbox, starting the instrumented kernel instead of `-m graders.sandbox.kernel`."""

    def __init__(self, warm_up: str = "") -> None:
        self.real = get_sandbox("bubblewrap")
        self.warm_up = warm_up
        self.name = self.real.name

    def command(self, kernel_argv: list[str], slot: int, gpu: bool, files: str) -> list[str]:
        at = kernel_argv.index("-m")
        argv = kernel_argv[:at] + ["-c", INSTRUMENTED.replace("WARM_UP", self.warm_up)] + kernel_argv[at + 2:]
        return self.real.command(argv, slot, gpu, files)

    def environment(self, gpu: bool) -> dict[str, str]:
        return self.real.environment(gpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cells", type=int, default=25, help="code cells per notebook (hw1 has 25)")
    parser.add_argument("--solution", action="store_true",
                        help="run hw1's instructor solution instead of `pass` cells; per-cell times")
    parser.add_argument("--warm-up", default="", help="python run in the zygote before it serves")
    args = parser.parse_args()
    course = Course.load(REPO)
    homework = course.homework("hw1_backprop")
    code = [(i, c.source) for i, c in enumerate(instructor_notebook(course, "hw1_backprop", "hw1_backprop").cells)
            if c.cell_type == "code"] if args.solution else [(i, "pass") for i in range(args.cells)]
    kernel = WarmKernel(InstrumentedSandbox(args.warm_up), preload=homework.preload)  # type: ignore[arg-type]
    per_cell: dict[int, list[float]] = defaultdict(list)
    kernel.start()
    walls, cpus = [], []
    steps: dict[str, list[float]] = defaultdict(list)
    try:
        kernel.execute([(0, "pass")], homework.limits)  # the first one after start pays one-off costs
        for _ in range(args.runs):
            kernel._stderr.seek(0)
            kernel._stderr.truncate()
            execution = kernel.execute(code, homework.limits)
            assert not execution.failed, execution.reason
            for index, run in execution.cells.items():
                per_cell[index].append(run.seconds)
            walls.append(execution.wall_s)
            cpus.append(execution.cpu_s or 0.0)
            kernel._stderr.seek(0)
            for name, seconds in _steps(kernel._stderr.read().decode()).items():
                steps[name].append(seconds)
    finally:
        kernel.close()
    print(f"{args.runs} notebooks of {'the solution' if args.solution else f'{args.cells} `pass` cells'}; "
          f"median per notebook:")
    print(f"  attempt wall (grader side) {statistics.median(walls) * 1000:.1f} ms, "
          f"attempt CPU (C1-C3, as recorded in graders_attempt) {statistics.median(cpus) * 1000:.1f} ms")
    for name, values in steps.items():
        print(f"  {name:<48} {statistics.median(values) * 1000:8.2f} ms")
    if args.solution:
        print("  cells over 5 ms: " + ", ".join(
            f"{i}: {statistics.median(v) * 1000:.0f} ms" for i, v in per_cell.items() if statistics.median(v) > 0.005))


def _steps(log: str) -> dict[str, float]:
    """Per-step seconds of one notebook, from the timing lines of the zygote and its forks."""
    timed: dict[str, float] = defaultdict(float)
    exits, waits = [], []
    for line in log.splitlines():
        parts = line.split()
        if parts and parts[0] == "T":
            timed[parts[2]] += float(parts[4])
        elif parts and parts[0] == "X":
            exits.append((float(parts[2]), float(parts[3]), int(parts[4])))
        elif parts and parts[0] == "W":
            waits.append(float(parts[2]))
    # C3 exits first, then C2, then C1 (see graders.sandbox.kernel); each parent's wait returns once
    # the kernel has torn its child's copy of the zygote down.
    exits.sort()
    for name, (_, cpu, minflt) in zip(("C3", "C2", "C1"), exits):
        timed[f"{name}: CPU until os._exit"] += cpu
        timed[f"{name}: minor page faults (thousands, shown as ms)"] += minflt / 1e6
    for (exit_at, _, _), wait_at in zip(exits, sorted(waits)):
        timed["exit teardown, 3 forks (os._exit -> wait returns)"] += max(0.0, wait_at - exit_at)
    timed["cells: run_cell total"] = timed.pop("run_cell", 0.0)
    return timed


if __name__ == "__main__":
    sys.exit(main())
