"""Settings and attendance types, timetable, lessons, marks, excuses and their history.

Revision ID: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "attendance_settings",
        sa.Column("school_id", sa.String(36), primary_key=True),
        sa.Column("excuse_deadline_days", sa.Integer, nullable=False),
        sa.Column("adult_students_may_excuse", sa.Boolean, nullable=False),
        sa.Column("lesson_hours", sa.JSON, nullable=False),
    )
    op.create_table(
        "attendance_types",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("school_id", sa.String(36), nullable=False, index=True),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("counts_as", sa.String(20), nullable=False),
        sa.UniqueConstraint("school_id", "code", name="uq_attendance_type"),
    )
    op.create_table(
        "timetable_entries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("school_id", sa.String(36), nullable=False, index=True),
        sa.Column("class_id", sa.String(36), nullable=False, index=True),
        sa.Column("school_year", sa.String(9), nullable=False),
        sa.Column("weekday", sa.Integer, nullable=False),
        sa.Column("lesson_no", sa.Integer, nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("teacher_id", sa.String(36), nullable=False),
        sa.Column("room", sa.String(20), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date, nullable=True),
    )
    op.create_table(
        "lessons",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("school_id", sa.String(36), nullable=False, index=True),
        sa.Column("class_id", sa.String(36), nullable=False, index=True),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("subject_name", sa.String(100), nullable=False),
        sa.Column("teacher_id", sa.String(36), nullable=False, index=True),
        sa.Column("date", sa.Date, nullable=False, index=True),
        sa.Column("lesson_no", sa.Integer, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("room", sa.String(20), nullable=False),
        sa.Column("substitute_teacher_id", sa.String(36), nullable=True, index=True),
        sa.Column("cancelled", sa.Boolean, nullable=False),
        sa.UniqueConstraint("class_id", "date", "lesson_no", name="uq_lesson_slot"),
    )
    op.create_table(
        "attendance_marks",
        sa.Column("student_id", sa.String(36), primary_key=True),
        sa.Column("lesson_id", sa.String(36), sa.ForeignKey("lessons.id"), primary_key=True, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("marked_by", sa.String(36), nullable=False),
        sa.Column("marked_at", TZ, nullable=False),
    )
    op.create_table(
        "excuses",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("school_id", sa.String(36), nullable=False, index=True),
        sa.Column("class_id", sa.String(36), nullable=False, index=True),
        sa.Column("student_id", sa.String(36), nullable=False, index=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("lesson_ids", sa.JSON, nullable=False),
        sa.Column("submitted_by", sa.String(36), nullable=False),
        sa.Column("submitted_at", TZ, nullable=False),
        sa.Column("decided_by", sa.String(36), nullable=True),
        sa.Column("decided_at", TZ, nullable=True),
    )
    op.create_table(
        "history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.String(80), nullable=False, index=True),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("actor_id", sa.String(36), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("old", sa.JSON, nullable=True),
        sa.Column("new", sa.JSON, nullable=True),
    )


def downgrade() -> None:
    for table in ("history", "excuses", "attendance_marks", "lessons", "timetable_entries", "attendance_types", "attendance_settings"):
        op.drop_table(table)
