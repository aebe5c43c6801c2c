"""The event bus tables.

Revision ID: 0001
"""
from alembic import op

from platform_kit.bus.tables import create_bus_tables, drop_bus_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_bus_tables(op)


def downgrade() -> None:
    drop_bus_tables(op)
