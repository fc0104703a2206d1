"""source/ -> release/ (through nbgrader's GenerateAssignment) and answer keys.

The student version is nbgrader's own generate_assignment with one extra
preprocessor in front (SelectLanguage), configured like any nbgrader
preprocessor; it copies the homework's other files (data, helper modules) as
nbgrader does, never the instructor-only ones (`Course.ignore`). The keys come
from running the instructor notebook in the same sandboxed kernel that grades
students, with the same homework files beside it.
"""

from __future__ import annotations

import filecmp
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.converters import GenerateAssignment
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from graders.authoring.keys import NotebookKey, build_key
from graders.authoring.preprocessors import SelectLanguage
from graders.authoring.source import instructor_notebook
from graders.course import Course, CourseError
from graders.dispatch import worker
from graders.grading import files, submission
from graders.grading.prepare import Prepared
from graders.sandbox import preflight


@dataclass
class Generated:
    release_dir: Path
    probes: dict[str, int]  # notebook -> number of probes in its key


def release(course: Course, hw: str, lang: str | None = None, *, release_root: Path | None = None,
            db_url: str | None = None) -> Path:
    """Write the student version of `hw` under `release_root` (default: the course's release/)."""
    course.check_assignment(hw)
    config = Config(course.config)
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.ignore = course.ignore
    if release_root is not None:
        config.CourseDirectory.release_directory = str(release_root)
    if db_url is not None:
        config.CourseDirectory.db_url = db_url
    config.SelectLanguage.lang = lang or course.default_lang
    defaults = GenerateAssignment.class_traits()["preprocessors"].default()
    config.GenerateAssignment.preprocessors = [SelectLanguage, *defaults]
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = hw
    converter = GenerateAssignment(coursedir=coursedir, config=config)
    converter.force = True
    errors = _ErrorLog()
    converter.log.addHandler(errors)
    try:
        converter.start()
    except Exception:  # nbgrader logs the cause (bad metadata, duplicate ids, ...) and raises a generic error
        raise CourseError(f"nbgrader could not generate {hw}: {errors.cause()}") from None
    finally:
        converter.log.removeHandler(errors)
    return Path(coursedir.format_path(coursedir.release_directory, ".", hw))


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def cause(self) -> str:
        """The most specific line nbgrader logged: the exception at the end of a traceback."""
        for message in self.messages:
            lines = [line for line in message.strip().splitlines() if line.strip()]
            if message.startswith("Traceback") and lines:
                return lines[-1]
        return self.messages[0] if self.messages else "unknown error"


def stale_files(course: Course, hw: str, lang: str | None = None) -> list[str]:
    """Files of release/<hw> that differ from what generate would write now (empty: in sync)."""
    current = course.path("release", hw)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = release(course, hw, lang, release_root=Path(tmp) / "release",
                        db_url=f"sqlite:///{Path(tmp) / 'check.db'}")
        names = {str(p.relative_to(fresh)) for p in fresh.rglob("*") if p.is_file()}
        if current.is_dir():
            names |= {str(p.relative_to(current)) for p in current.rglob("*") if p.is_file()}
        return sorted(n for n in names if not _same(fresh / n, current / n))


def _same(a: Path, b: Path) -> bool:
    if not (a.is_file() and b.is_file()):
        return False
    if a.suffix == ".ipynb":
        return json.loads(a.read_text()) == json.loads(b.read_text())
    return filecmp.cmp(a, b, shallow=False)


def make_keys(course: Course, hw: str, sandbox: str = "bubblewrap") -> dict[str, int]:
    """Run each instructor notebook and store its probes as the answer key of `hw`."""
    preflight.require(sandbox)
    homework = course.homework(hw)
    homework_files = files.homework_files(course, homework)
    counts = {}
    for notebook in course.notebooks(hw):
        instructor = instructor_notebook(course, hw, notebook)
        job = submission.make_job(f"instructor/{notebook}", Prepared(instructor), homework, sandbox,
                                  homework_files.files)
        _, execution = worker.run_job(job, homework_files.contents)
        key = build_key(notebook, instructor, execution)
        key.save(course.keys_dir(hw) / f"{notebook}.json")
        counts[notebook] = sum(len(p) for p in key.tests.values())
    return counts


def generate(course: Course, hw: str, lang: str | None = None, sandbox: str = "bubblewrap") -> Generated:
    """Release `hw` and make its keys."""
    release_dir = release(course, hw, lang)
    try:
        counts = make_keys(course, hw, sandbox)
    finally:
        worker.close_kernels()
    return Generated(release_dir, counts)


def load_keys(course: Course, hw: str) -> dict[str, NotebookKey]:
    """The stored keys of every notebook of `hw`, or a one-line error saying to generate them."""
    keys = {}
    for notebook in course.notebooks(hw):
        path = course.keys_dir(hw) / f"{notebook}.json"
        if not path.exists():
            raise CourseError(f"{hw} has no answer keys in this course: run `graders generate {hw}` first")
        keys[notebook] = NotebookKey.load(path)
    return keys


def read_release(course: Course, hw: str, notebook: str) -> nbformat.NotebookNode:
    path = course.path("release", hw, f"{notebook}.ipynb")
    if not path.exists():
        raise CourseError(f"{path} is missing: run `graders generate {hw}`")
    return nbformat.read(path, as_version=4)

