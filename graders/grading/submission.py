"""The coordinator's side of one submission's grading (the runner's side is `graders.dispatch.worker`).

- `make_job`: the `GradingJob` that travels to a runner (code cells, files, limits;
  no key, no database URL); which files, in `graders.grading.files`.
- `submitted_notebook`: what identifies a submitted notebook's grading (unchanged content
  is not graded again).
- `judge` and `autograded_notebook`: verdict from the key, and the executed
  notebook with outputs for TAs and feedback (derived output: stamped with the job
  that made it, `autograded_job`, and made again by regrading when it is not current).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from graders import cells
from graders.authoring.keys import NotebookKey
from graders.contract import CellRun, CellStatus, Execution, GradingJob, JobFile
from graders.course import Homework
from graders.grading import verdict
from graders.grading.disclosure import HIDDEN_TESTS_BEGIN, Disclosure
from graders.grading.messages import saved
from graders.grading.prepare import Prepared
from graders.grading.verdict import CellVerdict

# As nbgrader's autograde sets it for the kernel: notebooks test it to skip slow work while being graded.
ENVIRONMENT = {"NBGRADER_EXECUTION": "autograde"}


def submitted_notebook(folder: Path, notebook: str) -> tuple[bytes | None, str]:
    """A submitted notebook's bytes (None when it is missing) and the SHA-256 (hex) that identifies its grading."""
    path = folder / f"{notebook}.ipynb"
    data = path.read_bytes() if path.is_file() else None
    return data, hashlib.sha256(data or b"").hexdigest()


def make_job(key: str, prepared: Prepared, homework: Homework, sandbox: str,
             files: tuple[JobFile, ...]) -> GradingJob:
    code = tuple((i, c.source) for i, c in enumerate(prepared.notebook.cells) if c.cell_type == "code")
    labels = {i: cells.grade_id(c) for i, c in enumerate(prepared.notebook.cells) if cells.grade_id(c)}
    return GradingJob(key, code, homework.limits, sandbox, homework.gpu, homework.preload, files, labels,
                      dict(ENVIRONMENT))


def judge(notebook: NotebookNode, key: NotebookKey, execution: Execution,
          hidden_marker: str = HIDDEN_TESTS_BEGIN, ignore_stderr: str = "") -> list[CellVerdict]:
    """Verdicts for every graded cell of a prepared notebook, from its execution and the key.

    Their messages say only what graders.grading.disclosure allows (`hidden_marker` starts hidden tests).
    `ignore_stderr`: nbgrader's IgnorePattern for assert-style test cells (see verdict.judge_assert).
    """
    disclosure = Disclosure.of(notebook, hidden_marker)
    verdicts = []
    for index, cell in enumerate(notebook.cells):
        if not cells.is_grade(cell):
            continue
        gid, max_points = cells.grade_id(cell), cells.points(cell)
        if cells.is_manual(cell):
            verdicts.append(verdict.manual(gid, max_points, answered=not cells.left_as_released(cell)))
            continue
        run = execution.cells[index]
        error = disclosure.describe_error(index, run)
        if gid in key.tests and key.tests[gid]:
            verdicts.append(verdict.judge_probes(gid, max_points, key.tests[gid], run, error=error,
                                                 restricted=disclosure.restricted(index)))
        else:
            verdicts.append(verdict.judge_assert(gid, max_points, run, error=error, ignore_stderr=ignore_stderr))
    return verdicts


def judge_unrunnable(notebook: NotebookNode, key: NotebookKey, reason: str) -> list[CellVerdict]:
    """A notebook missing, empty or unreadable, as nbgrader scores a missing one: every graded and task
    cell 0, none waiting for a person."""
    not_run = Execution(cells={i: CellRun() for i, c in enumerate(notebook.cells) if c.cell_type == "code"})
    tasks = [CellVerdict(cells.grade_id(c), cells.points(c), 0.0, "manual") for c in notebook.cells if cells.is_task(c)]
    return [replace(v, score=0.0, message=reason) for v in [*judge(notebook, key, not_run), *tasks]]


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
            # each message as English text and, for feedback in the student's language, as its template
            cell.metadata["graders"] = {
                "score": v.score, "max_points": v.max_points, "kind": v.kind, "message": v.message,
                "why": saved(v.message),
                "tests": [{"name": p.name, "passed": p.passed, "weight": p.weight, "message": p.message,
                           "why": saved(p.message)} for p in v.probes]}
    notebook.metadata["graders"] = {"reason": execution.reason, "notes": prepared.notes + execution.notes,
                                    "device": execution.device, "sandbox": execution.sandbox, "job": job_id}
    return notebook


def autograded_job(path: Path) -> int | None:
    """The job that wrote the autograded notebook at `path`; None when there is none (or it is unreadable)."""
    try:
        return json.loads(path.read_bytes())["metadata"]["graders"]["job"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
