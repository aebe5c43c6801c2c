"""Billing's tables: so far the event bus's outbox and inbox."""
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from platform_kit.bus import define_bus_tables


class Base(DeclarativeBase):
    metadata = MetaData()


define_bus_tables(Base.metadata)
