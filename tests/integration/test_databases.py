"""The grading path itself (autograde, resume, status, report) on SQLite and on a real PostgreSQL 15."""

from __future__ import annotations

import pandas as pd
import pytest
from nbgrader.api import Gradebook

from graders.authoring.validate import load_mutants, mutate
from graders.grading.autograde import autograde
from graders.reports.export import write_report
from graders.reports.status import latest_runs
from graders.store import Store
from tests.conftest import copy_course, on_database
from tests.helpers import solved_notebook, submit

HW = "hw1_backprop"


def test_a_class_is_graded_resumed_and_reported_the_same_on_each_database(hw1_generated, tmp_path, database_url):
    course = on_database(copy_course(hw1_generated, tmp_path / "course"), database_url)
    solved = solved_notebook(course, HW)
    submit(course, "alice", HW, solved)
    submit(course, "bob", HW, mutate(solved, load_mutants(course, HW)[0]))
    submit(course, "mallory", HW, b"{this is not a notebook")

    first = {o.student: o for o in autograde(course, HW, workers=1)}
    assert (first["alice"].state, first["alice"].score) == ("done", 100)
    assert first["bob"].state == "done" and 0 < first["bob"].score < 100
    assert first["mallory"].state == "failed" and first["mallory"].score == 0
    with Gradebook(course.db_url, course.course_id) as gradebook:
        scores = {s: gradebook.find_submission(HW, s).code_score for s in first}
    assert scores == pytest.approx({s: o.score for s, o in first.items()})  # the database sums floats

    again = autograde(course, HW, workers=1)  # nothing changed: nothing is graded twice
    assert sorted((o.student, o.state) for o in again) == [(s, "skipped") for s in ("alice", "bob", "mallory")]

    [run] = latest_runs(course, HW)
    assert run.state == "done"
    store = Store(course.db_url, course.course_id)
    try:
        table = pd.read_csv(write_report(store, HW, "csv", tmp_path / "reports"))
    finally:
        store.close()
    status = dict(zip(table["student"], table["status"]))
    assert status["mallory"].startswith("failed: ") and "not valid JSON" in status["mallory"]
    assert status["alice"] != status["mallory"]
