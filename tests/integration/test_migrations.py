"""Every service's migrations build its schema on PostgreSQL and SQLite, match its ORM
metadata exactly, and are safe to run again."""
from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from platform_kit.db import Database
from platform_kit.migrations import current_revision, upgrade

pytestmark = pytest.mark.integration

SERVICES = ["identity", "gradebook", "attendance", "messaging", "billing", "notify"]


def _definition_and_metadata(service: str):
    definition = importlib.import_module(f"services.{service}.service").DEFINITION
    metadata = importlib.import_module(f"services.{service}.orm").Base.metadata
    return definition, metadata


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_migrations_build_the_schema_the_code_expects(service, backend, postgres_databases, tmp_path):
    url = postgres_databases(service) if backend == "postgresql" else f"sqlite:///{tmp_path / 'db.sqlite'}"
    database = Database(url)
    definition, metadata = _definition_and_metadata(service)
    try:
        upgrade(database, definition.migrations)
        head = current_revision(database, definition.migrations)
        assert head is not None
        upgrade(database, definition.migrations)  # a second start changes nothing
        assert current_revision(database, definition.migrations) == head
        with database.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
        assert differences == [], f"{service}: ORM and migrations disagree: {differences}"
    finally:
        database.dispose()
