"""Bilingual releases: one `graders generate` writes every language of the course, one gradebook notebook serves
them all, English and French differ only in instruction cells and grade the same, and a release can be
regenerated after students submitted as long as its graded cells did not change."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from graders import cells
from graders.authoring.demo import fill_solutions
from graders.authoring.generate import release
from graders.authoring.source import instructor_notebook
from graders.course import Course
from graders.grading.autograde import autograde
from tests.conftest import HOMEWORKS, new_course
from tests.helpers import submit

HW = "hw1_backprop"
GRADERS = str(Path(sys.executable).parent / "graders")


@pytest.mark.parametrize("hw", HOMEWORKS)
def test_english_and_french_releases_differ_only_in_markdown(hw, tmp_path):
    course = new_course(tmp_path / "course", hw)
    folders = release(course, hw, release_root=tmp_path / "release", db_url=f"sqlite:///{tmp_path / 'gb.db'}")
    assert folders == {"en": tmp_path / "release" / hw, "fr": tmp_path / "release" / "fr" / hw}
    releases = {lang: nbformat.read(folder / f"{hw}.ipynb", 4) for lang, folder in folders.items()}
    code = {lang: [(c.source, c.metadata.get("nbgrader")) for c in nb.cells if c.cell_type == "code"]
            for lang, nb in releases.items()}
    assert code["en"] == code["fr"]
    markdown = {lang: [c.source for c in nb.cells if c.cell_type == "markdown" and cells.language(c)]
                for lang, nb in releases.items()}
    assert markdown["en"] and markdown["fr"] and not set(markdown["en"]) & set(markdown["fr"])
    assert all(cells.language(c) in (None, lang) for lang, nb in releases.items() for c in nb.cells)
    assert [nb.metadata.graders.lang for nb in releases.values()] == ["en", "fr"]


def test_one_gradebook_notebook_holds_every_language(hw1_course: Course) -> None:
    source = nbformat.read(hw1_course.path("source", HW, f"{HW}.ipynb"), 4)
    with Gradebook(hw1_course.db_url, hw1_course.course_id) as gradebook:
        notebook = gradebook.find_notebook(HW, HW)
        recorded = {cell.name for cell in notebook.source_cells}
        graded = {cell.name for cell in notebook.grade_cells}
    assert {"intro_en", "intro_fr", "end_en", "end_fr"} <= recorded
    assert recorded == {cells.grade_id(c) for c in source.cells if cells.grade_id(c)}
    assert graded == {cells.grade_id(c) for c in source.cells if cells.is_grade(c)}


def test_submissions_made_from_either_language_grade_identically(hw1_course):
    for student, lang in (("alice", "en"), ("amelie", "fr")):
        released = nbformat.read(hw1_course.release_dir(HW, lang) / f"{HW}.ipynb", 4)
        assert released.metadata.graders.lang == lang
        submit(hw1_course, student, HW, fill_solutions(released, instructor_notebook(hw1_course, HW, HW, lang)))
        submit(hw1_course, f"{student}-blank", HW, released)
    scores = {o.student: o.score for o in autograde(hw1_course, HW, workers=2)}
    assert scores["alice"] == scores["amelie"] == 100
    assert scores["alice-blank"] == scores["amelie-blank"] == 0


def edit_source(course: Course, change) -> None:
    path = course.path("source", HW, f"{HW}.ipynb")
    notebook = nbformat.read(path, 4)
    change(notebook)
    nbformat.write(notebook, path)


def cell(notebook, grade_id):
    return next(c for c in notebook.cells if cells.grade_id(c) == grade_id)


def with_a_submission(course: Course) -> None:
    with Gradebook(course.db_url, course.course_id) as gradebook:
        gradebook.add_student("alice")
        gradebook.add_submission(HW, "alice")


def test_regenerating_after_submissions_works_while_graded_cells_are_unchanged(hw1_course: Course) -> None:
    with_a_submission(hw1_course)

    def instructions_only(notebook):
        cell(notebook, "intro_en").source += "\n\nErratum: the sign in part 2 is fixed."
        cell(notebook, "intro_fr").source += "\n\nErratum : le signe de la partie 2 est corrigé."
        notebook.cells.remove(cell(notebook, "end_fr"))
        hint = nbformat.v4.new_markdown_cell("*Hint: check the shapes first.*", metadata={
            "nbgrader": {"grade": False, "grade_id": "hint_en", "locked": True, "schema_version": 3,
                         "solution": False}, "graders": {"lang": "en"}})
        notebook.cells.insert(notebook.cells.index(cell(notebook, "end_en")), hint)

    edit_source(hw1_course, instructions_only)
    folders = release(hw1_course, HW)  # both languages, into a gradebook with a submission
    english = nbformat.read(folders["en"] / f"{HW}.ipynb", 4)
    french = nbformat.read(folders["fr"] / f"{HW}.ipynb", 4)
    assert "Erratum: the sign" in cell(english, "intro_en").source and cells.grade_id(english.cells[-2]) == "hint_en"
    assert "Erratum : le signe" in cell(french, "intro_fr").source
    assert not any(cells.grade_id(c) in ("end_fr", "hint_en") for c in french.cells)
    with Gradebook(hw1_course.db_url, hw1_course.course_id) as gradebook:
        recorded = {c.name: c.source for c in gradebook.find_notebook(HW, HW).source_cells}
        assert len(gradebook.find_submission(HW, "alice").notebooks) == 1  # the submission is untouched
    assert "hint_en" in recorded and "end_fr" not in recorded and "Erratum: the sign" in recorded["intro_en"]


def test_a_changed_graded_cell_after_submissions_is_refused_in_one_line_naming_it(hw1_course: Course) -> None:
    with_a_submission(hw1_course)
    before = {lang: (hw1_course.release_dir(HW, lang) / f"{HW}.ipynb").read_bytes() for lang in ("en", "fr")}

    def graded_changes(notebook):
        cell(notebook, "test_mse").source = cell(notebook, "test_mse").source.replace("manual_seed(", "manual_seed(1 + ")
        cell(notebook, "test_bce").metadata.nbgrader.points = 9
        cell(notebook, "intro_en").source += "\n\nAnd a fixed typo."

    edit_source(hw1_course, graded_changes)
    result = subprocess.run([GRADERS, "generate", HW, "--course", str(hw1_course.root)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: {HW} has submissions, and graded cells of {HW}.ipynb changed since they were graded: "
        "test_mse (changed), test_bce (points 8 -> 9); put them back as they were (instruction cells may change)"]
    # the release students fetch is left as it was, in every language
    assert {lang: (hw1_course.release_dir(HW, lang) / f"{HW}.ipynb").read_bytes() for lang in before} == before
