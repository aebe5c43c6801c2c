"""Messages, deliveries and attachments; announcements; the calendar and its feeds; tickets.

Revision ID: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

TZ = sa.DateTime(timezone=True)
ID = sa.String(36)


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", ID, primary_key=True),
        sa.Column("school_id", ID, nullable=False, index=True),
        sa.Column("thread_id", ID, nullable=False, index=True),
        sa.Column("in_reply_to", ID, nullable=True),
        sa.Column("sender_id", ID, nullable=False, index=True),
        sa.Column("sender_name", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("sent_at", TZ, nullable=False, index=True),
    )
    op.create_table(
        "deliveries",
        sa.Column("message_id", ID, sa.ForeignKey("messages.id"), primary_key=True),
        sa.Column("recipient_id", ID, primary_key=True, index=True),
        sa.Column("recipient_name", sa.String(200), nullable=False),
        sa.Column("read_at", TZ, nullable=True),
        sa.Column("archived", sa.Boolean, nullable=False),
    )
    op.create_table(
        "attachments",
        sa.Column("id", ID, primary_key=True),
        sa.Column("owner_id", ID, nullable=False, index=True),
        sa.Column("message_id", ID, sa.ForeignKey("messages.id"), nullable=True, index=True),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_at", TZ, nullable=False),
    )
    op.create_table(
        "announcements",
        sa.Column("id", ID, primary_key=True),
        sa.Column("school_id", ID, nullable=False, index=True),
        sa.Column("author_id", ID, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("class_ids", sa.JSON, nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_until", sa.Date, nullable=True),
        sa.Column("published_at", TZ, nullable=False),
    )
    op.create_table(
        "announcement_reads",
        sa.Column("announcement_id", ID, sa.ForeignKey("announcements.id"), primary_key=True),
        sa.Column("user_id", ID, primary_key=True),
        sa.Column("read_at", TZ, nullable=False),
    )
    op.create_table(
        "calendar_events",
        sa.Column("id", ID, primary_key=True),
        sa.Column("school_id", ID, nullable=False, index=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("date", sa.Date, nullable=False, index=True),
        sa.Column("class_id", ID, nullable=True, index=True),
        sa.Column("subject_id", ID, nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("author_id", ID, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "calendar_feeds",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", ID, nullable=False, unique=True),
        sa.Column("school_id", ID, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "tickets",
        sa.Column("id", ID, primary_key=True),
        sa.Column("school_id", ID, nullable=False, index=True),
        sa.Column("author_id", ID, nullable=False, index=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("escalated", sa.Boolean, nullable=False),
        sa.Column("opened_at", TZ, nullable=False),
    )
    op.create_table(
        "ticket_posts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", ID, sa.ForeignKey("tickets.id"), nullable=False, index=True),
        sa.Column("author_id", ID, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in ("ticket_posts", "tickets", "calendar_feeds", "calendar_events", "announcement_reads", "announcements", "attachments", "deliveries", "messages"):
        op.drop_table(table)
