"""The connection pool on PostgreSQL (platform_kit/db.py): a healthy pooled connection is handed
out again as it is, and one whose server ended it is replaced at checkout without the caller
seeing an error — the work pool_pre_ping did, without a round trip per unit of work."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from platform_kit.db import Database
from tests.conftest import POSTGRES_ADMIN_URL, wait_for

pytestmark = pytest.mark.integration

BACKEND = text("SELECT pg_backend_pid()")


@pytest.fixture
def database(postgres_databases):
    database = Database(postgres_databases("pool"))
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def admin():
    """A connection of our own to PostgreSQL, outside the pool under test."""
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    yield engine
    engine.dispose()


def _backend(database: Database, how: str = "reading") -> int:
    with getattr(database, how)() as session:
        return session.execute(BACKEND).scalar()


def _alive(admin, pid: int) -> bool:
    with admin.connect() as connection:
        return bool(connection.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar())


def _terminate(admin, pid: int) -> None:
    with admin.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    wait_for(lambda: not _alive(admin, pid), timeout=10, message="the terminated backend to exit")


def test_a_healthy_pooled_connection_is_handed_out_again(database):
    first = _backend(database)
    assert [_backend(database, how) for how in ("reading", "transaction", "autocommitting", "reading")] == [first] * 4


@pytest.mark.parametrize("how", ["reading", "transaction"])
def test_a_connection_the_server_ended_is_replaced_before_anyone_uses_it(database, admin, how):
    ended = _backend(database)
    _terminate(admin, ended)
    replacement = _backend(database, how)  # no error: the pool noticed at checkout
    assert replacement != ended and _alive(admin, replacement)
    assert _backend(database) == replacement
