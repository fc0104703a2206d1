"""The `graders` command: parse, call the package, print. No grading logic lives here."""

from __future__ import annotations

import sys
import warnings
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import graders
from graders.course import Course
from graders.errors import UserError
from graders.states import OutcomeState

if TYPE_CHECKING:
    from graders.grading.autograde import Outcome

# Heavy libraries are imported inside the commands that use them: `graders --help` stays quick,
# and so does each Dask worker, which imports this module again as its parent's __main__.
# jsonschema (imported by nbformat) compiles rfc3987-syntax's IRI grammar when it is imported:
# about 2 s of CPU in every command, for an `iri` format check that the notebook schema never uses.
sys.modules.setdefault("rfc3987_syntax", None)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Release, autograde in sandboxes and report on the course's homeworks.")


def _print_version(value: bool) -> None:
    if value:
        console.print(f"graders {graders.__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")) -> None:
    """Release, autograde in sandboxes and report on the course's homeworks."""
console = Console()
err = Console(stderr=True, soft_wrap=True)  # a one-line error stays one line
USER_ERRORS = (UserError, ValueError)
STATUS_FORMATS = ("table", "csv", "json")

CourseOption = typer.Option(None, "--course", help="Course folder (default: $GRADERS_COURSE or the current one)")


class GradingProgress:
    """A progress bar drawn only once the jobs are planned: a bad argument or course never follows a bar."""

    def __init__(self, description: str) -> None:
        self.description = description
        self._progress: Progress | None = None
        self._task = None

    def planned(self, total: int) -> None:
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=console)
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=total)

    def outcome(self, outcome: "Outcome") -> None:
        if self._progress is not None and outcome.state != OutcomeState.SKIPPED:
            self._progress.advance(self._task)

    def __enter__(self) -> "GradingProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def _course(path: Optional[Path]) -> Course:
    return Course.load(path)


def _sandbox_name(unsafe: bool) -> str:
    if unsafe:
        err.print("[bold red]WARNING: grading WITHOUT a sandbox: student code runs as you, "
                  "can read the course and the gradebook. Recorded on every attempt.[/]")
        return "none"
    return "bubblewrap"


@app.command()
def generate(hw: str, lang: Optional[str] = typer.Option(None, help="only this language (default: every language "
                                                                   "of the course, c.Graders.languages)"),
             check: bool = typer.Option(False, "--check", help="only check that HW's releases are up to date"),
             course: Optional[Path] = CourseOption,
             unsafe_no_sandbox: bool = typer.Option(False, "--unsafe-no-sandbox")) -> None:
    """Write HW's student version in every language of the course (release/HW, release/LANG/HW) and its answer keys."""
    from graders.authoring.generate import generate as run_generate
    from graders.authoring.generate import stale_files

    c = _course(course)
    langs = [lang] if lang else None
    if check:
        stale = stale_files(c, hw, langs)
        if stale:
            err.print(f"error: the release of {hw} is stale (release/: {', '.join(stale)}): "
                      f"run `graders generate {hw}`")
            raise typer.Exit(1)
        console.print(f"the release of {hw} is up to date ({', '.join(langs or c.languages)})")
        return
    with console.status(f"generating {hw} and running the instructor solution for its keys"):
        result = run_generate(c, hw, langs, _sandbox_name(unsafe_no_sandbox))
    released = ", ".join(f"{path.relative_to(c.root)} ({lang})" for lang, path in result.release_dirs.items())
    keys = ", ".join(f"{nb} ({n} probes)" for nb, n in result.probes.items())
    console.print(f"released {released}; keys: {keys}")


@app.command()
def autograde(hw: str, student: Optional[list[str]] = typer.Option(None, "--student", "-s"),
              workers: Optional[int] = typer.Option(None, help="local Dask workers (default: cores)"),
              scheduler: Optional[str] = typer.Option(None, help="tcp://host:port of a Dask scheduler"),
              cluster: Optional[str] = typer.Option(
                  None, help="runners: local (default), remote (--scheduler) or slurm (c.SlurmRunners "
                             "in nbgrader_config.py); see docs/RUNNERS.md"),
              force: bool = typer.Option(False, "--force", help="regrade unchanged submissions"),
              unsafe_no_sandbox: bool = typer.Option(False, "--unsafe-no-sandbox"),
              course: Optional[Path] = CourseOption) -> None:
    """Grade every submission of HW (or --student S) in parallel sandboxes."""
    from graders.dispatch.dispatcher import Dispatcher
    from graders.dispatch.runners import runners_for
    from graders.grading.autograde import autograde as run_autograde

    c = _course(course)
    c.check_assignment(hw)  # a mistyped homework is told before anything about the machine
    runners = runners_for(c.config, cluster, workers=workers, scheduler=scheduler)
    sandbox = _sandbox_name(unsafe_no_sandbox)
    if runners.kind == "local":  # the runners are this machine: what it enforces, or why it cannot grade (one line)
        from graders.doctor import diagnose, summary
        from graders.sandbox.preflight import require

        require(sandbox)
        console.print(summary(diagnose(c, sandbox, full=False)), markup=False, highlight=False, soft_wrap=True)
    with GradingProgress(f"grading {hw}") as progress, closing(Dispatcher(runners=runners)) as dispatcher:
        outcomes = run_autograde(
            c, hw, students=student or None, dispatcher=dispatcher, sandbox=sandbox,
            force=force or bool(student), on_planned=progress.planned, on_outcome=progress.outcome)
    table = Table(title=f"{hw}: {len(outcomes)} notebooks")
    for column in ("student", "notebook", "state", "score", "reason"):
        table.add_column(column)
    for o in outcomes:
        score = f"{o.score:g}/{o.max_score:g}" if o.score is not None and o.max_score is not None else "-"
        table.add_row(o.student, o.notebook, o.state, score, o.reason or "")
    console.print(table)


@app.command()
def validate(hw: str, course: Optional[Path] = CourseOption,
             workers: Optional[int] = typer.Option(None),
             unsafe_no_sandbox: bool = typer.Option(False, "--unsafe-no-sandbox")) -> None:
    """Check HW: solution = full marks, blank = 0, each known-wrong solution loses points."""
    from graders.authoring.validate import validate as run_validate

    c = _course(course)
    with console.status(f"validating {hw}"):
        cases = run_validate(c, hw, sandbox=_sandbox_name(unsafe_no_sandbox), workers=workers)
    table = Table(title=f"validate {hw}")
    for column in ("case", "expected", "score", "ok", "detail"):
        table.add_column(column)
    for case in cases:
        table.add_row(case.name, case.expectation, f"{case.score:g}/{case.max_score:g}",
                      "[green]yes[/]" if case.ok else "[red]NO[/]", case.detail)
    console.print(table)
    if not all(case.ok for case in cases):
        err.print(f"error: {sum(not c.ok for c in cases)} validation case(s) of {hw} failed")
        raise typer.Exit(1)


@app.command()
def report(hw: str = typer.Argument(..., help="a homework, or all"),
           format: str = typer.Option("csv", "--format", "-f", help="csv, canvas, moodle or html"),
           out: Path = typer.Option(Path("reports"), "--out"), course: Optional[Path] = CourseOption) -> None:
    """Export grades (CSV per question, Canvas or Moodle import file, HTML report with plots). Reads only."""
    from graders.grading.deadlines import stale_penalty_students
    from graders.reports.export import check_format, released, write_reports
    from graders.store import NoRecords, Store

    c = _course(course)
    check_format(format)
    try:
        store = Store(c.db_url, c.course_id, read_only=True)
    except NoRecords:
        raise UserError("no homework in the gradebook yet: run `graders generate HW` first") from None
    try:
        hws = released(store, c) if hw == "all" else [c.check_assignment(hw)]
        if not hws:
            raise UserError("no homework in the gradebook yet: run `graders generate HW` first")
        for name in hws:
            stale = stale_penalty_students(c, store, name)
            if stale:  # the export shows what the gradebook holds; say how to bring it in line
                err.print(f"warning: the late penalties of {len(stale)} student(s) in {name} do not follow the "
                          f"course's due date, extensions or policy any more: run `graders penalties {name}`",
                          markup=False, highlight=False)
        paths = write_reports(store, hws, format, out if out.is_absolute() else c.root / out, c)
    finally:
        store.close()
    for path in paths:
        console.print(f"wrote {path}")


@app.command()
def status(hw: Optional[str] = typer.Argument(None), course: Optional[Path] = CourseOption,
           format: str = typer.Option("table", "--format", "-f", help="table, csv or json")) -> None:
    """Show the latest grading run of each homework (or of HW), with failures and timings."""
    from graders.reports import status as view

    if format not in STATUS_FORMATS:
        raise typer.BadParameter(f"{format!r} is not one of {', '.join(STATUS_FORMATS)}", param_hint="--format")
    c = _course(course)
    if hw:
        c.check_assignment(hw)
    runs = view.latest_runs(c, hw)
    if format != "table":
        sys.stdout.write(view.to_csv(runs) if format == "csv" else view.to_json(runs) + "\n")
        return
    if not runs:
        console.print("no grading runs yet")
        return
    # Piped: as wide as the rows need. In a terminal: long columns fold, ids never shrink.
    out = console if console.is_terminal else Console(width=100_000)
    for run in runs:
        table = Table(title=f"{run.assignment}: run {run.run_id} ({run.state}, {run.sandbox}, "
                            f"started {run.started:%Y-%m-%d %H:%M})", title_justify="left")
        for header in view.TABLE_HEADERS:
            fixed = header in ("student", "notebook", "state", "score")
            table.add_column(header, no_wrap=fixed, min_width=len(header) if fixed else None, overflow="fold")
        for row in run.rows:
            table.add_row(*view.table_cells(row))
        out.print(table)


@app.command()
def doctor(course: Optional[Path] = CourseOption,
           scheduler: Optional[str] = typer.Option(None, help="tcp://host:port of a Dask scheduler to check")) -> None:
    """What this machine enforces when grading (sandbox, network, memory, limits, GPUs, database); exit 1 if lacking."""
    from rich.markup import escape

    from graders.doctor import Status, diagnose, failed

    c = _course(course)
    findings = diagnose(c, scheduler=scheduler)
    colors = {Status.OK: "green", Status.INFO: "yellow", Status.FAIL: "bold red"}
    for finding in findings:
        console.print(f"{escape(finding.name):<24} [{colors[finding.status]}]{finding.status:<4}[/] "
                      f"{escape(finding.detail)}", highlight=False, soft_wrap=True)
    if failed(findings):
        err.print(f"error: this machine cannot grade {c.course_id} as configured (FAIL above)")
        raise typer.Exit(1)


@app.command()
def demo(course: Optional[Path] = CourseOption, workers: Optional[int] = typer.Option(None),
         homework: Optional[list[str]] = typer.Option(None, "--homework", help="default: every homework")) -> None:
    """Generate every homework, grade a synthetic class of each in parallel sandboxes, write reports."""
    from graders.authoring.demo import submit_synthetic_class
    from graders.authoring.generate import generate as run_generate
    from graders.grading.autograde import autograde as run_autograde
    from graders.reports.export import FORMATS, write_report
    from graders.store import Store

    c = _course(course)
    for hw in homework or c.assignments():
        with console.status(f"{hw}: releasing and running the instructor solution for the keys"):
            run_generate(c, hw)
        kinds = {s.name: s.kind for s in submit_synthetic_class(c, hw)}
        with GradingProgress(f"grading {hw}") as progress:
            outcomes = run_autograde(c, hw, students=sorted(kinds), workers=workers, force=True,
                                     on_planned=progress.planned, on_outcome=progress.outcome)
        table = Table(title=f"{hw}: synthetic class")
        for column in ("student", "kind", "state", "score", "reason"):
            table.add_column(column)
        for o in sorted(outcomes, key=lambda o: o.student):
            table.add_row(o.student, kinds[o.student], o.state,
                          f"{o.score:g}/{o.max_score:g}" if o.score is not None else "-", o.reason or "")
        console.print(table)
        store = Store(c.db_url, c.course_id)
        try:
            paths = [write_report(store, hw, fmt, c.root / "reports", c) for fmt in FORMATS]
        finally:
            store.close()
        console.print("reports: " + ", ".join(str(p.relative_to(c.root)) for p in paths))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []})
def bench(ctx: typer.Context) -> None:
    """Grade one HW1 class with plain nbgrader and with graders, side by side (options: bench --help)."""
    import runpy

    script = Path(__file__).resolve().parent.parent / "bench" / "bench_autograde.py"
    if not script.is_file():
        raise UserError(f"`graders bench` runs {script}, which only a clone of the repository has")
    sys.argv = [str(script), *ctx.args]
    runpy.run_path(str(script), run_name="__main__")


def main() -> None:
    # nbgrader's own API trips SQLAlchemy 2 autoflush warnings that say nothing to a TA.
    warnings.filterwarnings("ignore", message="Object of type .* not in session", module=r"nbgrader\.")
    try:
        code = app(standalone_mode=False)  # returns the exit code of typer.Exit instead of raising
    except USER_ERRORS as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(1)
    except typer.TyperException as exc:  # a mistyped command, option or value: one line, exit 2
        err.print(usage_error(exc), markup=False, highlight=False)
        sys.exit(exc.exit_code)
    except typer.Abort:  # Ctrl-C at a prompt
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def usage_error(exc: typer.TyperException) -> str:
    """`error: <what> (usage: graders CMD [OPTIONS] ...)`: click's three-part message on one line."""
    ctx = getattr(exc, "ctx", None)
    usage = " ".join(ctx.get_usage().split()).removeprefix("Usage: ") if ctx is not None else "graders --help"
    return f"error: {exc.format_message()} (usage: {usage})"


@app.command()
def extend(hw: str, student: str, until: str = typer.Option(..., "--until", help="e.g. '2026-11-25 23:59 UTC'"),
           course: Optional[Path] = CourseOption) -> None:
    """Give STUDENT until DATETIME for HW (replaces an earlier extension); late penalties follow."""
    from graders.grading.deadlines import grant_extension, parse_datetime
    from graders.store import Store

    c = _course(course)
    store = Store(c.db_url, c.course_id)
    try:
        changes = grant_extension(c, store, hw, student, parse_datetime(until))
    finally:
        store.close()
    console.print(f"{student} has until {parse_datetime(until):%Y-%m-%d %H:%M} UTC for {hw}")
    _print_penalty_changes(changes)


@app.command()
def allow(hw: str, student: str,
          total: Optional[int] = typer.Option(None, "--total", help="graded submissions in all"),
          per_day: Optional[int] = typer.Option(None, "--per-day", help="graded submissions in any 24 hours"),
          min_delay_minutes: Optional[float] = typer.Option(None, "--min-delay-minutes",
                                                            help="minutes between two submissions"),
          closes: Optional[str] = typer.Option(None, "--closes", help="hard close, e.g. '2026-12-11 23:59 UTC'"),
          course: Optional[Path] = CourseOption) -> None:
    """Give STUDENT their own submission limits for HW (replacing any earlier grant; an option not given: the
    homework's); recorded with who granted them."""
    from graders.grading.deadlines import parse_datetime
    from graders.store import Store
    from graders.store.policies import allow as grant

    c = _course(course)
    if total is None and per_day is None and min_delay_minutes is None and closes is None:
        raise UserError("give at least one of --total, --per-day, --min-delay-minutes, --closes")
    store = Store(c.db_url, c.course_id)
    try:
        standing = grant(c, store, hw, student, total=total, per_day=per_day, min_delay_minutes=min_delay_minutes,
                         closes=parse_datetime(closes) if closes else None)
    finally:
        store.close()
    policy = standing.policy
    limits = [f"{policy.total} in all" if policy.total else "",
              f"{policy.per_day} per 24 hours" if policy.per_day else "",
              f"{policy.min_delay_minutes:g} min apart" if policy.min_delay_minutes else "",
              f"until {standing.closes_at:%Y-%m-%d %H:%M} UTC" if standing.closes_at else ""]
    console.print(f"{student} may submit {hw}: {', '.join(x for x in limits if x) or 'without limit'}; "
                  f"{standing.used} used, " + (f"{standing.remaining} remaining" if standing.remaining is not None
                                               else "no count limit")
                  + (f" (now refused: {standing.refusal})" if standing.refusal else ""))


@app.command()
def penalties(hw: str = typer.Argument(..., help="a homework, or all"), course: Optional[Path] = CourseOption) -> None:
    """Recompute late penalties from the due dates, extensions and policy in the course config (no re-run)."""
    from graders.grading.deadlines import apply_penalties
    from graders.reports.export import released
    from graders.store import Store

    c = _course(course)
    store = Store(c.db_url, c.course_id)
    try:
        changes = [change for name in (released(store, c) if hw == "all" else [hw])
                   for change in apply_penalties(c, store, name)]
    finally:
        store.close()
    _print_penalty_changes(changes)


def _print_penalty_changes(changes: list) -> None:
    if not changes:
        console.print("late penalties unchanged")
        return
    table = Table(title="late penalties changed")
    for column in ("student", "notebook", "old", "new"):
        table.add_column(column)
    for change in changes:
        table.add_row(change.student, change.notebook, *(f"{v:g}" if v is not None else "-"
                                                          for v in (change.old, change.new)))
    console.print(table)


@app.command()
def history(hw: str, student: str, course: Optional[Path] = CourseOption) -> None:
    """Every change of STUDENT's grades, penalties and extensions for HW: who, when, old, new. Reads only."""
    from graders.store import NoRecords, Store, audit

    c = _course(course)
    c.check_assignment(hw)
    try:
        store = Store(c.db_url, c.course_id, read_only=True)
    except NoRecords:
        events = []
    else:
        try:
            with store.session() as session:
                events = audit.history(session, hw, student)
        finally:
            store.close()
    if not events:
        console.print(f"no changes recorded for {student} in {hw}")
        return
    table = Table(title=f"{hw}: {student}")
    for column in ("when (UTC)", "who", "action", "notebook", "item", "old", "new"):
        table.add_column(column)
    for event in events:
        table.add_row(f"{event.at:%Y-%m-%d %H:%M:%S}", event.actor, event.action, event.notebook or "-", event.item,
                      event.old_value or "-", event.new_value or "-")
    console.print(table)
