"""The event bus against the real PostgreSQL and RabbitMQ: outbox, relay, consumers, inbox,
retries and dead letters, including a consumer killed before its ack and a stopped broker."""
from __future__ import annotations

import multiprocessing
import os
import subprocess
import uuid

import pytest
from prometheus_client import REGISTRY

from dziennik.gradebook.v1.events_pb2 import GradeRecorded
from platform_kit.bus.amqp import Publisher, dead_letter_queue_name
from platform_kit.bus.consumer import ATTEMPT_HEADER, Consumer, Subscription
from platform_kit.bus.relay import OutboxRelay
from tests.conftest import wait_for
from tests.integration import bus_fixtures as bus

pytestmark = pytest.mark.integration


@pytest.fixture
def database(postgres_databases):
    db = bus.make_database(postgres_databases("bus"))
    yield db
    db.dispose()


def relay_for(database, amqp_url, **options) -> OutboxRelay:
    return OutboxRelay(database, Publisher(amqp_url, app_id="bus-test"), **options)


def test_an_event_written_in_a_transaction_that_rolls_back_is_never_published(database, amqp_url):
    bus.declare_plain_queue(amqp_url, "observer", bus.THING_HAPPENED.routing_key)
    with pytest.raises(RuntimeError):
        with database.transaction() as session:
            from platform_kit.bus import record_event

            record_event(session, bus.THING_HAPPENED, GradeRecorded(value="rolled-back"))
            raise RuntimeError("the use case failed after writing its event")
    kept = bus.emit(database, "kept")

    relay = relay_for(database, amqp_url)
    assert relay.publish_batch() == 1
    assert relay.publish_batch() == 0

    messages = bus.drain(amqp_url, "observer")
    assert [(p.message_id, GradeRecorded.FromString(b).value) for p, b in messages] == [(kept, "kept")]
    properties = messages[0][0]
    assert properties.type == "test.thing_happened.v1"
    assert properties.app_id == "bus-test"
    assert properties.delivery_mode == 2
    assert properties.headers["school_id"] == "s1" and properties.headers["subject"] == "student-1"


def test_two_relays_on_postgresql_publish_every_row_exactly_once(database, amqp_url):
    bus.declare_plain_queue(amqp_url, "observer", bus.THING_HAPPENED.routing_key)
    ids = {bus.emit(database, str(n)) for n in range(150)}
    with bus.running(relay_for(database, amqp_url, batch_size=10, poll_interval=0.05)), bus.running(
        relay_for(database, amqp_url, batch_size=10, poll_interval=0.05)
    ):
        wait_for(lambda: bus.queue_depth(amqp_url, "observer") >= len(ids), timeout=60, message="150 published events")
    published = [p.message_id for p, _ in bus.drain(amqp_url, "observer")]
    assert sorted(published) == sorted(ids)


def _consume_then_die_before_ack(url: str, amqp_url: str, queue: str) -> None:
    """Child process: handle one message, commit, and die where the ack would be sent."""

    class DiesBeforeAck(Consumer):
        def _ack(self, channel, delivery_tag):
            os._exit(17)

    database = bus.make_database(url)
    worker = DiesBeforeAck(queue, database, amqp_url, [Subscription(bus.THING_HAPPENED, bus.remember)])
    import threading

    worker.run(threading.Event())


def test_a_consumer_killed_after_handling_but_before_its_ack_gets_the_message_again_and_the_inbox_ignores_it(
    database, amqp_url
):
    queue = f"test.killed.{uuid.uuid4().hex[:6]}"
    subscriptions = [Subscription(bus.THING_HAPPENED, bus.remember)]
    # Declare the queue first, so the event is routed to it before any consumer runs.
    declaring = Consumer(queue, database, amqp_url, subscriptions)
    import pika

    from platform_kit.bus.amqp import declare_consumer_queues

    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    declare_consumer_queues(connection.channel(), queue, [bus.THING_HAPPENED.routing_key], declaring.retry_delays_ms)
    connection.close()

    event_id = bus.emit(database, "once")
    assert relay_for(database, amqp_url).publish_batch() == 1

    child = multiprocessing.get_context("fork").Process(target=_consume_then_die_before_ack, args=(database.url, amqp_url, queue))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 17, "the child should have died at its ack"
    assert bus.handled(database) == [(event_id, "once")]  # the handler's work was committed

    duplicates = REGISTRY.get_sample_value(
        "events_consumed_total", {"consumer": queue, "routing_key": bus.THING_HAPPENED.routing_key, "outcome": "duplicate"}
    ) or 0
    with bus.running(Consumer(queue, database, amqp_url, subscriptions)):
        wait_for(
            lambda: (REGISTRY.get_sample_value(
                "events_consumed_total", {"consumer": queue, "routing_key": bus.THING_HAPPENED.routing_key, "outcome": "duplicate"}
            ) or 0) > duplicates,
            timeout=30,
            message="the redelivered message",
        )
        wait_for(lambda: bus.queue_depth(amqp_url, queue) == 0, timeout=10, message="the queue to empty")
    assert bus.handled(database) == [(event_id, "once")]  # redelivery changed nothing
    assert bus.inbox_size(database) == 1


def test_a_message_that_always_fails_is_dead_lettered_after_its_retries_while_others_are_consumed(database, amqp_url):
    queue = f"test.poison.{uuid.uuid4().hex[:6]}"
    attempts: list[str] = []

    def fragile(session, event):
        attempts.append(event.message.value)
        if event.message.value == "poison":
            raise ValueError("this message can never be handled")
        bus.remember(session, event)

    worker = Consumer(queue, database, amqp_url, [Subscription(bus.THING_HAPPENED, fragile)], retry_delays_ms=(100, 300))
    with bus.running(worker):
        wait_for(lambda: _queue_exists(amqp_url, queue), timeout=15, message="the consumer's queue")
        for value in ("good-1", "poison", "good-2", "good-3"):
            bus.emit(database, value)
        relay_for(database, amqp_url).publish_batch()
        dead = dead_letter_queue_name(queue)
        wait_for(lambda: bus.queue_depth(amqp_url, dead) == 1, timeout=30, message="the dead-lettered message")

    assert sorted(v for _, v in bus.handled(database)) == ["good-1", "good-2", "good-3"]
    assert attempts.count("poison") == 3  # the first try and two retries
    [(properties, body)] = bus.drain(amqp_url, dead)
    assert GradeRecorded.FromString(body).value == "poison"
    assert properties.headers[ATTEMPT_HEADER] == 2
    assert bus.queue_depth(amqp_url, queue) == 0


def test_a_stopping_consumer_hands_its_prefetched_messages_back_instead_of_handling_each(database, amqp_url):
    """SIGTERM while a handler waits on a dependency that is stopping too: the consumer finishes
    that one message and returns the rest of its prefetch to the queue, so it stops in time."""
    import threading
    import time as clock

    queue = f"test.stopping.{uuid.uuid4().hex[:6]}"
    stop = threading.Event()

    def slow(session, event):
        stop.set()  # the signal arrives while this message is being handled
        clock.sleep(0.5)  # waiting on something that is going away
        bus.remember(session, event)

    worker = Consumer(queue, database, amqp_url, [Subscription(bus.THING_HAPPENED, slow)], prefetch=20)
    _declare(amqp_url, queue, worker)
    for n in range(10):
        bus.emit(database, str(n))
    assert relay_for(database, amqp_url).publish_batch() == 10
    wait_for(lambda: bus.queue_depth(amqp_url, queue) == 10, timeout=15, message="ten queued events")

    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the consumer did not stop"
    assert len(bus.handled(database)) == 1  # only the message in hand when the signal came
    wait_for(lambda: bus.queue_depth(amqp_url, queue) == 9, timeout=15, message="the rest back in the queue")

    with bus.running(Consumer(queue, database, amqp_url, [Subscription(bus.THING_HAPPENED, bus.remember)])):
        wait_for(lambda: len(bus.handled(database)) == 10, timeout=30, message="the rest handled after a restart")
    assert sorted(v for _, v in bus.handled(database)) == sorted(str(n) for n in range(10))


def _declare(amqp_url: str, queue: str, worker: Consumer) -> None:
    import pika

    from platform_kit.bus.amqp import declare_consumer_queues

    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    declare_consumer_queues(connection.channel(), queue, list(worker.subscriptions), worker.retry_delays_ms)
    connection.close()


def _queue_exists(amqp_url: str, queue: str) -> bool:
    try:
        bus.queue_depth(amqp_url, queue)
        return True
    except Exception:
        return False


def rabbitmq_app(action: str) -> None:
    subprocess.run(["rabbitmqctl", action], check=True, capture_output=True, timeout=120)


@pytest.fixture
def broker_restarts_afterwards():
    yield
    rabbitmq_app("start_app")  # whatever happened, leave the broker running
    subprocess.run(["rabbitmqctl", "await_startup"], check=False, capture_output=True, timeout=120)


def test_with_the_broker_stopped_writes_commit_and_their_events_are_published_once_it_is_back(
    database, amqp_url, broker_restarts_afterwards
):
    bus.declare_plain_queue(amqp_url, "observer", bus.THING_HAPPENED.routing_key)
    relay = relay_for(database, amqp_url, poll_interval=0.05, max_backoff=0.5)
    with bus.running(relay):
        before = bus.emit(database, "before")
        wait_for(lambda: relay.backlog() == 0, timeout=15, message="the first event to be published")

        rabbitmq_app("stop_app")
        during = [bus.emit(database, f"during-{n}") for n in range(20)]  # commits need no broker
        assert relay.backlog() == 20

        rabbitmq_app("start_app")
        wait_for(lambda: relay.backlog() == 0, timeout=90, interval=0.5, message="the outbox to drain")
    published = [p.message_id for p, _ in bus.drain(amqp_url, "observer")]
    assert sorted(published) == sorted([before, *during])  # each exactly once


# -- handle_many: the messages that arrive together in one transaction ----------------------------


class _Batches:
    """`handle_many` for the tiny service: remembers each event and the size of each batch."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, session, events) -> None:
        self.sizes.append(len(events))
        for event in events:
            bus.remember(session, event)


def _consume_batch_then_die_before_ack(url: str, amqp_url: str, queue: str) -> None:
    """Child process: handle the queued messages together, commit, die at the first ack."""

    class DiesBeforeAck(Consumer):
        def _ack(self, channel, delivery_tag):
            os._exit(17)

    database = bus.make_database(url)
    batches = _Batches()
    worker = DiesBeforeAck(queue, database, amqp_url, [Subscription(bus.THING_HAPPENED, bus.remember, handle_many=batches)])
    import threading

    worker.run(threading.Event())


def test_queued_events_are_handled_in_batches_on_postgresql_each_once(database, amqp_url):
    queue = f"test.batches.{uuid.uuid4().hex[:6]}"
    batches = _Batches()
    worker = Consumer(queue, database, amqp_url, [Subscription(bus.THING_HAPPENED, bus.remember, handle_many=batches)], prefetch=50)
    _declare(amqp_url, queue, worker)
    values = [str(n) for n in range(120)]
    for value in values:
        bus.emit(database, value)
    assert relay_for(database, amqp_url, batch_size=200).publish_batch() == 120
    wait_for(lambda: bus.queue_depth(amqp_url, queue) == 120, timeout=15, message="120 queued events")

    with bus.running(worker):
        wait_for(lambda: len(bus.handled(database)) == 120, timeout=30, message="every event handled")
        wait_for(lambda: bus.queue_depth(amqp_url, queue) == 0, timeout=10, message="every message acked")

    assert sorted(v for _, v in bus.handled(database)) == sorted(values)
    assert bus.inbox_size(database) == 120
    assert sum(batches.sizes) == 120 and max(batches.sizes) > 1 and max(batches.sizes) <= 50  # together, never past the prefetch


def test_a_consumer_killed_after_committing_a_batch_before_its_acks_changes_nothing_on_redelivery(database, amqp_url):
    queue = f"test.batch-killed.{uuid.uuid4().hex[:6]}"
    subscription = Subscription(bus.THING_HAPPENED, bus.remember, handle_many=_Batches())
    _declare(amqp_url, queue, Consumer(queue, database, amqp_url, [subscription]))
    for n in range(10):
        bus.emit(database, str(n))
    assert relay_for(database, amqp_url).publish_batch() == 10
    wait_for(lambda: bus.queue_depth(amqp_url, queue) == 10, timeout=15, message="ten queued events")

    child = multiprocessing.get_context("fork").Process(target=_consume_batch_then_die_before_ack, args=(database.url, amqp_url, queue))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 17, "the child should have died at its first ack"
    committed = bus.handled(database)
    assert committed, "the batch was committed before the ack"

    again = _Batches()
    with bus.running(Consumer(queue, database, amqp_url, [Subscription(bus.THING_HAPPENED, bus.remember, handle_many=again)])):
        wait_for(lambda: len(bus.handled(database)) == 10, timeout=30, message="all ten handled")
        wait_for(lambda: bus.queue_depth(amqp_url, queue) == 0, timeout=10, message="the queue to empty")
    assert sorted(v for _, v in bus.handled(database)) == [str(n) for n in range(10)]  # each once
    assert sum(again.sizes) == 10 - len(committed)  # the redelivered ones were left out of the batches
    assert bus.inbox_size(database) == 10
