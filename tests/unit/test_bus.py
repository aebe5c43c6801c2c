"""The outbox, its relay and consumers' inbox on a SQLite file (no broker: the broker adapters,
Publisher and a pika channel, are replaced by plain recording classes)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import grpc
import pika
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.exc import DBAPIError, OperationalError

from dziennik.gradebook.v1 import events_pb2
from dziennik.identity.v1 import identity_pb2
from platform_kit.bus import Event, define_bus_tables, record_event, record_events
from platform_kit.bus.amqp import retry_queue_name
from platform_kit.bus.consumer import ATTEMPT_HEADER, Consumer, Subscription, is_transient
from platform_kit.bus.relay import OutboxRelay
from platform_kit.context import reset_correlation_id, set_correlation_id
from platform_kit.db import Database
from platform_kit.errors import Unavailable
from services.gradebook.events import GRADE_RECORDED

QUEUE = "notify.grade_recorded"


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'bus.db'}")
    metadata = MetaData()
    outbox, inbox = define_bus_tables(metadata)
    notes = Table(
        "notes", metadata, Column("id", Integer, primary_key=True), Column("event_id", String(36)), Column("text", String(200))
    )
    metadata.create_all(database.engine)
    database.tables = {"outbox": outbox, "inbox": inbox, "notes": notes}
    yield database
    database.dispose()


def _rows(db, name: str) -> list:
    table = db.tables[name]
    with db.transaction() as session:
        order = table.c.seq if name == "outbox" else list(table.primary_key.columns)[0]
        return session.execute(select(table).order_by(order)).all()


def _grade(n: int = 1) -> events_pb2.GradeRecorded:
    return events_pb2.GradeRecorded(grade_id=f"g-{n}", school_id="school-1", student_id="s-1", value="4+", subject_name="Fizyka")


def _record(db, count: int) -> list[str]:
    with db.transaction() as session:
        return [record_event(session, GRADE_RECORDED, _grade(n), school_id="school-1", subject=f"s-{n}") for n in range(count)]


# -- outbox ------------------------------------------------------------------------------------


def test_event_recorded_in_a_committed_transaction(db):
    token = set_correlation_id("req-42")
    try:
        with db.transaction() as session:
            event_id = record_event(session, GRADE_RECORDED, _grade(7), school_id="school-1", subject="student-9")
    finally:
        reset_correlation_id(token)

    [row] = _rows(db, "outbox")
    assert row.event_id == event_id
    assert uuid.UUID(event_id)
    assert row.routing_key == "gradebook.grade_recorded.v1"
    assert events_pb2.GradeRecorded.FromString(row.payload) == _grade(7)
    assert row.headers == {"school_id": "school-1", "subject": "student-9", "correlation_id": "req-42"}
    assert row.occurred_at is not None
    assert row.published_at is None


def test_events_recorded_together_keep_their_order_and_each_its_own_headers(db):
    with db.transaction() as session:
        ids = record_events(session, GRADE_RECORDED, [(_grade(n), "school-1", f"student-{n}") for n in range(3)])
        assert record_events(session, GRADE_RECORDED, []) == []

    rows = _rows(db, "outbox")
    assert [row.event_id for row in rows] == ids and len(set(ids)) == 3
    assert [events_pb2.GradeRecorded.FromString(row.payload).grade_id for row in rows] == ["g-0", "g-1", "g-2"]
    assert [row.headers["subject"] for row in rows] == ["student-0", "student-1", "student-2"]


def test_a_wrong_message_among_events_recorded_together_records_none_of_them(db):
    with db.transaction() as session:
        with pytest.raises(TypeError, match="GradeRecorded"):
            record_events(session, GRADE_RECORDED, [(_grade(1), None, None), (identity_pb2.LoginRequest(login="x"), None, None)])

    assert _rows(db, "outbox") == []


def test_no_event_when_the_transaction_rolls_back(db):
    with pytest.raises(RuntimeError, match="use case failed"):
        with db.transaction() as session:
            record_event(session, GRADE_RECORDED, _grade())
            raise RuntimeError("use case failed")

    assert _rows(db, "outbox") == []


def test_wrong_message_class_is_refused(db):
    with db.transaction() as session:
        with pytest.raises(TypeError, match="GradeRecorded"):
            record_event(session, GRADE_RECORDED, identity_pb2.LoginRequest(login="x"))

    assert _rows(db, "outbox") == []


# -- relay -------------------------------------------------------------------------------------


class RecordingPublisher:
    """Stands in for platform_kit.bus.amqp.Publisher (the broker adapter): records each publish,
    and refuses the `fail_at`-th attempt the way a broker that went away would."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.attempts = 0
        self.published: list[dict] = []

    def publish(self, routing_key, body, *, message_id, occurred_at, headers, exchange="dziennik.events"):
        self.attempts += 1
        if self.attempts == self.fail_at:
            raise pika.exceptions.AMQPConnectionError("broker went away")
        self.published.append(
            {"routing_key": routing_key, "body": body, "message_id": message_id, "occurred_at": occurred_at, "headers": headers}
        )

    def close(self) -> None:
        pass


def test_relay_publishes_pending_rows_once(db):
    event_ids = _record(db, 3)
    publisher = RecordingPublisher()
    relay = OutboxRelay(db, publisher)

    assert relay.backlog() == 3
    assert relay.publish_batch() == 3
    assert relay.publish_batch() == 0

    assert [p["message_id"] for p in publisher.published] == event_ids
    first = publisher.published[0]
    assert first["routing_key"] == "gradebook.grade_recorded.v1"
    assert events_pb2.GradeRecorded.FromString(first["body"]) == _grade(0)
    assert first["headers"] == {"school_id": "school-1", "subject": "s-0", "correlation_id": None}
    assert first["occurred_at"].tzinfo is not None
    assert all(row.published_at is not None for row in _rows(db, "outbox"))
    assert relay.backlog() == 0


def test_relay_failure_keeps_the_rest_pending_and_never_sends_twice(db):
    event_ids = _record(db, 5)
    publisher = RecordingPublisher(fail_at=3)
    relay = OutboxRelay(db, publisher)

    with pytest.raises(pika.exceptions.AMQPConnectionError):
        relay.publish_batch()

    rows = _rows(db, "outbox")
    assert [row.published_at is not None for row in rows] == [True, True, False, False, False]
    assert [p["message_id"] for p in publisher.published] == event_ids[:2]

    assert relay.publish_batch() == 3  # the broker is back
    assert relay.publish_batch() == 0

    sent = [p["message_id"] for p in publisher.published]
    assert sent == event_ids
    assert len(set(sent)) == len(sent)
    assert all(row.published_at is not None for row in _rows(db, "outbox"))


def test_relay_works_in_batches_in_order(db):
    event_ids = _record(db, 5)
    publisher = RecordingPublisher()
    relay = OutboxRelay(db, publisher, batch_size=2)

    assert [relay.publish_batch() for _ in range(4)] == [2, 2, 1, 0]
    assert [p["message_id"] for p in publisher.published] == event_ids


def test_relay_skips_rolled_back_work(db):
    _record(db, 1)
    with pytest.raises(RuntimeError):
        with db.transaction() as session:
            record_event(session, GRADE_RECORDED, _grade(99))
            raise RuntimeError("rolled back")
    publisher = RecordingPublisher()

    assert OutboxRelay(db, publisher).publish_batch() == 1
    assert [events_pb2.GradeRecorded.FromString(p["body"]).grade_id for p in publisher.published] == ["g-0"]


# -- consumer inbox ----------------------------------------------------------------------------


def _event(event_id: str | None = None) -> Event:
    return Event(
        event_id=event_id or str(uuid.uuid4()),
        type=GRADE_RECORDED.routing_key,
        message=_grade(),
        occurred_at=datetime.now(timezone.utc),
        school_id="school-1",
    )


class NoteHandler:
    """A handler that writes a row in the handler's own table, and can be told to fail."""

    def __init__(self, db, error: Exception | None = None) -> None:
        self.notes = db.tables["notes"]
        self.error = error
        self.calls: list[str] = []

    def __call__(self, session, event: Event) -> None:
        self.calls.append(event.event_id)
        session.execute(insert(self.notes).values(event_id=event.event_id, text=event.message.value))
        if self.error is not None:
            raise self.error


def _consumer(db, handler, **kwargs) -> tuple[Consumer, Subscription]:
    subscription = Subscription(GRADE_RECORDED, handler)
    # The AMQP URL is never used: handle() and _on_message() touch only the database.
    return Consumer(QUEUE, db, "amqp://guest:guest@127.0.0.1:1/%2F", [subscription], **kwargs), subscription


def test_first_delivery_runs_the_handler_with_an_inbox_row(db):
    handler = NoteHandler(db)
    consumer, subscription = _consumer(db, handler)
    event = _event()

    assert consumer.handle(subscription, event) is True

    assert handler.calls == [event.event_id]
    [inbox_row] = _rows(db, "inbox")
    assert (inbox_row.consumer, inbox_row.event_id, inbox_row.routing_key) == (QUEUE, event.event_id, GRADE_RECORDED.routing_key)
    assert [row.event_id for row in _rows(db, "notes")] == [event.event_id]


def test_redelivery_is_a_no_op(db):
    handler = NoteHandler(db)
    consumer, subscription = _consumer(db, handler)
    event = _event()
    consumer.handle(subscription, event)

    assert consumer.handle(subscription, _event(event.event_id)) is False

    assert handler.calls == [event.event_id]
    assert len(_rows(db, "inbox")) == 1
    assert len(_rows(db, "notes")) == 1


def test_inbox_is_per_consumer(db):
    first, subscription = _consumer(db, NoteHandler(db))
    other_handler = NoteHandler(db)
    other_subscription = Subscription(GRADE_RECORDED, other_handler)
    other = Consumer("billing.grade_recorded", db, "amqp://guest:guest@127.0.0.1:1/%2F", [other_subscription])
    event = _event()
    first.handle(subscription, event)

    assert other.handle(other_subscription, event) is True

    assert other_handler.calls == [event.event_id]
    assert sorted(row.consumer for row in _rows(db, "inbox")) == ["billing.grade_recorded", QUEUE]


def test_failing_handler_leaves_nothing_so_a_retry_runs_it_again(db):
    failing = NoteHandler(db, error=ValueError("provider said no"))
    consumer, subscription = _consumer(db, failing)
    event = _event()

    with pytest.raises(ValueError):
        consumer.handle(subscription, event)

    assert _rows(db, "inbox") == []
    assert _rows(db, "notes") == []

    working = NoteHandler(db)
    assert consumer.handle(Subscription(GRADE_RECORDED, working), event) is True
    assert working.calls == [event.event_id]
    assert len(_rows(db, "inbox")) == 1


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (OperationalError("SELECT 1", {}, ConnectionRefusedError()), True),
        (Unavailable("identity does not answer"), True),
        (DBAPIError("SELECT 1", {}, Exception(), connection_invalidated=True), True),
        (DBAPIError("SELECT 1", {}, Exception(), connection_invalidated=False), False),
        ("rpc:UNAVAILABLE", True),
        ("rpc:DEADLINE_EXCEEDED", True),
        ("rpc:CANCELLED", True),
        ("rpc:INVALID_ARGUMENT", False),
        ("rpc:NOT_FOUND", False),
        (ValueError("bad payload"), False),
        (KeyError("value"), False),
    ],
    ids=str,
)
def test_is_transient(error, transient):
    if isinstance(error, str):
        error = FakeRpcError(getattr(grpc.StatusCode, error.split(":")[1]))
    assert is_transient(error) is transient


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return "fake"


# -- one message through the consumer, with a recording stand-in for the pika channel ----------


class RecordingChannel:
    """Stands in for a pika BlockingChannel: records acks, rejects and publishes."""

    def __init__(self) -> None:
        self.actions: list[tuple] = []

    def basic_ack(self, delivery_tag):
        self.actions.append(("ack", delivery_tag))

    def basic_reject(self, delivery_tag, requeue=True):
        self.actions.append(("reject", delivery_tag, requeue))

    def basic_nack(self, delivery_tag, requeue=True):
        self.actions.append(("nack", delivery_tag, requeue))

    def basic_publish(self, exchange, routing_key, body, properties=None):
        self.actions.append(("publish", exchange, routing_key, dict(properties.headers or {})))


class _Method:
    delivery_tag = 7


def _deliver(consumer, *, event_id: str | None = None, attempt: int | None = None, type_=GRADE_RECORDED.routing_key, body=None):
    headers = {"school_id": "school-1", "correlation_id": "req-1"}
    if attempt is not None:
        headers[ATTEMPT_HEADER] = attempt
    properties = pika.BasicProperties(
        message_id=event_id or str(uuid.uuid4()), type=type_, timestamp=1_700_000_000, headers=headers
    )
    channel = RecordingChannel()
    consumer._on_message(channel, _Method(), properties, _grade().SerializeToString() if body is None else body)
    return channel.actions


def test_handled_message_is_acked(db):
    consumer, _ = _consumer(db, NoteHandler(db))

    assert _deliver(consumer) == [("ack", 7)]


def test_duplicate_message_is_acked_without_running_the_handler(db):
    handler = NoteHandler(db)
    consumer, _ = _consumer(db, handler)
    event_id = str(uuid.uuid4())
    _deliver(consumer, event_id=event_id)

    assert _deliver(consumer, event_id=event_id) == [("ack", 7)]
    assert handler.calls == [event_id]


def test_failing_message_goes_to_the_next_delay_queue(db):
    consumer, _ = _consumer(db, NoteHandler(db, error=ValueError("bad")), retry_delays_ms=(10, 20))

    first = _deliver(consumer)
    second = _deliver(consumer, attempt=1)

    retry_headers = {"school_id": "school-1", "correlation_id": "req-1", ATTEMPT_HEADER: 1}
    assert first == [("publish", "", retry_queue_name(QUEUE, 0), retry_headers), ("ack", 7)]
    assert second[0][2] == retry_queue_name(QUEUE, 1)
    assert second[0][3][ATTEMPT_HEADER] == 2


def test_message_is_dead_lettered_after_the_last_retry(db):
    consumer, _ = _consumer(db, NoteHandler(db, error=ValueError("bad")), retry_delays_ms=(10, 20))

    assert _deliver(consumer, attempt=2) == [("reject", 7, False)]


def test_outage_waits_without_using_up_attempts(db):
    consumer, _ = _consumer(db, NoteHandler(db, error=Unavailable("identity down")), retry_delays_ms=(10, 20))

    actions = _deliver(consumer, attempt=2)

    assert actions[0][:3] == ("publish", "", retry_queue_name(QUEUE, 0))
    assert actions[0][3][ATTEMPT_HEADER] == 2  # not counted
    assert actions[1] == ("ack", 7)


@pytest.mark.parametrize(
    "kwargs", [{"type_": "gradebook.unknown.v1"}, {"body": b"\xff\xff\xff"}], ids=["unknown type", "undecodable"]
)
def test_poison_message_is_dead_lettered_at_once(db, kwargs):
    handler = NoteHandler(db)
    consumer, _ = _consumer(db, handler)

    assert _deliver(consumer, **kwargs) == [("reject", 7, False)]
    assert handler.calls == []


# -- several messages of one type in one transaction (Subscription.handle_many) ------------------


class BatchNoteHandler(NoteHandler):
    """Writes one note per event; as `handle_many` it records each batch it was given, and fails
    a whole batch holding the event whose value is `poison` (alone, only that one fails)."""

    def __init__(self, db, poison: str | None = None) -> None:
        super().__init__(db)
        self.poison = poison
        self.batches: list[list[str]] = []

    def __call__(self, session, event: Event) -> None:
        if event.message.value == self.poison:
            raise ValueError("this one can never be handled")
        super().__call__(session, event)

    def many(self, session, events: list[Event]) -> None:
        self.batches.append([event.event_id for event in events])
        for event in events:
            self(session, event)


def _batch_consumer(db, handler: BatchNoteHandler, **kwargs) -> Consumer:
    subscription = Subscription(GRADE_RECORDED, handler, handle_many=handler.many)
    return Consumer(QUEUE, db, "amqp://guest:guest@127.0.0.1:1/%2F", [subscription], retry_delays_ms=(10, 20), **kwargs)


class _Tag:
    def __init__(self, delivery_tag: int) -> None:
        self.delivery_tag = delivery_tag


def _arrive(consumer, channel, messages: list[tuple[str, events_pb2.GradeRecorded | bytes]]) -> None:
    """Messages read from the broker together: each dispatched to `_on_message` in turn."""
    for tag, (event_id, message) in enumerate(messages, start=1):
        properties = pika.BasicProperties(
            message_id=event_id, type=GRADE_RECORDED.routing_key, timestamp=1_700_000_000, headers={"school_id": "school-1", "correlation_id": f"req-{tag}"}
        )
        consumer._on_message(channel, _Tag(tag), properties, message if isinstance(message, bytes) else message.SerializeToString())


def _valued(value: str) -> events_pb2.GradeRecorded:
    return events_pb2.GradeRecorded(grade_id=f"g-{value}", school_id="school-1", student_id="s-1", value=value, subject_name="Fizyka")


def test_messages_read_together_are_handled_in_one_transaction_and_each_acked(db):
    handler = BatchNoteHandler(db)
    woken = []
    consumer = _batch_consumer(db, handler, after_commit=lambda: woken.append(1))
    channel = RecordingChannel()
    ids = [str(uuid.uuid4()) for _ in range(3)]

    _arrive(consumer, channel, [(event_id, _valued(str(n))) for n, event_id in enumerate(ids)])
    assert channel.actions == [] and handler.batches == []  # waiting for the rest of the read

    consumer._settle_waiting()

    assert handler.batches == [ids]
    assert channel.actions == [("ack", 1), ("ack", 2), ("ack", 3)]
    assert sorted(row.event_id for row in _rows(db, "inbox")) == sorted(ids)
    assert [row.event_id for row in _rows(db, "notes")] == ids
    assert woken == [1]  # the dispatcher is woken once for the batch


def test_a_batch_leaves_out_events_handled_before_and_second_copies_and_acks_them_as_duplicates(db):
    handler = BatchNoteHandler(db)
    consumer = _batch_consumer(db, handler)
    before = str(uuid.uuid4())
    consumer.handle(consumer.subscriptions[GRADE_RECORDED.routing_key], _event(before))
    new = str(uuid.uuid4())
    channel = RecordingChannel()

    _arrive(consumer, channel, [(before, _valued("1")), (new, _valued("2")), (new, _valued("2"))])
    consumer._settle_waiting()

    assert handler.batches == [[new]]
    assert channel.actions == [("ack", 1), ("ack", 2), ("ack", 3)]
    assert len(_rows(db, "inbox")) == 2
    duplicates = REGISTRY.get_sample_value("events_consumed_total", {"consumer": QUEUE, "routing_key": GRADE_RECORDED.routing_key, "outcome": "duplicate"})
    consumer._on_message(channel, _Tag(4), pika.BasicProperties(message_id=new, type=GRADE_RECORDED.routing_key, headers={}), _valued("2").SerializeToString())
    consumer._settle_waiting()
    assert REGISTRY.get_sample_value("events_consumed_total", {"consumer": QUEUE, "routing_key": GRADE_RECORDED.routing_key, "outcome": "duplicate"}) == duplicates + 1


def test_a_failing_batch_is_handled_message_by_message_so_only_the_bad_one_is_retried(db):
    handler = BatchNoteHandler(db, poison="poison")
    consumer = _batch_consumer(db, handler)
    channel = RecordingChannel()
    good, bad, other = (str(uuid.uuid4()) for _ in range(3))

    _arrive(consumer, channel, [(good, _valued("5")), (bad, _valued("poison")), (other, _valued("4"))])
    consumer._settle_waiting()

    assert handler.batches == [[good, bad, other]]  # tried together first, rolled back
    assert channel.actions[0] == ("ack", 1)
    assert channel.actions[1][:3] == ("publish", "", retry_queue_name(QUEUE, 0)) and channel.actions[1][3][ATTEMPT_HEADER] == 1
    assert channel.actions[2:] == [("ack", 2), ("ack", 3)]  # the bad one's original, once its copy waits
    assert sorted(row.event_id for row in _rows(db, "notes")) == sorted([good, other])
    assert sorted(row.event_id for row in _rows(db, "inbox")) == sorted([good, other])


def test_an_undecodable_message_among_a_batch_is_dead_lettered_and_the_rest_handled(db):
    handler = BatchNoteHandler(db)
    consumer = _batch_consumer(db, handler)
    channel = RecordingChannel()
    good = str(uuid.uuid4())

    _arrive(consumer, channel, [(str(uuid.uuid4()), b"\xff\xff\xff"), (good, _valued("5"))])
    consumer._settle_waiting()

    assert channel.actions == [("reject", 1, False), ("ack", 2)]
    assert handler.batches == [[good]]


def test_a_stopping_consumer_hands_waiting_messages_back_unhandled(db):
    handler = BatchNoteHandler(db)
    consumer = _batch_consumer(db, handler)
    channel = RecordingChannel()
    _arrive(consumer, channel, [(str(uuid.uuid4()), _valued("5")), (str(uuid.uuid4()), _valued("4"))])

    consumer._stop.set()
    consumer._settle_waiting()

    assert channel.actions == [("nack", 1, True), ("nack", 2, True)]
    assert handler.batches == [] and _rows(db, "inbox") == []


def test_a_batch_that_meets_an_outage_waits_whole_in_the_first_delay_queue_without_using_attempts(db):
    class Outage(BatchNoteHandler):
        def many(self, session, events):
            self.batches.append([event.event_id for event in events])
            raise Unavailable("identity does not answer")

    handler = Outage(db)
    woken = []
    consumer = _batch_consumer(db, handler, after_commit=lambda: woken.append(1))
    channel = RecordingChannel()
    _arrive(consumer, channel, [(str(uuid.uuid4()), _valued("5")), (str(uuid.uuid4()), _valued("4"))])

    consumer._settle_waiting()

    assert len(handler.batches) == 1 and handler.calls == []  # not tried again one by one
    published = [action for action in channel.actions if action[0] == "publish"]
    assert [action[2] for action in published] == [retry_queue_name(QUEUE, 0)] * 2
    assert all(ATTEMPT_HEADER not in action[3] for action in published)
    assert [action for action in channel.actions if action[0] == "ack"] == [("ack", 1), ("ack", 2)]
    assert _rows(db, "inbox") == [] and woken == []


def test_a_batch_of_events_all_handled_before_does_not_wake_anyone(db):
    handler = BatchNoteHandler(db)
    woken = []
    consumer = _batch_consumer(db, handler, after_commit=lambda: woken.append(1))
    event_id = str(uuid.uuid4())
    consumer.handle(consumer.subscriptions[GRADE_RECORDED.routing_key], _event(event_id))

    _arrive(consumer, RecordingChannel(), [(event_id, _valued("5"))])
    consumer._settle_waiting()

    assert handler.batches == [] and woken == []
