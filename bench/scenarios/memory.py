"""Memory: resident memory (RSS, and PSS where forked workers share pages) of every process, idle
and at its highest while each load scenario ran."""
from __future__ import annotations

import statistics
import threading
import time

from bench.system import BenchSystem, memory_of


def idle(system: BenchSystem, samples: int = 3, interval: float = 1.0) -> dict[str, dict[str, float]]:
    """The median of a few samples per process, with nothing being asked of the system."""
    taken: dict[str, list[dict[str, float]]] = {}
    for _ in range(samples):
        for name, pid in system.pids().items():
            value = memory_of(pid)
            if value:
                taken.setdefault(name, []).append(value)
        time.sleep(interval)
    return {name: {key: statistics.median(v[key] for v in values) for key in values[0]} for name, values in taken.items()}


class PeakSampler:
    """Samples every process's memory in a thread while a scenario runs; keeps each one's peak."""

    def __init__(self, system: BenchSystem, interval: float = 0.5) -> None:
        self.system = system
        self.interval = interval
        self.peaks: dict[str, dict[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="memory-sampler")

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, pid in self.system.pids().items():
                value = memory_of(pid)
                if value:
                    peak = self.peaks.setdefault(name, dict(value))
                    for key, amount in value.items():
                        peak[key] = max(peak[key], amount)
            self._stop.wait(self.interval)
