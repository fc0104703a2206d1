"""The GPU path proven on a GPU (run by bench/gpu_check.sh; see there for how, and how long).

1. `graders doctor` on a course of the four homeworks (sandbox, memory mechanism, GPUs, torch and CUDA).
2. Per homework, keys made once on the CPU, then the solution, the blank release and the first
   N mutants graded on CPU workers (gpu = "none") and on GPU workers (gpu = "preferred", one worker
   per GPU, so every case runs where a GPU is): the verdicts (per test cell) must be identical
   and every case must meet its expectation; torch homeworks must have run on cuda.
3. A small synthetic class of hw1_backprop graded on the GPU workers: the device recorded on
   each attempt in the database.
4. The memory limit: 8 processes of 300 MiB under a 1 GiB limit (tests/security/attacks.py's bomb)
   are stopped, with the mechanism recorded; cgroup v2 where the host delegates one.

Writes a dated section to bench/RESULTS.md and exits non-zero when a check failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from graders.authoring.demo import submit_synthetic_class
from graders.authoring.generate import generate
from graders.authoring.validate import grade_cases
from graders.course import Course
from graders.grading.autograde import autograde
from graders.sandbox.backends import count_gpus
from graders.store import Store
from graders.store.models import Attempt, Job
from tests.helpers import solved_notebook, submit, with_cell_after
from tests.security.attacks import memory_bomb_processes

REPO = Path(__file__).resolve().parent.parent
HOMEWORKS = ("hw1_backprop", "hw2_rnn_cnn", "hw3_structured", "hw4_sgd")
TORCH_HOMEWORKS = ("hw1_backprop", "hw2_rnn_cnn", "hw3_structured")  # hw4_sgd is numpy only: it stays on the CPU


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homework", nargs="*", default=list(HOMEWORKS), help="default: all four")
    parser.add_argument("--mutants", type=int, default=2, help="mutants per homework (default 2; all: -1)")
    parser.add_argument("--skip-class", action="store_true", help="skip step 3")
    parser.add_argument("--skip-memory", action="store_true", help="skip step 4")
    args = parser.parse_args()
    mutants = None if args.mutants < 0 else args.mutants
    root = Path(tempfile.mkdtemp(prefix="graders-gpu-check-")) / "course"
    root.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    for hw in args.homework:
        shutil.copytree(REPO / "source" / hw, root / "source" / hw)
    course = Course.load(root)
    lines = [f"## GPU check, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC ({_gpu_names()})", "",
             f"    bash bench/gpu_check.sh --homework {' '.join(args.homework)} --mutants {args.mutants}", ""]
    failures: list[str] = []

    doctor = subprocess.run([sys.executable, "-m", "graders", "doctor", "--course", str(root)],
                            capture_output=True, text=True, timeout=300, check=False)
    print(doctor.stdout + doctor.stderr, flush=True)
    lines += ["`graders doctor`:", "", *("    " + line for line in doctor.stdout.splitlines()), ""]
    if doctor.returncode != 0:
        failures.append("graders doctor failed")

    gpus = count_gpus()
    if not gpus:
        failures.append("no GPU seen (/dev/nvidia*)")
    lines += ["| homework | cases | keys s | CPU s | GPU s | same verdicts | all as expected | GPU devices |",
              "|---|---|---|---|---|---|---|---|"]
    for hw in args.homework:
        row, problems = _homework(course, hw, gpus, mutants)
        print(row, problems, flush=True)
        lines.append(row)
        failures += problems
    lines.append("")
    if mutants is not None:
        lines += [f"Mutants: the first {mutants} of each homework's mutants.toml (all: --mutants -1), for time.", ""]

    if not args.skip_class:
        line, problems = _class_on_gpu(course, gpus)
        print(line, problems, flush=True)
        lines += [line, ""]
        failures += problems
    if not args.skip_memory:
        line, problems = _memory_bomb(course)
        print(line, problems, flush=True)
        lines += [line, ""]
        failures += problems

    lines += [f"Result: {'FAILED: ' + '; '.join(failures) if failures else 'every check passed'}.", ""]
    with open(REPO / "bench" / "RESULTS.md", "a") as results:
        results.write("\n" + "\n".join(lines))
    print("\n".join(lines))
    return 1 if failures else 0


def _set_gpu(course: Course, hw: str, mode: str) -> None:
    path = course.path("source", hw, "homework.toml")
    kept = [line for line in path.read_text().splitlines() if not line.startswith("gpu")]
    path.write_text("\n".join([f'gpu = "{mode}"', *kept]) + "\n")


def _homework(course: Course, hw: str, gpus: int, mutants: int | None) -> tuple[str, list[str]]:
    started = time.monotonic()
    _set_gpu(course, hw, "none")
    generate(course, hw)  # keys on the CPU, as an instructor without a GPU makes them
    keys_s = time.monotonic() - started
    started = time.monotonic()
    on_cpu = grade_cases(course, hw, workers=os.cpu_count(), max_mutants=mutants)
    cpu_s = time.monotonic() - started
    _set_gpu(course, hw, "preferred")
    started = time.monotonic()
    on_gpu = grade_cases(course, hw, workers=max(gpus, 1), max_mutants=mutants)
    gpu_s = time.monotonic() - started
    problems = []
    same = [(c.name, c.cell_scores, c.ok) for c in on_cpu] == [(c.name, c.cell_scores, c.ok) for c in on_gpu]
    if not same:
        differ = [c.name for c, g in zip(on_cpu, on_gpu) if (c.cell_scores, c.ok) != (g.cell_scores, g.ok)]
        problems.append(f"{hw}: CPU and GPU verdicts differ ({', '.join(differ)})")
    expected = all(c.ok for c in on_cpu + on_gpu)
    if not expected:
        problems.append(f"{hw}: " + "; ".join(f"{c.name} on {c.device}: {c.detail}" for c in on_cpu + on_gpu
                                              if not c.ok))
    devices = sorted({c.device for c in on_gpu})
    if hw in TORCH_HOMEWORKS and gpus and not all(d.startswith("cuda") for d in devices):
        problems.append(f"{hw}: not every case ran on cuda ({', '.join(devices)})")
    if any(c.device != "cpu" for c in on_cpu):
        problems.append(f"{hw}: a CPU case ran on {', '.join(sorted({c.device for c in on_cpu}))}")
    row = (f"| {hw} | {len(on_cpu)} | {keys_s:.0f} | {cpu_s:.0f} | {gpu_s:.0f} | {'yes' if same else 'NO'} | "
           f"{'yes' if expected else 'NO'} | {', '.join(devices)} |")
    return row, problems


def _class_on_gpu(course: Course, gpus: int) -> tuple[str, list[str]]:
    hw = "hw1_backprop"
    if hw not in course.assignments():
        return "Class on the GPU: skipped (hw1_backprop not checked)", []
    _set_gpu(course, hw, "preferred")
    students = [s.name for s in submit_synthetic_class(course, hw)][:6]
    autograde(course, hw, students=students, workers=max(gpus, 1), force=True)
    store = Store(course.db_url, course.course_id)
    try:
        with store.session() as session:
            rows = session.execute(select(Job.student, Attempt.device, Attempt.memory_mechanism)
                                   .join(Attempt).where(Job.student.in_(students))).all()
    finally:
        store.close()
    devices = sorted({str(r.device) for r in rows})
    problems = [] if rows and all(str(r.device).startswith("cuda") for r in rows) or not gpus else \
        [f"class on the GPU: attempts on {', '.join(devices)}"]
    return (f"Class on the GPU: {len(rows)} attempts of {len(students)} hw1_backprop students, devices recorded: "
            f"{', '.join(devices)}; memory limit: {', '.join(sorted({str(r.memory_mechanism) for r in rows}))}"), problems


def _memory_bomb(course: Course) -> tuple[str, list[str]]:
    hw = "hw1_backprop"
    if hw not in course.assignments():
        return "Memory: skipped (hw1_backprop not checked)", []
    settings = course.path("source", hw, "homework.toml")
    settings.write_text(settings.read_text().replace("memory_mb = 4096", "memory_mb = 1024"))
    submit(course, "bomb", hw, with_cell_after(solved_notebook(course, hw), "mlp", memory_bomb_processes("gpucheckmem")))
    [outcome] = autograde(course, hw, students=["bomb"], workers=1, force=True)
    store = Store(course.db_url, course.course_id)
    try:
        with store.session() as session:
            attempt = session.scalars(select(Attempt).join(Job).where(Job.student == "bomb")
                                      .order_by(Attempt.id.desc())).first()
    finally:
        store.close()
    mechanism = attempt.memory_mechanism
    stopped = outcome.reason == f"out of memory ({mechanism})"
    line = (f"Memory: 8 processes x 300 MiB under memory_mb = 1024: {'stopped' if stopped else 'NOT stopped'} "
            f"(reason {outcome.reason!r}, peak {attempt.peak_memory_mb or 0:.0f} MiB, {attempt.wall_s or 0:.1f} s), "
            f"mechanism: {mechanism}; the cgroup v2 path {'ran' if mechanism == 'cgroup v2' else 'did not run here'}.")
    return line, [] if stopped else [f"memory bomb not stopped: {outcome.reason}"]


def _gpu_names() -> str:
    if not shutil.which("nvidia-smi"):
        return f"{count_gpus()} GPU(s), no nvidia-smi"
    names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                           text=True, timeout=60, check=False).stdout.split("\n")
    return ", ".join(n.strip() for n in names if n.strip()) or "no GPU"


if __name__ == "__main__":
    sys.exit(main())
