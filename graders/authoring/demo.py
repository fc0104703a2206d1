"""A synthetic class for every homework, to show (and check) the whole job end to end.

Students are made from the instructor solution and the homework's known-wrong
solutions (mutants.toml): correct, partial, wrong, crashing, cheating and blank.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from graders import cells
from graders.authoring.generate import read_release
from graders.authoring.source import instructor_notebook
from graders.authoring.validate import load_mutants, mutate
from graders.course import Course

CRASH = "import os\nos._exit(1)  # the kernel dies"
CHEAT = ("import torch, numpy\n"
         "torch.allclose = numpy.allclose = lambda *a, **k: True  # every check passes?\n"
         "get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)  # errors vanish?")
TIMESTAMP = "2026-11-20 12:00:00.000000 UTC"


@dataclass(frozen=True)
class SyntheticStudent:
    name: str
    kind: str  # correct | partial | wrong | crashing | cheating | blank


def fill_solutions(released: NotebookNode, instructor: NotebookNode) -> NotebookNode:
    """A copy of a released notebook with the instructor's solution cells filled in."""
    solutions = {cells.grade_id(c): c.source for c in instructor.cells if cells.is_solution(c)}
    filled = copy.deepcopy(released)
    for cell in filled.cells:
        if cells.grade_id(cell) in solutions:
            cell.source = solutions[cells.grade_id(cell)]
    return filled


def solved(course: Course, hw: str, notebook: str) -> NotebookNode:
    """The committed release notebook with the instructor's solution cells filled in."""
    return fill_solutions(read_release(course, hw, notebook), instructor_notebook(course, hw, notebook))


def _with_code_first(notebook: NotebookNode, source: str) -> NotebookNode:
    """`source` as a new cell right before the first solution cell."""
    notebook = copy.deepcopy(notebook)
    first = next((i for i, c in enumerate(notebook.cells) if cells.is_solution(c)), 0)
    notebook.cells.insert(first, nbformat.v4.new_code_cell(source))
    return notebook


def synthetic_notebooks(course: Course, hw: str, notebook: str) -> dict[SyntheticStudent, NotebookNode]:
    """One notebook per kind of student for `hw`'s `notebook`."""
    good = solved(course, hw, notebook)
    mutants = load_mutants(course, hw)
    partial = mutate(good, mutants[0]) if mutants else good
    wrong, mistakes = partial, 0
    for mutant in mutants[1:]:  # three more mistakes, skipping any that an earlier one already rewrote
        if mistakes == 3:
            break
        if any(cells.grade_id(c) == mutant.cell and mutant.old in c.source for c in wrong.cells):
            wrong, mistakes = mutate(wrong, mutant), mistakes + 1
    return {
        SyntheticStudent(f"{hw}-correct", "correct"): good,
        SyntheticStudent(f"{hw}-partial", "partial"): partial,
        SyntheticStudent(f"{hw}-wrong", "wrong"): wrong,
        SyntheticStudent(f"{hw}-crashing", "crashing"): _with_code_first(good, CRASH),
        SyntheticStudent(f"{hw}-cheating", "cheating"): _with_code_first(partial, CHEAT),
        SyntheticStudent(f"{hw}-blank", "blank"): read_release(course, hw, notebook),
    }


def submit_synthetic_class(course: Course, hw: str) -> list[SyntheticStudent]:
    """Write a synthetic class's submissions into submitted/ as nbgrader lays them out."""
    students: dict[str, SyntheticStudent] = {}
    for notebook in course.notebooks(hw):
        for student, content in synthetic_notebooks(course, hw, notebook).items():
            folder: Path = course.submission_dir(student.name, hw)
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(content, folder / f"{notebook}.ipynb")
            (folder / "timestamp.txt").write_text(TIMESTAMP)
            students[student.name] = student
    return list(students.values())
