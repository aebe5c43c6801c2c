"""Gradebook's tables (the adapter side; use cases work with these rows)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Integer, LargeBinary, MetaData, Numeric, String, Text, UniqueConstraint
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


class GradeCategory(Base):
    """Sprawdzian, kartkówka, odpowiedź…: a weight 1–10 and whether it counts to the average."""

    __tablename__ = "grade_categories"
    __table_args__ = (UniqueConstraint("school_id", "name", name="uq_category_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(60))
    weight: Mapped[int] = mapped_column(Integer)
    counts_to_average: Mapped[bool] = mapped_column(Boolean)


class SchoolGradeSettings(Base):
    """A school's grading rules; a school without a row uses the defaults."""

    __tablename__ = "grade_settings"

    school_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    plus: Mapped[float] = mapped_column(Numeric(4, 2))
    minus: Mapped[float] = mapped_column(Numeric(4, 2))
    improved_original_counts: Mapped[bool] = mapped_column(Boolean)
    allowed_marks: Mapped[list[str]] = mapped_column(JSON)
    thresholds: Mapped[list[list]] = mapped_column(JSON)  # [["5.31", "6"], …]
    second_semester_starts: Mapped[str] = mapped_column(String(5))  # "MM-DD"
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


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
    # The student's class when the grade was given (class statistics), and the school year.
    class_id: Mapped[str] = mapped_column(String(36), default="", index=True)
    school_year: Mapped[str] = mapped_column(String(9), default="")
    points: Mapped[float | None] = mapped_column(Numeric(7, 2), nullable=True)
    max_points: Mapped[float | None] = mapped_column(Numeric(7, 2), nullable=True)
    improves_grade_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # Optimistic concurrency: an edit names the version it saw; a stale one is refused with 409.
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # A deleted grade stays, marked, with its history: the register keeps every state.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TermGrade(Base):
    """Semester and annual grades, proposed and final, per student, subject and school year."""

    __tablename__ = "term_grades"
    __table_args__ = (UniqueConstraint("student_id", "subject_id", "school_year", "kind", name="uq_term_grade"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_id: Mapped[str] = mapped_column(String(36), index=True)
    student_id: Mapped[str] = mapped_column(String(36), index=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"))
    school_year: Mapped[str] = mapped_column(String(9))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(4))
    teacher_id: Mapped[str] = mapped_column(String(36))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HistoryEntry(Base):
    """Who changed what and when (the law asks for every change with its author)."""

    __tablename__ = "history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(20))  # "grade" or "term_grade"
    entity_id: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(20))  # recorded, changed, deleted, set
    actor_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    old: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    new: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class PageVersion(Base):
    """How many times what a student's grades page shows has changed: a student's own rows
    (grades, term grades) count under the student's id, the school's grading rules under the
    school's id (services/gradebook/pages.py)."""

    __tablename__ = "page_versions"

    owner_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class GradePage(Base):
    """A student's grades page for a school year, stored as it is served, with the versions it
    was built from; it is current while they still are (services/gradebook/pages.py)."""

    __tablename__ = "grade_pages"

    student_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_year: Mapped[str] = mapped_column(String(9), primary_key=True)
    page_format: Mapped[int] = mapped_column(Integer)
    student_version: Mapped[int] = mapped_column(BigInteger)
    school_version: Mapped[int] = mapped_column(BigInteger)
    # The JSON gzip-compressed, as the gateway sends it to clients accepting gzip (a tenth of the
    # ~120 kB: psycopg reads bytea as hex text, so what the database hands over shrinks too).
    body_gzip: Mapped[bytes] = mapped_column(LargeBinary)
    built_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
