"""The backup of docs/DEPLOY.md on a real PostgreSQL: a graded class's database dumped as the nightly unit
does (pg_dump --format=custom) and restored into a new database (pg_restore --no-owner) gives the same
grade reports."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, text

from graders.course import Course
from graders.grading.autograde import autograde
from graders.reports.export import write_reports
from graders.store import Store
from tests.conftest import PG_BIN, copy_course, on_database
from tests.helpers import solved_notebook, submit

HW = "hw1_backprop"
BACKUP_UNIT = Path(__file__).resolve().parents[2] / "config" / "systemd" / "graders-db-backup.service"


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def nightly_dump_options() -> list[str]:
    """The pg_dump options of graders-db-backup.service (its `sh -c` line), but the file it writes."""
    command = next(line for line in BACKUP_UNIT.read_text().splitlines() if line.startswith("ExecStart="))
    script = shlex.split(command.removeprefix("ExecStart="))[2]
    assert script.startswith("pg_dump "), script
    return [arg for arg in script.split() if arg.startswith("--") and not arg.startswith("--file=")]


def reports(course: Course, folder: Path) -> Path:
    store = Store(course.db_url, course.course_id)
    try:
        write_reports(store, [HW], "csv", folder)
    finally:
        store.close()
    return folder


def test_a_dumped_and_restored_database_gives_the_same_reports(hw1_generated, tmp_path, postgres_server):
    engine = create_engine(f"{postgres_server}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for name in ("t_backup_live", "t_backup_restored"):
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    live = on_database(copy_course(hw1_generated, tmp_path / "live"), f"{postgres_server}/t_backup_live")
    submit(live, "alice", HW, solved_notebook(live, HW))
    submit(live, "mallory", HW, b"{not a notebook")
    assert sorted(o.state for o in autograde(live, HW, workers=1)) == ["done", "failed"]

    dump = tmp_path / "graders.dump"
    subprocess.run([str(PG_BIN / "pg_dump"), *nightly_dump_options(), f"--file={dump}", libpq(live.db_url)],
                   check=True, capture_output=True, timeout=120)
    restored_url = f"{postgres_server}/t_backup_restored"
    subprocess.run([str(PG_BIN / "pg_restore"), "--no-owner", f"--dbname={libpq(restored_url)}", str(dump)],
                   check=True, capture_output=True, timeout=120)
    restored = copy_course(live, tmp_path / "restored")
    config = restored.path("nbgrader_config.py")
    config.write_text(config.read_text() + f"\nc.CourseDirectory.db_url = {restored_url!r}\n")
    restored = Course.load(restored.root)

    before, after = reports(live, tmp_path / "reports-live"), reports(restored, tmp_path / "reports-restored")
    files = sorted(p.name for p in before.iterdir())
    assert files and files == sorted(p.name for p in after.iterdir())
    assert [(after / f).read_text() for f in files] == [(before / f).read_text() for f in files]
    assert (before / files[0]).read_text().count("\n") >= 3  # a header and the two students
