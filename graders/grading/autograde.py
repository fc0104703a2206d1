"""Grade a class: plan jobs in the database, dispatch them, record each result in one transaction.

The coordinator (this module) is the only writer, and writes in three kinds of transaction:

1. planning: stale runs interrupted, this run, and a queued job for every notebook to grade;
2. one per result: the attempt, the job's final state, score and notes, nbgrader's grades and the
   late penalty, all or nothing (the autograded notebook, derived output, is written just before
   the commit and stamped with the job, so a crash leaves at worst a notebook newer than the records);
3. the end of the run (done, or failed with the error that stopped it, its unfinished jobs with it).

A notebook is graded unless its content has a standing grading (`graders.store.records.graded_job`:
the newest final job, with an attempt that ran and its grades in the gradebook) and, when it ran, its
autograded notebook; so a run that was killed anywhere resumes where it stopped, and `force` regrades.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Iterator

import nbformat
from nbformat import NotebookNode
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from graders.authoring.generate import load_keys
from graders.authoring.keys import NotebookKey
from graders.authoring.source import notebook_language
from graders.contract import Execution, GradingJob
from graders.course import Course, CourseError, Homework
from graders.crash import crash_point
from graders.dispatch.dispatcher import AttemptResult, Dispatcher
from graders.errors import UserError
from graders.grading import files, submission
from graders.grading.deadlines import LateRules, late_rules, penalize, submission_time, timestamp_fallback
from graders.grading.disclosure import hidden_tests_marker
from graders.grading.master import master_notebook
from graders.grading.prepare import BadSubmission, Prepared, prepare, read_submission
from graders.grading.verdict import CellVerdict
from graders.sandbox import preflight
from graders.states import AttemptState, JobState, OutcomeState, RunState
from graders.store import Store
from graders.store.gradebook import record_grades, released_assignment
from graders.store.models import Attempt, GradingRun, Job, utcnow
from graders.store.records import graded_job

LOG_TAIL_CHARS = 4000
UNFINISHED = (JobState.QUEUED, JobState.RUNNING)
UNCHANGED = "already graded (unchanged)"


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
    rules: LateRules
    store: Store
    sandbox: str
    homework_files: files.JobFiles
    hidden_marker: str  # where hidden tests begin (nbgrader's ClearHiddenTests setting)
    ignore_stderr: str  # nbgrader's IgnorePattern, for assert-style test cells
    masters: dict[tuple[str, str], NotebookNode] = field(default_factory=dict)

    def master(self, notebook: str, lang: str) -> NotebookNode:
        """The instructor notebook to grade `notebook` in `lang` on, read once per run."""
        if (notebook, lang) not in self.masters:
            with self.store.session() as session:
                self.masters[notebook, lang] = master_notebook(self.course, session, self.hw, notebook, lang)
        return self.masters[notebook, lang]


@dataclass
class _Planned:
    """A queued job and what it grades: the bytes read when it was planned (None: no such file)."""

    job_id: int
    student: str
    notebook: str
    data: bytes | None
    timestamp: datetime | None
    stamp_notes: list[str]  # why the time is unknown, or where it came from instead of timestamp.txt
    prepared: Prepared | None = None


def autograde(course: Course, hw: str, *, students: list[str] | None = None, workers: int | None = None,
              scheduler: str | None = None, sandbox: str = "bubblewrap", force: bool = False,
              on_outcome: Callable[[Outcome], None] | None = None,
              on_planned: Callable[[int], None] | None = None,
              dispatcher: Dispatcher | None = None) -> list[Outcome]:
    """Autograde homework `hw` for `students` (default: everyone who submitted).

    A `dispatcher` that is already open (its runners and their kernels warm) is used and left open;
    otherwise the run opens its own from `workers` and `scheduler`. An error that stops the run
    (no answer keys, no GPU runner, ...) fails its unfinished jobs with that reason, then is raised.
    """
    course.check_assignment(hw)
    course.check_autograde_settings()
    if (dispatcher.runners.kind if dispatcher else "remote" if scheduler else "local") == "local":
        preflight.require(sandbox)  # this machine runs the kernels: stop now (one line) if it cannot sandbox them
    homework = course.homework(hw)
    students = _check_students(course, hw, students)
    fallback = timestamp_fallback(course)
    if dispatcher is not None:
        workers, scheduler = dispatcher.workers, dispatcher.scheduler
    store = Store(course.db_url, course.course_id)
    report = on_outcome or (lambda outcome: None)
    outcomes: list[Outcome] = []
    try:
        grading_run = GradingRun(assignment=hw, sandbox=sandbox, workers=workers or 0,
                                 scheduler=scheduler or "local")
        planned, skipped = _plan(store, course, grading_run, students, force, fallback)
        crash_point("planned")
        for outcome in skipped:
            outcomes.append(outcome)
            report(outcome)
        if on_planned:
            on_planned(len(planned))
        try:
            context = _Run(course, hw, homework, load_keys(course, hw), late_rules(course, hw), store, sandbox,
                           files.homework_files(course, homework), hidden_tests_marker(course.config),
                           course.ignore_stderr)
            for outcome in _grade(context, planned, dispatcher or Dispatcher(workers, scheduler), dispatcher is None):
                outcomes.append(outcome)
                report(outcome)
        except Exception as exc:
            _end_run(store, grading_run.id, RunState.FAILED, str(exc) if isinstance(exc, UserError)
                     else f"{type(exc).__name__}: {exc}")
            raise
        _end_run(store, grading_run.id, RunState.DONE)
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


def _plan(store: Store, course: Course, run: GradingRun, students: list[str], force: bool,
          fallback: str) -> tuple[list[_Planned], list[Outcome]]:
    """One transaction: stale runs interrupted, `run` and a queued job per notebook to grade; the others skipped."""
    hw = run.assignment
    submitted = []  # the files first, outside the transaction (SQLite's write lock is held until its commit)
    for student in students:
        folder = course.submission_dir(student, hw)
        stamp = submission_time(folder, fallback)
        submitted += [(student, notebook, stamp, *submission.submitted_notebook(folder, notebook))
                      for notebook in course.notebooks(hw)]
    planned, skipped = [], []
    with store.session() as session:
        _interrupt_stale_runs(session, hw)
        session.add(run)
        for student, notebook, stamp, data, sha in submitted:
            if not force and _already_graded(session, course, hw, student, notebook, sha):
                skipped.append(Outcome(student, notebook, OutcomeState.SKIPPED, reason=UNCHANGED))
                continue
            job = Job(run=run, assignment=hw, student=student, notebook=notebook, submission_sha256=sha)
            session.add(job)
            session.flush()
            planned.append(_Planned(job.id, student, notebook, data, stamp.when, [stamp.note] if stamp.note else []))
    return planned, skipped


def _interrupt_stale_runs(session: Session, hw: str) -> None:
    """Runs left 'running' by a coordinator that died: their unfinished jobs will be graded anew."""
    stale = select(GradingRun.id).where(GradingRun.assignment == hw, GradingRun.state == RunState.RUNNING)
    session.execute(update(Job).where(Job.run_id.in_(stale), Job.state.in_(UNFINISHED))
                    .values(state=JobState.INTERRUPTED, finished_at=utcnow()))
    session.execute(update(GradingRun).where(GradingRun.id.in_(stale)).values(state=RunState.INTERRUPTED))


def _already_graded(session: Session, course: Course, hw: str, student: str, notebook: str, sha: str) -> bool:
    """This content has a standing grading and, if it ran, the autograded notebook that grading wrote."""
    job = graded_job(session, hw, student, notebook)
    if job is None or job.submission_sha256 != sha:
        return False
    if not any(attempt.runner for attempt in job.attempts):  # an unreadable file never ran: no notebook
        return True
    return submission.autograded_job(_autograded_path(course, hw, student, notebook)) == job.id


def _grade(run: _Run, planned: list[_Planned], dispatcher: Dispatcher, owned: bool) -> Iterator[Outcome]:
    """Prepare every planned job (an unreadable one fails at once), dispatch the rest, record each result."""
    with run.store.session() as session:
        released_assignment(session, run.hw)  # a gradebook without the homework fails before anything runs
    jobs, by_key, contents = [], {}, {}
    for item in planned:
        job = _prepare(run, item, contents)
        if isinstance(job, Outcome):
            yield job
        else:
            jobs.append(job)
            by_key[job.key] = item
    if not jobs:
        return
    with dispatcher if owned else nullcontext(dispatcher):
        with run.store.session() as session:
            session.execute(update(Job).where(Job.id.in_([p.job_id for p in by_key.values()]))
                            .values(state=JobState.RUNNING))
        for attempt in dispatcher.run(jobs, contents):
            outcome = _record_attempt(run, by_key[attempt.job.key], attempt)
            if outcome is not None:
                del by_key[attempt.job.key]  # its prepared notebook is no longer needed
                yield outcome


def _prepare(run: _Run, planned: _Planned, contents: dict[str, bytes]) -> GradingJob | Outcome:
    """The job a runner executes (adding its files' bytes to `contents`), or the failed outcome of a file
    that cannot be graded at all."""
    course, hw, notebook = run.course, run.hw, planned.notebook
    data, planned.data = planned.data, None
    try:
        if data is None:
            raise BadSubmission(f"{notebook}.ipynb missing from the submission")
        submitted, notes = read_submission(data)
        lang = notebook_language(submitted, course.default_lang)
        planned.prepared = prepare(run.master(notebook, lang), submitted)
        planned.prepared.notes[:0] = planned.stamp_notes + notes
    except BadSubmission as exc:
        return _fail_unrunnable(run, planned, str(exc))
    job_files = files.with_student_files(run.homework_files, course.submission_dir(planned.student, hw),
                                         run.homework, course.ignore)
    planned.prepared.notes.extend(job_files.notes)
    contents.update(job_files.contents)
    return submission.make_job(f"{planned.student}/{notebook}", planned.prepared, run.homework, run.sandbox,
                               job_files.files)


def _fail_unrunnable(run: _Run, planned: _Planned, reason: str) -> Outcome:
    """A submission that cannot even be read: zero everywhere (nothing left for a TA), recorded as failed
    with its reason."""
    master = run.master(planned.notebook, run.course.default_lang)
    verdicts = submission.judge_unrunnable(master, run.keys[planned.notebook], reason)
    max_score = _max(verdicts)
    with run.store.session() as session:
        session.add(Attempt(job_id=planned.job_id, number=1, state=AttemptState.FAILED, reason=reason,
                            finished_at=utcnow()))
        session.execute(update(Job).where(Job.id == planned.job_id).values(
            state=JobState.FAILED, score=0.0, max_score=max_score, grades=_auto_grades(verdicts), reason=reason,
            notes=planned.stamp_notes, finished_at=utcnow()))
        _record_grades(run, session, planned, verdicts)
    return Outcome(planned.student, planned.notebook, OutcomeState.FAILED, 0.0, max_score, reason)


def _record_attempt(run: _Run, planned: _Planned, attempt: AttemptResult) -> Outcome | None:
    """Store one attempt; the final one in one transaction with the job's verdict, the grades and the penalty."""
    crash_point("result")
    execution = attempt.execution
    now = utcnow()
    if execution is None:  # when a lost attempt started is unknown: the coordinator only sees its end
        with run.store.session() as session:
            session.add(Attempt(job_id=planned.job_id, number=attempt.number, state=AttemptState.LOST,
                                runner=attempt.runner, reason=attempt.error, started_at=now, finished_at=now))
            if attempt.final:
                session.execute(update(Job).where(Job.id == planned.job_id).values(
                    state=JobState.FAILED, reason=f"no attempt completed: {attempt.error}",
                    notes=planned.prepared.notes, finished_at=now))
        return Outcome(planned.student, planned.notebook, OutcomeState.FAILED, reason=attempt.error) \
            if attempt.final else None
    verdicts = submission.judge(planned.prepared.notebook, run.keys[planned.notebook], execution, run.hidden_marker,
                                run.ignore_stderr)
    score, max_score = _score(verdicts), _max(verdicts)
    state = JobState.FAILED if execution.failed else JobState.DONE
    autograded = submission.autograded_notebook(planned.prepared, execution, verdicts, planned.job_id)
    with run.store.session() as session:
        session.add(Attempt(
            job_id=planned.job_id, number=attempt.number, state=AttemptState(state), runner=attempt.runner,
            device=execution.device, sandbox=execution.sandbox, memory_mechanism=execution.memory_mechanism,
            wall_s=execution.wall_s, cpu_s=execution.cpu_s,
            peak_memory_mb=execution.maxrss_kb / 1024 if execution.maxrss_kb else None,
            exit_code=execution.exit_code, reason=execution.reason, log_tail=_log_tail(execution),
            started_at=now - timedelta(seconds=execution.wall_s), finished_at=now))
        session.flush()
        crash_point("attempt_written")
        session.execute(update(Job).where(Job.id == planned.job_id).values(
            state=state, score=score, max_score=max_score, grades=_auto_grades(verdicts), reason=execution.reason,
            notes=planned.prepared.notes + execution.notes, finished_at=now))
        crash_point("job_written")
        _record_grades(run, session, planned, verdicts)
        crash_point("grades_written")
        _write_autograded(_autograded_path(run.course, run.hw, planned.student, planned.notebook), autograded)
        crash_point("notebook_written")
    crash_point("committed")
    return Outcome(planned.student, planned.notebook, OutcomeState(state), score, max_score, execution.reason)


def _record_grades(run: _Run, session: Session, planned: _Planned, verdicts: list[CellVerdict]) -> None:
    """nbgrader's grades of one notebook and the student's late penalty, in the caller's transaction."""
    recorded = record_grades(session, run.hw, planned.student, planned.notebook, verdicts, planned.timestamp)
    penalize(session, run.rules, recorded)


def _write_autograded(target: Path, autograded: NotebookNode) -> None:
    """Replace a student's autograded notebook at once (formgrader never reads half a file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    nbformat.write(autograded, partial)
    os.replace(partial, target)


def _end_run(store: Store, run_id: int, state: RunState, reason: str | None = None) -> None:
    """Close the run; on an error, its jobs not yet recorded fail with the error's reason (no attempt ran:
    the next run grades them)."""
    with store.session() as session:
        if reason is not None:
            session.execute(update(Job).where(Job.run_id == run_id, Job.state.in_(UNFINISHED))
                            .values(state=JobState.FAILED, reason=reason, finished_at=utcnow()))
        session.execute(update(GradingRun).where(GradingRun.id == run_id)
                        .values(state=state, finished_at=utcnow()))


def _autograded_path(course: Course, hw: str, student: str, notebook: str) -> Path:
    return course.autograded_dir(student, hw) / f"{notebook}.ipynb"


def _score(verdicts: list[CellVerdict]) -> float:
    return round(sum(v.score or 0.0 for v in verdicts if v.kind != "manual"), 6)


def _auto_grades(verdicts: list[CellVerdict]) -> dict[str, float]:
    """grade id -> score of each autograded cell (what nbgrader's gradebook gets as its auto score)."""
    return {v.grade_id: v.score or 0.0 for v in verdicts if v.kind != "manual"}


def _max(verdicts: list[CellVerdict]) -> float:
    return sum(v.max_points for v in verdicts if v.kind != "manual")


def _log_tail(execution: Execution) -> str:
    parts = []
    for index in sorted(execution.cells):
        for output in execution.cells[index].outputs:
            if output.get("output_type") == "error":
                parts.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
            elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                parts.append(output.get("text", ""))
    return "\n".join(parts)[-LOG_TAIL_CHARS:]
