"""The school of each SMS, for the school's sent log.

Revision ID: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch:
        batch.add_column(sa.Column("school_id", sa.String(36), nullable=False, server_default=""))
        batch.create_index("ix_sms_messages_school_id", ["school_id"])


def downgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch:
        batch.drop_index("ix_sms_messages_school_id")
        batch.drop_column("school_id")
