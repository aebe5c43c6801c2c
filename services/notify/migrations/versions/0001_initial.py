"""The SMS log and the event bus tables.

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
        "sms_messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("source_event_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("recipient_user_id", sa.String(36), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("encoding", sa.String(8), nullable=False),
        sa.Column("parts", sa.Integer, nullable=False),
        sa.Column("status", sa.String(12), nullable=False, index=True),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("provider_message_id", sa.String(100), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("source_event_id", "recipient_user_id", name="uq_sms_event_recipient"),
    )


def downgrade() -> None:
    op.drop_table("sms_messages")
    drop_bus_tables(op)
