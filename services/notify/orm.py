"""Notify's tables."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from platform_kit.bus import define_bus_tables


class Base(DeclarativeBase):
    metadata = MetaData()


define_bus_tables(Base.metadata)


class Sms(Base):
    """One SMS to one recipient about one event; the unique key makes a second one impossible."""

    __tablename__ = "sms_messages"
    __table_args__ = (UniqueConstraint("source_event_id", "recipient_user_id", name="uq_sms_event_recipient"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source_event_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(40))
    recipient_user_id: Mapped[str] = mapped_column(String(36))
    phone: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(8))
    parts: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), index=True)  # queued, sent, failed
    provider: Mapped[str] = mapped_column(String(20), default="")
    provider_message_id: Mapped[str] = mapped_column(String(100), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
