"""Gradebook's tables (the adapter side; use cases work with these rows)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from platform_kit.bus import define_bus_tables


class Base(DeclarativeBase):
    metadata = MetaData()


define_bus_tables(Base.metadata)


class Subject(Base):
    __tablename__ = "subjects"
    __table_args__ = (UniqueConstraint("school_id", "name", name="uq_subject_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(100))
    short_name: Mapped[str] = mapped_column(String(20), default="")


class Grade(Base):
    __tablename__ = "grades"
    __table_args__ = (UniqueConstraint("teacher_id", "request_id", name="uq_grade_request"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_id: Mapped[str] = mapped_column(String(36), index=True)
    student_id: Mapped[str] = mapped_column(String(36), index=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"))
    category_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    value: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str] = mapped_column(Text, default="")
    teacher_id: Mapped[str] = mapped_column(String(36))
    issued_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
