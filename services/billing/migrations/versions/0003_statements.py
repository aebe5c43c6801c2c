"""Imported bank statement lines; the student's last name on orders (to confirm matches).

Revision ID: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("student_last_name", sa.String(100), nullable=False, server_default=""))
    op.create_table(
        "statement_lines",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("school_id", sa.String(36), nullable=False, index=True),
        sa.Column("line_key", sa.String(64), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("counterparty", sa.String(200), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(30), nullable=False, index=True),
        sa.Column("order_id", sa.String(36), nullable=True),
        sa.Column("imported_by", sa.String(36), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("school_id", "line_key", name="uq_statement_line"),
    )


def downgrade() -> None:
    op.drop_table("statement_lines")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("student_last_name")
