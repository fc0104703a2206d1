"""A homework of two notebooks that reuse grade ids (nbgrader allows it): every export keeps them apart.

part1.ipynb and part2.ipynb both have an `answer` cell and a `test_1` cell, worth 2 and
3 points. Each student passes a different set of them; every report must show each
notebook's points under its own `notebook:grade_id` name.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from graders.course import Course
from tests.realworld.conftest import answered, autograded, hand_in, make_course, run_graders, solution

HW = "parts"
RIGHT, WRONG = "def answer():\n    return 42", "def answer():\n    return 0"
PASSES = {"ada": ("part1",), "bob": ("part2",), "cy": ("part1", "part2")}  # which notebooks each gets right


def part(points: int) -> list:
    return [solution("answer", "def answer():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION"),
            autograded("test_1", "assert answer() == 42", points)]


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """The class graded with `graders autograde`."""
    course = make_course(tmp_path_factory.mktemp("parts") / "course", HW, {"part1": part(2), "part2": part(3)})
    run_graders(course, "generate", HW)
    for student, passes in PASSES.items():
        hand_in(course, student, HW, {nb: answered(course, HW, nb, {"answer": RIGHT if nb in passes else WRONG})
                                      for nb in ("part1", "part2")})
    run_graders(course, "autograde", HW, "--workers", "1")
    return course


def report(course: Course, fmt: str, out: Path) -> Path:
    """`graders report HW --format FMT --out OUT` (a new folder): the one file it wrote."""
    run_graders(course, "report", HW, "--format", fmt, "--out", str(out))
    [path] = out.iterdir()
    return path


def test_csv_has_one_column_per_notebook_and_question_and_lms_files_the_same_totals(graded_class, tmp_path):
    path = report(graded_class, "csv", tmp_path / "csv")
    header = path.read_text().splitlines()[0].split(",")
    assert [c for c in header if c.endswith("test_1")] == ["part1:test_1", "part2:test_1"]
    table = pd.read_csv(path).set_index("student")
    assert table.loc[["ada", "bob", "cy"], ["part1:test_1", "part2:test_1"]].values.tolist() == [
        [2, 0], [0, 3], [2, 3]]
    assert table.loc[["ada", "bob", "cy"], "final_score"].tolist() == [2, 3, 5]
    assert table["max_score"].tolist() == [5, 5, 5]
    canvas = pd.read_csv(report(graded_class, "canvas", tmp_path / "canvas"))
    assert canvas.loc[0, HW] == 5
    assert canvas.set_index("SIS Login ID").loc[["ada", "bob", "cy"], HW].tolist() == [2, 3, 5]
    moodle = pd.read_csv(report(graded_class, "moodle", tmp_path / "moodle")).set_index("Username")
    assert moodle.loc[["ada", "bob", "cy"], f"{HW} (Real)"].tolist() == [2, 3, 5]


def test_html_question_analysis_and_grade_table_name_each_notebooks_question(graded_class, tmp_path):
    path = report(graded_class, "html", tmp_path / "html")
    tables = BeautifulSoup(path.read_text(), "html.parser").find_all("table")
    analysis = {row[0]: row[1:] for row in ([td.get_text() for td in tr.find_all("td")]
                                            for tr in tables[0].find_all("tr")) if row}
    assert analysis["part1:test_1"][:2] == ["2.00", "1.33"]  # max, mean over ada, bob, cy
    assert analysis["part2:test_1"][:2] == ["3.00", "2.00"]
    grades_header = [th.get_text() for th in tables[-1].find("thead").find_all("th")]
    assert grades_header.count("part1:test_1") == grades_header.count("part2:test_1") == 1
