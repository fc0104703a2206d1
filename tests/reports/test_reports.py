"""Report files: every format opens in pandas, says why a submission failed, never shows it as a 0."""

from __future__ import annotations

import base64
import io
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from PIL import Image

from graders.course import Course
from graders.grading.deadlines import apply_penalties
from graders.reports.analytics import item_analysis
from graders.reports.export import FORMATS, write_report
from graders.reports.table import Question
from tests.reports.conftest import CLASS, HW, TIMEOUT

GRADERS = [str(Path(sys.executable).parent / "graders")]


def read_grades_table(path: Path) -> pd.DataFrame:
    """The HTML report's grade table (the last table), through BeautifulSoup: no lxml in the venv."""
    table = BeautifulSoup(path.read_text(), "html.parser").find_all("table")[-1]
    header = [th.get_text() for th in table.find("thead").find_all("th")]
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in table.find("tbody").find_all("tr")]
    return pd.DataFrame(rows, columns=header)


def test_csv_has_a_column_per_question_and_penalty_final_max_and_status(store, graded_class: Course, tmp_path: Path):
    apply_penalties(graded_class, store, HW)
    path = write_report(store, HW, "csv", tmp_path)
    table = pd.read_csv(path).set_index("student")
    assert {f"{HW}:test_forward", f"{HW}:q_backprop", "raw_score", "late_penalty", "final_score", "max_score",
            "status"} <= set(table.columns)
    assert list(table.index) == sorted(s.name for s in CLASS)
    assert table.loc["alice", "final_score"] == table.loc["alice", "max_score"] == 118
    assert table.loc["alice", "status"] == "graded"
    assert table.loc["bob", "late_penalty"] == pytest.approx(0.2 * table.loc["bob", "raw_score"])
    assert table.loc["bob", "final_score"] == pytest.approx(0.8 * table.loc["bob", "raw_score"])
    assert table.loc["dave", "status"] == "needs manual"
    assert table.loc["erin", "status"] == "missing" and pd.isna(table.loc["erin", "final_score"])


def test_a_failed_submission_shows_as_failed_with_its_reason_in_every_format_never_as_zero(
        store, tmp_path: Path):
    csv_file = write_report(store, HW, "csv", tmp_path)
    carol = pd.read_csv(csv_file).set_index("student").loc["carol"]
    assert carol["status"] == f"failed: {TIMEOUT}" and pd.isna(carol["final_score"])

    canvas_file = write_report(store, HW, "canvas", tmp_path)
    canvas = pd.read_csv(canvas_file).set_index("SIS Login ID")
    assert pd.isna(canvas.loc["carol", HW])
    assert canvas.loc["carol", "Notes"] == f"{HW}: failed: {TIMEOUT}"

    moodle_file = write_report(store, HW, "moodle", tmp_path)
    moodle = pd.read_csv(moodle_file).set_index("Username")
    assert pd.isna(moodle.loc["carol", f"{HW} (Real)"])
    assert moodle.loc["carol", f"{HW} (Feedback)"] == f"failed: {TIMEOUT}"

    html_file = write_report(store, HW, "html", tmp_path)
    grades = read_grades_table(html_file).set_index("student")
    assert grades.loc["carol", "status"] == f"failed: {TIMEOUT}" and grades.loc["carol", "final_score"] == "-"
    assert TIMEOUT in BeautifulSoup(html_file.read_text(), "html.parser").find_all("table")[1].get_text()


def test_canvas_file_has_canvas_columns_points_possible_and_only_final_scores(store, tmp_path: Path):
    path = write_report(store, HW, "canvas", tmp_path)
    canvas = pd.read_csv(path)
    assert list(canvas.columns) == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", HW, "Notes"]
    assert canvas.loc[0, "Student"] == "Points Possible" and canvas.loc[0, HW] == 118
    by_login = canvas.set_index("SIS Login ID")
    assert by_login.loc["alice", HW] == 118
    assert pd.isna(by_login.loc["dave", HW]) and "needs manual grading" in by_login.loc["dave", "Notes"]
    assert pd.isna(by_login.loc["erin", HW]) and by_login.loc["erin", "Notes"] == f"{HW}: missing"


def test_moodle_file_has_username_and_a_grade_and_feedback_column_per_homework(store, tmp_path: Path):
    path = write_report(store, HW, "moodle", tmp_path)
    moodle = pd.read_csv(path)
    assert list(moodle.columns) == ["Username", "First name", "Last name", f"{HW} (Real)", f"{HW} (Feedback)"]
    assert moodle.set_index("Username").loc["frank", f"{HW} (Real)"] == pytest.approx(0.25 * 118)


def test_html_report_is_one_self_contained_file_with_its_plots_inline(store, tmp_path: Path):
    path = write_report(store, HW, "html", tmp_path)
    soup = BeautifulSoup(path.read_text(), "html.parser")
    images = soup.find_all("img")
    assert [img["alt"] for img in images] == ["class distribution", "question analysis",
                                              "score vs submission time", "grading runtime"]
    for img in images:
        assert img["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(img["src"].split(",", 1)[1]).startswith(b"\x89PNG")
    assert not soup.find_all(["script", "link"]) and "http" not in path.read_text().replace("http-equiv", "")
    assert len(read_grades_table(path)) == len(CLASS)


def test_item_analysis_gives_difficulty_and_discrimination_over_graded_students_only():
    table = pd.DataFrame({
        "student": ["a", "b", "c", "d"], "nb:q1": [2.0, 2.0, 0.0, 0.0], "nb:q2": [4.0, 2.0, 1.0, 0.0],
        "nb:q3": [1.0, 1.0, 1.0, 0.0],
        "status": ["graded", "graded", "needs manual", "failed: timeout"]})
    analysis = item_analysis(table, [Question("nb", q, m, False) for q, m in (("q1", 2), ("q2", 4), ("q3", 1))]) \
        .set_index("question")
    assert analysis.loc["nb:q1", "difficulty"] == pytest.approx(4 / 3 / 2)
    assert analysis.loc["nb:q2", "difficulty"] == pytest.approx(7 / 3 / 4)
    # q1 = (2, 2, 0) against the rest of the total (5, 3, 2): Pearson r = 24 / sqrt(24 * 42)
    assert analysis.loc["nb:q1", "discrimination"] == pytest.approx(24 / math.sqrt(24 * 42))
    assert pd.isna(analysis.loc["nb:q3", "discrimination"])  # everyone graded got it: nothing to tell apart


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_report_command_writes_every_homework_in_the_gradebook(graded_class: Course, tmp_path: Path, fmt: str):
    result = subprocess.run([*GRADERS, "report", "all", "--format", fmt, "--out", str(tmp_path / "out"),
                             "--course", str(graded_class.root)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == {"csv": [f"{HW}.csv"], "html": [f"{HW}.html"], "canvas": [f"canvas_{HW}.csv"],
                     "moodle": [f"moodle_{HW}.csv"]}[fmt]


def test_report_command_rejects_an_unknown_format_in_one_line(graded_class: Course, tmp_path: Path):
    result = subprocess.run([*GRADERS, "report", HW, "--format", "xlsx", "--course", str(graded_class.root)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: unknown format 'xlsx' (choose from csv, canvas, moodle, html)"]


def test_runtime_plot_of_a_large_class_is_a_histogram_not_hundreds_of_bars():
    from graders.reports import plots

    attempts = pd.DataFrame({"student": [f"s{i}" for i in range(200)], "notebook": "nb", "run_id": 1, "number": 1,
                             "state": ["failed" if i % 20 == 0 else "done" for i in range(200)],
                             "wall_s": [1.0 + i / 100 for i in range(200)]})
    small, large = plots.runtimes(attempts.head(10)), plots.runtimes(attempts)
    with Image.open(io.BytesIO(small)) as a, Image.open(io.BytesIO(large)) as b:
        assert a.format == b.format == "PNG"
        assert b.size[1] < 2 * a.size[1]  # 200 bars would make the figure about 20 times taller


def test_the_html_report_renders_a_hostile_student_id_as_text(store, graded_class: Course, tmp_path: Path):
    from nbgrader.api import Gradebook

    hostile = "<script>alert('pwned')</script>"
    with Gradebook(graded_class.db_url, graded_class.course_id) as gradebook:
        gradebook.update_or_create_student(hostile)
    path = write_report(store, HW, "html", tmp_path)
    soup = BeautifulSoup(path.read_text(), "html.parser")
    assert not soup.find_all("script")
    assert hostile in read_grades_table(path)["student"].tolist()
