"""The database: nbgrader's gradebook and the platform's grading records, one URL, one writer.

SQLite file by default, PostgreSQL by URL. `Store` is used by the coordinator
only; runners never see a database URL. Commands that only read (status, report,
history) open it with `read_only=True`: no migration, and a connection the database
itself keeps from writing.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config as AlembicConfig
from nbgrader.api import Gradebook
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from graders.errors import UserError
from graders.store import audit  # noqa: F401 - from now on every grade change is audited

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "graders_alembic_version"  # the platform's; nbgrader's own alembic uses alembic_version


class NoRecords(UserError, LookupError):
    """A read-only command on a database that holds no grading records yet."""


class OutdatedDatabase(UserError, RuntimeError):
    """A read-only command on a database whose platform tables are older than this version of graders."""


def _alembic_config() -> AlembicConfig:
    """Alembic on the platform's migrations."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    """Bring the platform's tables to the newest Alembic revision."""
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Store:
    """Sessions on the platform tables and nbgrader gradebooks, on one database."""

    def __init__(self, db_url: str, course_id: str, *, read_only: bool = False) -> None:
        self.db_url, self.course_id = (read_only_url(db_url) if read_only else db_url), course_id
        self.engine = create_engine(self.db_url)
        if read_only:
            _check_current(self.engine, db_url)
        else:
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction on the platform tables: committed on success, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def gradebook(self) -> Iterator[Gradebook]:
        """nbgrader's own Gradebook API on the same database."""
        gradebook = Gradebook(self.db_url, self.course_id)
        try:
            yield gradebook
        finally:
            gradebook.close()

    def close(self) -> None:
        self.engine.dispose()


def read_only_url(db_url: str) -> str:
    """`db_url` opened so that the database refuses writes (SQLite: mode=ro; PostgreSQL: read-only
    transactions); NoRecords when an SQLite file does not exist (opening it would create it)."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database).resolve()
        if not path.is_file():
            raise NoRecords(f"no database at {path} yet: nothing has been graded in this course")
        return f"sqlite:///file:{path}?mode=ro&uri=true"
    if url.get_backend_name() == "postgresql":
        return url.update_query_dict({"options": "-c default_transaction_read_only=on"}).render_as_string(
            hide_password=False)
    return db_url


def _check_current(engine: Engine, shown_url: str) -> None:
    """NoRecords without the platform's tables; OutdatedDatabase unless they are at the newest revision."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    with engine.connect() as connection:
        current = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() \
            if inspect(connection).has_table(VERSION_TABLE) else None
    if current is None:
        raise NoRecords("no grading records in this course's database yet")
    if current != head:
        raise OutdatedDatabase(f"the database at {make_url(shown_url).render_as_string(hide_password=True)} is at "
                        f"revision {current}, this graders expects {head}: run `graders autograde` (or any "
                        "command that grades) once to bring it up to date")
