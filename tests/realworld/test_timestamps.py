"""Submission times are read in every form nbgrader, an exchange or a person writes, or flagged loudly.

Every student below handed in the same right answer one hour after the due date,
stamped in a different form; each must lose the same late penalty (10 % per
started day of 2 points). Stamps that cannot be read give no penalty and say so,
in `graders status`, in the CSV and in the LMS files, unless the course takes the
notebook's modification time instead.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from graders.course import Course
from tests.conftest import copy_course
from tests.realworld.conftest import answered, autograded, hand_in, make_course, run_graders, solution

HW = "stamps"
DUE = "2026-11-20 19:00:00 UTC"
CONFIG = f"""
c.Graders.due = {{"{HW}": "{DUE}"}}
c.AssignLatePenalties.plugin_class = "graders.grading.deadlines.PercentPerDay"
c.PercentPerDay.percent_per_day = 10
c.PercentPerDay.grace_minutes = 0
c.PercentPerDay.zero_after_days = None
"""
ONE_HOUR_LATE = {  # student -> timestamp.txt, each 2026-11-20 20:00 UTC
    "nbgrader_utc": "2026-11-20 20:00:00.000000 UTC",  # nbgrader's exchange, Exchange.timezone = "UTC"
    "nbgrader_pst": "2026-11-20 12:00:00.000000 PST",  # ... with Exchange.timezone = "America/Los_Angeles"
    "nbgrader_cet": "2026-11-20 21:00:00.000000 CET",  # ... with "Europe/Paris"
    "nbgrader_est": "2026-11-20 15:00:00.000000 EST",
    "cest": "2026-11-20 22:00:00 CEST",
    "bst": "2026-11-20 21:00:00 BST",
    "edt": "2026-11-20 16:00:00 EDT",
    "cdt": "2026-11-20 15:00:00 CDT",
    "mst": "2026-11-20 13:00:00 MST",
    "gmt_newline": "2026-11-20 20:00:00 GMT\n  \n",
    "iso_z": "2026-11-20T20:00:00Z",
    "iso_ms_z": "2026-11-20T20:00:00.000Z",  # JavaScript's toISOString()
    "iso_offset": "2026-11-20T12:00:00-0800",
    "iso_colon": "2026-11-20T21:00:00+01:00",
    "space_offset": "2026-11-20 15:00:00 -0500",
    "python_str": "2026-11-20 20:00:00.123456+00:00",  # str() of an aware datetime
    "iana": "2026-11-20 21:00:00 Europe/Paris",
    "date_command": "Fri Nov 20 12:00:00 PST 2026",  # `date > timestamp.txt`
    "no_seconds": "2026-11-20 20:00 UTC",
}
UNREADABLE = {"garbage": "yesterday evening", "empty": "", "missing": None}
ON_TIME = {"on_time": "2026-11-20 18:59:00 UTC"}
RIGHT = "def answer():\n    return 42"


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> Course:
    course = make_course(tmp_path_factory.mktemp("stamps") / "course", HW, {HW: [
        solution("answer", "def answer():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION"),
        autograded("test_answer", "assert answer() == 42", 2)]}, config=CONFIG)
    run_graders(course, "generate", HW)
    for student, stamp in {**ONE_HOUR_LATE, **UNREADABLE, **ON_TIME}.items():
        hand_in(course, student, HW, {HW: answered(course, HW, HW, {"answer": RIGHT})}, stamp)
    run_graders(course, "autograde", HW, "--workers", "1")
    return course


def csv_report(course: Course, out: Path) -> pd.DataFrame:
    run_graders(course, "report", HW, "--format", "csv", "--out", str(out))
    return pd.read_csv(out / f"{HW}.csv").set_index("student")


def test_every_stamp_form_gives_the_same_hour_late_and_penalty(graded_class: Course, tmp_path: Path):
    table = csv_report(graded_class, tmp_path)
    late = table.loc[list(ONE_HOUR_LATE)]
    assert late["hours_late"].to_dict() == {student: 1.0 for student in ONE_HOUR_LATE}
    assert late["late_penalty"].round(6).to_dict() == {student: 0.2 for student in ONE_HOUR_LATE}
    assert late["final_score"].round(6).to_dict() == {student: 1.8 for student in ONE_HOUR_LATE}
    assert pd.to_datetime(late["submitted_at"], format="mixed").dt.floor("s").eq(pd.Timestamp(2026, 11, 20, 20)).all()
    assert table.loc["on_time", "late_penalty"] == 0 and table.loc["on_time", "final_score"] == 2
    assert late["notes"].isna().all()  # nothing to say about a stamp that was read


def test_an_unreadable_stamp_computes_no_penalty_and_says_so_everywhere(graded_class: Course, tmp_path: Path):
    table = csv_report(graded_class, tmp_path / "csv")
    unreadable = table.loc[list(UNREADABLE)]
    assert unreadable["late_penalty"].isna().all() and unreadable["hours_late"].isna().all()
    assert unreadable["submitted_at"].isna().all() and (unreadable["final_score"] == 2).all()
    assert unreadable["notes"].to_dict() == {
        "garbage": "timestamp.txt could not be read ('yesterday evening'): submission time unknown, "
                   "no late penalty computed",
        "empty": "timestamp.txt is empty: submission time unknown, no late penalty computed",
        "missing": "no timestamp.txt: submission time unknown, no late penalty computed"}
    status = " ".join(run_graders(graded_class, "status", HW).split())
    assert all(note in status for note in unreadable["notes"])
    run_graders(graded_class, "report", HW, "--format", "canvas", "--out", str(tmp_path / "canvas"))
    canvas = pd.read_csv(tmp_path / "canvas" / f"canvas_{HW}.csv").set_index("SIS Login ID")
    assert canvas.loc["garbage", "Notes"] == f"{HW}: submission time unknown: no late penalty computed"


def test_the_course_may_take_the_notebooks_modification_time_instead(graded_class: Course, tmp_path: Path):
    course = copy_course(graded_class, tmp_path / "course")
    config = course.path("nbgrader_config.py")
    config.write_text(config.read_text() + '\nc.Graders.timestamp_fallback = "mtime"\n')
    modified = datetime(2026, 11, 20, 20, 0, tzinfo=timezone.utc).timestamp()  # one hour late
    os.utime(course.submission_dir("missing", HW) / f"{HW}.ipynb", (modified, modified))
    run_graders(course, "autograde", HW, "--student", "missing", "--workers", "1")
    row = csv_report(course, tmp_path / "csv").loc["missing"]
    assert (row["hours_late"], round(row["late_penalty"], 6)) == (1.0, 0.2)
    assert row["notes"] == "no timestamp.txt: submission time taken from the notebook's modification time " \
                           "(2026-11-20 20:00 UTC)"
