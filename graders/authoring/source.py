"""The instructor notebooks in `source/`, read in one language."""

from __future__ import annotations

import copy

import nbformat
from nbformat import NotebookNode

from graders import cells
from graders.course import LANGUAGES, Course, CourseError


def select_language(notebook: NotebookNode, lang: str) -> NotebookNode:
    """A copy of `notebook` without the cells written for another language."""
    if lang not in LANGUAGES:
        raise CourseError(f"unknown language {lang!r} (choose from {', '.join(LANGUAGES)})")
    selected = copy.deepcopy(notebook)
    selected.cells = [c for c in selected.cells if cells.language(c) in (None, lang)]
    selected.metadata.setdefault("graders", {})["lang"] = lang
    return selected


def notebook_language(notebook: NotebookNode, default: str) -> str:
    """The language a released (or submitted) notebook was generated in."""
    lang = notebook.get("metadata", {}).get("graders", {}).get("lang")
    return lang if lang in LANGUAGES else default


def instructor_notebook(course: Course, hw: str, notebook: str, lang: str | None = None) -> NotebookNode:
    """The source notebook (solutions and hidden tests) in `lang` (default: the course's).

    Raises CourseError for a notebook written for another kernel than Python: grading kernels run Python only.
    """
    path = course.path("source", course.check_assignment(hw), f"{notebook}.ipynb")
    source = nbformat.read(path, as_version=4)
    # nbgrader runs a notebook in the kernel its kernelspec names; ClearSolutions reads the language the same way
    language = source.metadata.get("kernelspec", {}).get("language", "python")
    if language != "python":
        raise CourseError(f"{hw}/{notebook}.ipynb is written for a {language} kernel: "
                          "graders grades Python notebooks only")
    return select_language(source, lang or course.default_lang)
