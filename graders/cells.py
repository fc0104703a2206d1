"""What a notebook cell is for nbgrader: its grade id, whether it is graded, whose it is."""

from __future__ import annotations

from nbformat import NotebookNode
from nbgrader.utils import compute_checksum


def nbgrader_meta(cell: NotebookNode) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def grade_id(cell: NotebookNode) -> str | None:
    value = nbgrader_meta(cell).get("grade_id")
    return value if isinstance(value, str) and value else None


def is_solution(cell: NotebookNode) -> bool:
    """A cell the student writes (code to complete or a written answer)."""
    return bool(nbgrader_meta(cell).get("solution"))


def is_grade(cell: NotebookNode) -> bool:
    return bool(nbgrader_meta(cell).get("grade"))


def is_autograded_test(cell: NotebookNode) -> bool:
    """An instructor code cell worth points: graded from what it emits, never from the student's copy."""
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def is_manual(cell: NotebookNode) -> bool:
    """A graded cell a person grades (a written answer, or graded student code)."""
    return is_grade(cell) and is_solution(cell)


def is_task(cell: NotebookNode) -> bool:
    """A task a person grades from the whole notebook (nbgrader's "manually graded task")."""
    return bool(nbgrader_meta(cell).get("task"))


def left_as_released(cell: NotebookNode) -> bool:
    """nbgrader's test for no response: the cell still matches the checksum it was released with."""
    checksum = nbgrader_meta(cell).get("checksum")
    return checksum is not None and checksum == compute_checksum(cell)


def points(cell: NotebookNode) -> float:
    try:
        return float(nbgrader_meta(cell).get("points", 0) or 0)
    except (TypeError, ValueError):
        return 0.0


def language(cell: NotebookNode) -> str | None:
    meta = cell.get("metadata", {}).get("graders", {})
    return meta.get("lang") if isinstance(meta, dict) else None
