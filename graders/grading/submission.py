"""The coordinator's side of one submission's grading (the runner's side is `graders.dispatch.worker`).

- `make_job` and `extra_files`: the `GradingJob` that travels to a runner (code
  cells, files, limits; no key, no database URL).
- `submitted_notebook` and `submitted_at`: what identifies a submitted notebook's grading
  (unchanged content is not graded again) and when it was handed in.
- `judge` and `autograded_notebook`: verdict from the key, and the executed
  notebook with outputs for TAs and feedback (derived output: stamped with the job
  that made it, `autograded_job`, and made again by regrading when it is not current).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.utils import parse_utc

from graders import cells
from graders.authoring.keys import NotebookKey
from graders.contract import CellStatus, Execution, GradingJob
from graders.course import Homework
from graders.grading import verdict
from graders.grading.prepare import Prepared
from graders.grading.verdict import CellVerdict

MAX_EXTRA_FILE_BYTES = 5 * 1024 * 1024


def submitted_notebook(folder: Path, notebook: str) -> tuple[bytes | None, str]:
    """A submitted notebook's bytes (None when it is missing) and the SHA-256 (hex) that identifies its grading."""
    path = folder / f"{notebook}.ipynb"
    data = path.read_bytes() if path.is_file() else None
    return data, hashlib.sha256(data or b"").hexdigest()


def submitted_at(folder: Path) -> datetime | None:
    """When a submission was handed in (naive UTC), from nbgrader's timestamp.txt; None if absent or unreadable."""
    stamp = folder / "timestamp.txt"
    if stamp.is_file():
        try:
            return parse_utc(stamp.read_text().strip())
        except (ValueError, OverflowError):
            return None
    return None


def make_job(key: str, prepared: Prepared, homework: Homework, sandbox: str,
             files: dict[str, str] | None = None) -> GradingJob:
    code = tuple((i, c.source) for i, c in enumerate(prepared.notebook.cells) if c.cell_type == "code")
    return GradingJob(key, code, homework.limits, sandbox, homework.gpu, homework.preload, files or {})


def extra_files(folder: Path) -> dict[str, str]:
    """The student's other files (helper modules, data), base64, for the sandbox's working folder."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix != ".ipynb" and ".ipynb_checkpoints" not in path.parts \
                and path.stat().st_size <= MAX_EXTRA_FILE_BYTES:
            files[str(path.relative_to(folder))] = base64.b64encode(path.read_bytes()).decode()
    return files


def judge(notebook: NotebookNode, key: NotebookKey, execution: Execution) -> list[CellVerdict]:
    """Verdicts for every graded cell of a prepared notebook, from its execution and the key."""
    verdicts = []
    for index, cell in enumerate(notebook.cells):
        if not cells.is_grade(cell):
            continue
        gid, max_points = cells.grade_id(cell), cells.points(cell)
        if cells.is_manual(cell):
            verdicts.append(verdict.manual(gid, max_points))
        elif gid in key.tests and key.tests[gid]:
            verdicts.append(verdict.judge_probes(gid, max_points, key.tests[gid], execution.cells[index]))
        else:
            verdicts.append(verdict.judge_assert(gid, max_points, execution.cells[index]))
    return verdicts


def autograded_notebook(prepared: Prepared, execution: Execution, verdicts: list[CellVerdict],
                        job_id: int | None = None) -> NotebookNode:
    """The prepared notebook with the outputs it produced, its verdicts in cell metadata, stamped with `job_id`."""
    notebook = prepared.notebook
    by_id = {v.grade_id: v for v in verdicts}
    count = 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            run = execution.cells.get(index)
            if run is not None and run.status != CellStatus.NOT_RUN:
                count += 1
                cell.execution_count = count
                cell.outputs = [nbformat.from_dict(output) for output in run.outputs]
        gid = cells.grade_id(cell)
        if gid in by_id:
            v = by_id[gid]
            cell.metadata["graders"] = {
                "score": v.score, "max_points": v.max_points, "kind": v.kind, "message": v.message,
                "tests": [{"name": p.name, "passed": p.passed, "weight": p.weight, "message": p.message}
                          for p in v.probes]}
    notebook.metadata["graders"] = {"reason": execution.reason, "notes": prepared.notes + execution.notes,
                                    "device": execution.device, "sandbox": execution.sandbox, "job": job_id}
    return notebook


def autograded_job(path: Path) -> int | None:
    """The job that wrote the autograded notebook at `path`; None when there is none (or it is unreadable)."""
    try:
        return json.loads(path.read_bytes())["metadata"]["graders"]["job"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
