"""The instructor notebook that submissions are graded on, as nbgrader's autograde sees it.

`nbgrader generate_assignment` stores every cell with a grade id in the gradebook after
IncludeHeaderFooter and InstantiateTests (autotests expanded into asserts) and before the
hidden tests are cleared, with the checksum of its released version. nbgrader's
OverwriteCells grades with those: the source of locked cells, the points of graded cells,
the released checksums. The master is the source notebook in one language with the
course's header and footer, each cell the gradebook knows overwritten the same way; solution
cells keep the instructor's solution, so the master is also what the keys are made from.
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbgrader.api import Assignment, Notebook
from nbgrader.preprocessors import IncludeHeaderFooter
from sqlalchemy import select
from sqlalchemy.orm import Session

from graders import cells
from graders.authoring.source import instructor_notebook
from graders.course import Course, CourseError


def master_notebook(course: Course, session: Session, hw: str, notebook: str,
                    lang: str | None = None) -> NotebookNode:
    """The source notebook `hw/notebook` in `lang`, its cells overwritten from the gradebook as released
    (read through nbgrader's models on `session`, e.g. a Store session or a Gradebook's `db`).

    Raises CourseError when the gradebook does not know the notebook or a cell changed type since release.
    """
    master = _with_header_and_footer(course, instructor_notebook(course, hw, notebook, lang))
    released = session.scalars(select(Notebook).join(Assignment, Notebook.assignment)
                               .where(Assignment.name == hw, Notebook.name == notebook)).first()
    if released is None:
        raise CourseError(f"{hw}/{notebook} is not in the gradebook: run `graders generate {hw}` first")
    sources = {cell.name: cell for cell in released.source_cells}
    max_scores = {cell.name: cell.max_score for cell in [*released.grade_cells, *released.task_cells]}
    for cell in master.cells:
        source = sources.get(cells.grade_id(cell))
        if source is None:
            continue
        if cell.cell_type != source.cell_type:
            raise CourseError(f"{hw}/{notebook}: cell {source.name} is {cell.cell_type} in source/ but was released "
                              f"as {source.cell_type}: run `graders generate {hw}` again")
        meta = cell.metadata.nbgrader
        meta["checksum"], meta["cell_type"] = source.checksum, source.cell_type
        if source.name in max_scores:
            meta["points"] = max_scores[source.name]
        if source.locked:
            cell.source = source.source
    return master


def _with_header_and_footer(course: Course, notebook: NotebookNode) -> NotebookNode:
    """nbgrader's own IncludeHeaderFooter, its paths taken from the course root as nbgrader does."""
    include = IncludeHeaderFooter(config=course.config)
    include.header = str(course.path(include.header)) if include.header else ""
    include.footer = str(course.path(include.footer)) if include.footer else ""
    return include.preprocess(notebook, {})[0]
