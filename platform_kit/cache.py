"""Short-lived copies of another service's answers, kept in one process.

The rule for using one (the README's configuration table: GATEWAY_ACCESS_CACHE_SECONDS,
GRADEBOOK_PEOPLE_CACHE_SECONDS): a cached answer may only ever *grant* for a few seconds longer
than the owner would; it must never *deny*. A caller whose check fails on a cached answer asks the
owner again before refusing (FreshOnDenial), so a parent linked a moment ago, a teacher given a
class or a student moved to another class is never refused because of a copy, while a revoked
link is honoured within `seconds`. Nothing that is not found is cached: "no such student" always
comes from the owner.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache
from prometheus_client import Counter

from platform_kit.errors import NotFound, PermissionDenied

CACHE_LOOKUPS = Counter("cache_lookups_total", "Lookups in a process's copies of other services' answers, by outcome (hit, miss).", ["cache", "outcome"])

V = TypeVar("V")


class TtlCache(Generic[V]):
    """Thread-safe; `seconds` = 0 turns it off (every lookup asks the owner)."""

    def __init__(self, name: str, seconds: float, maxsize: int = 50_000, *, timer: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.seconds = seconds
        self._entries: TTLCache | None = TTLCache(maxsize=maxsize, ttl=seconds, timer=timer) if seconds > 0 else None
        self._lock = threading.Lock()
        self._hits = CACHE_LOOKUPS.labels(name, "hit")
        self._misses = CACHE_LOOKUPS.labels(name, "miss")

    def get(self, key: Hashable) -> V | None:
        """The cached answer for `key`, or None (a miss)."""
        if self._entries is None:
            self._misses.inc()
            return None
        with self._lock:
            found = self._entries.get(key)
        (self._hits if found is not None else self._misses).inc()
        return found

    def put(self, key: Hashable, value: V | None) -> V | None:
        """Keep `value` (not None: nothing that was not found is kept) and give it back."""
        if self._entries is not None and value is not None:
            with self._lock:
                self._entries[key] = value
        return value

    def get_or_load(self, key: Hashable, load: Callable[[], V | None]) -> V | None:
        """The cached answer, or `load()` kept for next time (called outside the lock)."""
        found = self.get(key)
        return found if found is not None else self.put(key, load())


class FreshOnDenial:
    """Runs a use case on cached answers and, when it refuses (404 or 403) after leaning on at
    least one of them, once more on fresh ones: the rule above, kept in one place. Per thread, so
    each gRPC worker thread tracks its own call; nested use cases run inside the outer one's try."""

    def __init__(self) -> None:
        self._local = threading.local()

    def lookup(self, cache: TtlCache[V], key: Hashable, load: Callable[[], V | None]) -> V | None:
        state = self._local
        found = None if getattr(state, "fresh", False) else cache.get(key)  # the second try asks the owner
        if found is not None:
            state.leaned = True
            return found
        return cache.put(key, load())

    def lookup_many(self, cache: TtlCache[V], keys: list[Hashable], load_many: Callable[[list], dict]) -> dict:
        """Like `lookup` for several keys, the missing ones loaded in one call."""
        state = self._local
        found = {} if getattr(state, "fresh", False) else {k: v for k in dict.fromkeys(keys) if (v := cache.get(k)) is not None}
        if found:
            state.leaned = True
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            for key, value in load_many(missing).items():
                found[key] = cache.put(key, value)
        return found

    def run(self, call: Callable[[], V]) -> V:
        state = self._local
        if getattr(state, "active", False):
            return call()
        state.active, state.leaned, state.fresh = True, False, False
        try:
            try:
                return call()
            except (NotFound, PermissionDenied):
                if not state.leaned:
                    raise
            state.fresh = True
            return call()
        finally:
            state.active = state.leaned = state.fresh = False
