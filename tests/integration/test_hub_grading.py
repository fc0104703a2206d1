"""Grade on submit, as the hub service does it: real autograde (bubblewrap, Dask, SQLite), status and feedback."""

from __future__ import annotations

import nbformat

from graders.course import Course
from graders.hub.service import Exchange, GradingQueue
from tests.helpers import records, solved_notebook

HW = "hw1_backprop"


def test_submission_is_graded_and_its_feedback_lists_every_test(hw1_course: Course) -> None:
    exchange = Exchange(hw1_course)
    queue = GradingQueue(exchange, workers=1)
    try:
        _graded_with_feedback_and_resubmitted(exchange, queue)
    finally:
        queue.close()


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
    _, attempts = records(hw1_course)
    runners = {student: {a.runner for a in attempts[student]} for student in ("alice", "bob")}
    assert runners["alice"] == runners["bob"] and len(runners["alice"]) == 1  # one Dask worker, still up


def _graded_with_feedback_and_resubmitted(exchange: Exchange, queue: GradingQueue) -> None:
    hw1_course = exchange.course
    solved = nbformat.writes(solved_notebook(hw1_course, HW)).encode()
    exchange.submit("alice", HW, {f"{HW}.ipynb": solved})
    queue.grade("alice", HW)
    status = exchange.status("alice", HW)
    assert (status["state"], status["score"], status["reason"]) == ("graded", status["max_score"], None)
    assert status["max_score"] > 0
    [notebook] = exchange.feedback("alice", HW)
    tests = [t for cell in notebook["cells"] for t in cell["tests"]]
    assert tests and all(t["passed"] and t["points"] == t["max_points"] for t in tests)

    # Resubmitting the same notebook is queued, not regraded, and keeps its score.
    assert exchange.submit("alice", HW, {f"{HW}.ipynb": solved})["state"] == "queued"
    queue.grade("alice", HW)
    assert exchange.status("alice", HW)["state"] == "graded"
    assert exchange.status("alice", HW)["score"] == status["max_score"]


def test_unreadable_submission_fails_with_its_reason(hw1_course: Course) -> None:
    exchange = Exchange(hw1_course)
    exchange.submit("bob", HW, {f"{HW}.ipynb": b"this is not a notebook"})
    queue = GradingQueue(exchange, workers=1)
    queue.grade("bob", HW)
    queue.close()
    status = exchange.status("bob", HW)
    assert status["state"] == "failed" and status["score"] == 0.0
    assert "hw1_backprop" in status["reason"] and status["reason"] != "hw1_backprop: None"
