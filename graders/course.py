"""The course: where things are, which homeworks exist, and their settings.

The course root is the folder holding `nbgrader_config.py` (found from
`--course`, `$GRADERS_COURSE`, or the current directory upwards). That file is
nbgrader's own configuration; the platform reads the same file, so nbgrader's
commands and formgrader see the same course and database.
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import find_all_files
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from graders.contract import Limits
from graders.errors import UserError
from graders.grading.policy import SubmissionPolicy

CONFIG_FILE = "nbgrader_config.py"
GPU_MODES = ("none", "preferred", "required")
INTEGER_LIMITS = ("cpu_s", "memory_mb", "processes", "scratch_mb", "file_mb")  # as in sandbox.Limits
FILE_LIMITS = ("extra_file_mb", "extra_files_total_mb")  # the student's own files, as in Homework
HOMEWORK_SETTINGS = {"gpu", "timeout_s", "cell_timeout_s", "preload", "student_may_replace", "submissions",
                     "reveal_after_due", *INTEGER_LIMITS, *FILE_LIMITS}
LANGUAGES = ("en", "fr")  # the languages instruction cells may be written in (cell.metadata.graders.lang)
# Never released, never in a sandbox, whatever CourseDirectory.ignore says.
INSTRUCTOR_ONLY = ("homework.toml", "mutants.toml")


class CourseError(UserError, ValueError):
    """Bad input about the course: unknown homework, missing folder, bad settings."""


@dataclass(frozen=True)
class Homework:
    """One assignment's runner settings, from `source/<hw>/homework.toml`."""

    name: str
    gpu: str = "none"
    limits: Limits = field(default_factory=Limits)
    preload: tuple[str, ...] = ("numpy", "torch", "matplotlib.pyplot")
    # Homework files (relative paths, globs) that a student's own copy replaces when grading.
    student_may_replace: tuple[str, ...] = ()
    extra_file_mb: int = 100  # largest student file given to the grader (MiB; nbgrader: 100000 kB)
    extra_files_total_mb: int = 100  # all of a student's files together (MiB; nbgrader's max_dir_size)
    policy: SubmissionPolicy = field(default_factory=SubmissionPolicy)  # the `[submissions]` table
    # Feedback shows the test cells' code (hidden inputs included) once the due date has passed;
    # None: as the hub service's --reveal-after-due says.
    reveal_after_due: bool | None = None

    def may_replace(self, path: str) -> bool:
        """Whether a student's copy of homework file `path` (relative, "/"-separated) is graded instead."""
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.student_may_replace)


@dataclass(frozen=True)
class Course:
    root: Path
    config: Config

    @classmethod
    def load(cls, root: str | Path | None = None) -> "Course":
        """Load the course at `root`, `$GRADERS_COURSE`, or the nearest folder with nbgrader_config.py."""
        start = Path(root or os.environ.get("GRADERS_COURSE") or Path.cwd()).resolve()
        for candidate in [start, *start.parents]:
            if (candidate / CONFIG_FILE).is_file():
                loader = PyFileConfigLoader(CONFIG_FILE, path=str(candidate))
                return cls(candidate, loader.load_config())
        raise CourseError(f"no {CONFIG_FILE} in {start} or above: not a course folder")

    @property
    def course_id(self) -> str:
        return str(self.config.CourseDirectory.course_id)

    @property
    def db_url(self) -> str:
        return str(self.config.CourseDirectory.db_url)

    @property
    def default_lang(self) -> str:
        """`c.Graders.lang`: the course's language, released in release/<hw>/."""
        return str(self.config.Graders.get("lang", "en"))

    @property
    def languages(self) -> list[str]:
        """`c.Graders.languages`, the default language first: every language `graders generate` releases.

        Default: the course's language only. Raises CourseError (one line) for a language no notebook can
        be written in, or one named like a homework (its release folder would be release/<lang>/).
        """
        default = self.default_lang
        configured = list(self.config.Graders.get("languages", [default]))
        unknown = [lang for lang in [default, *configured] if lang not in LANGUAGES]
        if unknown:
            raise CourseError(f"unknown language {unknown[0]!r} in c.Graders (choose from {', '.join(LANGUAGES)})")
        if default not in configured:
            raise CourseError(f"c.Graders.languages {configured} must include the course's language "
                              f"c.Graders.lang = {default!r}")
        clash = sorted(set(configured) & set(self.assignments()))
        if clash:
            raise CourseError(f"language {clash[0]!r} is also a homework's name: rename the homework")
        return list(dict.fromkeys([default, *configured]))

    def check_language(self, lang: str) -> str:
        """Return `lang` if the course is released in it, else raise a one-line CourseError."""
        if lang not in self.languages:
            raise CourseError(f"{lang!r} is not a language of this course (c.Graders.languages: "
                              f"{', '.join(self.languages)})")
        return lang

    def student_language(self, student: str) -> str:
        """The language `student` gets homeworks, pages and feedback in: their entry in the roster
        `c.Graders.student_languages` (student id -> language), else the course's language."""
        lang = str(dict(self.config.Graders.get("student_languages", {})).get(student, self.default_lang))
        if lang not in self.languages:
            raise CourseError(f"c.Graders.student_languages gives {student} {lang!r}, not one of the course's "
                              f"languages ({', '.join(self.languages)})")
        return lang

    def release_dir(self, hw: str, lang: str | None = None, root: Path | None = None) -> Path:
        """Where the student version of `hw` in `lang` is released under `root` (default: the course's
        release/): `<root>/<hw>` for the course's language, as nbgrader lays it out, `<root>/<lang>/<hw>`
        for each other language."""
        base = root if root is not None else self.path("release")
        return base / hw if lang in (None, self.default_lang) else base / lang / hw

    @property
    def ignore(self) -> list[str]:
        """nbgrader's `CourseDirectory.ignore` globs, plus the instructor-only files."""
        return list(dict.fromkeys([*CourseDirectory(config=self.config).ignore, *INSTRUCTOR_ONLY]))

    @property
    def cell_timeout_s(self) -> float | None:
        """nbgrader's per-cell time limit, `c.Execute.timeout` (s; nbgrader's default 30; None: no limit):
        the default of a homework's own cell_timeout_s."""
        from nbgrader.preprocessors import Execute

        timeout = self.config.Execute.get("timeout", Execute.class_traits()["timeout"].default())
        return None if timeout is None or timeout <= 0 else float(timeout)  # nbclient: None or -1 turn it off

    @property
    def ignore_stderr(self) -> str:
        """nbgrader's IgnorePattern (`c.IgnorePattern.enabled`, `.pattern`): the regular expression of stderr
        outputs that do not fail a test cell, or "" when off."""
        from nbgrader.preprocessors import IgnorePattern

        ignore = IgnorePattern(config=self.config)
        return ignore.pattern if ignore.enabled else ""

    def check_autograde_settings(self) -> None:
        """Refuse, in one line, nbgrader autograde settings that graders does not follow (never ignore them)."""
        autograde = self.config.Autograde
        custom = [name for name in ("sanitize_preprocessors", "autograde_preprocessors") if name in autograde]
        if custom:
            raise CourseError(f"c.Autograde.{custom[0]} is set in {CONFIG_FILE}: graders grades with nbgrader's "
                              "default steps only (see docs/COMPATIBILITY.md); remove it")
        if autograde.get("create_student", True) is False:
            raise CourseError(f"c.Autograde.create_student = False is not supported: graders grades every student "
                              f"folder in submitted/; remove it from {CONFIG_FILE}")

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def assignments(self) -> list[str]:
        source = self.path("source")
        return sorted(p.name for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if source.is_dir() else []

    def check_assignment(self, hw: str) -> str:
        """Return `hw` if it is a homework of this course, else raise a one-line CourseError."""
        known = self.assignments()
        if hw not in known:
            raise CourseError(f"unknown homework {hw!r} (known: {', '.join(known) or 'none'})")
        return hw

    def notebooks(self, hw: str) -> list[str]:
        """Notebook names (without .ipynb) of a homework, from its source folder."""
        return sorted(p.stem for p in self.path("source", self.check_assignment(hw)).glob("*.ipynb"))

    def homework_files(self, hw: str) -> dict[str, Path]:
        """The files beside the notebooks of `source/<hw>/` (sub-folders too) by "/"-separated relative path:
        what nbgrader's generate_assignment releases (all but `ignore` globs and notebooks)."""
        source = self.path("source", self.check_assignment(hw))
        found = (Path(name) for name in find_all_files(str(source), [*self.ignore, "*.ipynb"]))
        return {path.relative_to(source).as_posix(): path for path in sorted(found)}

    def homework(self, hw: str) -> Homework:
        settings_file = self.path("source", self.check_assignment(hw), "homework.toml")
        settings = tomllib.loads(settings_file.read_text()) if settings_file.exists() else {}
        unknown = sorted(set(settings) - HOMEWORK_SETTINGS)
        if unknown:  # a misspelt limit would silently fall back to its default
            raise CourseError(f"{settings_file}: unknown setting {', '.join(unknown)} "
                              f"(known: {', '.join(sorted(HOMEWORK_SETTINGS))})")
        gpu = settings.get("gpu", "none")
        if gpu not in GPU_MODES:
            raise CourseError(f"{settings_file}: gpu must be one of {', '.join(GPU_MODES)}")
        try:
            wall_s = float(settings.get("timeout_s", Limits.wall_s))
            # no per-cell limit in the course's config (c.Execute.timeout = None): the notebook's is the only one
            course_cell_s = self.cell_timeout_s if self.cell_timeout_s is not None else wall_s
            limits = Limits(wall_s=wall_s, cell_timeout_s=float(settings.get("cell_timeout_s", course_cell_s)),
                            **{name: int(settings.get(name, getattr(Limits, name))) for name in INTEGER_LIMITS})
        except (TypeError, ValueError):
            raise CourseError(f"{settings_file}: limits must be numbers") from None
        if min(limits.wall_s, limits.cell_timeout_s, *(getattr(limits, name) for name in INTEGER_LIMITS)) <= 0:
            raise CourseError(f"{settings_file}: limits must be positive")
        preload = tuple(settings.get("preload", Homework.preload))
        try:
            extra_file_mb, extra_files_total_mb = (int(settings.get(name, getattr(Homework, name)))
                                                   for name in FILE_LIMITS)
        except (TypeError, ValueError):
            raise CourseError(f"{settings_file}: limits must be numbers") from None
        if min(extra_file_mb, extra_files_total_mb) <= 0:
            raise CourseError(f"{settings_file}: limits must be positive")
        if extra_files_total_mb >= limits.memory_mb:
            # the student's files are copied into the scratch tmpfs, whose pages count as the submission's memory
            raise CourseError(f"{settings_file}: extra_files_total_mb ({extra_files_total_mb}) must be below "
                              f"memory_mb ({limits.memory_mb}): the student's files are held in the sandbox's memory")
        replace = settings.get("student_may_replace", [])
        if not isinstance(replace, list) or not all(isinstance(p, str) for p in replace):
            raise CourseError(f"{settings_file}: student_may_replace must be a list of paths")
        # nbgrader's own way to say the same, honoured so that a course's existing config keeps its meaning
        replace += list(self.config.Autograde.get("exclude_overwriting", {}).get(hw, []))
        reveal = settings.get("reveal_after_due")
        if reveal is not None and not isinstance(reveal, bool):
            raise CourseError(f"{settings_file}: reveal_after_due must be true or false")
        try:
            policy = SubmissionPolicy.from_table(settings.get("submissions", {}))
        except ValueError as exc:  # CourseError from the date parser too
            raise CourseError(f"{settings_file}: [submissions] {exc}") from None
        return Homework(hw, gpu, limits, preload, tuple(replace), extra_file_mb, extra_files_total_mb, policy,
                        reveal)

    def students_with_submissions(self, hw: str) -> list[str]:
        submitted = self.path("submitted")
        if not submitted.is_dir():
            return []
        return sorted(p.name for p in submitted.iterdir() if (p / hw).is_dir())

    def submission_dir(self, student: str, hw: str) -> Path:
        return self.path("submitted", student, hw)

    def autograded_dir(self, student: str, hw: str) -> Path:
        return self.path("autograded", student, hw)

    def keys_dir(self, hw: str) -> Path:
        return self.path("keys", hw)
