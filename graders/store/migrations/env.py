"""Alembic environment for the platform's tables (nbgrader migrates its own with its own table)."""

from alembic import context

from graders.store import VERSION_TABLE
from graders.store.models import Base


def run_migrations() -> None:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=Base.metadata, version_table=VERSION_TABLE,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
