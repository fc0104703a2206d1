"""Shared fixtures: throwaway courses made from this repository's homeworks.

A course fixture copies `nbgrader_config.py` and the chosen `source/<hw>/` into a
temporary folder, so every test has its own gradebook, keys and runtime folders.
Generating a homework (release + keys) runs its instructor solution, so it is
done once per session and copied.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from graders.authoring.generate import generate
from graders.course import Course

REPO = Path(__file__).resolve().parent.parent
HOMEWORKS = sorted(p.name for p in (REPO / "source").iterdir() if p.is_dir())


def new_course(folder: Path, *homeworks: str) -> Course:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", folder / "nbgrader_config.py")
    for hw in homeworks:
        shutil.copytree(REPO / "source" / hw, folder / "source" / hw)
    return Course.load(folder)


def copy_course(course: Course, folder: Path) -> Course:
    """A copy of a generated course (source, release, keys and gradebook), to change freely."""
    shutil.copytree(course.root, folder)
    return Course.load(folder)


@pytest.fixture(scope="session")
def hw1_generated(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """A course with hw1_backprop released and keyed (do not modify: use `hw1_course`)."""
    course = new_course(tmp_path_factory.mktemp("hw1-generated") / "course", "hw1_backprop")
    generate(course, "hw1_backprop")
    return course


@pytest.fixture
def hw1_course(hw1_generated: Course, tmp_path: Path) -> Course:
    """A private, already generated copy of the hw1_backprop course."""
    return copy_course(hw1_generated, tmp_path / "course")


# --- PostgreSQL: the database tests also run on a real PostgreSQL 15 server ----------------------------------
# A throwaway cluster (initdb + pg_ctl on a temp dir and a free port) for the whole session, one fresh
# database per test. initdb refuses to run as root, so as root the cluster belongs to the `postgres` user
# that Debian's `postgresql` package creates (the Makefile installs it).

import os  # noqa: E402 - this block is appended as a whole
import re  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from typing import Iterator  # noqa: E402

from sqlalchemy import create_engine, text  # noqa: E402

# Debian's PostgreSQL server programs, of the newest version installed (15 on Debian 12, 16 on Ubuntu 24.04).
PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]),
             default=Path("/usr/lib/postgresql/15/bin/initdb")).parent


def _as_cluster_owner(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for the session; yields its URL without a database name."""
    folder = Path(tempfile.mkdtemp(prefix="graders-pg-"))  # not under pytest's root-only tmp dirs
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.run(_as_cluster_owner([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                      "--no-sync", "-E", "UTF8"]), check=True, capture_output=True, timeout=120)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c shared_buffers=16MB -c max_connections=60 " \
              "-c fsync=off"
    subprocess.run(_as_cluster_owner([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"),
                                      "-o", options, "-w", "-t", "60", "start"]),
                   check=True, capture_output=True, timeout=90)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_cluster_owner([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                                          "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Runs a test once per database: None (the course's own SQLite file), then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    server = request.getfixturevalue("postgres_server")
    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[-50:]
    engine = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{server}/{name}"


def on_database(course: Course, db_url: str | None) -> Course:
    """`course` switched to `db_url` (None: unchanged), its generated homeworks released into the new gradebook."""
    if db_url is None:
        return course
    from graders.authoring.generate import release

    config = course.path("nbgrader_config.py")
    config.write_text(config.read_text() + f"\nc.CourseDirectory.db_url = {db_url!r}\n")
    course = Course.load(course.root)
    for hw in course.assignments():
        if course.path("release", hw).is_dir():
            release(course, hw)
    return course
