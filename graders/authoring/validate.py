"""Self-validation of a homework: the solution earns everything, the blank release nothing,
and every known-wrong solution (source/<hw>/mutants.toml) loses points where it should.

All cases are graded exactly as students are: prepared, run in the sandbox,
judged against the keys.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field

from nbformat import NotebookNode
from nbgrader.api import Gradebook

from graders import cells
from graders.authoring.generate import generate, read_release
from graders.authoring.keys import NotebookKey
from graders.authoring.source import instructor_notebook
from graders.course import Course, CourseError
from graders.dispatch.dispatcher import Dispatcher
from graders.grading import files, submission
from graders.grading.master import master_notebook
from graders.grading.prepare import prepare


@dataclass
class Case:
    """One validation case and whether it behaved as expected."""

    name: str
    expectation: str
    score: float = 0.0
    max_score: float = 0.0
    cell_scores: dict[str, float] = field(default_factory=dict)
    ok: bool = False
    detail: str = ""
    device: str = ""  # where it ran, as the kernel reported it ("cpu", "cuda: <GPU name>")


@dataclass(frozen=True)
class Mutant:
    name: str
    cell: str
    old: str
    new: str
    loses: tuple[str, ...]


def load_mutants(course: Course, hw: str) -> list[Mutant]:
    path = course.path("source", hw, "mutants.toml")
    if not path.exists():
        return []
    try:
        entries = tomllib.loads(path.read_text()).get("mutant", [])
        return [Mutant(e["name"], e["cell"], e["old"], e["new"], tuple(e.get("loses", []))) for e in entries]
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise CourseError(f"{path}: {exc}") from None


def mutate(notebook: NotebookNode, mutant: Mutant) -> NotebookNode:
    """The instructor notebook with one mistake in one solution cell."""
    mutated = copy.deepcopy(notebook)
    for cell in mutated.cells:
        if cells.grade_id(cell) == mutant.cell:
            if mutant.old not in cell.source:
                raise CourseError(f"mutant {mutant.name!r}: its text is not in cell {mutant.cell}")
            cell.source = cell.source.replace(mutant.old, mutant.new)
            return mutated
    raise CourseError(f"mutant {mutant.name!r}: no cell {mutant.cell}")


def validate(course: Course, hw: str, *, sandbox: str = "bubblewrap", workers: int | None = None) -> list[Case]:
    """Generate `hw`, then grade its solution, blank release and mutants; one Case each."""
    generate(course, hw, sandbox=sandbox)
    return grade_cases(course, hw, sandbox=sandbox, workers=workers)


def grade_cases(course: Course, hw: str, *, sandbox: str = "bubblewrap", workers: int | None = None,
                max_mutants: int | None = None) -> list[Case]:
    """Grade the solution, blank release and the first `max_mutants` mutants (default: all) of `hw` on its keys."""
    homework = course.homework(hw)
    homework_files = files.homework_files(course, homework)
    mutants = load_mutants(course, hw)[:max_mutants]
    with Gradebook(course.db_url, course.course_id) as gradebook:
        masters = {notebook: master_notebook(course, gradebook.db, hw, notebook) for notebook in course.notebooks(hw)}
    cases, jobs, plans = [], [], {}
    for notebook, master in masters.items():
        instructor = instructor_notebook(course, hw, notebook)
        key = NotebookKey.load(course.keys_dir(hw) / f"{notebook}.json")
        submissions = [("solution", "full marks", instructor, ()),
                       ("blank release", "zero", read_release(course, hw, notebook), ())]
        submissions += [(f"mutant: {m.name}", "loses points", mutate(instructor, m), m.loses)
                        for m in mutants]
        for name, expectation, submitted, loses in submissions:
            prepared = prepare(master, submitted)
            job = submission.make_job(f"{notebook}/{len(jobs)}", prepared, homework, sandbox,
                                      homework_files.files)
            case = Case(f"{notebook}: {name}" if len(course.notebooks(hw)) > 1 else name, expectation)
            cases.append(case)
            jobs.append(job)
            plans[job.key] = (case, prepared, key, loses)
    with Dispatcher(workers) as dispatcher:
        for attempt in dispatcher.run(jobs, homework_files.contents):
            if attempt.final:
                _check(*plans[attempt.job.key], attempt, course.ignore_stderr)
    return cases


def _check(case: Case, prepared, key: NotebookKey, loses: tuple[str, ...], attempt,  # noqa: ANN001
           ignore_stderr: str) -> None:
    if attempt.execution is None:
        case.detail = f"not graded: {attempt.error}"
        return
    case.device = attempt.execution.device
    verdicts = [v for v in submission.judge(prepared.notebook, key, attempt.execution, ignore_stderr)
                if v.kind != "manual"]
    case.cell_scores = {v.grade_id: v.score or 0.0 for v in verdicts}
    case.score = round(sum(case.cell_scores.values()), 6)
    case.max_score = sum(v.max_points for v in verdicts)
    maxima = {v.grade_id: v.max_points for v in verdicts}
    if case.expectation == "full marks":
        case.ok = case.score == case.max_score and not attempt.execution.failed
        case.detail = attempt.execution.reason or ", ".join(
            f"{g} {s:g}/{maxima[g]:g}" for g, s in case.cell_scores.items() if s < maxima[g])
    elif case.expectation == "zero":
        case.ok = case.score == 0
        case.detail = ", ".join(f"{g} {s:g}" for g, s in case.cell_scores.items() if s > 0)
    else:
        unknown = [g for g in loses if g not in maxima]
        kept = [g for g in loses if g in maxima and case.cell_scores[g] >= maxima[g]]
        case.ok = case.score < case.max_score and not kept and not unknown
        case.detail = "; ".join(filter(None, [
            unknown and f"unknown test cells {', '.join(unknown)}",
            kept and f"keeps full marks on {', '.join(kept)}"]))
