"""Alembic's entry point. `fund db upgrade` hands in a connection inside its own transaction; the
alembic command line (writing a new revision) connects to FUND_DATABASE_URL itself."""

from alembic import context
from sqlalchemy import Connection

from fund import schema
from fund.db import get_engine


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **schema.context_options())
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    with get_engine().begin() as conn:
        _run(conn)
