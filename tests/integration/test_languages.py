"""Bilingual releases: English and French differ only in instruction cells and grade the same."""

import nbformat
import pytest

from graders import cells
from graders.authoring.demo import fill_solutions
from graders.authoring.generate import release
from graders.authoring.source import instructor_notebook
from graders.grading.autograde import autograde
from tests.conftest import HOMEWORKS, new_course
from tests.helpers import submit


@pytest.mark.parametrize("hw", HOMEWORKS)
def test_english_and_french_releases_differ_only_in_markdown(hw, tmp_path):
    course = new_course(tmp_path / "course", hw)
    releases = {lang: nbformat.read(release(course, hw, lang, release_root=tmp_path / lang,
                                            db_url=f"sqlite:///{tmp_path / lang}.db") / f"{hw}.ipynb", 4)
                for lang in ("en", "fr")}
    code = {lang: [(c.source, c.metadata.get("nbgrader")) for c in nb.cells if c.cell_type == "code"]
            for lang, nb in releases.items()}
    assert code["en"] == code["fr"]
    markdown = {lang: [c.source for c in nb.cells if c.cell_type == "markdown" and cells.language(c)]
                for lang, nb in releases.items()}
    assert markdown["en"] and markdown["fr"] and not set(markdown["en"]) & set(markdown["fr"])
    assert all(cells.language(c) in (None, lang) for lang, nb in releases.items() for c in nb.cells)


def test_submissions_made_from_either_language_grade_identically(hw1_course, tmp_path):
    hw = "hw1_backprop"
    french = release(hw1_course, hw, "fr", release_root=tmp_path / "fr", db_url=f"sqlite:///{tmp_path}/fr.db")
    for student, lang, folder in (("alice", "en", hw1_course.path("release", hw)), ("amelie", "fr", french)):
        released = nbformat.read(folder / f"{hw}.ipynb", 4)
        assert released.metadata.graders.lang == lang
        submit(hw1_course, student, hw, fill_solutions(released, instructor_notebook(hw1_course, hw, hw, lang)))
        submit(hw1_course, f"{student}-blank", hw, released)
    scores = {o.student: o.score for o in autograde(hw1_course, hw, workers=2)}
    assert scores["alice"] == scores["amelie"] == 100
    assert scores["alice-blank"] == scores["amelie-blank"] == 0
