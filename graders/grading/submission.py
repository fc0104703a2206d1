"""The coordinator's side of one submission's grading (the runner's side is `graders.dispatch.worker`).

- `make_job` and `extra_files`: the `GradingJob` that travels to a runner (code
  cells, files, limits; no key, no database URL).
- `judge` and `autograded_notebook`: verdict from the key, and the executed
  notebook with outputs for TAs and feedback.
"""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from graders import cells
from graders.authoring.keys import NotebookKey
from graders.contract import CellStatus, Execution, GradingJob
from graders.course import Homework
from graders.grading import verdict
from graders.grading.prepare import Prepared
from graders.grading.verdict import CellVerdict

MAX_EXTRA_FILE_BYTES = 5 * 1024 * 1024


def make_job(key: str, prepared: Prepared, homework: Homework, sandbox: str,
             files: dict[str, str] | None = None) -> GradingJob:
    code = tuple((i, c.source) for i, c in enumerate(prepared.notebook.cells) if c.cell_type == "code")
    labels = {i: cells.grade_id(c) for i, c in enumerate(prepared.notebook.cells) if cells.grade_id(c)}
    return GradingJob(key, code, homework.limits, sandbox, homework.gpu, homework.preload, files or {}, labels)


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


def autograded_notebook(prepared: Prepared, execution: Execution, verdicts: list[CellVerdict]) -> NotebookNode:
    """The prepared notebook with the outputs it produced and its verdicts in cell metadata."""
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
                                    "device": execution.device, "sandbox": execution.sandbox}
    return notebook
