"""Prepare a submitted notebook for grading: the student's cells, the instructor's tests.

Like nbgrader's OverwriteCells, but built from the instructor notebook so that
nothing the student did to the test cells matters: every instructor cell that
carries a grade id (tests, locked cells) comes from `source/`, in source order,
with its metadata and points, whether the student kept, edited, moved, duplicated
or deleted it. Every other cell is the student's, kept in the order the student
left it, after the instructor cell that preceded it. Solution cells keep the
student's text under the instructor's metadata; invented or duplicated grade ids
lose their nbgrader metadata.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

import nbformat
from nbformat import NotebookNode

from graders import cells

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024


class BadSubmission(ValueError):
    """The submitted file cannot be graded at all (not a notebook, too large, ...)."""


@dataclass
class Prepared:
    notebook: NotebookNode
    notes: list[str] = field(default_factory=list)


def read_submission(data: bytes) -> tuple[NotebookNode, list[str]]:
    """Parse submitted bytes as a v4 notebook, or raise BadSubmission with a one-line reason."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise BadSubmission(f"notebook too large ({len(data) / 2**20:.1f} MiB > "
                            f"{MAX_NOTEBOOK_BYTES / 2**20:.0f} MiB)")
    if not data.strip():
        raise BadSubmission("empty notebook file")
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadSubmission(f"not valid JSON ({exc.__class__.__name__}: {str(exc)[:80]})") from None
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise BadSubmission("not a Jupyter notebook (no cells)")
    notes = []
    try:
        original = int(raw.get("nbformat", 0))
        notebook = nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as exc:  # nbformat raises many types for malformed notebooks
        raise BadSubmission(f"malformed notebook ({exc.__class__.__name__})") from None
    if original != 4:
        notes.append(f"converted from nbformat {original}")
    for cell in notebook.cells:
        if cell.get("cell_type") not in ("code", "markdown", "raw") or not isinstance(cell.get("source"), str):
            raise BadSubmission("malformed notebook (bad cell)")
    return notebook, notes


def prepare(instructor: NotebookNode, submitted: NotebookNode) -> Prepared:
    """Merge `submitted` into the instructor notebook's structure (see the module docstring)."""
    instructor_ids = {cells.grade_id(c): c for c in instructor.cells
                      if cells.grade_id(c) and not cells.is_solution(c)}
    solution_ids = {cells.grade_id(c): c for c in instructor.cells
                    if cells.grade_id(c) and cells.is_solution(c)}
    notes: list[str] = []
    after: dict[str | None, list[NotebookNode]] = {None: []}
    anchor: str | None = None
    used_solutions: set[str] = set()
    seen_instructor: set[str] = set()
    for cell in submitted.cells:
        gid = cells.grade_id(cell)
        if gid in instructor_ids:
            if gid in seen_instructor:
                notes.append(f"duplicate of instructor cell {gid} dropped")
            seen_instructor.add(gid)
            anchor = gid
            continue
        after.setdefault(anchor, []).append(_student_cell(cell, gid, solution_ids, used_solutions, notes))
    missing = sorted(set(instructor_ids) - seen_instructor)
    if missing:
        notes.append(f"instructor cells restored: {', '.join(missing)}")
    merged = list(after[None])
    for cell in instructor.cells:
        gid = cells.grade_id(cell)
        if gid in instructor_ids:
            merged.append(copy.deepcopy(cell))
            merged.extend(after.get(gid, []))
    notebook = copy.deepcopy(instructor)
    notebook.cells = merged
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return Prepared(notebook, notes)


def _student_cell(cell: NotebookNode, gid: str | None, solution_ids: dict, used: set[str],
                  notes: list[str]) -> NotebookNode:
    cell = copy.deepcopy(cell)
    meta = cell.setdefault("metadata", {})
    if gid in solution_ids and gid not in used and cell.cell_type == solution_ids[gid].cell_type:
        used.add(gid)
        meta["nbgrader"] = copy.deepcopy(solution_ids[gid].metadata["nbgrader"])
    elif "nbgrader" in meta:
        if gid:
            notes.append(f"grade id {gid} not recognised: graded as a plain cell")
        del meta["nbgrader"]
    return cell
