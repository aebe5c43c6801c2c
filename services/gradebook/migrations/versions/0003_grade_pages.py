"""Students' grades pages kept as they are served, and the versions that tell when one is stale.

Revision ID: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "page_versions",
        sa.Column("owner_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "grade_pages",
        sa.Column("student_id", sa.String(36), primary_key=True),
        sa.Column("school_year", sa.String(9), primary_key=True),
        sa.Column("page_format", sa.Integer, nullable=False),
        sa.Column("student_version", sa.BigInteger, nullable=False),
        sa.Column("school_version", sa.BigInteger, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        _compress_pages_with_lz4()


def _compress_pages_with_lz4() -> None:
    """A page is ~120 kB of JSON, read at every login: lz4 decompresses it several times faster
    than PostgreSQL's default pglz, for a little more space. Servers built without lz4 keep pglz."""
    connection = op.get_bind()
    savepoint = connection.begin_nested()
    try:
        connection.exec_driver_sql("ALTER TABLE grade_pages ALTER COLUMN body SET COMPRESSION lz4")
        savepoint.commit()
    except sa.exc.DBAPIError:
        savepoint.rollback()


def downgrade() -> None:
    op.drop_table("grade_pages")
    op.drop_table("page_versions")
