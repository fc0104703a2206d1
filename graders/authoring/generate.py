"""source/ -> release/ (through nbgrader's GenerateAssignment), in every language of the course, and answer keys.

The student version is nbgrader's own generate_assignment, configured like any nbgrader converter:
its SaveCells step is SaveCellsKeepingGrades (the graded cells, which students' grades hang on,
change only while nobody has submitted) and SelectLanguage follows it, so the gradebook holds one
notebook for every language (the instruction cells of all of them, the same graded cells) and each
release keeps one language's instruction cells. It copies the homework's other files (data, helper
modules) as nbgrader does, never the instructor-only ones (`Course.ignore`). Every language is written
to a staging folder first and put in place only when all succeeded: a refused or failed generation
leaves the release the hub serves as it was. The keys come from running the instructor notebook
(language-independent: code cells carry no language) in the same sandboxed kernel that grades
students, with the same homework files beside it.
"""

from __future__ import annotations

import filecmp
import json
import logging
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.converters import GenerateAssignment
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import SaveCells
from traitlets.config import Config

from graders.authoring.keys import NotebookKey, build_key
from graders.authoring.preprocessors import SaveCellsKeepingGrades, SelectLanguage
from graders.authoring.source import instructor_notebook
from graders.course import Course, CourseError
from graders.dispatch import worker
from graders.errors import UserError
from graders.grading import files, submission
from graders.grading.master import master_notebook
from graders.grading.prepare import Prepared
from graders.sandbox import preflight


@dataclass
class Generated:
    release_dirs: dict[str, Path]  # language -> its release folder
    probes: dict[str, int]  # notebook -> number of probes in its key


def release(course: Course, hw: str, langs: list[str] | None = None, *, release_root: Path | None = None,
            db_url: str | None = None) -> dict[str, Path]:
    """Write the student version of `hw` in each of `langs` (default: the course's languages) under
    `release_root` (default: the course's release/), laid out as `Course.release_dir` says, all or none.

    Returns language -> release folder. Raises CourseError (one line): nbgrader's cause, or
    GradedCellsChanged naming the graded cells that changed after students submitted.
    """
    course.check_assignment(hw)
    langs = course.languages if langs is None else [course.check_language(lang) for lang in langs]
    root = release_root if release_root is not None else course.path("release")
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{hw}-", dir=root))  # beside its target: renamed into place
    try:
        staged = {lang: _generate(course, hw, lang, staging / lang, db_url) for lang in langs}
        placed = {}
        for lang, folder in staged.items():
            placed[lang] = target = course.release_dir(hw, lang, root)
            target.parent.mkdir(parents=True, exist_ok=True)
            old = staging / f"old-{lang}"
            if target.exists():
                target.rename(old)
            folder.rename(target)
        return placed
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _generate(course: Course, hw: str, lang: str, release_root: Path, db_url: str | None) -> Path:
    """nbgrader's generate_assignment of `hw` in `lang` into `release_root`/<hw>."""
    config = Config(course.config)
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.ignore = course.ignore
    config.CourseDirectory.release_directory = str(release_root)
    if db_url is not None:
        config.CourseDirectory.db_url = db_url
    config.SelectLanguage.lang = lang
    steps = []
    for step in GenerateAssignment.class_traits()["preprocessors"].default():
        # the gradebook gets every language's cells; the release, one language's
        steps += [SaveCellsKeepingGrades, SelectLanguage] if step is SaveCells else [step]
    config.GenerateAssignment.preprocessors = steps
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = hw
    converter = GenerateAssignment(coursedir=coursedir, config=config)
    converter.force = True
    errors = _ErrorLog()
    converter.log.addHandler(errors)
    try:
        converter.start()
    except Exception:  # nbgrader logs the cause (bad metadata, duplicate ids, ...) and raises a generic error
        if errors.user_error is not None:
            raise errors.user_error from None
        raise CourseError(f"nbgrader could not generate {hw}: {errors.cause()}") from None
    finally:
        converter.log.removeHandler(errors)
    return Path(coursedir.format_path(coursedir.release_directory, ".", hw))


class _ErrorLog(logging.Handler):
    KERNEL_ERROR = "Runtime error from the kernel:"  # how InstantiateTests logs a failing autotest expression
    EXCEPTION = re.compile(r"^[\w.]*(Error|Exception): ")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []
        self.user_error: UserError | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        # nbgrader logs a step's exception while handling it: one of ours is already a one-line message
        handled = sys.exc_info()[1]
        if isinstance(handled, UserError) and self.user_error is None:
            self.user_error = handled

    def cause(self) -> str:
        """The most specific thing nbgrader logged, on one line: the error the instructor notebook raised
        while autotests were expanded, the first exception of a traceback, or else its first error."""
        for message in self.messages:
            if message.startswith(self.KERNEL_ERROR):
                ename, evalue, *_ = [*message[len(self.KERNEL_ERROR):].strip().splitlines(), "", ""]
                return f"the instructor notebook raised {ename}: {evalue} while nbgrader expanded its autotests"
        for message in self.messages:
            if message.startswith("Traceback"):
                found = next((line.strip() for line in message.splitlines() if self.EXCEPTION.match(line.strip())),
                             None)
                if found:
                    return found
        return " ".join(self.messages[0].split()) if self.messages else "unknown error"


def stale_files(course: Course, hw: str, langs: list[str] | None = None) -> list[str]:
    """Files of `hw`'s releases (paths relative to release/) that differ from what generate would write now,
    in each of `langs` (default: the course's languages); empty: in sync."""
    current_root = course.path("release")
    with tempfile.TemporaryDirectory() as tmp:
        fresh_root = Path(tmp) / "release"
        fresh = release(course, hw, langs, release_root=fresh_root, db_url=f"sqlite:///{Path(tmp) / 'check.db'}")
        names: set[str] = set()
        for lang, folder in fresh.items():
            current = course.release_dir(hw, lang)
            names |= {str(p.relative_to(fresh_root)) for p in folder.rglob("*") if p.is_file()}
            if current.is_dir():
                names |= {str(p.relative_to(current_root)) for p in current.rglob("*") if p.is_file()}
        return sorted(n for n in names if not _same(fresh_root / n, current_root / n))


def _same(a: Path, b: Path) -> bool:
    if not (a.is_file() and b.is_file()):
        return False
    if a.suffix == ".ipynb":
        return json.loads(a.read_text()) == json.loads(b.read_text())
    return filecmp.cmp(a, b, shallow=False)


def make_keys(course: Course, hw: str, sandbox: str = "bubblewrap") -> dict[str, int]:
    """Run each instructor notebook as released (autotests expanded) and store its probes as the answer key of `hw`."""
    preflight.require(sandbox)
    homework = course.homework(hw)
    homework_files = files.homework_files(course, homework)
    with Gradebook(course.db_url, course.course_id) as gradebook:
        masters = {notebook: master_notebook(course, gradebook.db, hw, notebook) for notebook in course.notebooks(hw)}
    counts = {}
    for notebook, master in masters.items():
        job = submission.make_job(f"instructor/{notebook}", Prepared(master), homework, sandbox,
                                  homework_files.files)
        _, execution = worker.run_job(job, homework_files.contents)
        key = build_key(notebook, master, execution, course.ignore_stderr)
        key.save(course.keys_dir(hw) / f"{notebook}.json")
        counts[notebook] = sum(len(p) for p in key.tests.values())
    return counts


def generate(course: Course, hw: str, langs: list[str] | None = None, sandbox: str = "bubblewrap") -> Generated:
    """Release `hw` in `langs` (default: every language of the course) and make its keys (once: they do not
    depend on the language)."""
    for notebook in course.notebooks(hw):
        instructor_notebook(course, hw, notebook)  # a notebook graders cannot grade is refused before release
    release_dirs = release(course, hw, langs)
    try:
        counts = make_keys(course, hw, sandbox)
    finally:
        worker.close_kernels()
    return Generated(release_dirs, counts)


def load_keys(course: Course, hw: str) -> dict[str, NotebookKey]:
    """The stored keys of every notebook of `hw`, or a one-line error saying to generate them."""
    keys = {}
    for notebook in course.notebooks(hw):
        path = course.keys_dir(hw) / f"{notebook}.json"
        if not path.exists():
            raise CourseError(f"{hw} has no answer keys in this course: run `graders generate {hw}` first")
        keys[notebook] = NotebookKey.load(path)
    return keys


def read_release(course: Course, hw: str, notebook: str, lang: str | None = None) -> nbformat.NotebookNode:
    """A released notebook in `lang` (default: the course's language)."""
    path = course.release_dir(hw, lang) / f"{notebook}.ipynb"
    if not path.exists():
        raise CourseError(f"{path} is missing: run `graders generate {hw}`")
    return nbformat.read(path, as_version=4)

