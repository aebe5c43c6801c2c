"""Notification preferences; SMS held for quiet hours or gathered into one alert.

Revision ID: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch:
        batch.add_column(sa.Column("send_after", TZ, nullable=True))
        batch.add_column(sa.Column("group_key", sa.String(120), nullable=True))
        batch.add_column(sa.Column("details", sa.JSON, nullable=True))
        batch.create_index("ix_sms_messages_send_after", ["send_after"])
        batch.create_index("ix_sms_messages_group_key", ["group_key"])
    op.create_table(
        "preferences",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("sms_enabled", sa.Boolean, nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("quiet_from", sa.String(5), nullable=True),
        sa.Column("quiet_to", sa.String(5), nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("preferences")
    with op.batch_alter_table("sms_messages") as batch:
        batch.drop_index("ix_sms_messages_group_key")
        batch.drop_index("ix_sms_messages_send_after")
        for column in ("details", "group_key", "send_after"):
            batch.drop_column(column)
