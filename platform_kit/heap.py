"""Keeping the garbage collector's full collections short in long-running processes.

A full (generation 2) collection walks every container object the process holds. Most of them
are made while starting — modules, classes, SQLAlchemy's mappers, protobuf descriptors — and live
as long as the process, yet under load each full collection walked them all again: 30–90 ms in
which no request of that process moved, several times a minute (docs/performance.md, "Fifth
round"). Every server, relay, consumer and gateway worker calls `freeze_startup_objects` once it
is wired, before it takes work.
"""
from __future__ import annotations

import gc

from prometheus_client import Gauge

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
