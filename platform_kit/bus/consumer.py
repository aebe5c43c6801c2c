"""Event consumers: one durable queue each, an inbox for duplicates, ack only after commit.

A handler runs inside a database transaction together with the inbox row for its event, so a
redelivered event (the broker resends what was never acked) finds the inbox row and changes
nothing. A failing handler is retried through delay queues a bounded number of times, then the
message is rejected into the dead-letter queue while the consumer goes on with other messages.

A subscription with `handle_many` takes the messages of its type that arrived together (up to the
prefetch) in one transaction with their inbox rows: a class's grades become one transaction and
one question to each service asked, not thirty. If that transaction fails, each message is
handled alone, so one bad message is retried and dead-lettered by itself as above; if it failed
for an outage of a dependency, the whole batch waits in the first delay queue instead.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import pika
from google.protobuf.message import DecodeError
from sqlalchemy import exists, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from platform_kit.bus.amqp import connect, declare_consumer_queues, retry_queue_name
from platform_kit.bus.events import Event, EventType
from platform_kit.bus.tables import INBOX_TABLE as inbox
from platform_kit.context import reset_correlation_id, set_correlation_id
from platform_kit.db import Database, insert_new
from platform_kit.errors import Unavailable
from platform_kit.metrics import EVENTS_CONSUMED

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-dziennik-attempt"
DEFAULT_RETRY_DELAYS_MS = (1_000, 10_000, 60_000)

Handler = Callable[[Session, Event], None]
ManyHandler = Callable[[Session, list[Event]], None]


@dataclass(frozen=True)
class Subscription:
    event_type: EventType
    handle: Handler
    # The same work for several events in one transaction (optional; `handle` still does one).
    handle_many: ManyHandler | None = None


@dataclass(frozen=True)
class Delivery:
    """A message as the broker handed it over, until it is acked, retried or dead-lettered."""

    channel: object
    method: object
    properties: object
    body: bytes


def is_transient(exc: BaseException) -> bool:
    """An outage of something we depend on, not a fault of this message: retry without counting."""
    if isinstance(exc, (Unavailable, OperationalError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    # An RpcError exists only where a handler loaded grpcio; a consumer that calls no service does
    # not import it for this check (~14 MB, docs/memory.md).
    grpc = sys.modules.get("grpc")
    # CANCELLED: the service called was shutting down when the call arrived (a rolling upgrade).
    if grpc is not None and isinstance(exc, grpc.RpcError) and exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
        return True
    return False


class Consumer:
    def __init__(
        self,
        queue: str,
        database: Database,
        amqp_url: str,
        subscriptions: list[Subscription],
        *,
        retry_delays_ms: tuple[int, ...] = DEFAULT_RETRY_DELAYS_MS,
        prefetch: int = 20,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.queue = queue
        self.database = database
        self.amqp_url = amqp_url
        self.subscriptions = {s.event_type.routing_key: s for s in subscriptions}
        self.retry_delays_ms = list(retry_delays_ms)
        self.prefetch = prefetch
        self.after_commit = after_commit
        self._channel = None
        self._stop = threading.Event()
        self._waiting: list[Delivery] = []  # messages for `handle_many`, taken after each read

    # -- the loop -------------------------------------------------------------------------

    def run(self, stop: threading.Event, *, max_backoff: float = 5.0) -> None:
        """Consume until `stop` is set, reconnecting with back-off while the broker is away."""
        self._stop = stop
        backoff = 0.2
        while not stop.is_set():
            connection = None
            try:
                connection = connect(self.amqp_url, f"consumer-{self.queue}")
                channel = connection.channel()
                channel.confirm_delivery()  # retry copies are confirmed before the original is acked
                declare_consumer_queues(channel, self.queue, list(self.subscriptions), self.retry_delays_ms)
                channel.basic_qos(prefetch_count=self.prefetch)
                channel.basic_consume(self.queue, self._on_message)
                self._channel = channel
                log.info("consuming %s", self.queue)
                backoff = 0.2
                while not stop.is_set():
                    # Returns as soon as messages were read; those for `handle_many` wait in
                    # `_waiting` until every message read with them has been dispatched.
                    connection.process_data_events(time_limit=0.2)
                    self._settle_waiting()
            except pika.exceptions.AMQPError as exc:
                log.warning("consumer %s lost the broker, reconnecting in %.1fs: %r", self.queue, backoff, exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, max_backoff)
            finally:
                self._channel = None
                self._waiting = []  # unacked: the broker delivers them again to whoever consumes next
                if connection is not None and connection.is_open:
                    try:
                        connection.close()
                    except pika.exceptions.AMQPError:
                        pass

    # -- one message -----------------------------------------------------------------------

    def _on_message(self, channel, method, properties, body: bytes) -> None:
        if self._stop.is_set():
            # Stopping: the rest of the prefetched messages go back to the queue untouched instead
            # of each being handled (a handler may wait seconds for a dependency that is stopping too).
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        delivery = Delivery(channel, method, properties, body)
        subscription = self.subscriptions.get(properties.type or "")
        if subscription is not None and subscription.handle_many is not None:
            self._waiting.append(delivery)
            return
        self._settle(delivery, lambda: self._process(properties, dict(properties.headers or {}), body))

    def _settle(self, delivery: Delivery, outcome_of: Callable[[], str]) -> None:
        """Ack, retry or dead-letter one message by the outcome of handling it."""
        properties = delivery.properties
        headers = dict(properties.headers or {})
        token = set_correlation_id(headers.get("correlation_id") or properties.correlation_id)
        try:
            outcome = outcome_of()
            if outcome in ("handled", "duplicate"):
                self._ack(delivery.channel, delivery.method.delivery_tag)
            elif outcome in ("retried", "waiting"):
                self._retry(delivery.channel, delivery.method, properties, headers, delivery.body, count_attempt=outcome == "retried")
            else:
                self._dead_letter(delivery.channel, delivery.method.delivery_tag)
            EVENTS_CONSUMED.labels(self.queue, properties.type or "", outcome).inc()
        finally:
            reset_correlation_id(token)

    def _settle_waiting(self) -> None:
        """Handle the messages waiting for `handle_many`, each type's in one transaction."""
        waiting, self._waiting = self._waiting, []
        if not waiting:
            return
        if self._stop.is_set():
            for delivery in waiting:
                delivery.channel.basic_nack(delivery.method.delivery_tag, requeue=True)
            return
        by_type: dict[str, list[Delivery]] = {}
        for delivery in waiting:
            by_type.setdefault(delivery.properties.type, []).append(delivery)
        for routing_key, deliveries in by_type.items():
            self._settle_together(self.subscriptions[routing_key], deliveries)

    def _settle_together(self, subscription: Subscription, deliveries: list[Delivery]) -> None:
        events: list[tuple[Delivery, Event]] = []
        for delivery in deliveries:
            event = self._event(subscription, delivery.properties, dict(delivery.properties.headers or {}), delivery.body)
            if event is None:
                self._settle(delivery, lambda: "dead_lettered")
            else:
                events.append((delivery, event))
        if not events:
            return
        # The handler's own log lines carry the request's id when the batch is one request's.
        correlation_ids = {event.correlation_id for _, event in events}
        token = set_correlation_id(correlation_ids.pop() if len(correlation_ids) == 1 else None)
        try:
            fresh = self.handle_many(subscription, [event for _, event in events])
        except Exception as exc:
            if is_transient(exc):
                # A dependency is away: every message would wait for it alone, one after another.
                log.warning("%d %s wait for an outage: %r", len(events), subscription.event_type.routing_key, exc)
                for delivery, _ in events:
                    self._settle(delivery, lambda: "waiting")
                return
            log.info("%d %s handled together failed (%r); handling each alone", len(events), subscription.event_type.routing_key, exc)
            for delivery, _ in events:
                self._settle(delivery, lambda d=delivery: self._process(d.properties, dict(d.properties.headers or {}), d.body))
            return
        finally:
            reset_correlation_id(token)
        wake = bool(fresh)
        for delivery, event in events:
            handled_now = event.event_id in fresh
            fresh.discard(event.event_id)  # a second copy in the same batch is a duplicate
            self._settle(delivery, lambda event=event, handled_now=handled_now: self._logged(event, handled_now))
        if wake and self.after_commit is not None:
            self.after_commit()

    def _process(self, properties, headers: dict, body: bytes) -> str:
        subscription = self.subscriptions.get(properties.type or "")
        event = self._event(subscription, properties, headers, body)
        if event is None:
            return "dead_lettered"
        try:
            handled = self.handle(subscription, event)
        except Exception as exc:
            attempt = int(headers.get(ATTEMPT_HEADER, 0))
            transient = is_transient(exc)
            log.warning(
                "handler failed for %s %s (attempt %d, transient=%s): %r",
                event.type, event.event_id, attempt + 1, transient, exc,
                exc_info=not transient,
            )
            if transient:
                return "waiting"
            if attempt < len(self.retry_delays_ms):
                return "retried"
            return "dead_lettered"
        if handled and self.after_commit is not None:
            self.after_commit()
        return self._logged(event, handled)

    @staticmethod
    def _logged(event: Event, handled: bool) -> str:
        log.info("%s %s %s", "handled" if handled else "already handled", event.type, event.event_id)
        return "handled" if handled else "duplicate"

    def _event(self, subscription: Subscription | None, properties, headers: dict, body: bytes) -> Event | None:
        """The message as the handler sees it; None for a message no handler can take (poison)."""
        if subscription is None or not properties.message_id:
            log.error("message without a known type or id on %s: type=%r", self.queue, properties.type)
            return None
        try:
            message = subscription.event_type.message_class.FromString(body)
        except DecodeError:
            log.error("undecodable %s %s on %s", properties.type, properties.message_id, self.queue)
            return None
        return Event(
            event_id=properties.message_id,
            type=properties.type,
            message=message,
            occurred_at=datetime.fromtimestamp(properties.timestamp, timezone.utc) if properties.timestamp else None,
            school_id=headers.get("school_id"),
            subject=headers.get("subject"),
            correlation_id=headers.get("correlation_id"),
            headers=headers,
        )

    def handle(self, subscription: Subscription, event: Event) -> bool:
        """Run the handler and record the event in the inbox, in one transaction.
        Returns False when the inbox shows the event was handled before."""
        try:
            with self.database.transaction() as session:
                # The inbox's primary key refuses an event handled before, before the handler runs.
                session.execute(
                    insert(inbox).values(
                        consumer=self.queue, event_id=event.event_id, routing_key=event.type, processed_at=datetime.now(timezone.utc)
                    )
                )
                subscription.handle(session, event)
            return True
        except IntegrityError:
            if self._in_inbox(event.event_id):  # handled before (or by a parallel delivery just now)
                return False
            raise

    def handle_many(self, subscription: Subscription, events: list[Event]) -> set[str]:
        """Record the events in the inbox and run `handle_many` for those not handled before, in
        one transaction. Returns the ids of the events handled now."""
        unique = list({event.event_id: event for event in events}.values())
        now = datetime.now(timezone.utc)
        with self.database.transaction() as session:
            # ON CONFLICT DO NOTHING: an event handled before (or by a parallel delivery, whose
            # transaction this one waits for) is left out of what the handler gets.
            rows = [{"consumer": self.queue, "event_id": e.event_id, "routing_key": e.type, "processed_at": now} for e in unique]
            fresh = set(insert_new(session, inbox, rows, inbox.c.event_id))
            if fresh:
                subscription.handle_many(session, [event for event in unique if event.event_id in fresh])
        return fresh

    def _in_inbox(self, event_id: str) -> bool:
        with self.database.transaction() as session:
            return bool(session.execute(select(exists().where(inbox.c.consumer == self.queue, inbox.c.event_id == event_id))).scalar())

    # -- broker actions (separate methods so fault tests can interrupt them) ------------------

    def _ack(self, channel, delivery_tag: int) -> None:
        channel.basic_ack(delivery_tag)

    def _dead_letter(self, channel, delivery_tag: int) -> None:
        log.error("dead-lettering a message on %s", self.queue)
        channel.basic_reject(delivery_tag, requeue=False)

    def _retry(self, channel, method, properties, headers: dict, body: bytes, *, count_attempt: bool) -> None:
        """Park a copy in a delay queue (confirmed), then ack the original. An outage of a
        dependency waits in the first delay queue without using up the message's attempts."""
        attempt = int(headers.get(ATTEMPT_HEADER, 0))
        if not self.retry_delays_ms:
            time.sleep(1)
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        delay_queue = retry_queue_name(self.queue, attempt if count_attempt else 0)
        if count_attempt:
            headers[ATTEMPT_HEADER] = attempt + 1
        properties.headers = headers
        channel.basic_publish("", delay_queue, body, properties=properties)
        channel.basic_ack(method.delivery_tag)
