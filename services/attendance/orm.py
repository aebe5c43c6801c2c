"""Attendance's tables."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from platform_kit.bus import define_bus_tables


class Base(DeclarativeBase):
    metadata = MetaData()


define_bus_tables(Base.metadata)


class SchoolSettings(Base):
    __tablename__ = "attendance_settings"

    school_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    excuse_deadline_days: Mapped[int] = mapped_column(Integer)
    adult_students_may_excuse: Mapped[bool] = mapped_column(Boolean)
    lesson_hours: Mapped[list[str]] = mapped_column(JSON)


class AttendanceType(Base):
    """A school's own attendance type, counted as one of the standard statuses."""

    __tablename__ = "attendance_types"
    __table_args__ = (UniqueConstraint("school_id", "code", name="uq_attendance_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    school_id: Mapped[str] = mapped_column(String(36), index=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(60))
    counts_as: Mapped[str] = mapped_column(String(20))


class TimetableEntry(Base):
    __tablename__ = "timetable_entries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_id: Mapped[str] = mapped_column(String(36), index=True)
    class_id: Mapped[str] = mapped_column(String(36), index=True)
    school_year: Mapped[str] = mapped_column(String(9))
    weekday: Mapped[int] = mapped_column(Integer)
    lesson_no: Mapped[int] = mapped_column(Integer)
    subject_id: Mapped[str] = mapped_column(String(36))
    teacher_id: Mapped[str] = mapped_column(String(36))
    room: Mapped[str] = mapped_column(String(20), default="")
    valid_from: Mapped[date] = mapped_column(Date)
    # A timetable replaced from a day on keeps its entries for the days before.
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)


class Lesson(Base):
    __tablename__ = "lessons"
    __table_args__ = (UniqueConstraint("class_id", "date", "lesson_no", name="uq_lesson_slot"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_id: Mapped[str] = mapped_column(String(36), index=True)
    class_id: Mapped[str] = mapped_column(String(36), index=True)
    subject_id: Mapped[str] = mapped_column(String(36))
    subject_name: Mapped[str] = mapped_column(String(100), default="")
    teacher_id: Mapped[str] = mapped_column(String(36), index=True)
    date: Mapped[date] = mapped_column(Date, index=True)
    lesson_no: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(Text, default="")
    room: Mapped[str] = mapped_column(String(20), default="")
    substitute_teacher_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)


class AttendanceMark(Base):
    """One student's attendance at one lesson: re-marking changes it (history keeps the past)."""

    __tablename__ = "attendance_marks"

    student_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    lesson_id: Mapped[str] = mapped_column(ForeignKey("lessons.id"), primary_key=True, index=True)
    status: Mapped[str] = mapped_column(String(20))
    marked_by: Mapped[str] = mapped_column(String(36))
    marked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Excuse(Base):
    __tablename__ = "excuses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_id: Mapped[str] = mapped_column(String(36), index=True)
    class_id: Mapped[str] = mapped_column(String(36), index=True)
    student_id: Mapped[str] = mapped_column(String(36), index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    lesson_ids: Mapped[list[str]] = mapped_column(JSON)
    submitted_by: Mapped[str] = mapped_column(String(36))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class HistoryEntry(Base):
    """Every change of a mark or an excuse: who, when, old and new."""

    __tablename__ = "history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(20))  # "mark" or "excuse"
    entity_id: Mapped[str] = mapped_column(String(80), index=True)
    action: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    old: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    new: Mapped[dict | None] = mapped_column(JSON, nullable=True)
