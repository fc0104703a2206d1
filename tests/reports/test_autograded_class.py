"""End to end: a class graded by the real autograde (bubblewrap, Dask), then every report format.

A submission whose kernel dies is failed with the sandbox's reason in each file, never a 0.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from graders.course import Course
from graders.grading.autograde import autograde
from tests.helpers import solved_notebook, submit, with_cell_after
from tests.reports.conftest import HW

GRADERS = str(Path(sys.executable).parent / "graders")
DIED = "kernel died (exit code 3)"


@pytest.fixture(scope="module")
def autograded(hw1_generated: Course, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """alice solved it; frank's notebook kills its kernel. Reports of every format written by the CLI."""
    from tests.conftest import copy_course

    course = copy_course(hw1_generated, tmp_path_factory.mktemp("autograded") / "course")
    solved = solved_notebook(course, HW)
    submit(course, "alice", HW, solved)
    submit(course, "frank", HW, with_cell_after(solved, "mlp", "import os\nos._exit(3)"))
    autograde(course, HW, workers=1)
    out = course.root / "out"
    for fmt in ("csv", "canvas", "moodle", "html"):
        result = subprocess.run([GRADERS, "report", HW, "--format", fmt, "--out", str(out),
                                 "--course", str(course.root)], capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stderr
    return out


def test_the_csv_says_why_grading_failed(autograded: Path):
    table = pd.read_csv(autograded / f"{HW}.csv").set_index("student")
    assert table.loc["frank", "status"] == f"failed: {DIED}" and pd.isna(table.loc["frank", "final_score"])
    assert table.loc["alice", "status"] == "needs manual" and table.loc["alice", "raw_score"] == 100


def test_lms_files_leave_the_failed_grade_empty_and_say_why(autograded: Path):
    canvas = pd.read_csv(autograded / f"canvas_{HW}.csv").set_index("SIS Login ID")
    assert pd.isna(canvas.loc["frank", HW]) and canvas.loc["frank", "Notes"] == f"{HW}: failed: {DIED}"
    moodle = pd.read_csv(autograded / f"moodle_{HW}.csv").set_index("Username")
    assert pd.isna(moodle.loc["frank", f"{HW} (Real)"])
    assert moodle.loc["frank", f"{HW} (Feedback)"] == f"failed: {DIED}"


def test_the_html_report_lists_the_failed_attempt_and_its_runtime(autograded: Path):
    soup = BeautifulSoup((autograded / f"{HW}.html").read_text(), "html.parser")
    failures = soup.find_all("table")[1].get_text()
    assert "frank" in failures and DIED in failures
    assert len(soup.find_all("img")) == 4
