"""What crosses the wall between the coordinator and a runner's sandbox: the job, its limits, its result.

Both sides import this module and nothing of each other: the coordinator
(grading, authoring, course settings) builds a `GradingJob` and reads back an
`Execution`; the runner (graders.sandbox, graders.dispatch.worker) receives the
one and returns the other. Plain dataclasses only: they travel through Dask's
serialization, never into the sandbox itself (which speaks graders.sandbox.wire).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class Limits:
    """Per-submission limits, configurable per homework (homework.toml). Units are in the names."""

    wall_s: float = 300.0  # the whole notebook: a backstop, the sandbox is killed when it passes
    cell_timeout_s: float = 30.0  # one code cell (nbgrader's Execute.timeout): that cell is stopped, the next ones run
    cpu_s: int = 600
    memory_mb: int = 4096
    processes: int = 256
    scratch_mb: int = 512
    file_mb: int = 64

    def for_kernel(self) -> dict:
        """The limits the kernel applies to itself (the wall clock is the runner's to enforce)."""
        return {k: v for k, v in asdict(self).items() if k != "wall_s"}


@dataclass(frozen=True)
class JobFile:
    """One file put in the sandbox's working folder before the first cell runs.

    Only its name, address and size travel in the job: the bytes travel beside it, once per
    runner for a file that many jobs share (see `graders.dispatch.dispatcher.Dispatcher.run`).
    """

    path: str  # relative to the working folder, "/"-separated, never ".." nor absolute
    sha256: str  # of the content: the key under which its bytes travel and are cached on the runner
    size: int  # bytes
    read_only: bool  # True: the homework's own file, bound read-only; False: a writable copy


@dataclass(frozen=True)
class GradingJob:
    """Everything a runner needs to execute one notebook, and nothing it must not see."""

    key: str  # "<student>/<notebook>", unique within a run
    cells: tuple[tuple[int, str], ...]  # (index in the prepared notebook, source) of each code cell
    limits: Limits
    sandbox: str
    gpu: str = "none"
    preload: tuple[str, ...] = ()
    files: tuple[JobFile, ...] = ()
    labels: dict[int, str] = field(default_factory=dict)  # index -> grade id, to name cells in notes
    environment: dict[str, str] = field(default_factory=dict)  # variables the submission's code sees


class MemoryMechanism(StrEnum):
    """What held a submission's processes together under one memory limit (graders.sandbox.memory)."""

    CGROUP_V2 = "cgroup v2"
    CGROUP_V1 = "cgroup v1"
    WATCHDOG = "watchdog"


class CellStatus(StrEnum):
    """How one code cell of a submission ran."""

    NOT_RUN = "not run"
    RUNNING = "running"
    OK = "ok"
    ERROR = "error"
    TIMED_OUT = "timed out"  # ran past Limits.cell_timeout_s and was stopped


def timed_out(seconds: float) -> str:
    """What a cell stopped at its time limit says (its CellTimeoutError, the verdict's message)."""
    return f"cell timed out after {seconds:g} s"


@dataclass
class CellRun:
    """What one code cell produced: notebook outputs and the probes emitted while it ran."""

    outputs: list[dict] = field(default_factory=list)
    status: CellStatus = CellStatus.NOT_RUN
    seconds: float = 0.0
    probes: list[dict] = field(default_factory=list)


@dataclass
class Execution:
    """One submission's run: per-cell results by notebook index, and how it ended."""

    cells: dict[int, CellRun]
    reason: str | None = None  # None: ran to the end; else why it stopped or what went wrong
    exit_code: int | None = None
    wall_s: float = 0.0
    cpu_s: float | None = None
    # The peak the memory limit counted (graders.sandbox.memory: the cgroup's, or the watchdog's PSS over the
    # zygote's); the kernel's ru_maxrss where no limit measures (it counts pages shared with the zygote too).
    maxrss_kb: int | None = None
    device: str = "cpu"
    sandbox: str = "none"
    memory_mechanism: MemoryMechanism | None = None  # what enforced memory_mb for all its processes together
    # What the runner noticed that a TA and the student should read (an output capped, a cell timed out):
    # one plain sentence each, stored with the job and shown in `graders status` and feedback.
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.reason is not None
