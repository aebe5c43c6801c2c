"""Grades pages kept gzip-compressed, as the gateway sends them to clients that accept gzip.

The stored pages are a cache that gradebook rebuilds on the next read, so the table is made anew
rather than converted.

Revision ID: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def _pages(body: sa.Column) -> None:
    op.create_table(
        "grade_pages",
        sa.Column("student_id", sa.String(36), primary_key=True),
        sa.Column("school_year", sa.String(9), primary_key=True),
        sa.Column("page_format", sa.Integer, nullable=False),
        sa.Column("student_version", sa.BigInteger, nullable=False),
        sa.Column("school_version", sa.BigInteger, nullable=False),
        body,
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
    )


def upgrade() -> None:
    op.drop_table("grade_pages")
    _pages(sa.Column("body_gzip", sa.LargeBinary, nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        # Compressed already: PostgreSQL keeps it out of line without trying to compress it again.
        op.execute("ALTER TABLE grade_pages ALTER COLUMN body_gzip SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("grade_pages")
    _pages(sa.Column("body", sa.Text, nullable=False))
