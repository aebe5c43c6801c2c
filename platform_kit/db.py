"""SQLAlchemy 2 engines and sessions, one database per service.

A service's database is `<SERVICE>_DATABASE_URL` (PostgreSQL in production) or, by default, a
SQLite file `<DZIENNIK_VAR_DIR>/<service>.db`.
"""
from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, String, bindparam, create_engine, event, func, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


def database_url(service: str, configured: str | None, var_dir: Path) -> str:
    if configured:
        for prefix in ("postgresql://", "postgres://"):
            if configured.startswith(prefix):  # psycopg 3 is the driver we ship
                return "postgresql+psycopg://" + configured[len(prefix):]
        return configured
    var_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(var_dir / f'{service}.db').resolve()}"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # hide_parameters: an error logs the statement, never its values (TOTP secrets, hashes).
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # several processes share the file
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_timeout=5,
        hide_parameters=True,  # an error logs the statement, never its values (TOTP secrets, hashes)
        # A cut connection must fail fast instead of hanging a request.
        connect_args={"connect_timeout": 5, "options": "-c statement_timeout=15000"},
    )
    event.listen(engine, "checkout", _discard_if_closed_by_server)
    return engine


def _discard_if_closed_by_server(dbapi_connection, _record, _proxy) -> None:
    """What SQLAlchemy's pool_pre_ping does, without its round trip (a SELECT 1 before every unit
    of work, on every hot path): a pooled connection whose server ended it — a restart, a
    terminated backend, an idle timeout — has the server's goodbye (or EOF) waiting on its socket,
    while a healthy idle one has nothing to read. Such a connection is discarded and the pool hands
    out another (SQLAlchemy retries the checkout on DisconnectionError)."""
    if dbapi_connection.closed:
        raise DisconnectionError("the connection was closed")
    try:
        waiting, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError):
        raise DisconnectionError("the connection's socket is gone") from None
    if waiting:
        raise DisconnectionError("the server ended the connection")


class Database:
    """One service's database: an engine and a way to run a unit of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reading_sessions = sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits when the block ends and rolls back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for a use case that only reads and is asked very often (access checks, the
        grades page): no BEGIN and COMMIT around it, two round trips fewer. Each statement sees
        what was committed when it started, as in a READ COMMITTED transaction; nothing may be
        written through it (`autocommitting` is for single-statement writes)."""
        with self._reading_sessions() as session:
            yield session

    @contextmanager
    def autocommitting(self) -> Iterator[Session]:
        """A session whose every statement commits as it runs: for a unit of work that is one
        statement, atomic by itself, and asked very often (a rate limit's counter), where BEGIN and
        COMMIT would triple its round trips. Two statements through it are two units of work."""
        with self._reading_sessions() as session:
            yield session

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def upsert_insert(where: Session | Database, table):
    """An INSERT of the session's (or the database's) kind that knows ON CONFLICT (PostgreSQL's or
    SQLite's)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = where.engine.dialect if isinstance(where, Database) else where.get_bind().dialect
    return (postgresql if dialect.name == "postgresql" else sqlite).insert(table)


def insert_new(session: Session, table, rows: list[dict], returning) -> list:
    """Inserts the rows that do not conflict with one kept already (a retried batch, a parallel
    delivery) and answers the `returning` column of each row it added.

    On PostgreSQL the rows go as one array per column, unnested into rows: the statement's text is
    the same for any number of rows, so it is compiled once (SQLAlchemy cannot cache a
    table-valued function's statement, so it is kept here as SQL) and psycopg converts it once. A
    VALUES list (one placeholder per column and row) is a new statement for every batch size,
    converted afresh each time — ~30 % of identity's CPU while parents read pages, for its audit
    batches. For tables of plain columns (text, numbers, times): on PostgreSQL the values go to
    the driver as they are, past SQLAlchemy's type conversions."""
    if not rows:
        return []
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        parameters = {c.name: [row[c.name] for row in rows] for c in table.columns}
        return list(session.connection().exec_driver_sql(_unnest_insert(table, returning, dialect), parameters).scalars())
    statement = upsert_insert(session, table).on_conflict_do_nothing().returning(returning)
    return list(session.connection().execute(statement, rows).scalars())


@lru_cache(maxsize=32)  # per table and engine: a process has a few
def _unnest_insert(table, returning, dialect) -> str:
    """INSERT INTO table (columns…) SELECT … FROM unnest(%(column)s, …) ON CONFLICT DO NOTHING
    RETURNING …, in the driver's own parameter style."""
    import sqlalchemy
    from sqlalchemy.dialects import postgresql

    names = [c.name for c in table.columns]
    # Arrays of unbounded text: a value too long for its column fails the INSERT, as in a VALUES
    # list (a cast to varchar(n)[] would cut it short without a word).
    arrays = func.unnest(
        *(bindparam(c.name, type_=postgresql.ARRAY(String() if isinstance(c.type, String) else c.type)) for c in table.columns)
    ).table_valued(*names).render_derived("given")
    selected = sqlalchemy.select(*(arrays.c[name] for name in names))
    statement = postgresql.insert(table).from_select(names, selected).on_conflict_do_nothing().returning(returning)
    return str(statement.compile(dialect=dialect))
