"""Delivery reports in the sent log.

Revision ID: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch:
        batch.add_column(sa.Column("delivery_status", sa.String(20), nullable=False, server_default=""))
        batch.add_column(sa.Column("delivery_reported_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch:
        batch.drop_column("delivery_reported_at")
        batch.drop_column("delivery_status")
