"""RabbitMQ plumbing: connections, the topology every process declares, and a confirming publisher."""
from __future__ import annotations

from datetime import datetime

import pika
from pika.adapters.blocking_connection import BlockingChannel

EVENTS_EXCHANGE = "dziennik.events"  # topic; routing key = event type
DEAD_LETTER_EXCHANGE = "dziennik.dead-letter"  # direct; routing key = the consumer's queue name


def connect(amqp_url: str, connection_name: str) -> pika.BlockingConnection:
    params = pika.URLParameters(amqp_url)
    params.connection_attempts = 1
    params.socket_timeout = 5
    params.blocked_connection_timeout = 30
    params.heartbeat = 30
    params.client_properties = {"connection_name": connection_name}
    return pika.BlockingConnection(params)


def declare_exchanges(channel: BlockingChannel) -> None:
    channel.exchange_declare(EVENTS_EXCHANGE, exchange_type="topic", durable=True)
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="direct", durable=True)


def retry_queue_name(queue: str, attempt: int) -> str:
    return f"{queue}.retry.{attempt}"


def dead_letter_queue_name(queue: str) -> str:
    return f"{queue}.dead"


def declare_consumer_queues(
    channel: BlockingChannel, queue: str, routing_keys: list[str], retry_delays_ms: list[int]
) -> None:
    """A durable quorum queue bound to `routing_keys`, one delay queue per retry (its TTL sends
    messages back to the queue), and a dead-letter queue that rejected messages end in."""
    declare_exchanges(channel)
    channel.queue_declare(
        queue,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": queue,
        },
    )
    for key in routing_keys:
        channel.queue_bind(queue, EVENTS_EXCHANGE, routing_key=key)
    for attempt, delay in enumerate(retry_delays_ms):
        channel.queue_declare(
            retry_queue_name(queue, attempt),
            durable=True,
            arguments={"x-message-ttl": int(delay), "x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue},
        )
    dead = dead_letter_queue_name(queue)
    channel.queue_declare(dead, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(dead, DEAD_LETTER_EXCHANGE, routing_key=queue)


class Publisher:
    """Publishes persistent messages and waits for the broker's confirm of each one.

    Raises a pika exception when the broker refuses or cannot be reached; the caller decides
    what is retried. Reconnects lazily on the next publish after a failure.
    """

    def __init__(self, amqp_url: str, app_id: str) -> None:
        self.amqp_url = amqp_url
        self.app_id = app_id
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def _ensure_channel(self) -> BlockingChannel:
        if self._channel is None or not self._channel.is_open:
            self.close()
            self._connection = connect(self.amqp_url, f"{self.app_id}-publisher")
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
            declare_exchanges(self._channel)
        return self._channel

    def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        occurred_at: datetime,
        headers: dict,
        exchange: str = EVENTS_EXCHANGE,
    ) -> None:
        channel = self._ensure_channel()
        try:
            channel.basic_publish(
                exchange,
                routing_key,
                body,
                properties=pika.BasicProperties(
                    message_id=message_id,
                    type=routing_key,
                    timestamp=int(occurred_at.timestamp()),
                    app_id=self.app_id,
                    content_type="application/x-protobuf",
                    delivery_mode=pika.DeliveryMode.Persistent,
                    correlation_id=headers.get("correlation_id"),
                    headers={k: v for k, v in headers.items() if v is not None},
                ),
            )
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # already broken: nothing left to release
                pass
