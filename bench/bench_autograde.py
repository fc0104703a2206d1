"""Grade one class of hw1_backprop with plain nbgrader and with graders, side by side.

    .venv/bin/python bench/bench_autograde.py [--n 40] [--scale 10 40 160 640] [--workers 2]

Builds a throwaway course (generated hw1_backprop, its own gradebook) holding N
submissions of four kinds: correct (the instructor solution), partial (one
mutant of source/hw1_backprop/mutants.toml), wrong (several mutants), crashing
(a solution cell that raises at its top, or a cell calling os._exit). Then, in
the same run and on the same notebooks:

(a) `nbgrader autograde hw1_backprop` on a copy of the course. Its hidden tests
    only print in a plain kernel, so its scores mean nothing: only its cost counts.
(b) `graders autograde hw1_backprop --workers W` with the bubblewrap sandbox;
    every score is checked against what its kind of submission must get.

Both are measured as whole process trees: wall time, CPU seconds (getrusage of
the reaped children, plus the sandboxed kernels, whose pid namespace is torn down
without a wait), peak memory (summed PSS, sampled). Then a scaling table
(graders alone, one fresh class per N), the fixed cost of one submission in
a warm sandboxed kernel (a notebook whose code cells do nothing), and the fixed
cost end to end: classes of a homework that does next to nothing, graded by the
CLI, and the CPU each added submission costs inside and outside the sandbox.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import psutil

from graders import cells
from graders.authoring.generate import generate
from graders.authoring.source import instructor_notebook
from graders.authoring.validate import Mutant, load_mutants, mutate
from graders.course import Course
from graders.sandbox.backends import get_sandbox
from graders.sandbox.runner import WarmKernel

REPO = Path(__file__).resolve().parent.parent
HW = "hw1_backprop"
EMPTY_HW = "hw_empty"
BIN = Path(sys.executable).parent
# One pattern of ten, repeated: 4 correct, 3 partial, 1 wrong, 2 crashing.
PATTERN = ("correct", "partial", "correct", "wrong", "correct", "partial", "crash-raise", "correct",
           "partial", "crash-exit")
MUTANTS_PER_WRONG = 3
# Tests that need the `mlp` cell: all zero when that cell raises before defining anything.
MLP_TESTS = ("test_forward", "test_grad_W2", "test_grad_b2", "test_grad_W1", "test_grad_b1",
             "test_gradient_descent")
SAMPLE_S = 0.5  # smaps reads cost CPU; the peaks last seconds


@dataclass
class Submission:
    student: str
    kind: str
    variant: str  # what exactly was handed in; equal variants must get equal scores
    loses: tuple[str, ...] = ()


@dataclass
class Measure:
    """One process tree's cost."""

    wall_s: float
    cpu_s: float
    peak_pss_mb: float
    peak_rss_mb: float
    returncode: int
    log: Path


@dataclass
class Check:
    ok: int = 0
    problems: list[str] = field(default_factory=list)


# --- the class --------------------------------------------------------------------------


def new_course(folder: Path) -> Course:
    folder.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", folder / "nbgrader_config.py")
    shutil.copytree(REPO / "source" / HW, folder / "source" / HW)
    course = Course.load(folder)
    generate(course, HW)
    return course


def handed_in(course: Course, instructor: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What a student hands in: the release with `instructor`'s solution cells filled in."""
    solutions = {cells.grade_id(c): c.source for c in instructor.cells if cells.is_solution(c)}
    notebook = nbformat.read(course.path("release", HW, f"{HW}.ipynb"), as_version=4)
    for cell in notebook.cells:
        if cells.grade_id(cell) in solutions:
            cell.source = solutions[cells.grade_id(cell)]
    return notebook


def variants(course: Course) -> dict[str, tuple[nbformat.NotebookNode, tuple[str, ...]]]:
    """Every distinct notebook the class hands in, by name, with the tests it must lose."""
    instructor = instructor_notebook(course, HW, HW)
    mutants = load_mutants(course, HW)
    found = {"correct": (handed_in(course, instructor), ())}
    for i, mutant in enumerate(mutants):
        found[f"partial-{i}"] = (handed_in(course, mutate(instructor, mutant)), mutant.loses)
    for i in range(len(mutants)):
        # Mutants 5 apart in mutants.toml edit different lines, so they apply together.
        chosen = [mutants[(i + k * 5) % len(mutants)] for k in range(MUTANTS_PER_WRONG)]
        found[f"wrong-{i}"] = (handed_in(course, _mutate_all(instructor, chosen)),
                               tuple(sorted({g for m in chosen for g in m.loses})))
    raising = copy.deepcopy(instructor)
    for cell in raising.cells:
        if cells.grade_id(cell) == "mlp":
            cell.source = 'raise RuntimeError("not done yet")\n' + cell.source
    found["crash-raise"] = (handed_in(course, raising), MLP_TESTS)
    exiting = handed_in(course, instructor)
    first_code = next(i for i, c in enumerate(exiting.cells) if c.cell_type == "code")
    exiting.cells.insert(first_code + 1, nbformat.v4.new_code_cell("import os\nos._exit(3)"))
    found["crash-exit"] = (exiting, ())
    return found


def _mutate_all(notebook: nbformat.NotebookNode, mutants: list[Mutant]) -> nbformat.NotebookNode:
    for mutant in mutants:
        notebook = mutate(notebook, mutant)
    return notebook


def build_class(course: Course, n: int) -> list[Submission]:
    """Write n submissions into the course's submitted/ folder, nbgrader's layout."""
    notebooks = variants(course)
    mutants = sum(1 for name in notebooks if name.startswith("partial-"))
    submissions = []
    for i in range(n):
        kind = PATTERN[i % len(PATTERN)]
        variant = f"{kind}-{(i // len(PATTERN)) % mutants}" if kind in ("partial", "wrong") else kind
        notebook, loses = notebooks[variant]
        student = f"s{i:04d}"
        folder = course.submission_dir(student, HW)
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / f"{HW}.ipynb")
        (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
        submissions.append(Submission(student, kind, variant, loses))
    return submissions


# --- measuring a process tree -----------------------------------------------------------


class TreeSampler(threading.Thread):
    """Samples a process tree: peak summed PSS/RSS, and the last CPU times of sandboxed kernels.

    A sandboxed kernel (and everything it forked and reaped) lives in a pid
    namespace that dies without a wait by anyone of ours, so its CPU never reaches
    our RUSAGE_CHILDREN: its last sample is counted instead.
    """

    def __init__(self, root: psutil.Process) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak_pss = self.peak_rss = 0
        self.kernels: dict[int, float] = {}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(SAMPLE_S):
            self.sample()

    def sample(self) -> None:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        pss = rss = 0
        for proc in procs:
            try:
                info = proc.memory_full_info()
                pss += info.pss
                rss += info.rss
                if self._is_kernel(proc):
                    t = proc.cpu_times()
                    self.kernels[proc.pid] = t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                continue
        self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)

    @staticmethod
    def _is_kernel(proc: psutil.Process) -> bool:
        """The zygote: `python -m graders.sandbox.kernel`, whose parent is not itself a kernel."""
        try:
            return _runs_kernel(proc) and not _runs_kernel(proc.parent())
        except (psutil.Error, AttributeError):
            return False

    def stop(self) -> None:
        self._done.set()
        self.join()


def _runs_kernel(proc: psutil.Process) -> bool:
    return proc.cmdline()[1:3] == ["-m", "graders.sandbox.kernel"]


def measure(argv: list[str], cwd: Path, log: Path) -> Measure:
    """Run argv to its end; its wall time, CPU time of its whole tree, peak memory."""
    env = {k: v for k, v in os.environ.items() if k not in ("GRADERS_DB_URL", "GRADERS_COURSE")}
    env["PATH"] = f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        sampler = TreeSampler(psutil.Process(proc.pid))
        sampler.start()
        code = proc.wait()
    wall = time.monotonic() - started
    sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    reaped = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measure(wall, reaped + sum(sampler.kernels.values()), sampler.peak_pss / 2**20,
                   sampler.peak_rss / 2**20, code, log)


# --- (a) plain nbgrader, (b) graders -------------------------------------------------------


def check_kernelspec() -> str:
    """nbgrader must run its notebooks with this virtualenv's python (where torch is)."""
    out = subprocess.run([BIN / "jupyter", "kernelspec", "list", "--json"], capture_output=True,
                         text=True, check=True, env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})
    spec = json.loads(out.stdout)["kernelspecs"]["python3"]
    exe = spec["spec"]["argv"][0]
    # jupyter_client runs a spec whose argv[0] is a bare "python" with its own interpreter.
    if exe in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}"):
        exe = sys.executable
    if not Path(os.path.abspath(exe)).is_relative_to(sys.prefix):
        sys.exit(f"error: the python3 kernel runs {exe}, not this virtualenv's python: "
                 f"run `{BIN}/python -m ipykernel install --sys-prefix`")
    return f"{spec['resource_dir']} -> {exe}"


def run_nbgrader(course_root: Path, out: Path) -> tuple[Measure, int]:
    measured = measure([str(BIN / "nbgrader"), "autograde", HW, "--log-level=WARN"], course_root,
                       out / "nbgrader.log")
    autograded = len(list(course_root.glob(f"autograded/*/{HW}/{HW}.ipynb")))
    return measured, autograded


def run_graders(course: Course, workers: int, out: Path, tag: str, hw: str = HW) -> Measure:
    return measure([str(BIN / "graders"), "autograde", hw, "--workers", str(workers), "--course",
                    str(course.root)], course.root, out / f"graders-{tag}.log")


def graded_rows(course: Course) -> dict[str, dict]:
    """The latest run's jobs (state, score, reason) and their final attempts' timings, by student."""
    db = course.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT j.student, j.state, j.score, j.max_score, j.reason, a.cpu_s, a.wall_s, a.peak_memory_mb, "
            "(SELECT count(*) FROM graders_attempt x WHERE x.job_id = j.id) AS attempts "
            "FROM graders_job j LEFT JOIN graders_attempt a ON a.id = "
            "(SELECT max(id) FROM graders_attempt WHERE job_id = j.id) "
            "WHERE j.run_id = (SELECT max(id) FROM graders_run)").fetchall()
    return {r["student"]: dict(r) for r in rows}


def cell_scores(course: Course, student: str) -> dict[str, tuple[float, float]]:
    path = course.autograded_dir(student, HW) / f"{HW}.ipynb"
    if not path.is_file():
        return {}
    notebook = nbformat.read(path, as_version=4)
    return {cells.grade_id(c): (c.metadata["graders"]["score"] or 0.0, c.metadata["graders"]["max_points"])
            for c in notebook.cells if "score" in c.metadata.get("graders", {})}


def check_scores(course: Course, submissions: list[Submission], rows: dict[str, dict]) -> Check:
    """Every score is the one its kind of submission must get; equal notebooks, equal scores."""
    check = Check()
    by_variant: dict[str, set] = {}
    for sub in submissions:
        row = rows.get(sub.student)
        problem = _problem(course, sub, row)
        if problem:
            check.problems.append(f"{sub.student} ({sub.variant}): {problem}")
        else:
            check.ok += 1
        if row is not None:
            by_variant.setdefault(sub.variant, set()).add((row["state"], row["score"]))
    for variant, outcomes in by_variant.items():
        if len(outcomes) > 1:
            check.problems.append(f"{variant}: the same notebook got different results {sorted(outcomes)}")
    return check


def _problem(course: Course, sub: Submission, row: dict | None) -> str | None:
    if row is None:
        return "not graded"
    if row["attempts"] != 1:
        return f"{row['attempts']} attempts (a runner was lost)"
    score, full = row["score"], row["max_score"]
    if sub.kind == "correct":
        return None if row["state"] == "done" and score == full else f"{row['state']} {score}/{full}"
    if sub.kind == "crash-exit":
        ok = row["state"] == "failed" and "exit code 3" in (row["reason"] or "")
        return None if ok else f"expected failed (exit code 3), got {row['state']} {row['reason']!r}"
    if row["state"] != "done" or not score < full:
        return f"expected done below full, got {row['state']} {score}/{full}"
    per_cell = cell_scores(course, sub.student)
    kept = [g for g in sub.loses if g not in per_cell or per_cell[g][0] >= per_cell[g][1]]
    if kept:
        return f"keeps full marks on {', '.join(kept)}"
    if sub.kind == "crash-raise" and any(per_cell[g][0] > 0 for g in MLP_TESTS):
        return "scores on tests of a cell that never ran"
    return None


# --- the fixed cost of one submission ----------------------------------------------------


def fixed_overhead(course: Course, runs: int) -> dict[str, dict[str, float]]:
    """Attempt wall/CPU in a warm sandboxed kernel for notebooks whose code does nothing."""
    homework = course.homework(HW)
    code_cells = sum(1 for c in instructor_notebook(course, HW, HW).cells if c.cell_type == "code")
    kernel = WarmKernel(get_sandbox("bubblewrap"), slot=0, preload=homework.preload)
    results = {}
    try:
        started = time.monotonic()
        kernel.start()
        results["warm-up (once per worker)"] = {"wall_s": time.monotonic() - started}
        for name, count in ((f"{code_cells} cells of `pass`", code_cells), ("1 cell of `pass`", 1)):
            walls, cpus = [], []
            for _ in range(runs):
                execution = kernel.execute([(i, "pass") for i in range(count)], homework.limits)
                assert not execution.failed, execution.reason
                walls.append(execution.wall_s)
                cpus.append(execution.cpu_s or 0.0)
            results[name] = {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
                             "cpu_s_max": max(cpus)}
    finally:
        kernel.close()
    return results


def add_empty_homework(course: Course) -> None:
    """`hw_empty`: one solution cell and one autograded test cell doing next to nothing, with
    hw1's preloads (the size of the zygote sets the cost of each fork), released and keyed."""
    nbgrader = {"schema_version": 3, "locked": False, "solution": True, "grade": False, "grade_id": "answer"}
    test = {"schema_version": 3, "locked": True, "solution": False, "grade": True, "grade_id": "test_answer",
            "points": 1}
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", metadata={"nbgrader": nbgrader}),
        nbformat.v4.new_code_cell("assert answer == 42", metadata={"nbgrader": test})])
    folder = course.path("source", EMPTY_HW)
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / f"{EMPTY_HW}.ipynb")
    preload = ", ".join(f'"{name}"' for name in course.homework(HW).preload)
    (folder / "homework.toml").write_text(f"preload = [{preload}]\n")
    generate(course, EMPTY_HW)


def fixed_overhead_end_to_end(template: Course, workers: int, sizes: tuple[int, int], tmp: Path) -> str:
    """CPU and wall of each submission added between two class sizes of `hw_empty`, graded by the
    CLI like any class: the platform's whole cost per submission besides the student's code."""
    measured = []
    for n in sizes:
        course = Course.load(shutil.copytree(template.root, tmp / f"empty-{n}"))
        notebook = instructor_notebook(course, EMPTY_HW, EMPTY_HW)
        for i in range(n):
            folder = course.submission_dir(f"e{i:04d}", EMPTY_HW)
            folder.mkdir(parents=True)
            nbformat.write(notebook, folder / f"{EMPTY_HW}.ipynb")
        m = run_graders(course, workers, tmp, f"empty-{n}", EMPTY_HW)
        graded = [r for r in graded_rows(course).values() if r["state"] == "done" and r["score"] == 1]
        if len(graded) != n or m.returncode != 0:
            return f"PROBLEM: {len(graded)} of {n} empty submissions graded with full marks, exit {m.returncode}"
        measured.append((m, sum(r["cpu_s"] or 0.0 for r in graded)))
        shutil.rmtree(course.root)
    (m1, in1), (m2, in2) = measured
    added = sizes[1] - sizes[0]
    return (f"each submission added from N={sizes[0]} to N={sizes[1]}: {(m2.cpu_s - m1.cpu_s) / added:.3f} s CPU "
            f"({(in2 - in1) / added:.3f} s in its sandbox, {((m2.cpu_s - in2) - (m1.cpu_s - in1)) / added:.3f} s "
            f"outside), {(m2.wall_s - m1.wall_s) / added:.3f} s wall")


# --- report ---------------------------------------------------------------------------------


def versions() -> str:
    import distributed
    import ipykernel
    import nbgrader
    import numpy
    import torch

    bwrap = subprocess.run(["bwrap", "--version"], capture_output=True, text=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return (f"{os.cpu_count()} cores ({cpu}), {psutil.virtual_memory().total / 2**30:.0f} GiB, "
            f"Linux {platform.release()}; Python {platform.python_version()}, torch {torch.__version__}, "
            f"numpy {numpy.__version__}, nbgrader {nbgrader.__version__}, ipykernel {ipykernel.__version__}, "
            f"distributed {distributed.__version__}, {bwrap}")


def row(label: str, m: Measure, n: int) -> str:
    return (f"| {label} | {n} | {m.wall_s:.1f} | {n / m.wall_s:.2f} | {m.cpu_s / n:.2f} | "
            f"{m.peak_pss_mb:.0f} | {m.peak_rss_mb:.0f} |")


HEADER = ("| run | N | wall s | submissions/s | CPU s/submission | peak PSS MiB | peak RSS MiB |\n"
          "|---|---|---|---|---|---|---|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40, help="class size graded by both (default 40)")
    parser.add_argument("--scale", type=int, nargs="*", default=[10, 40],
                        help="class sizes for the graders-only scaling table (default 10 40)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--overhead-runs", type=int, default=20)
    parser.add_argument("--empty", type=int, nargs=2, metavar=("N1", "N2"), default=(40, 160),
                        help="class sizes of the end-to-end fixed-cost measure (default 40 160; 0 0 skips it)")
    parser.add_argument("--skip-nbgrader", action="store_true", help="(b) only, no side-by-side")
    parser.add_argument("--keep", action="store_true", help="keep the temporary courses")
    args = parser.parse_args()

    print(f"# graders vs nbgrader, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine: {versions()}; load average at start {os.getloadavg()[0]:.2f}")
    if not args.skip_nbgrader:
        print(f"nbgrader kernel: {check_kernelspec()}")
    tmp = Path(tempfile.mkdtemp(prefix="graders-bench-"))
    failed = False
    try:
        started = time.monotonic()
        template = new_course(tmp / "template")
        print(f"generated {HW} (release + keys) in {time.monotonic() - started:.1f} s")

        course = Course.load(shutil.copytree(template.root, tmp / "class"))
        submissions = build_class(course, args.n)
        kinds = {k: sum(s.kind == k for s in submissions) for k in dict.fromkeys(PATTERN)}
        print(f"class of {args.n}: " + ", ".join(f"{v} {k}" for k, v in kinds.items()))
        print()
        print(HEADER)
        plain = None
        if not args.skip_nbgrader:
            copy_root = shutil.copytree(course.root, tmp / "nbgrader-copy")
            plain, autograded = run_nbgrader(copy_root, tmp)
            print(row("(a) nbgrader autograde", plain, args.n), flush=True)
            expected = args.n - kinds["crash-exit"]
            if autograded < expected:
                print(f"  note: nbgrader wrote {autograded} autograded notebooks (expected >= {expected}); "
                      f"exit code {plain.returncode}; log {plain.log}")
        ours = run_graders(course, args.workers, tmp, "class")
        print(row(f"(b) graders autograde, sandbox, {args.workers} workers", ours, args.n), flush=True)
        print()
        rows = graded_rows(course)
        check = check_scores(course, submissions, rows)
        print(f"scores of (b): {check.ok}/{args.n} as expected for their kind")
        for problem in check.problems:
            print(f"  WRONG: {problem}")
        failed = bool(check.problems) or ours.returncode != 0
        if plain is not None:
            print(f"speed-up (a)/(b): {plain.wall_s / ours.wall_s:.1f}x wall, "
                  f"{plain.cpu_s / ours.cpu_s:.1f}x CPU")
        attempts = [r for r in rows.values() if r["cpu_s"] is not None]
        by_kind: dict[str, list[dict]] = {}
        for sub in submissions:
            if rows.get(sub.student, {}).get("cpu_s") is not None:
                by_kind.setdefault(sub.kind, []).append(rows[sub.student])
        print("attempts (in the sandbox, per submission, median): "
              + "; ".join(f"{k} {statistics.median(r['wall_s'] for r in v):.2f} s wall / "
                          f"{statistics.median(r['cpu_s'] for r in v):.2f} s CPU" for k, v in by_kind.items()))
        inside = sum(r["cpu_s"] for r in attempts)
        print(f"CPU of (b) by place: {inside:.1f} s in the submissions' sandboxes, "
              f"{ours.cpu_s - inside:.1f} s elsewhere (CLI, coordinator, Dask, kernel warm-up)")

        print("\nscaling, graders alone (a fresh class per N):\n")
        print(HEADER)
        scaling: list[tuple[int, Measure, float]] = []  # N, the run, CPU seconds inside the sandboxes
        for n in args.scale:
            scaled = Course.load(shutil.copytree(template.root, tmp / f"scale-{n}"))
            build_class(scaled, n)
            m = run_graders(scaled, args.workers, tmp, f"scale-{n}")
            graded = graded_rows(scaled)
            scaling.append((n, m, sum(r["cpu_s"] or 0.0 for r in graded.values())))
            lost = sum(r["attempts"] != 1 for r in graded.values())
            print(row(f"graders, {args.workers} workers", m, n)
                  + ("" if len(graded) == n and not lost and m.returncode == 0
                     else f" PROBLEM: {len(graded)} graded, {lost} retried, exit {m.returncode}"), flush=True)
            failed = failed or len(graded) != n or m.returncode != 0
            if not args.keep:
                shutil.rmtree(scaled.root)
        # The start-up (CLI, Dask, kernel warm-up) is paid once per run; what each added
        # submission costs is the slope between class sizes, which must not grow with N. Its
        # CPU outside the sandboxes (coordinator, Dask, runner processes) is the platform's own
        # fixed cost per submission.
        for (n1, m1, in1), (n2, m2, in2) in zip(scaling, scaling[1:]):
            if n2 > n1:
                added = n2 - n1
                print(f"each submission added from N={n1} to N={n2}: {(m2.wall_s - m1.wall_s) / added:.3f} s wall, "
                      f"{(m2.cpu_s - m1.cpu_s) / added:.3f} s CPU, of which {(in2 - in1) / added:.3f} s in its "
                      f"sandbox and {((m2.cpu_s - in2) - (m1.cpu_s - in1)) / added:.3f} s outside")

        print(f"\nfixed cost of one submission in a warm sandboxed kernel "
              f"(median of {args.overhead_runs}, code cells doing nothing):\n")
        for name, figures in fixed_overhead(template, args.overhead_runs).items():
            print(f"- {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()))
        if min(args.empty) > 0:
            add_empty_homework(template)
            result = fixed_overhead_end_to_end(template, args.workers, tuple(args.empty), tmp)
            print(f"\nfixed cost end to end (hw_empty: 2 cells doing next to nothing, hw1's preloads, "
                  f"{args.workers} workers):\n\n- {result}")
            failed = failed or result.startswith("PROBLEM")
        print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    finally:
        if args.keep:
            print(f"courses kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
