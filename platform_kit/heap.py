"""A long-running process's heap: short full collections, and memory handed back after bursts.

A full (generation 2) collection walks every container object the process holds. Most of them
are made while starting — modules, classes, SQLAlchemy's mappers, protobuf descriptors — and live
as long as the process, yet under load each full collection walked them all again: 30–90 ms in
which no request of that process moved, several times a minute (docs/performance.md, "Fifth
round"). Every server, relay, consumer and gateway worker calls `freeze_startup_objects` once it
is wired, before it takes work.

glibc gives each thread that allocates its own arena, and keeps what is freed in it for the next
allocation. identity's argon2id takes 19 MiB per password checked, in whichever gRPC thread
answers: after a morning's sign-ins every thread's arena held such a buffer (428 MB resident under
the sign-in bench, 132 MB idle). `one_malloc_arena` makes all threads share the main arena, from
which `malloc_trim` can hand free memory back, and `TrimWhenQuiet` does so once a burst is over.
"""
from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from functools import cache

from prometheus_client import Gauge

log = logging.getLogger(__name__)

FROZEN_OBJECTS = Gauge(
    "python_gc_frozen_objects",
    "Objects made while the process started, moved out of the garbage collector's reach (platform_kit/heap.py).",
    multiprocess_mode="livesum",
)


def freeze_startup_objects() -> int:
    """Collect what start-up left behind, then move everything still alive to the permanent
    generation, which collections skip. Objects made afterwards are collected as usual; the
    frozen ones stay (they were going to anyway). Returns how many are frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    FROZEN_OBJECTS.set(frozen)
    return frozen


M_ARENA_MAX = -8  # glibc's mallopt parameter


@cache
def _glibc():
    """The C library if it is glibc (mallopt and malloc_trim are glibc's), else None."""
    import ctypes  # here: only processes that tune their heap load it
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def one_malloc_arena() -> bool:
    """Every thread allocates from the main arena (call before threads start). Costs nothing
    measurable for a few large allocations per request (argon2id: 18.3 ms per check either way);
    returns whether the C library took it."""
    libc = _glibc()
    return bool(libc and libc.mallopt(M_ARENA_MAX, 1))


def release_free_memory() -> bool:
    """Hand the heap's free pages back to the system (glibc's malloc_trim); whether any were."""
    libc = _glibc()
    return bool(libc and libc.malloc_trim(0))


class TrimWhenQuiet:
    """Hands freed memory back once nothing has used much of it for `quiet_seconds`.

    `touched()` after each large, short-lived allocation (a password checked). A burst keeps its
    buffers warm — trimming between two checks would make each fault its 19 MiB in again — and a
    quiet process returns them."""

    def __init__(self, quiet_seconds: float = 5.0, *, trim: Callable[[], bool] = release_free_memory, clock: Callable[[], float] = time.monotonic) -> None:
        self.quiet_seconds = quiet_seconds
        self._trim = trim
        self._clock = clock
        self._last_touched: float | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def touched(self) -> None:
        self._last_touched = self._clock()
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, daemon=True, name="heap-trim")
                    self._thread.start()

    def check(self) -> bool:
        """Trim if memory was touched and has been quiet long enough; whether it trimmed."""
        last = self._last_touched
        if last is None or self._clock() - last < self.quiet_seconds:
            return False
        if self._last_touched == last:  # not touched again meanwhile
            self._last_touched = None
        self._trim()
        return True

    def _run(self) -> None:
        while True:
            time.sleep(self.quiet_seconds / 2)
            try:
                self.check()
            except Exception:  # never let housekeeping take the process down
                log.exception("could not hand free memory back")
