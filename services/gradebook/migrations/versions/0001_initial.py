"""Subjects, grades and the event bus tables.

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

from platform_kit.bus.tables import create_bus_tables, drop_bus_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_bus_tables(op)
    op.create_table(
        "subjects",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("school_id", sa.String(36), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("short_name", sa.String(20), nullable=False),
        sa.UniqueConstraint("school_id", "name", name="uq_subject_name"),
    )
    op.create_table(
        "grades",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("school_id", sa.String(36), nullable=False, index=True),
        sa.Column("student_id", sa.String(36), nullable=False, index=True),
        sa.Column("subject_id", sa.String(36), sa.ForeignKey("subjects.id"), nullable=False),
        sa.Column("category_id", sa.String(36), nullable=True),
        sa.Column("value", sa.String(8), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("teacher_id", sa.String(36), nullable=False),
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.UniqueConstraint("teacher_id", "request_id", name="uq_grade_request"),
    )


def downgrade() -> None:
    op.drop_table("grades")
    op.drop_table("subjects")
    drop_bus_tables(op)
