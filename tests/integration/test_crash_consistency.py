"""A coordinator killed (SIGKILL, in a subprocess) at every write boundary, then run again, ends consistent:
every submission has exactly one grade in nbgrader's gradebook, the one of its single final job, with its
late penalty; nothing committed before the kill is graded again; no runner or sandbox process outlives
the killed coordinator. The same for the hub's grading queue, killed mid-grading and restarted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import nbformat
import psutil
import pytest
from nbgrader.api import Gradebook

from graders.course import Course
from graders.crash import CRASH_ENV, POINTS
from graders.grading.autograde import autograde
from graders.grading.submission import autograded_job
from graders.hub.service import Exchange, GradingQueue
from graders.reports.table import grade_table
from graders.states import FINAL_JOB_STATES
from graders.store import Store, audit
from tests.conftest import on_database
from tests.helpers import records, submit
from tests.integration.conftest import DUE, TINY, TINY_POINTS, WRONG_DOUBLE_POINTS, tiny_solved, tiny_wrong

LATE = f"{DUE + timedelta(hours=12)} UTC"  # 12 h late: 10 % off
KILLED_RUN_TIMEOUT_S = 240
LEFTOVER_TIMEOUT_S = 60
FULL = {"test_add": TINY_POINTS["test_add"], "test_double": TINY_POINTS["test_double"]}
DOUBLE_WRONG = {"test_add": TINY_POINTS["test_add"], "test_double": 0.0}
assert sum(DOUBLE_WRONG.values()) == WRONG_DOUBLE_POINTS


def run_until_killed(command: list[str], point: str, cwd: Path) -> list[psutil.Process]:
    """Run `command` with GRADERS_CRASH_AT=`point`; check that it killed itself there; every process it
    started (Dask nanny and workers, sandboxes), as seen while it ran."""
    log = cwd / f"killed-at-{point}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=cwd, env={**os.environ, CRASH_ENV: point}, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    seen: dict[tuple[int, float], psutil.Process] = {}
    deadline = time.monotonic() + KILLED_RUN_TIMEOUT_S
    try:
        while process.poll() is None:
            assert time.monotonic() < deadline, f"not killed at {point} in {KILLED_RUN_TIMEOUT_S} s"
            try:
                for child in psutil.Process(process.pid).children(recursive=True):
                    seen.setdefault((child.pid, child.create_time()), child)
            except psutil.Error:  # it or a child is exiting
                pass
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == -signal.SIGKILL, f"{point}: exit {process.returncode}\n{log.read_text()[-3000:]}"
    return list(seen.values())


def assert_all_gone(processes: list[psutil.Process]) -> None:
    """The killed coordinator's runners and sandboxes exit on their own (Dask's nanny, bwrap --die-with-parent)."""
    def alive() -> list[psutil.Process]:
        return [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    deadline = time.monotonic() + LEFTOVER_TIMEOUT_S
    while alive() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not alive(), [(p.pid, p.name()) for p in alive()]


def assert_consistent(course: Course, expected: dict[str, dict[str, float]], late: set[str]) -> None:
    """One grade per submission in nbgrader's gradebook, that of its only final job (the autograded notebook's
    too), its late penalty applied, each grade audited once; every other job of it interrupted."""
    jobs, attempts = records(course)
    with Gradebook(course.db_url, course.course_id) as gradebook:
        for student, grades in expected.items():
            final = [job for job in jobs[student] if job.state in FINAL_JOB_STATES]
            assert [job.state for job in final] == ["done"], (student, [j.state for j in jobs[student]])
            [job] = final
            assert {j.state for j in jobs[student] if j is not job} <= {"interrupted"}
            assert [a.state for a in attempts[student] if a.job_id == job.id] == ["done"]
            notebook = gradebook.find_submission_notebook(TINY, TINY, student)
            assert {g.name: g.auto_score for g in notebook.grades} == grades
            assert job.score == sum(grades.values())
            penalty = gradebook.find_submission(TINY, student).late_submission_penalty
            assert (penalty > 0) == (student in late), (student, penalty)
            autograded = course.autograded_dir(student, TINY) / f"{TINY}.ipynb"
            assert autograded_job(autograded) == job.id
    store = Store(course.db_url, course.course_id)
    try:
        with store.session() as session:
            for student in expected:
                items = [e.item for e in audit.history(session, TINY, student) if e.action == "autograde"]
                assert sorted(items) == sorted(f"{cell}.auto_score" for cell in FULL)  # written once
    finally:
        store.close()


def committed_before_kill(course: Course) -> set[str]:
    return {student for student, jobs in records(course)[0].items()
            if any(job.state in FINAL_JOB_STATES for job in jobs)}


@pytest.mark.parametrize("point", POINTS)
def test_a_class_run_killed_at_each_write_boundary_resumes_consistent(tiny_course: Course, point: str) -> None:
    killed_and_resumed(tiny_course, point)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("point", ["grades_written", "committed"])
def test_the_same_on_postgresql(tiny_course: Course, database_url: str, point: str) -> None:
    killed_and_resumed(on_database(tiny_course, database_url), point)


def killed_and_resumed(course: Course, point: str) -> None:
    submit(course, "alice", TINY, tiny_solved(course))
    submit(course, "bob", TINY, tiny_wrong(course), timestamp=LATE)
    submit(course, "carol", TINY, tiny_solved(course))
    expected = {"alice": FULL, "bob": DOUBLE_WRONG, "carol": FULL}

    started = run_until_killed([sys.executable, "-m", "graders", "autograde", TINY, "--workers", "1",
                                "--course", str(course.root)], point, course.root)
    assert_all_gone(started)
    graded = committed_before_kill(course)
    assert len(graded) == (1 if point == "committed" else 0)  # a result is all or nothing

    outcomes = {o.student: o.state for o in autograde(course, TINY, workers=1)}

    assert outcomes == {s: "skipped" if s in graded else "done" for s in expected}  # nothing graded twice
    assert_consistent(course, expected, late={"bob"})
    with Gradebook(course.db_url, course.course_id) as gradebook:  # 12 h late: 10 % of 3 points
        assert gradebook.find_submission(TINY, "bob").late_submission_penalty == pytest.approx(0.3)


def test_a_graded_job_whose_grades_or_autograded_notebook_went_missing_is_graded_again(tiny_course: Course):
    """The issue's case as a coordinator before one-transaction results left it (job done, grades never
    written), and an autograded notebook deleted: both are regraded, whatever their jobs' state."""
    course = tiny_course
    for student in ("alice", "bob", "carol"):
        submit(course, student, TINY, tiny_solved(course))
    autograde(course, TINY, workers=1)
    with Gradebook(course.db_url, course.course_id) as gradebook:
        gradebook.remove_submission(TINY, "alice")
    (course.autograded_dir("bob", TINY) / f"{TINY}.ipynb").unlink()

    outcomes = {o.student: o.state for o in autograde(course, TINY, workers=1)}

    assert outcomes == {"alice": "done", "bob": "done", "carol": "skipped"}
    jobs, _ = records(course)
    with Gradebook(course.db_url, course.course_id) as gradebook:
        for student in ("alice", "bob"):
            assert [job.state for job in jobs[student]] == ["done", "done"]
            assert gradebook.find_submission(TINY, student).score == sum(FULL.values())
            assert autograded_job(course.autograded_dir(student, TINY) / f"{TINY}.ipynb") == jobs[student][-1].id


HUB = textwrap.dedent("""
    import asyncio, sys
    from graders.course import Course
    from graders.hub.service import Exchange, GradingQueue

    async def resume(queue):
        await asyncio.gather(*queue.resume())

    if __name__ == "__main__":
        exchange = Exchange(Course.load(sys.argv[1]))
        queue = GradingQueue(exchange, workers=1)
        asyncio.run(resume(queue))
        queue.close()
    """)


async def _resume(queue: GradingQueue) -> None:
    await asyncio.gather(*queue.resume())


@pytest.mark.parametrize("point", ["dispatched", "grades_written", "committed"])
def test_the_hub_queue_killed_mid_grading_resumes_from_the_database(tiny_course: Course, point: str,
                                                                    tmp_path: Path) -> None:
    course = tiny_course
    exchange = Exchange(course)
    try:
        for student, notebook in (("alice", tiny_solved(course)), ("bob", tiny_wrong(course))):
            exchange.submit(student, TINY, {f"{TINY}.ipynb": nbformat.writes(notebook).encode()})
        assert {s: exchange.status(s, TINY)["state"] for s in ("alice", "bob")} == {"alice": "queued", "bob": "queued"}
        (tmp_path / "hub.py").write_text(HUB)

        started = run_until_killed([sys.executable, str(tmp_path / "hub.py"), str(course.root)], point, tmp_path)
        assert_all_gone(started)
        before = {s: exchange.status(s, TINY)["state"] for s in ("alice", "bob")}
        graded = committed_before_kill(course)
        assert before == {"alice": "graded" if graded else "grading", "bob": "queued"}  # alice's was in flight

        queue = GradingQueue(exchange, workers=1)
        try:
            asyncio.run(_resume(queue))
        finally:
            queue.close()

        statuses = {s: exchange.status(s, TINY) for s in ("alice", "bob")}
        assert {s: status["state"] for s, status in statuses.items()} == {"alice": "graded", "bob": "graded"}
        late = {"alice", "bob"}  # stamped now, a day after the due date
        assert_consistent(course, {"alice": FULL, "bob": DOUBLE_WRONG}, late)
        store = Store(course.db_url, course.course_id)
        try:
            table = grade_table(store, TINY).set_index("student")
        finally:
            store.close()
        assert {s: status["score"] for s, status in statuses.items()} == \
            {s: pytest.approx(table.loc[s, "final_score"]) for s in statuses}
        assert exchange.waiting() == [] and not course.path("hub").exists()  # no status file
    finally:
        exchange.close()
