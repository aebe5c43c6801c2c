"""The outbox relay: publishes committed outbox rows with publisher confirms, marks them sent.

Several relays may run against one PostgreSQL database: each claims a batch with
`FOR UPDATE SKIP LOCKED`. A crash between the broker's confirm and the row's update publishes
that row again later, which consumers' inboxes turn into a no-op (at-least-once, exactly-once in effect).
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

from sqlalchemy import func, select, update

from platform_kit.bus.amqp import Publisher
from platform_kit.bus.tables import OUTBOX_TABLE as outbox
from platform_kit.db import Database
from platform_kit.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        database: Database,
        publisher: Publisher,
        *,
        batch_size: int = 100,
        poll_interval: float = 0.2,
        max_backoff: float = 5.0,
    ) -> None:
        self.database = database
        self.publisher = publisher
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff

    def publish_batch(self) -> int:
        """Publish up to one batch of pending rows; returns how many were published."""
        published: list[int] = []
        failure: Exception | None = None
        with self.database.transaction() as session:
            rows = session.execute(
                select(outbox.c.seq, outbox.c.event_id, outbox.c.routing_key, outbox.c.payload, outbox.c.headers, outbox.c.occurred_at)
                .where(outbox.c.published_at.is_(None))
                .order_by(outbox.c.seq)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                occurred_at = row.occurred_at if row.occurred_at.tzinfo else row.occurred_at.replace(tzinfo=timezone.utc)
                try:
                    self.publisher.publish(
                        row.routing_key, row.payload, message_id=row.event_id, occurred_at=occurred_at, headers=row.headers or {}
                    )
                except Exception as exc:
                    failure = exc
                    break
                published.append(row.seq)
                EVENTS_PUBLISHED.labels(row.routing_key).inc()
            # Rows confirmed before a failure are marked too, so they are not sent twice.
            if published:
                session.execute(update(outbox).where(outbox.c.seq.in_(published)).values(published_at=datetime.now(timezone.utc)))
        if failure is not None:
            raise failure
        return len(published)

    def backlog(self) -> int:
        with self.database.transaction() as session:
            return session.execute(select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))).scalar_one()

    def run(self, stop: threading.Event) -> None:
        """Relay until `stop` is set; broker or database outages are waited out with back-off."""
        backoff = self.poll_interval
        while not stop.is_set():
            try:
                count = self.publish_batch()
                OUTBOX_BACKLOG.set(self.backlog() if count else 0)
                backoff = self.poll_interval
                if count < self.batch_size:
                    stop.wait(self.poll_interval)
            except Exception as exc:  # broker or database down: keep the rows, try again later
                log.warning("outbox relay could not publish, retrying in %.1fs: %s", backoff, exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
        self.publisher.close()
