"""A homework's submission policy through the hub service's classes, on SQLite and PostgreSQL: how many, how
often, until when (extensions respected), a TA's override for one student (audited), and "best" counting in
the hub and the CSV report."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import nbformat
import pytest
from tornado import web

from graders.course import Course
from graders.grading.deadlines import due_date, grant_extension, parse_datetime
from graders.hub.service import Exchange, GradingQueue
from graders.hub.submissions import TIMESTAMP_FORMAT
from graders.store import Store, audit
from graders.store.policies import allow
from tests.conftest import on_database
from tests.helpers import csv_report_row
from tests.integration.conftest import TINY, TINY_POINTS, tiny_solved, tiny_wrong

GRADERS = str(Path(sys.executable).parent / "graders")
NOTEBOOK = f"{TINY}.ipynb"


def with_policy(course: Course, table: str) -> Course:
    course.path("source", TINY, "homework.toml").write_text(f"timeout_s = 60\npreload = []\n[submissions]\n{table}\n")
    return Course.load(course.root)


@pytest.fixture
def course(tiny_course: Course, database_url: str | None) -> Course:
    return on_database(tiny_course, database_url)


@pytest.fixture
def store(course: Course) -> Iterator[Store]:
    store = Store(course.db_url, course.course_id)
    yield store
    store.close()


def refusal(exchange: Exchange, student: str) -> web.HTTPError:
    with pytest.raises(web.HTTPError) as error:
        exchange.submit(student, TINY, {NOTEBOOK: b"{}"})
    return error.value


def test_the_total_is_enforced_and_a_ta_can_allow_one_student_more(course: Course, store: Store) -> None:
    exchange = Exchange(with_policy(course, "total = 2"))
    try:
        assert exchange.policy("bob", TINY)["remaining"] == 2
        exchange.submit("bob", TINY, {NOTEBOOK: b"first"})
        exchange.submit("bob", TINY, {NOTEBOOK: b"second"})
        assert exchange.policy("bob", TINY) | {"closes_at": None} == {
            "counts": "last", "total": 2, "per_day": None, "min_delay_minutes": None, "used": 2, "remaining": 0,
            "next_allowed_at": None, "closes_at": None, "refusal": "all 2 submissions used"}
        error = refusal(exchange, "bob")
        assert (error.status_code, error.log_message) == (403, f"{TINY} not submitted: all 2 submissions used")
        assert (exchange.course.submission_dir("bob", TINY) / NOTEBOOK).read_bytes() == b"second"  # kept

        standing = allow(exchange.course, store, TINY, "bob", total=3)
        assert (standing.remaining, standing.refusal) == (1, None)
        exchange.submit("bob", TINY, {NOTEBOOK: b"third"})
        assert refusal(exchange, "bob").log_message == f"{TINY} not submitted: all 3 submissions used"
        assert exchange.policy("carol", TINY)["remaining"] == 2  # the others keep the homework's
    finally:
        exchange.close()
    with store.session() as session:
        events = [(e.actor, e.action, e.student, e.item, e.old_value, e.new_value)
                  for e in audit.history(session, TINY, "bob") if e.item.startswith("submissions.")]
    assert events == [(getpass.getuser(), "submission policy", "bob", "submissions.total", None, "3")]


def test_too_soon_is_refused_with_when_the_next_is_accepted(course: Course) -> None:
    exchange = Exchange(with_policy(course, "per_day = 1\nmin_delay_minutes = 30"))
    try:
        first = exchange.submit("bob", TINY, {NOTEBOOK: b"first"})
        error = refusal(exchange, "bob")
        policy = exchange.policy("bob", TINY)
    finally:
        exchange.close()
    next_at = datetime.strptime(first["timestamp"], TIMESTAMP_FORMAT) + timedelta(hours=24)
    assert error.status_code == 429  # waiting helps
    assert error.log_message == (f"{TINY} not submitted: 1 submission in 24 hours: the next is accepted from "
                                 f"{next_at:%Y-%m-%d %H:%M} UTC")
    assert (policy["remaining"], policy["next_allowed_at"]) == (0, f"{next_at:%Y-%m-%dT%H:%M:%S}Z")


def test_the_hard_close_moves_with_an_extension_or_a_tas_date(course: Course, store: Store) -> None:
    due = due_date(course, TINY)  # 12 hours ago
    closes = due + timedelta(hours=1)
    exchange = Exchange(with_policy(course, f'closes = "{closes:%Y-%m-%d %H:%M:%S} UTC"'))
    try:
        assert refusal(exchange, "bob").log_message == \
            f"{TINY} not submitted: submissions closed on {closes:%Y-%m-%d %H:%M} UTC"
        until = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0) + timedelta(days=2)
        grant_extension(exchange.course, store, TINY, "bob", until)
        assert exchange.policy("bob", TINY)["closes_at"] == f"{closes + (until - due):%Y-%m-%dT%H:%M:%S}Z"
        exchange.submit("bob", TINY, {NOTEBOOK: b"late but extended"})
        assert refusal(exchange, "carol").status_code == 403
        allow(exchange.course, store, TINY, "carol", closes=parse_datetime(f"{until:%Y-%m-%d %H:%M} UTC"))
        exchange.submit("carol", TINY, {NOTEBOOK: b"reopened for her"})
    finally:
        exchange.close()


@pytest.mark.parametrize("counts", ["last", "best"])
def test_the_hub_and_the_csv_report_use_the_submission_that_counts(course: Course, counts: str,
                                                                   tmp_path: Path) -> None:
    """bob hands in a right notebook, then a worse one: "last" counts the worse, "best" the right one."""
    exchange = Exchange(with_policy(course, f'counts = "{counts}"'))
    queue = GradingQueue(exchange, workers=1)
    try:
        right = exchange.submit("bob", TINY, {NOTEBOOK: nbformat.writes(tiny_solved(course)).encode()})
        queue.grade("bob", TINY)
        exchange.submit("bob", TINY, {NOTEBOOK: nbformat.writes(tiny_wrong(course)).encode()})
        queue.grade("bob", TINY)
        status = exchange.status("bob", TINY)
    finally:
        queue.close()
        exchange.close()
    row = csv_report_row(course, TINY, "bob", tmp_path)
    late = 0.9  # less than a day late: 10 %
    full = sum(TINY_POINTS.values())
    expected = full * late if counts == "best" else TINY_POINTS["test_add"] * late
    assert status["state"] == "graded"  # the newest hand-in's grading
    assert (status["score"], row["final_score"]) == (pytest.approx(expected), pytest.approx(expected))
    assert status["late_penalty"] == pytest.approx(row["late_penalty"])
    assert row[f"{TINY}:test_double"] == (TINY_POINTS["test_double"] if counts == "best" else 0)
    assert row["raw_score"] == pytest.approx(expected / late)
    if counts == "best":
        assert status["counted_timestamp"] == right["timestamp"]
        assert row["notes"].startswith("counts: the best graded submission, handed in ")
    else:
        assert status["counted_timestamp"] == status["timestamp"]


def test_a_ta_gives_one_student_their_own_limits_from_the_command_line(course: Course) -> None:
    with_policy(course, "total = 1\nper_day = 1")

    def graders(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([GRADERS, *args, "--course", str(course.root)], capture_output=True, text=True,
                              timeout=300, env={**os.environ, "COLUMNS": "300"})  # rich wraps no table cell

    granted = graders("allow", TINY, "bob", "--total", "3")
    assert granted.returncode == 0, granted.stderr
    assert " ".join(granted.stdout.split()) == f"bob may submit {TINY}: 3 in all, 1 per 24 hours; 0 used, 1 remaining"
    for args, message in ((["--total", "0"], "error: total must be a whole number, at least 1, not 0"),
                          ([], "error: give at least one of --total, --per-day, --min-delay-minutes, --closes")):
        refused = graders("allow", TINY, "bob", *args)
        assert (refused.returncode, refused.stderr.strip()) == (1, message)
    history = graders("history", TINY, "bob")
    assert history.returncode == 0 and "submissions.total" in history.stdout and "submission policy" in history.stdout
