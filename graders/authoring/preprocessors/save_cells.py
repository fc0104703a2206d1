"""nbgrader's SaveCells, keeping the grades students already have.

Once students have submitted a notebook, nbgrader refuses to add or remove any of its cells in the
gradebook ("Cannot add or remove cells ... because there are submissions") and accepts any other
change, test code and points included. Here the line is drawn where the grades are: a graded cell
(autograded test, student answer, task) or a locked code cell (restored from the instructor's version
when grading) that changed, appeared or went away is refused with one line naming it; instruction
cells (markdown a student reads) may change, appear or go away freely, so a typo can be fixed and a
language added after students have submitted. docs/COMPATIBILITY.md.
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import SaveCells

from graders.course import CourseError


class GradedCellsChanged(CourseError):
    """A regenerated notebook's graded cells differ from those its submissions were graded against."""


class SaveCellsKeepingGrades(SaveCells):
    """SaveCells that refuses to change graded cells once a notebook has submissions (one-line error naming
    them), and updates its instruction cells whatever the submissions."""

    def _create_notebook(self, nb: NotebookNode) -> None:
        try:
            notebook = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        except MissingEntry:
            notebook = None
        if notebook is not None and notebook.submissions:
            changed = self._graded_changes(notebook)
            if changed:
                raise GradedCellsChanged(
                    f"{self.assignment_id} has submissions, and graded cells of {self.notebook_id}.ipynb changed "
                    f"since they were graded: {', '.join(changed)}; put them back as they were (instruction "
                    f"cells may change)")
            self._update_instruction_cells(notebook)
        super()._create_notebook(nb)

    def _graded(self) -> dict[str, dict]:
        """What grading depends on, per cell of the notebook being generated: role, points, checksum."""
        cells: dict[str, dict] = {}
        for role, found in (("grade", self.new_grade_cells), ("solution", self.new_solution_cells),
                            ("task", self.new_task_cells)):
            for name, info in found.items():
                cells.setdefault(name, {})[role] = info.get("max_score", True)
        for name, info in self.new_source_cells.items():
            if name in cells or info["cell_type"] == "code":
                cells.setdefault(name, {})["checksum"] = info["checksum"]
        return cells

    @staticmethod
    def _recorded(notebook: object) -> dict[str, dict]:
        """The same, as the gradebook holds it."""
        cells: dict[str, dict] = {}
        for role, found in (("grade", notebook.grade_cells), ("solution", notebook.solution_cells),
                            ("task", notebook.task_cells)):
            for cell in found:
                cells.setdefault(cell.name, {})[role] = getattr(cell, "max_score", True)
        for cell in notebook.source_cells:
            if cell.name in cells or cell.cell_type == "code":
                cells.setdefault(cell.name, {})["checksum"] = cell.checksum
        return cells

    def _graded_changes(self, notebook: object) -> list[str]:
        """Each graded cell that differs, e.g. "test_mse (points 6 -> 8)", in the notebook's order."""
        new, old = self._graded(), self._recorded(notebook)
        changes = []
        for name in [*new, *(n for n in old if n not in new)]:
            before, after = old.get(name), new.get(name)
            if before is None:
                changes.append(f"{name} (added)")
            elif after is None:
                changes.append(f"{name} (removed)")
            elif None not in (_points(before), _points(after)) and _points(before) != _points(after):
                changes.append(f"{name} (points {_points(before):g} -> {_points(after):g})")
            elif before != after:
                changes.append(f"{name} (changed)")
        return changes

    def _update_instruction_cells(self, notebook: object) -> None:
        """Make the gradebook's instruction cells those of the new version, so nbgrader's own check (the same
        cells, by name) passes; SaveCells then updates their text."""
        graded = self._graded()
        recorded = {cell.name: cell for cell in notebook.source_cells}
        for name, cell in recorded.items():
            if name not in self.new_source_cells and name not in graded:
                self.gradebook.db.delete(cell)
        for name, info in self.new_source_cells.items():
            if name not in recorded and name not in graded:
                self.gradebook.update_or_create_source_cell(name, self.notebook_id, self.assignment_id, **info)
        self.gradebook.db.commit()


def _points(cell: dict) -> float | None:
    return cell.get("grade", cell.get("task"))
