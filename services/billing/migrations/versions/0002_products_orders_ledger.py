"""Products and prices, orders with their changes, the ledger.

Revision ID: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("school_id", sa.String(36), nullable=False, index=True),
        sa.Column("code", sa.String(30), nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("period_months", sa.Integer, nullable=False),
        sa.UniqueConstraint("school_id", "code", name="uq_product"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("transaction_number", sa.String(11), nullable=False, unique=True),
        sa.Column("school_id", sa.String(36), nullable=False, index=True),
        sa.Column("parent_id", sa.String(36), nullable=False, index=True),
        sa.Column("student_id", sa.String(36), nullable=False),
        sa.Column("student_name", sa.String(200), nullable=False),
        sa.Column("product", sa.String(30), nullable=False),
        sa.Column("period_months", sa.Integer, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("status", sa.String(12), nullable=False, index=True),
        sa.Column("title", sa.String(40), nullable=False),
        sa.Column("payu_order_id", sa.String(64), nullable=True, unique=True),
        sa.Column("redirect_url", sa.Text, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("paid_at", TZ, nullable=True),
    )
    op.create_table(
        "order_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(36), sa.ForeignKey("orders.id"), nullable=False, index=True),
        sa.Column("old_status", sa.String(12), nullable=True),
        sa.Column("new_status", sa.String(12), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("at", TZ, nullable=False),
    )
    op.create_table(
        "ledger",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("school_id", sa.String(36), nullable=False, index=True),
        sa.Column("order_id", sa.String(36), sa.ForeignKey("orders.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in ("ledger", "order_changes", "orders", "products"):
        op.drop_table(table)
