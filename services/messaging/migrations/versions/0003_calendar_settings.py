"""A school's limit of tests per class per week.

Revision ID: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "calendar_settings",
        sa.Column("school_id", sa.String(36), primary_key=True),
        sa.Column("tests_per_week", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("calendar_settings")
