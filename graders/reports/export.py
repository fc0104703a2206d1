"""Writing report files: one module per format, each `write(store, homeworks, out_dir, course) -> paths`."""

from __future__ import annotations

from pathlib import Path

from graders.course import Course
from graders.reports import canvas, csvfile, html, moodle
from graders.store import Store

FORMATS = {"csv": csvfile.write, "canvas": canvas.write, "moodle": moodle.write, "html": html.write}


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    return fmt


def released(store: Store, course: Course) -> list[str]:
    """The course's homeworks that the gradebook knows (generated at least once), for `report all`."""
    with store.gradebook() as gradebook:
        known = {a.name for a in gradebook.assignments}
    return [hw for hw in course.assignments() if hw in known]


def write_reports(store: Store, hws: list[str], fmt: str, out_dir: Path, course: Course | None = None) -> list[Path]:
    """Write the report of homeworks `hws` in `fmt` under `out_dir` (LMS formats: one file for all).

    `course`: for each homework's submission policy (which submission counts); reports.table.grade_table.
    """
    check_format(fmt)
    out_dir.mkdir(parents=True, exist_ok=True)
    return FORMATS[fmt](store, hws, out_dir, course)


def write_report(store: Store, hw: str, fmt: str, out_dir: Path, course: Course | None = None) -> Path:
    """Write the report of one homework in `fmt` under `out_dir`; return the file's path."""
    [path] = write_reports(store, [hw], fmt, out_dir, course)
    return path
