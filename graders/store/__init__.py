"""The database: nbgrader's gradebook and the platform's grading records, one URL, one writer.

SQLite file by default, PostgreSQL by URL. `Store` is used by the coordinator
only; runners never see a database URL.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config as AlembicConfig
from nbgrader.api import Gradebook
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from graders.store import audit  # noqa: F401 - from now on every grade change is audited

MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(engine: Engine) -> None:
    """Bring the platform's tables to the newest Alembic revision."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Store:
    """Sessions on the platform tables and nbgrader gradebooks, on one database."""

    def __init__(self, db_url: str, course_id: str) -> None:
        self.db_url, self.course_id = db_url, course_id
        self.engine = create_engine(db_url)
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
