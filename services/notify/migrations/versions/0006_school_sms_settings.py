"""A school's SMS choices (full Polish characters or transliterated).

Revision ID: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "school_sms_settings",
        sa.Column("school_id", sa.String(36), primary_key=True),
        sa.Column("polish_characters", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("school_sms_settings")
