"""Copies of another service's answers, kept in one process.

The rule for using one (the README's configuration table: GATEWAY_ACCESS_CACHE_SECONDS,
GRADEBOOK_PEOPLE_CACHE_SECONDS and their *_FOLLOWED_SECONDS): a cached answer may only ever
*grant* for a few seconds longer than the owner would; it must never *deny*. A caller whose check
fails on a cached answer asks the owner again before refusing (FreshOnDenial), so a parent linked
a moment ago, a teacher given a class or a student moved to another class is never refused because
of a copy. Nothing that is not found is cached: "no such student" always comes from the owner.

How long a copy is used: `seconds` on its own; `followed_seconds` while the process follows the
owner's change events (platform_kit/bus/follower.py), which drop the copies about whoever changed,
so a revoked link is honoured as soon as its event arrives. A follower that loses the broker stops
following at once (copies older than `seconds` are no longer used) and, back, starts from nothing:
an event it may have missed cannot leave a copy behind. A followed copy is not used past the school
day it was made on (extended access ends at midnight, identity's answers know the day).

Copies of data rather than of answers about rights (the gateway's grades pages,
gateway/page_copies.py) have no short life: `seconds` = 0, used only while followed, so a page
lags its change by no more than the change event's trip.
"""
from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from cachetools import TTLCache
from prometheus_client import Counter, Gauge

from platform_kit.clock import SCHOOL_TIME
from platform_kit.errors import NotFound, PermissionDenied

CACHE_LOOKUPS = Counter("cache_lookups_total", "Lookups in a process's copies of other services' answers, by outcome (hit, miss).", ["cache", "outcome"])
CACHE_DROPS = Counter("cache_dropped_total", "Copies dropped because their owner said what they were about changed.", ["cache"])
CACHE_FOLLOWED = Gauge(
    "cache_followed", "1 while a cache follows its owner's change events (its copies live *_FOLLOWED_SECONDS), else 0.", ["cache"], multiprocess_mode="livemin"
)

V = TypeVar("V")
# The ids a copy is about (a parent and a student, a teacher): what `drop` matches.
Mentions = Callable[[Hashable, object], Iterable[str]]


def _seconds_to_school_midnight() -> float:
    now = datetime.now(SCHOOL_TIME)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), SCHOOL_TIME)
    return (midnight - now).total_seconds()


class TtlCache(Generic[V]):
    """Thread-safe. `seconds` = 0 with `followed_seconds`: copies are used only while followed;
    both 0 turn it off (every lookup asks the owner). `sizeof` makes `maxsize` a budget in its
    units (bytes of pages) rather than a count of copies. `shortest_life` < 1: each copy lives a
    random share of its seconds between that and all of them, so copies kept in the same moment
    (the 8:00 surge, a load test) do not all go back to the owner in the same moment either."""

    def __init__(
        self,
        name: str,
        seconds: float,
        maxsize: int = 50_000,
        *,
        followed_seconds: float = 0.0,
        mentions: Mentions | None = None,
        sizeof: Callable[[V], int] | None = None,
        shortest_life: float = 1.0,
        timer: Callable[[], float] = time.monotonic,
        day_left: Callable[[], float] = _seconds_to_school_midnight,
    ) -> None:
        self.name = name
        self.seconds = seconds
        self.followed_seconds = followed_seconds
        if not 0 < shortest_life <= 1:
            raise ValueError("shortest_life is a share of the copy's seconds: above 0, at most 1")
        self.shortest_life = shortest_life
        self._mentions = mentions
        self._timer = timer
        self._day_left = day_left
        life = max(seconds, followed_seconds)
        # key -> (value, used until while not followed, used until while followed)
        entry_size = (lambda entry: sizeof(entry[0])) if sizeof is not None else None
        self._entries: TTLCache | None = TTLCache(maxsize=maxsize, ttl=life, timer=timer, getsizeof=entry_size) if life > 0 else None
        self._sizeof = sizeof
        # id -> keys of the copies about it, so a drop touches those alone (a payment anywhere
        # must not make every worker scan all its copies). May name keys gone since (rebuilt
        # when it outgrows the copies): dropping one of those again costs nothing.
        self._about: dict[str, list[Hashable]] = {}  # lists: a third of a set's memory, and short
        self._maxsize = maxsize
        self._followed = False
        self._generation = 0  # moves on every drop: a load that began before one is not kept
        self._lock = threading.Lock()
        self._hits = CACHE_LOOKUPS.labels(name, "hit")
        self._misses = CACHE_LOOKUPS.labels(name, "miss")
        self._drops = CACHE_DROPS.labels(name)
        self._followed_gauge = CACHE_FOLLOWED.labels(name)

    def get(self, key: Hashable) -> V | None:
        """The cached answer for `key`, or None (a miss)."""
        found = None
        if self._entries is not None:
            with self._lock:
                entry = self._entries.get(key)
            if entry is not None and self._timer() < entry[2 if self._followed else 1]:
                found = entry[0]
        (self._hits if found is not None else self._misses).inc()
        return found

    @property
    def generation(self) -> int:
        """Read before asking the owner; hand to `put` with the answer."""
        return self._generation

    def put(self, key: Hashable, value: V | None, generation: int | None = None) -> V | None:
        """Keep `value` (not None: nothing that was not found is kept) and give it back. With the
        `generation` read before the owner was asked, an answer that a drop overtook is not kept."""
        if self._entries is not None and value is not None and self._usable(value):
            now = self._timer()
            share = random.uniform(self.shortest_life, 1.0) if self.shortest_life < 1 else 1.0
            followed_until = now + min(share * self.followed_seconds, self._day_left()) if self.followed_seconds else now
            entry = (value, now + share * self.seconds, followed_until)
            with self._lock:
                if generation is None or generation == self._generation:
                    self._entries[key] = entry
                    if self._mentions is not None:
                        self._index(key, value)
        return value

    def _usable(self, value: V) -> bool:
        """Worth keeping: a copy that would be used (not one only used while followed, while not
        following) and fits the budget."""
        return (self.seconds > 0 or self._followed) and (self._sizeof is None or self._sizeof(value) <= self._maxsize)

    def _index(self, key: Hashable, value: object) -> None:
        self._note(key, value)
        if len(self._about) > 4 * min(len(self._entries) + 1_000, self._maxsize):
            self._about = {}
            for live in list(self._entries):
                if (entry := self._entries.get(live)) is not None:
                    self._note(live, entry[0])

    def _note(self, key: Hashable, value: object) -> None:
        for about in self._mentions(key, value):
            keys = self._about.setdefault(about, [])
            if key not in keys:
                keys.append(key)

    def get_or_load(self, key: Hashable, load: Callable[[], V | None]) -> V | None:
        """The cached answer, or `load()` kept for next time (called outside the lock)."""
        found = self.get(key)
        if found is not None:
            return found
        generation = self._generation
        return self.put(key, load(), generation)

    # -- following the owner's changes (platform_kit/bus/follower.py) -----------------------------

    def drop(self, ids: Iterable[str]) -> int:
        """Forget every copy about any of `ids`; returns how many."""
        ids = set(ids)
        if self._entries is None or self._mentions is None:
            return 0
        dropped = 0
        with self._lock:
            self._generation += 1
            for about in ids:
                for key in self._about.pop(about, ()):
                    dropped += self._entries.pop(key, None) is not None
        self._drops.inc(dropped)
        return dropped

    def clear(self) -> None:
        if self._entries is not None:
            with self._lock:
                self._generation += 1
                self._entries.clear()
                self._about = {}

    @property
    def followed(self) -> bool:
        return self._followed

    def follow(self, followed: bool) -> None:
        """Following starts from nothing (what changed before it may be in a copy); ending it
        leaves only copies younger than `seconds` in use."""
        if followed and self.followed_seconds:
            self.clear()
        self._followed = followed and bool(self.followed_seconds)
        self._followed_gauge.set(1 if self._followed else 0)


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
        generation = cache.generation
        return cache.put(key, load(), generation)

    def lookup_many(self, cache: TtlCache[V], keys: list[Hashable], load_many: Callable[[list], dict]) -> dict:
        """Like `lookup` for several keys, the missing ones loaded in one call."""
        state = self._local
        found = {} if getattr(state, "fresh", False) else {k: v for k in dict.fromkeys(keys) if (v := cache.get(k)) is not None}
        if found:
            state.leaned = True
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            generation = cache.generation
            for key, value in load_many(missing).items():
                found[key] = cache.put(key, value, generation)
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
