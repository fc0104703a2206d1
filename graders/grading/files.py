"""The files that travel with a job: the homework's own, read-only, and the student's, within limits.

Homework files are what nbgrader's generate_assignment releases beside the notebooks
(`Course.homework_files`). The instructor's copy is the one graded, read-only in the sandbox,
unless homework.toml's `student_may_replace` names it (then it is a writable copy, and the
student's own copy replaces it). A student's other files (trained weights, a helper module) are
given to the grader up to `extra_file_mb` each and `extra_files_total_mb` together; a file left
out is never silent: it gets a note that the TA (`graders status`) and the student (feedback) read.

A `GradingJob` carries only each file's path, content address and size; the bytes are in
`JobFiles.contents` by sha256, so that a file every job shares (the homework's data) travels to a
runner once, not once per student.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.utils import find_all_files

from graders.contract import JobFile
from graders.course import Course, Homework

MIB = 1 << 20  # the project's "MB" in settings and notes, as memory_mb and scratch_mb
NOT_THE_STUDENTS = ("*.ipynb", "timestamp.txt")  # graded on their own / nbgrader's stamp of the submission


@dataclass(frozen=True)
class JobFiles:
    """The files of one job, their bytes by sha256, and notes about the files left out."""

    files: tuple[JobFile, ...] = ()
    contents: dict[str, bytes] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def homework_files(course: Course, homework: Homework) -> JobFiles:
    """The homework's own files: read-only, but for the ones a student may replace (writable copies)."""
    files, contents = [], {}
    for path, source in course.homework_files(homework.name).items():
        data = source.read_bytes()
        sha = _sha256(data)
        contents[sha] = data
        files.append(JobFile(path, sha, len(data), read_only=not homework.may_replace(path)))
    return JobFiles(tuple(files), contents)


def with_student_files(homework_files: JobFiles, folder: Path, homework: Homework,
                       ignore: list[str]) -> JobFiles:
    """`homework_files` and the student's own files beside the notebooks of submission `folder`.

    The student's files are taken in path order while they fit the limits; each one left out
    (too big, over the total, a link, a changed copy of a homework file) gets a one-sentence note.
    """
    homework_paths = {f.path: f for f in homework_files.files}
    chosen = dict(homework_paths)
    contents = dict(homework_files.contents)
    notes: list[str] = []
    total = 0
    for name in sorted(find_all_files(str(folder), [*ignore, *NOT_THE_STUDENTS])):
        path = Path(name)
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink():  # the coordinator never follows a link out of a submission
            notes.append(f"{relative} not provided to the grader: it is a link, not a file")
            continue
        size = path.stat().st_size
        if any(other.startswith(f"{relative}/") or relative.startswith(f"{other}/") for other in homework_paths):
            notes.append(f"{relative} not provided to the grader: the homework has a file or folder at that path")
            continue
        if relative in homework_paths and not homework.may_replace(relative):
            if size != homework_paths[relative].size or _sha256(path.read_bytes()) != homework_paths[relative].sha256:
                notes.append(f"{relative} differs from the homework's own copy: graded with the homework's")
            continue
        if size > homework.extra_file_mb * MIB:
            notes.append(f"{relative} ({_mb(size)}) not provided to the grader: "
                         f"limit {homework.extra_file_mb} MB per file")
            continue
        if total + size > homework.extra_files_total_mb * MIB:
            notes.append(f"{relative} ({_mb(size)}) not provided to the grader: "
                         f"limit {homework.extra_files_total_mb} MB for all of a student's files together")
            continue
        total += size
        data = path.read_bytes()
        sha = _sha256(data)
        contents[sha] = data
        chosen[relative] = JobFile(relative, sha, size, read_only=False)
    used = {f.sha256 for f in chosen.values()}
    return JobFiles(tuple(chosen.values()), {sha: data for sha, data in contents.items() if sha in used},
                    tuple(notes))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _mb(size: int) -> str:
    return f"{size / MIB:.1f} MB"
