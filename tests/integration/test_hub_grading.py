"""Grade on submit, as the hub service does it: real autograde (bubblewrap, Dask, SQLite), status and feedback,
all read from the database."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbgrader.api import Gradebook

from graders.authoring.demo import fill_solutions
from graders.authoring.source import instructor_notebook
from graders.authoring.validate import load_mutants, mutate
from graders.course import Course
from graders.hub.service import Exchange, GradingQueue
from graders.reports.table import grade_table
from graders.store import Store
from tests.helpers import cell_scores, csv_report_row, records, solved_notebook
from tests.integration.conftest import TINY, tiny_wrong

HW = "hw1_backprop"
GRADERS = str(Path(sys.executable).parent / "graders")


def report_row(course: Course, hw: str, student: str) -> pd.Series:
    store = Store(course.db_url, course.course_id)
    try:
        return grade_table(store, hw).set_index("student").loc[student]
    finally:
        store.close()


def test_submission_is_graded_and_its_feedback_lists_every_test_then_the_tas_grade(hw1_course: Course) -> None:
    exchange = Exchange(hw1_course)
    queue = GradingQueue(exchange, workers=1)
    try:
        _graded_with_feedback_and_resubmitted(exchange, queue)
    finally:
        queue.close()
        exchange.close()


def test_the_queue_keeps_its_runner_warm_between_submissions(hw1_course: Course) -> None:
    exchange = Exchange(hw1_course)
    queue = GradingQueue(exchange, workers=1)
    solved = nbformat.writes(solved_notebook(hw1_course, HW)).encode()
    try:
        for student in ("alice", "bob"):
            exchange.submit(student, HW, {f"{HW}.ipynb": solved})
            queue.grade(student, HW)
            assert exchange.status(student, HW)["state"] == "graded"
    finally:
        queue.close()
        exchange.close()
    _, attempts = records(hw1_course)
    runners = {student: {a.runner for a in attempts[student]} for student in ("alice", "bob")}
    assert runners["alice"] == runners["bob"] and len(runners["alice"]) == 1  # one Dask worker, still up


def _graded_with_feedback_and_resubmitted(exchange: Exchange, queue: GradingQueue) -> None:
    hw1_course = exchange.course
    solved = nbformat.writes(solved_notebook(hw1_course, HW)).encode()
    exchange.submit("alice", HW, {f"{HW}.ipynb": solved})
    queue.grade("alice", HW)
    status = exchange.status("alice", HW)
    row = report_row(hw1_course, HW, "alice")
    assert (status["state"], status["reason"], status["needs_manual"]) == ("graded", None, True)
    assert (status["score"], status["max_score"]) == (row["final_score"], row["max_score"])  # the manual part waits
    [notebook] = exchange.feedback("alice", HW)
    tests = [t for question in notebook["questions"] for t in question["tests"]]
    assert tests and all(t["passed"] and t["points"] == t["max_points"] for t in tests)

    # Resubmitting the same notebook: its content is graded already, so it is not graded again.
    resubmitted = exchange.submit("alice", HW, {f"{HW}.ipynb": solved})
    assert (resubmitted["state"], resubmitted["score"]) == ("graded", status["score"])
    queue.grade("alice", HW)
    assert exchange.status("alice", HW) == resubmitted
    assert len(records(hw1_course)[0]["alice"]) == 1

    # A written answer waits for the TA; once graded in formgrader (nbgrader's gradebook), the feedback
    # gives the TA's score and comment.
    written = {q["cell"]: q for q in notebook["questions"]}["q_backprop"]
    assert (written["score"], written["result"]) == (None, "waiting")
    with Gradebook(hw1_course.db_url, hw1_course.course_id) as gradebook:
        gradebook.find_grade("q_backprop", HW, HW, "alice").manual_score = 7.5
        gradebook.find_comment("q_backprop", HW, HW, "alice").manual_comment = "Say why the transpose."
        gradebook.db.commit()
    [notebook] = exchange.feedback("alice", HW, lang="fr")
    written = {q["cell"]: q for q in notebook["questions"]}["q_backprop"]
    assert (written["score"], written["by_ta"], written["comment"]) == (7.5, True, "Say why the transpose.")
    assert exchange.status("alice", HW)["score"] == status["score"] + 7.5


def test_unreadable_submission_fails_with_its_reason(hw1_course: Course) -> None:
    exchange = Exchange(hw1_course)
    exchange.submit("bob", HW, {f"{HW}.ipynb": b"this is not a notebook"})
    queue = GradingQueue(exchange, workers=1)
    queue.grade("bob", HW)
    queue.close()
    status = exchange.status("bob", HW)
    exchange.close()
    assert status["state"] == "failed" and status["score"] is None  # as the CSV report: no final score
    assert status["reason"].startswith("hw1_backprop: not valid JSON")


def test_a_submission_is_queued_in_the_database_until_graded(tiny_course: Course) -> None:
    exchange = Exchange(tiny_course)
    try:
        status = exchange.submit("bob", TINY, {f"{TINY}.ipynb": nbformat.writes(tiny_wrong(tiny_course)).encode()})
        assert (status["state"], status["score"]) == ("queued", None)
        assert records(tiny_course)[0] == {}  # nothing graded yet: the record of the submission says queued
        assert exchange.waiting() == [("bob", TINY)]
        queue = GradingQueue(exchange, workers=1)
        try:
            queue.grade("bob", TINY)
        finally:
            queue.close()
        assert exchange.status("bob", TINY)["state"] == "graded" and exchange.waiting() == []
        assert not tiny_course.path("hub").exists()  # no status file
    finally:
        exchange.close()


def test_a_late_submission_shows_the_score_of_the_csv_report(tiny_course: Course, tmp_path: Path) -> None:
    exchange = Exchange(tiny_course)  # the tiny homework was due 12 hours ago: stamped now, it is late
    queue = GradingQueue(exchange, workers=1)
    try:
        exchange.submit("bob", TINY, {f"{TINY}.ipynb": nbformat.writes(tiny_wrong(tiny_course)).encode()})
        queue.grade("bob", TINY)
        status = exchange.status("bob", TINY)
    finally:
        queue.close()
        exchange.close()
    row = csv_report_row(tiny_course, TINY, "bob", tmp_path)
    assert row["late_penalty"] > 0 and row["final_score"] < row["raw_score"]
    assert (status["state"], status["late_penalty"]) == ("graded", pytest.approx(row["late_penalty"]))
    assert (status["score"], status["max_score"]) == (pytest.approx(row["final_score"]), row["max_score"])


def test_an_error_that_stops_grading_is_the_submissions_reason_until_it_is_graded_again(tiny_course: Course,
                                                                                        tmp_path: Path) -> None:
    exchange = Exchange(tiny_course)
    queue = GradingQueue(exchange, workers=1)
    try:
        exchange.submit("bob", TINY, {f"{TINY}.ipynb": nbformat.writes(tiny_wrong(tiny_course)).encode()})
        tiny_course.keys_dir(TINY).rename(tmp_path / "keys")  # a TA regenerating the homework, say
        queue.grade("bob", TINY)
        status = exchange.status("bob", TINY)
        assert status["state"] == "failed" and "has no answer keys" in status["reason"]
        jobs, attempts = records(tiny_course)
        assert [job.state for job in jobs["bob"]] == ["failed"] and "bob" not in attempts  # recorded; nothing ran

        (tmp_path / "keys").rename(tiny_course.keys_dir(TINY))
        queue.grade("bob", TINY)  # the same content: graded now, since no attempt of it ran
        assert exchange.status("bob", TINY)["state"] == "graded"
    finally:
        queue.close()
        exchange.close()


def test_an_english_and_a_french_student_fetch_their_language_and_are_graded_the_same(hw1_course: Course) -> None:
    config = hw1_course.path("nbgrader_config.py")
    config.write_text(config.read_text() + '\nc.Graders.student_languages = {"amelie": "fr"}\n')
    course = Course.load(hw1_course.root)
    exchange = Exchange(course)
    queue = GradingQueue(exchange, workers=1)
    mistake = load_mutants(course, HW)[0]  # the same answers, one of them wrong: partial credit
    try:
        for student, lang in (("alice", "en"), ("amelie", "fr")):
            fetched = nbformat.reads(exchange.release_files(student, HW)[f"{HW}.ipynb"].decode(), 4)
            assert fetched.metadata.graders.lang == lang
            answered = mutate(fill_solutions(fetched, instructor_notebook(course, HW, HW, lang)), mistake)
            exchange.submit(student, HW, {f"{HW}.ipynb": nbformat.writes(answered).encode()})
            queue.grade(student, HW)
        english, french = exchange.status("alice", HW), exchange.status("amelie", HW)
    finally:
        queue.close()
        exchange.close()
    assert english["state"] == french["state"] == "graded"
    assert 0 < english["score"] == french["score"] < english["max_score"]
    scores = cell_scores(course, HW, ["alice", "amelie"])
    graded = {cell for _, cell in scores}
    assert graded and all(scores["alice", cell] == scores["amelie", cell] for cell in graded)
