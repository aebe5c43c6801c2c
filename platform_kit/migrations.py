"""Alembic migrations, one history per service under services/<name>/migrations.

Each service's env.py is two lines that call `run_alembic_env(metadata)`; `upgrade()` runs the
history to head, holding a PostgreSQL advisory lock so that replicas starting together take turns.
"""
from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text

from platform_kit.db import Database


def alembic_config(script_location: Path, database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    return config


def upgrade(database: Database, script_location: Path) -> None:
    config = alembic_config(script_location, database)
    with database.engine.begin() as connection:
        if database.is_postgresql:
            lock_id = zlib.crc32(str(script_location.name + script_location.parent.name).encode())
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(database: Database, script_location: Path) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def run_alembic_env(target_metadata: MetaData) -> None:
    """The body of every service's migrations/env.py."""
    connection = context.config.attributes.get("connection")
    if connection is None:  # `alembic` run by hand: connect to the configured URL
        database = Database(context.config.get_main_option("sqlalchemy.url"))
        with database.engine.begin() as connection:
            _run(connection, target_metadata)
    else:
        _run(connection, target_metadata)


def _run(connection, target_metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
