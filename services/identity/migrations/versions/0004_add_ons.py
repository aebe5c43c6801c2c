"""Add-ons (such as sms_alerts) bought per holder and student.

Revision ID: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "add_ons",
        sa.Column("holder_id", sa.String(36), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("student_id", sa.String(36), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("product", sa.String(40), primary_key=True),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_add_ons_student_id", "add_ons", ["student_id"])


def downgrade() -> None:
    op.drop_index("ix_add_ons_student_id", table_name="add_ons")
    op.drop_table("add_ons")
