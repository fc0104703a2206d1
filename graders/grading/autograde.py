"""Grade a class: plan jobs in the database, dispatch them, record every attempt and grade.

The coordinator (this module) is the only writer. A submission whose latest
graded job has the same content is not graded again, so a run that was killed
resumes where it stopped; `force` regrades.
"""

from __future__ import annotations

import hashlib
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import nbformat
from nbgrader.api import Gradebook
from sqlalchemy import select, update

from graders.authoring.generate import load_keys
from graders.authoring.keys import NotebookKey
from graders.authoring.source import instructor_notebook, notebook_language
from graders.contract import CellRun, CellStatus, Execution, GradingJob
from graders.course import Course, CourseError, Homework
from graders.dispatch.dispatcher import AttemptResult, Dispatcher
from graders.grading import files, submission
from graders.grading.deadlines import apply_penalties, submission_time, timestamp_fallback
from graders.grading.disclosure import hidden_tests_marker
from graders.grading.prepare import BadSubmission, Prepared, prepare, read_submission
from graders.grading.verdict import CellVerdict
from graders.sandbox import preflight
from graders.states import FINAL_JOB_STATES, AttemptState, JobState, OutcomeState, RunState
from graders.store import Store
from graders.store.gradebook import record_grades
from graders.store.models import Attempt, GradingRun, Job, utcnow

LOG_TAIL_CHARS = 4000


@dataclass
class Outcome:
    """The result of one student's notebook in a run."""

    student: str
    notebook: str
    state: OutcomeState
    score: float | None = None
    max_score: float | None = None
    reason: str | None = None


@dataclass
class _Run:
    """What every step of one class run works with."""

    course: Course
    hw: str
    homework: Homework
    keys: dict[str, NotebookKey]
    store: Store
    gradebook: Gradebook
    run_id: int
    sandbox: str
    timestamp_fallback: str  # for submissions without a readable timestamp.txt: "none" or "mtime"
    homework_files: files.JobFiles


@dataclass
class _Planned:
    job_id: int
    student: str
    notebook: str
    prepared: Prepared
    timestamp: datetime | None


def autograde(course: Course, hw: str, *, students: list[str] | None = None, workers: int | None = None,
              scheduler: str | None = None, sandbox: str = "bubblewrap", force: bool = False,
              on_outcome: Callable[[Outcome], None] | None = None,
              on_planned: Callable[[int], None] | None = None,
              dispatcher: Dispatcher | None = None) -> list[Outcome]:
    """Autograde homework `hw` for `students` (default: everyone who submitted).

    A `dispatcher` that is already open (its runners and their kernels warm) is used and left open;
    otherwise the run opens its own from `workers` and `scheduler`.
    """
    course.check_assignment(hw)
    if (dispatcher.scheduler if dispatcher else scheduler) is None:
        preflight.require(sandbox)  # this machine runs the kernels: stop now (one line) if it cannot sandbox them
    homework = course.homework(hw)
    keys = load_keys(course, hw)
    students = _check_students(course, hw, students)
    fallback = timestamp_fallback(course)
    store = Store(course.db_url, course.course_id)
    outcomes: list[Outcome] = []
    report = on_outcome or (lambda outcome: None)
    try:
        with store.session() as session:
            _interrupt_stale_runs(session, hw)
            if dispatcher is not None:
                workers, scheduler = dispatcher.workers, dispatcher.scheduler
            run = GradingRun(assignment=hw, sandbox=sandbox, workers=workers or 0, scheduler=scheduler or "local")
            session.add(run)
            session.flush()
            run_id = run.id
        # One gradebook for the whole run: nbgrader's Gradebook() starts an `alembic` process each time.
        with store.gradebook() as gradebook:
            context = _Run(course, hw, homework, keys, store, gradebook, run_id, sandbox, fallback,
                           files.homework_files(course, homework))
            planned, jobs, contents = [], [], {}
            for student in students:
                for notebook in course.notebooks(hw):
                    result = _plan_one(context, student, notebook, force)
                    if isinstance(result, Outcome):
                        outcomes.append(result)
                        report(result)
                    else:
                        planned.append(result[0])
                        jobs.append(result[1])
                        contents.update(result[2])
            if on_planned:
                on_planned(len(jobs))
            by_key = {job.key: p for p, job in zip(planned, jobs)}
            if jobs:
                with nullcontext(dispatcher) if dispatcher else Dispatcher(workers, scheduler) as runners:
                    for attempt in runners.run(jobs, contents):
                        outcome = _record_attempt(context, by_key[attempt.job.key], attempt)
                        if outcome is not None:
                            del by_key[attempt.job.key]  # its prepared notebook is no longer needed
                            outcomes.append(outcome)
                            report(outcome)
        graded = sorted({o.student for o in outcomes if o.state != OutcomeState.SKIPPED})
        if graded:  # late penalties follow the new scores, as nbgrader's autograde does
            apply_penalties(course, store, hw, graded)
        with store.session() as session:
            session.execute(update(GradingRun).where(GradingRun.id == run_id)
                            .values(state=RunState.DONE, finished_at=utcnow()))
    finally:
        store.close()
    return outcomes


def _check_students(course: Course, hw: str, students: list[str] | None) -> list[str]:
    if not students:
        found = course.students_with_submissions(hw)
        if not found:
            raise CourseError(f"no submissions for {hw} in {course.path('submitted')}")
        return found
    for student in students:
        if not course.submission_dir(student, hw).is_dir():
            raise CourseError(f"no submission folder {course.submission_dir(student, hw)}")
    return students


def _interrupt_stale_runs(session, hw: str) -> None:  # noqa: ANN001 - a Session
    """Runs left 'running' by a coordinator that died: their unfinished jobs will be graded anew."""
    stale = select(GradingRun.id).where(GradingRun.assignment == hw, GradingRun.state == RunState.RUNNING)
    session.execute(update(Job).where(Job.run_id.in_(stale), Job.state.in_((JobState.QUEUED, JobState.RUNNING)))
                    .values(state=JobState.INTERRUPTED, finished_at=utcnow()))
    session.execute(update(GradingRun).where(GradingRun.id.in_(stale)).values(state=RunState.INTERRUPTED))


def _plan_one(run: _Run, student: str, notebook: str,
              force: bool) -> Outcome | tuple[_Planned, GradingJob, dict[str, bytes]]:
    """An outcome already (unchanged, unreadable), or the job to dispatch (with the contents of its
    files) and what to judge it with."""
    course, store, hw = run.course, run.store, run.hw
    folder = course.submission_dir(student, hw)
    path = folder / f"{notebook}.ipynb"
    data = path.read_bytes() if path.is_file() else b""
    sha = hashlib.sha256(data).hexdigest()
    if not force and _already_graded(store, hw, student, notebook, sha):
        return Outcome(student, notebook, OutcomeState.SKIPPED, reason="already graded (unchanged)")
    with store.session() as session:
        job = Job(run_id=run.run_id, assignment=hw, student=student, notebook=notebook, submission_sha256=sha)
        session.add(job)
        session.flush()
        job_id = job.id
    stamp = submission_time(folder, run.timestamp_fallback)
    timestamp, stamp_notes = stamp.when, [stamp.note] if stamp.note else []
    try:
        if not path.is_file():
            raise BadSubmission(f"{notebook}.ipynb missing from the submission")
        submitted, notes = read_submission(data)
        lang = notebook_language(submitted, course.default_lang)
        prepared = prepare(instructor_notebook(course, hw, notebook, lang), submitted)
        prepared.notes[:0] = stamp_notes + notes
    except BadSubmission as exc:
        return _fail_unrunnable(run, job_id, student, notebook, timestamp, str(exc), stamp_notes)
    job_files = files.with_student_files(run.homework_files, folder, run.homework, course.ignore)
    prepared.notes.extend(job_files.notes)
    job = submission.make_job(f"{student}/{notebook}", prepared, run.homework, run.sandbox, job_files.files)
    with store.session() as session:
        session.execute(update(Job).where(Job.id == job_id).values(state=JobState.RUNNING))
    return _Planned(job_id, student, notebook, prepared, timestamp), job, job_files.contents


def _already_graded(store: Store, hw: str, student: str, notebook: str, sha: str) -> bool:
    """The latest finished job had the same content and one of its attempts ran (not all lost)."""
    with store.session() as session:
        latest = session.scalars(
            select(Job).where(Job.assignment == hw, Job.student == student, Job.notebook == notebook,
                              Job.state.in_(FINAL_JOB_STATES)).order_by(Job.id.desc()).limit(1)).first()
        return latest is not None and latest.submission_sha256 == sha \
            and any(attempt.state != AttemptState.LOST for attempt in latest.attempts)


def _fail_unrunnable(run: _Run, job_id: int, student: str, notebook: str, timestamp: datetime | None,
                     reason: str, notes: list[str]) -> Outcome:
    """A submission that cannot even be read: zero auto score, recorded as failed with its reason."""
    instructor = instructor_notebook(run.course, run.hw, notebook)
    verdicts = submission.judge(instructor, run.keys[notebook], Execution(cells={
        i: CellRun(status=CellStatus.NOT_RUN) for i, c in enumerate(instructor.cells) if c.cell_type == "code"}))
    max_score = _max(verdicts)
    record_grades(run.gradebook, run.hw, student, notebook, verdicts, timestamp)
    with run.store.session() as session:
        session.add(Attempt(job_id=job_id, number=1, state=AttemptState.FAILED, reason=reason, finished_at=utcnow()))
        session.execute(update(Job).where(Job.id == job_id).values(
            state=JobState.FAILED, score=0.0, max_score=max_score, reason=reason, notes=notes, finished_at=utcnow()))
    return Outcome(student, notebook, OutcomeState.FAILED, 0.0, max_score, reason)


def _record_attempt(run: _Run, planned: _Planned, attempt: AttemptResult) -> Outcome | None:
    """Store one attempt; for the final one, also the job's score, the autograded notebook and the grades."""
    execution = attempt.execution
    now = utcnow()
    with run.store.session() as session:
        if execution is None:  # when a lost attempt started is unknown: the coordinator only sees its end
            session.add(Attempt(job_id=planned.job_id, number=attempt.number, state=AttemptState.LOST,
                                runner=attempt.runner, reason=attempt.error, started_at=now, finished_at=now))
            if not attempt.final:
                return None
            session.execute(update(Job).where(Job.id == planned.job_id).values(
                state=JobState.FAILED, reason=f"no attempt completed: {attempt.error}", notes=planned.prepared.notes,
                finished_at=utcnow()))
            return Outcome(planned.student, planned.notebook, OutcomeState.FAILED, reason=attempt.error)
        verdicts = submission.judge(planned.prepared.notebook, run.keys[planned.notebook], execution,
                                    hidden_tests_marker(run.course.config))
        score, max_score = _score(verdicts), _max(verdicts)
        state = JobState.FAILED if execution.failed else JobState.DONE
        session.add(Attempt(
            job_id=planned.job_id, number=attempt.number, state=AttemptState(state), runner=attempt.runner,
            device=execution.device, sandbox=execution.sandbox, memory_mechanism=execution.memory_mechanism,
            wall_s=execution.wall_s, cpu_s=execution.cpu_s,
            peak_memory_mb=execution.maxrss_kb / 1024 if execution.maxrss_kb else None,
            exit_code=execution.exit_code, reason=execution.reason, log_tail=_log_tail(execution),
            started_at=now - timedelta(seconds=execution.wall_s), finished_at=now))
        session.execute(update(Job).where(Job.id == planned.job_id).values(
            state=state, score=score, max_score=max_score, reason=execution.reason,
            notes=planned.prepared.notes + execution.notes, finished_at=utcnow()))
    autograded = submission.autograded_notebook(planned.prepared, execution, verdicts)
    target = run.course.autograded_dir(planned.student, run.hw)
    target.mkdir(parents=True, exist_ok=True)
    nbformat.write(autograded, target / f"{planned.notebook}.ipynb")
    record_grades(run.gradebook, run.hw, planned.student, planned.notebook, verdicts, planned.timestamp)
    return Outcome(planned.student, planned.notebook, OutcomeState(state), score, max_score, execution.reason)


def _score(verdicts: list[CellVerdict]) -> float:
    return round(sum(v.score or 0.0 for v in verdicts if v.kind != "manual"), 6)


def _max(verdicts: list[CellVerdict]) -> float:
    return sum(v.max_points for v in verdicts if v.kind != "manual")


def _log_tail(execution) -> str:  # noqa: ANN001 - an Execution
    parts = []
    for index in sorted(execution.cells):
        for output in execution.cells[index].outputs:
            if output.get("output_type") == "error":
                parts.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
            elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                parts.append(output.get("text", ""))
    return "\n".join(parts)[-LOG_TAIL_CHARS:]
