"""Due dates, extensions and late-penalty policies: penalties follow them without re-running notebooks."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from graders.course import Course, CourseError
from graders.grading.deadlines import PercentPerDay, apply_penalties, grant_extension, parse_datetime
from graders.reports.table import grade_table
from graders.store import Store, audit
from graders.store.models import Attempt, Job
from tests.reports.conftest import DUE, HW, set_policy

GRADERS = str(Path(sys.executable).parent / "graders")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([GRADERS, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200"})


def bob(store: Store) -> dict:
    return grade_table(store, HW).set_index("student").loc["bob"].to_dict()


def test_percent_per_day_counts_started_days_after_the_grace_period():
    policy = PercentPerDay(percent_per_day=10, grace_minutes=15, zero_after_days=7)
    assert policy.late_submission_penalty("s", 50, 10 * 60) is None  # inside the grace period
    assert policy.late_submission_penalty("s", 50, 20 * 60) == pytest.approx(5)  # 1 started day
    assert policy.late_submission_penalty("s", 50, 30 * 3600) == pytest.approx(10)  # 2 started days
    assert policy.late_submission_penalty("s", 50, 8 * 86400) == 50  # past zero_after_days


def test_a_late_submission_loses_the_policy_penalty_and_on_time_ones_nothing(graded_class: Course, store: Store):
    apply_penalties(graded_class, store, HW)
    table = grade_table(store, HW).set_index("student")
    assert table.loc["bob", "hours_late"] == 30
    assert table.loc["bob", "late_penalty"] == pytest.approx(0.2 * table.loc["bob", "raw_score"])
    assert (table.drop(index="bob")["late_penalty"].fillna(0) == 0).all()
    with store.gradebook() as gradebook:  # nbgrader sees the same due date, so formgrader does too
        assert gradebook.find_assignment(HW).duedate == DUE


def test_an_extension_removes_the_late_penalty_and_is_audited(graded_class: Course, store: Store):
    apply_penalties(graded_class, store, HW)
    assert bob(store)["late_penalty"] > 0
    changes = grant_extension(graded_class, store, HW, "bob", DUE + timedelta(days=2))
    assert [(c.student, c.new) for c in changes] == [("bob", None)]
    assert bob(store)["late_penalty"] == 0 and bob(store)["final_score"] == bob(store)["raw_score"]
    with store.gradebook() as gradebook:
        assert gradebook.find_submission(HW, "bob").extension == timedelta(days=2)
    with store.session() as session:
        items = [(e.action, e.item, e.new_value) for e in audit.history(session, HW, "bob")]
    assert ("extension", "extension", "2026-11-23 00:00:00") in items
    assert ("late penalty", "late_penalty", None) in items


def test_a_shorter_extension_leaves_part_of_the_lateness(graded_class: Course, store: Store):
    grant_extension(graded_class, store, HW, "bob", DUE + timedelta(hours=12))  # 18 h late: 1 started day
    assert bob(store)["late_penalty"] == pytest.approx(0.1 * bob(store)["raw_score"])


def test_a_policy_change_recomputes_penalties_without_rerunning_notebooks(graded_class: Course, store: Store):
    apply_penalties(graded_class, store, HW)
    with store.session() as session:
        attempts_before = session.scalar(select(func.count(Attempt.id)))
        jobs_before = session.scalar(select(func.count(Job.id)))
    raw = bob(store)["raw_score"]
    assert bob(store)["late_penalty"] == pytest.approx(0.2 * raw)

    stricter = set_policy(graded_class, 25)
    result = run_cli("penalties", HW, "--course", str(stricter.root))
    assert result.returncode == 0, result.stderr
    assert "bob" in result.stdout
    assert bob(store)["late_penalty"] == pytest.approx(0.5 * raw)
    assert bob(store)["raw_score"] == raw
    with store.session() as session:
        assert session.scalar(select(func.count(Attempt.id))) == attempts_before
        assert session.scalar(select(func.count(Job.id))) == jobs_before


def test_extend_command_grants_and_refuses_a_date_before_the_due_date(graded_class: Course, store: Store):
    apply_penalties(graded_class, store, HW)
    result = run_cli("extend", HW, "bob", "--until", "2026-11-20 12:00 UTC", "--course", str(graded_class.root))
    assert result.returncode == 1
    assert result.stderr.strip() == "error: an extension must end after the due date of hw1_backprop " \
                                    "(2026-11-21 00:00 UTC)"
    result = run_cli("extend", HW, "bob", "--until", "2026-11-23 01:00 +01:00", "--course", str(graded_class.root))
    assert result.returncode == 0, result.stderr
    assert "bob has until 2026-11-23 00:00 UTC" in result.stdout
    assert "bob" in result.stdout.split("late penalties changed")[1]
    assert bob(store)["late_penalty"] == 0


def test_extend_refuses_a_homework_without_due_date(hw1_course: Course):
    config = hw1_course.path("nbgrader_config.py")
    config.write_text(config.read_text() + "\nc.Graders.due = {}\n")
    course = Course.load(hw1_course.root)
    store = Store(course.db_url, course.course_id)
    try:
        with pytest.raises(CourseError, match="has no due date"):
            grant_extension(course, store, HW, "bob", DUE)
    finally:
        store.close()


@pytest.mark.parametrize("text, expected", [
    ("2026-11-20 23:59:00 UTC", datetime(2026, 11, 20, 23, 59)),
    ("2026-11-20 23:59", datetime(2026, 11, 20, 23, 59)),
    ("2026-11-21 00:59 +01:00", datetime(2026, 11, 20, 23, 59)),
    ("2026-11-21T00:59:00+01:00", datetime(2026, 11, 20, 23, 59)),
    ("2026-11-21 00:59 Europe/Paris", datetime(2026, 11, 20, 23, 59)),
])
def test_dates_are_read_in_their_time_zone_and_kept_in_utc(text: str, expected: datetime):
    assert parse_datetime(text) == expected


def test_a_date_in_an_unknown_time_zone_is_refused_not_read_as_utc():
    with pytest.raises(CourseError, match="unknown time zone"):
        parse_datetime("2026-11-21 00:59 Mars/Olympus")


def test_extend_rejects_a_date_it_cannot_read_in_one_line(graded_class: Course):
    result = run_cli("extend", HW, "bob", "--until", "next tuesday-ish", "--course", str(graded_class.root))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "not a date and time" in result.stderr


def test_a_new_extension_replaces_the_old_one_and_the_trail_keeps_both(graded_class: Course, store: Store):
    grant_extension(graded_class, store, HW, "bob", DUE + timedelta(days=2))
    grant_extension(graded_class, store, HW, "bob", DUE + timedelta(hours=12))
    with store.gradebook() as gradebook:
        assert gradebook.find_submission(HW, "bob").extension == timedelta(hours=12)
    with store.session() as session:
        trail = [(e.old_value, e.new_value) for e in audit.history(session, HW, "bob") if e.item == "extension"]
    assert trail == [(None, "2026-11-23 00:00:00"), ("2026-11-23 00:00:00", "2026-11-21 12:00:00")]
