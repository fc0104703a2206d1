"""Prepare a submitted notebook for grading: the student's cells, the instructor's tests.

Like nbgrader's OverwriteCells, but built from the instructor notebook (the master,
graders.grading.master) so that nothing the student did to the test cells matters:
every instructor cell that carries a grade id (tests, locked cells) comes from the
master, in its order, with its metadata and points, whether the student kept, edited,
moved, duplicated or deleted it. Every other cell is the student's, kept in the order
the student left it, after the instructor cell that preceded it. A solution cell keeps
the student's text under the master's metadata (its type too, as OverwriteCells does);
when the student duplicated it, the last copy is the graded one, as nbgrader's
DeduplicateIds decides. Invented grade ids lose their nbgrader metadata.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

import nbformat
from nbformat import NotebookNode
from nbgrader.nbgraderformat import SCHEMA_VERSION

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
    _check_schema(notebook)
    return notebook, notes


def _check_schema(notebook: NotebookNode) -> None:
    """Refuse nbgrader metadata of another schema version, as nbgrader's autograde does."""
    for cell in notebook.cells:
        if cells.grade_id(cell) is None:
            continue  # metadata without a grade id is dropped by prepare() anyway
        version = cells.nbgrader_meta(cell).get("schema_version", 0)
        if version != SCHEMA_VERSION:
            age = "an old" if isinstance(version, int) and version < SCHEMA_VERSION else "a newer"
            raise BadSubmission(f"{age} nbgrader metadata schema (version {version}, expected {SCHEMA_VERSION}): "
                                f"back it up and run `nbgrader update` on it")


def prepare(instructor: NotebookNode, submitted: NotebookNode) -> Prepared:
    """Merge `submitted` into the instructor notebook's structure (see the module docstring)."""
    instructor_ids = {cells.grade_id(c): c for c in instructor.cells
                      if cells.grade_id(c) and not cells.is_solution(c)}
    solution_ids = {cells.grade_id(c): c for c in instructor.cells
                    if cells.grade_id(c) and cells.is_solution(c)}
    copies: dict[str, list[int]] = {}
    for index, cell in enumerate(submitted.cells):
        if cells.grade_id(cell) in solution_ids:
            copies.setdefault(cells.grade_id(cell), []).append(index)
    notes: list[str] = []
    after: dict[str | None, list[NotebookNode]] = {None: []}
    anchor: str | None = None
    seen_instructor: set[str] = set()
    for index, cell in enumerate(submitted.cells):
        gid = cells.grade_id(cell)
        if gid in instructor_ids:
            if gid in seen_instructor:
                notes.append(f"duplicate of instructor cell {gid} dropped")
            seen_instructor.add(gid)
            anchor = gid
            continue
        graded = solution_ids.get(gid) if gid in copies and index == copies[gid][-1] else None
        after.setdefault(anchor, []).append(_student_cell(cell, gid, graded, len(copies.get(gid, ())), notes))
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


def _student_cell(cell: NotebookNode, gid: str | None, graded: NotebookNode | None, copies: int,
                  notes: list[str]) -> NotebookNode:
    """The student's cell; under the master's metadata (and cell type) if it is the graded copy of a solution."""
    cell = copy.deepcopy(cell)
    meta = cell.setdefault("metadata", {})
    if graded is not None:
        if cell.cell_type != graded.cell_type:
            cell = _as_type(cell, graded.cell_type)
        cell.metadata["nbgrader"] = copy.deepcopy(graded.metadata["nbgrader"])
        if copies > 1:
            notes.append(f"answer cell {gid} appears {copies} times: the last copy is graded")
            if cells.is_manual(cell):  # which copy holds the answer is for a person to see, never a blank 0
                cell.metadata["nbgrader"].pop("checksum", None)
    elif "nbgrader" in meta:
        if gid and not copies:
            notes.append(f"grade id {gid} not recognised: graded as a plain cell")
        del meta["nbgrader"]  # an earlier copy of an answer runs as the student's plain code
    return cell


def _as_type(cell: NotebookNode, cell_type: str) -> NotebookNode:
    """`cell` turned back into the type it was released as (nbgrader's OverwriteCells.update_cell_type)."""
    make = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    return make(cell.source, metadata=cell.metadata, **({"id": cell.id} if "id" in cell else {}))
