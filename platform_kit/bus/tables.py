"""The outbox and inbox tables, added to each service's own metadata (and its first migration)."""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    text,
)

OUTBOX = "outbox"
INBOX = "inbox"

# BigInteger autoincrements on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
_Seq = BigInteger().with_variant(Integer(), "sqlite")


def _outbox_columns() -> list:
    return [
        Column("seq", _Seq, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("routing_key", String(200), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSON, nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
    ]


def _inbox_columns() -> list:
    return [
        Column("consumer", String(200), nullable=False),
        Column("event_id", String(36), nullable=False),
        Column("routing_key", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
    ]


_PENDING = dict(postgresql_where=text("published_at IS NULL"), sqlite_where=text("published_at IS NULL"))


def define_bus_tables(metadata: MetaData) -> tuple[Table, Table]:
    outbox = Table(OUTBOX, metadata, *_outbox_columns())
    Index("ix_outbox_pending", outbox.c.seq, **_PENDING)
    inbox = Table(INBOX, metadata, *_inbox_columns())
    return outbox, inbox


def create_bus_tables(op) -> None:
    """For a service's first Alembic migration: `create_bus_tables(op)`."""
    op.create_table(OUTBOX, *_outbox_columns())
    op.create_index("ix_outbox_pending", OUTBOX, ["seq"], **_PENDING)
    op.create_table(INBOX, *_inbox_columns())


def drop_bus_tables(op) -> None:
    op.drop_table(INBOX)
    op.drop_index("ix_outbox_pending", table_name=OUTBOX)
    op.drop_table(OUTBOX)


# Table objects for the bus's own queries; each service also adds the same tables to its metadata.
OUTBOX_TABLE, INBOX_TABLE = define_bus_tables(MetaData())
