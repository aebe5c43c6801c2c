"""A tiny service used by the bus tests: one table its handler writes, the bus tables, and a
test event type carried by a real protobuf message."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pika
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from dziennik.gradebook.v1.events_pb2 import GradeRecorded
from platform_kit.bus import EventType, define_bus_tables, record_event
from platform_kit.bus.consumer import Consumer
from platform_kit.db import Database

THING_HAPPENED = EventType("test.thing_happened.v1", GradeRecorded)

metadata = MetaData()
OUTBOX, INBOX = define_bus_tables(metadata)
HANDLED = Table(
    "handled",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("value", String(8), nullable=False),
)


def make_database(url: str) -> Database:
    database = Database(url)
    metadata.create_all(database.engine)
    return database


def emit(database: Database, value: str) -> str:
    with database.transaction() as session:
        return record_event(session, THING_HAPPENED, GradeRecorded(grade_id=value, value=value), school_id="s1", subject="student-1")


def remember(session, event) -> None:
    session.execute(insert(HANDLED).values(event_id=event.event_id, value=event.message.value))


def handled(database: Database) -> list[tuple[str, str]]:
    with database.transaction() as session:
        return [tuple(r) for r in session.execute(select(HANDLED.c.event_id, HANDLED.c.value).order_by(HANDLED.c.id))]


def inbox_size(database: Database) -> int:
    with database.transaction() as session:
        return session.scalar(select(func.count()).select_from(INBOX))


def queue_depth(amqp_url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def drain(amqp_url: str, queue: str) -> list[tuple[pika.BasicProperties, bytes]]:
    """Take every message now in `queue` (acking them)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    messages = []
    try:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return messages
            messages.append((properties, body))
    finally:
        connection.close()


def declare_plain_queue(amqp_url: str, queue: str, routing_key: str) -> None:
    from platform_kit.bus.amqp import EVENTS_EXCHANGE, declare_exchanges

    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        declare_exchanges(channel)
        channel.queue_declare(queue, durable=True)
        channel.queue_bind(queue, EVENTS_EXCHANGE, routing_key=routing_key)
    finally:
        connection.close()


@contextmanager
def running(worker) -> Iterator[threading.Event]:
    """Run a relay or consumer (`worker.run(stop)`) in a thread for the length of the block."""
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=15)
        assert not thread.is_alive(), "worker did not stop"


def consumer(database: Database, amqp_url: str, queue: str, subscriptions, **options) -> Consumer:
    return Consumer(queue, database, amqp_url, subscriptions, **options)
