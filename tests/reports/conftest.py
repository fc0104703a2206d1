"""A graded class of hw1_backprop, written straight into a real gradebook and grading records.

Reports, penalties and the audit trail only read what autograde stores (nbgrader
grades, submission times, jobs and attempts), so the class is recorded through
the same `record_grades` and platform tables, without running notebooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from graders.course import Course
from graders.grading.verdict import CellVerdict
from graders.reports.table import questions
from graders.store import Store, audit
from graders.store.gradebook import record_grades
from graders.store.models import Attempt, GradingRun, Job
from tests.conftest import copy_course, on_database

HW = "hw1_backprop"
DUE = datetime(2026, 11, 21, 0, 0)
POLICY = """
c.Graders.due = {{"hw1_backprop": "2026-11-21 00:00:00 UTC"}}
c.AssignLatePenalties.plugin_class = "graders.grading.deadlines.PercentPerDay"
c.PercentPerDay.percent_per_day = {percent}
"""
TIMEOUT = "timeout: the notebook ran over 120 s"


@dataclass(frozen=True)
class Student:
    name: str
    fraction: float  # of each autograded question's points
    submitted: datetime | None  # None: never submitted
    failed: str | None = None  # why grading failed
    manual: bool = True  # manual questions graded by a TA


CLASS = [
    Student("alice", 1.0, DUE - timedelta(days=2)),
    Student("bob", 0.5, DUE + timedelta(hours=30)),  # 2 started days late
    Student("carol", 0.0, DUE - timedelta(hours=3), failed=TIMEOUT),
    Student("dave", 0.8, DUE - timedelta(hours=1), manual=False),
    Student("erin", 0.0, None),
    Student("frank", 0.25, DUE - timedelta(days=1)),
]


def set_policy(course: Course, percent: float) -> Course:
    """The course with the due date and a PercentPerDay policy appended to its nbgrader_config.py."""
    config = course.path("nbgrader_config.py")
    text = config.read_text().split("# -- test policy --")[0]
    config.write_text(text + "# -- test policy --" + POLICY.format(percent=percent))
    return Course.load(course.root)


def record_class(course: Course) -> None:
    """Grade CLASS in `course`'s database, with one grading run of jobs and attempts."""
    store = Store(course.db_url, course.course_id)
    try:
        graded = questions(store, HW)
        with store.session() as session:
            run = GradingRun(assignment=HW, sandbox="bubblewrap", workers=1, state="done")
            session.add(run)
            session.flush()
            for number, student in enumerate(CLASS):
                if student.submitted is None:
                    continue
                job = Job(run_id=run.id, assignment=HW, student=student.name, notebook=HW,
                          submission_sha256=f"{number:064d}", state="failed" if student.failed else "done",
                          reason=student.failed)
                session.add(job)
                session.flush()
                session.add(Attempt(job_id=job.id, number=1, state=job.state, wall_s=1.5 + number,
                                    cpu_s=1.0 + number, runner="tcp://127.0.0.1:1", device="cpu",
                                    reason=student.failed))
        for student in CLASS:
            if student.submitted is not None:
                verdicts = [CellVerdict(q.name, q.max_score, None if q.manual else q.max_score * student.fraction,
                                        "manual" if q.manual else "probes") for q in graded]
                with store.session() as session:
                    record_grades(session, HW, student.name, HW, verdicts, student.submitted)
        with store.gradebook() as gradebook:
            for student in CLASS:
                if student.submitted is None:
                    gradebook.update_or_create_student(student.name)
                elif student.manual:
                    with audit.acting("manual", "ta1"):
                        for q in graded:
                            if q.manual:
                                grade = gradebook.find_grade(q.name, HW, HW, student.name)
                                grade.manual_score = q.max_score * student.fraction
                                grade.needs_manual_grade = False
                        gradebook.db.commit()
    finally:
        store.close()


@pytest.fixture(scope="session")
def graded_sqlite(hw1_generated: Course, tmp_path_factory: pytest.TempPathFactory) -> Course:
    """The graded class on SQLite, made once (do not modify: `graded_class` copies it)."""
    course = set_policy(copy_course(hw1_generated, tmp_path_factory.mktemp("graded") / "course"), 10)
    record_class(course)
    return course


@pytest.fixture(scope="session")
def graded_postgres(hw1_generated: Course, postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Name of a PostgreSQL database holding the graded class, made once, cloned for each test."""
    name = "graded_template"
    _create_database(postgres_server, name)
    course = copy_course(hw1_generated, tmp_path_factory.mktemp("graded-pg") / "course")
    record_class(set_policy(on_database(course, f"{postgres_server}/{name}"), 10))
    return name


@pytest.fixture
def graded_class(database_url: str | None, request: pytest.FixtureRequest, tmp_path: Path) -> Course:
    """A private copy of the graded class (10 % per day late), once on SQLite and once on PostgreSQL."""
    course = copy_course(request.getfixturevalue("graded_sqlite"), tmp_path / "course")
    if database_url is None:
        return course
    server, name = database_url.rsplit("/", 1)
    _create_database(server, name, template=request.getfixturevalue("graded_postgres"))
    config = course.path("nbgrader_config.py")
    # before the policy marker, so that set_policy keeps it
    config.write_text(config.read_text().replace(
        "# -- test policy --", f"c.CourseDirectory.db_url = {database_url!r}\n# -- test policy --"))
    return Course.load(course.root)


def _create_database(server: str, name: str, template: str | None = None) -> None:
    """A fresh database `name` (a copy of `template`: PostgreSQL clones it, no need to grade again)."""
    engine = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    finally:
        engine.dispose()


@pytest.fixture
def store(graded_class: Course):
    store = Store(graded_class.db_url, graded_class.course_id)
    yield store
    store.close()
