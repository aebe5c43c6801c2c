"""Reminders before extended access ends.

Revision ID: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "access_reminders",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("school_id", sa.String(36), nullable=False),
        sa.Column("parent_id", sa.String(36), nullable=False, index=True),
        sa.Column("student_id", sa.String(36), nullable=False),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.Column("remind_on", sa.Date, nullable=False, index=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("parent_id", "student_id", "valid_until", name="uq_access_reminder"),
    )


def downgrade() -> None:
    op.drop_table("access_reminders")
