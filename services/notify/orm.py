"""Notify's tables."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, MetaData, String, Text, UniqueConstraint
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
    school_id: Mapped[str] = mapped_column(String(36), default="", index=True)
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
    # Not before (quiet hours; an absence alert waiting for the day's other lessons).
    send_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    # Alerts gathered into one SMS (absences of one phone's children on one day): the key and what it lists.
    group_key: Mapped[str | None] = mapped_column(String(120), nullable=True, index=True)
    details: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # From the provider's delivery report: DELIVERED, UNDELIVERED, FAILED, EXPIRED, …
    delivery_status: Mapped[str] = mapped_column(String(20), default="")
    delivery_reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Preference(Base):
    """A person's notification settings: SMS on or off, the phone, which events, quiet hours."""

    __tablename__ = "preferences"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sms_enabled: Mapped[bool] = mapped_column(Boolean)
    phone: Mapped[str] = mapped_column(String(20), default="")
    events: Mapped[list[str]] = mapped_column(JSON)
    quiet_from: Mapped[str | None] = mapped_column(String(5), nullable=True)  # "21:00"
    quiet_to: Mapped[str | None] = mapped_column(String(5), nullable=True)  # "07:00"
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AccessReminder(Base):
    """A reminder that a parent's extended access for a child ends, due on `remind_on`, sent once."""

    __tablename__ = "access_reminders"
    __table_args__ = (UniqueConstraint("parent_id", "student_id", "valid_until", name="uq_access_reminder"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_id: Mapped[str] = mapped_column(String(36))
    parent_id: Mapped[str] = mapped_column(String(36), index=True)
    student_id: Mapped[str] = mapped_column(String(36))
    valid_until: Mapped[date] = mapped_column(Date)
    remind_on: Mapped[date] = mapped_column(Date, index=True)
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SchoolSmsSettings(Base):
    """A school's choices for its SMS: full Polish characters (UCS-2, more parts) or transliterated."""

    __tablename__ = "school_sms_settings"

    school_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    polish_characters: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
