"""Billing's tables."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from platform_kit.bus import define_bus_tables


class Base(DeclarativeBase):
    metadata = MetaData()


define_bus_tables(Base.metadata)


class Product(Base):
    """A school's price for a product; a school without a row sells at the defaults."""

    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("school_id", "code", name="uq_product"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    school_id: Mapped[str] = mapped_column(String(36), index=True)
    code: Mapped[str] = mapped_column(String(30))
    price: Mapped[int] = mapped_column(BigInteger)  # grosze
    period_months: Mapped[int] = mapped_column(Integer)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    transaction_number: Mapped[str] = mapped_column(String(11), unique=True)
    school_id: Mapped[str] = mapped_column(String(36), index=True)
    parent_id: Mapped[str] = mapped_column(String(36), index=True)
    student_id: Mapped[str] = mapped_column(String(36))
    student_name: Mapped[str] = mapped_column(String(200))
    student_last_name: Mapped[str] = mapped_column(String(100), default="")
    product: Mapped[str] = mapped_column(String(30))
    period_months: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)  # grosze
    currency: Mapped[str] = mapped_column(String(3), default="PLN")
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), index=True)
    title: Mapped[str] = mapped_column(String(40))
    payu_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    redirect_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class OrderChange(Base):
    """Every change of an order's state: who or what, when, from, to."""

    __tablename__ = "order_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    old_status: Mapped[str | None] = mapped_column(String(12), nullable=True)
    new_status: Mapped[str] = mapped_column(String(12))
    actor: Mapped[str] = mapped_column(String(80))  # a user id, or "payu"
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LedgerEntry(Base):
    """Append-only: money owed (+charge) and received (−payment); corrections are counter-entries."""

    __tablename__ = "ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    school_id: Mapped[str] = mapped_column(String(36), index=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # charge, payment, refund
    channel: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(100), default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StatementLine(Base):
    """One incoming operation from an imported bank statement, and what became of it."""

    __tablename__ = "statement_lines"
    __table_args__ = (UniqueConstraint("school_id", "line_key", name="uq_statement_line"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_id: Mapped[str] = mapped_column(String(36), index=True)
    line_key: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(Text)
    counterparty: Mapped[str] = mapped_column(String(200), default="")
    reference: Mapped[str] = mapped_column(String(100), default="")
    # matched, unmatched, review:<why>, resolved, dismissed, ignored
    outcome: Mapped[str] = mapped_column(String(30), index=True)
    order_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    imported_by: Mapped[str] = mapped_column(String(36))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
