"""Following an owner's change events to keep copies of its answers honest (platform_kit/cache.py).

A copy is not state: nothing is rebuilt from these events, they only say which copies to drop. So
each process follows on its own queue — server-named, exclusive, gone with the connection — rather
than a durable consumer queue with an inbox: a process that was away missed nothing it needs, it
simply starts again from no copies. While the follower is connected its caches are marked
followed (copies live their *_FOLLOWED_SECONDS); the moment the connection fails they are not
(copies older than *_CACHE_SECONDS go unused) until it is back and has cleared them.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from dziennik.identity.v1 import events_pb2
from platform_kit.bus.amqp import EVENTS_EXCHANGE, connect, declare_exchanges
from platform_kit.cache import TtlCache

log = logging.getLogger(__name__)

# identity.people_changed.v1 (services/identity/changes.py): links, enrolment, teaching,
# entitlements, roles or names of the people it names changed, or a school's policy.
PEOPLE_CHANGED_KEY = "identity.people_changed.v1"


class ChangeFollower:
    """A daemon thread consuming the routing keys of `routes`, handing each body to its key's
    function."""

    def __init__(
        self,
        amqp_url: str,
        name: str,
        routes: dict[str, Callable[[bytes], None]],
        caches: Iterable[TtlCache],
        *,
        retry_seconds: float = 2.0,
        max_retry_seconds: float = 30.0,
    ) -> None:
        self.amqp_url = amqp_url
        self.name = name
        self.routes = dict(routes)
        self.caches = [c for c in caches if c.followed_seconds]
        self.retry_seconds = retry_seconds
        self.max_retry_seconds = max_retry_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name=f"follow-{name}", daemon=True)

    def start(self) -> ChangeFollower:
        if self.caches:  # nothing to keep honest: every copy lives its short seconds anyway
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run(self) -> None:
        wait = self.retry_seconds  # doubles while the broker stays away, back to the first once connected
        while not self._stop.is_set():
            connection = None
            try:
                connection = connect(self.amqp_url, f"{self.name}-follower")
                channel = connection.channel()
                declare_exchanges(channel)
                queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
                for routing_key in self.routes:
                    channel.queue_bind(queue, EVENTS_EXCHANGE, routing_key=routing_key)
                channel.basic_consume(queue, self._on_message, auto_ack=True)
                for cache in self.caches:  # bound: from here on no change is missed
                    cache.follow(True)
                wait = self.retry_seconds
                log.info("%s follows %s", self.name, ", ".join(self.routes))
                while not self._stop.is_set():
                    connection.process_data_events(time_limit=1)
            except Exception as exc:  # the broker is away or went: copies stop living long
                log.warning("%s is not following %s (%s); retrying in %.0f s", self.name, ", ".join(self.routes), exc, wait)
            finally:
                self._unfollow()
                if connection is not None and connection.is_open:
                    try:
                        connection.close()
                    except Exception:  # already broken: nothing left to release
                        pass
            self._stop.wait(wait)
            wait = min(wait * 2, self.max_retry_seconds)

    def _unfollow(self) -> None:
        for cache in self.caches:
            cache.follow(False)

    def _on_message(self, _channel, method, _properties, body: bytes) -> None:
        try:
            self.routes[method.routing_key](body)
        except Exception:  # a body we cannot read: forget everything rather than guess
            log.exception("%s could not apply a change; every copy dropped", self.name)
            for cache in self.caches:
                cache.clear()


def dropping_people(caches: list[TtlCache]) -> Callable[[bytes], None]:
    """What a PeopleChanged body does to `caches`: the copies about the people it names go (a
    school's policy: all of them)."""

    def apply(body: bytes) -> None:
        change = events_pb2.PeopleChanged.FromString(body)
        for cache in caches:
            if change.whole_school_id:
                cache.clear()
            else:
                cache.drop(change.user_ids)

    return apply


def follow_people_changes(amqp_url: str, name: str, caches: Iterable[TtlCache]) -> ChangeFollower:
    """Keeps `caches` honest by identity's PeopleChanged events, from a thread of its own."""
    caches = list(caches)
    return ChangeFollower(amqp_url, name, {PEOPLE_CHANGED_KEY: dropping_people(caches)}, caches).start()
