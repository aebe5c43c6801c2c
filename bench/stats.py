"""Latency percentiles (HdrHistogram), the sustained rate of a ladder of steps, and targets."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from hdrh.histogram import HdrHistogram

HIGHEST_SECONDS = 300.0
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


class Latencies:
    """Latencies in seconds, kept in microseconds to three significant digits (HdrHistogram)."""

    def __init__(self) -> None:
        self._highest = int(HIGHEST_SECONDS * 1_000_000)
        self._histogram = HdrHistogram(1, self._highest, 3)

    def record(self, seconds: float) -> None:
        self._histogram.record_value(min(max(1, int(seconds * 1_000_000)), self._highest))

    def add(self, other: "Latencies") -> None:
        self._histogram.add(other._histogram)

    @property
    def count(self) -> int:
        return self._histogram.get_total_count()

    def percentile(self, p: float) -> float | None:
        """Seconds at or below which `p` per cent of the recorded latencies fall (None: nothing recorded)."""
        if not self.count:
            return None
        return self._histogram.get_value_at_percentile(p) / 1_000_000

    def summary(self) -> dict[str, float | None]:
        """Milliseconds: p50, p90, p99, p99.9, max, mean."""
        if not self.count:
            return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "p999_ms": None, "max_ms": None, "mean_ms": None}
        names = {50.0: "p50_ms", 90.0: "p90_ms", 99.0: "p99_ms", 99.9: "p999_ms"}
        out = {names[p]: round(self.percentile(p) * 1000, 3) for p in PERCENTILES}
        out["max_ms"] = round(self._histogram.get_max_value() / 1000, 3)
        out["mean_ms"] = round(self._histogram.get_mean_value() / 1000, 3)
        return out


@dataclass
class Step:
    """One offered rate held for a while: what was sent, what came back, how fast."""

    offered_rate: float
    duration_s: float
    sent: int = 0
    ok: int = 0
    errors: int = 0
    timeouts: int = 0
    achieved_rate: float = 0.0
    client_cpu: float = 0.0  # cores the load generator itself used
    load_average: dict[str, list[float]] = field(default_factory=dict)
    latencies: Latencies = field(default_factory=Latencies, repr=False)
    statuses: dict[str, int] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def error_ratio(self) -> float:
        return (self.errors + self.timeouts) / self.sent if self.sent else 0.0

    def holds(self, p99_limit_s: float, *, max_error_ratio: float = 0.01, min_achieved: float = 0.95) -> bool:
        """Kept up: p99 within the limit, (almost) no errors, and the offered rate was achieved."""
        p99 = self.latencies.percentile(99)
        return (
            self.sent > 0
            and p99 is not None
            and p99 <= p99_limit_s
            and self.error_ratio <= max_error_ratio
            and self.achieved_rate >= min_achieved * self.offered_rate
        )

    def to_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k not in ("latencies",)}
        data.update(self.latencies.summary())
        data["error_ratio"] = round(self.error_ratio, 4)
        data["achieved_rate"] = round(self.achieved_rate, 1)
        data["client_cpu"] = round(self.client_cpu, 2)
        return data


def sustained(steps: list[Step], p99_limit_s: float, **criteria) -> dict:
    """The highest offered rate that held (and what was achieved there); 0 when none did."""
    held = [s for s in steps if s.holds(p99_limit_s, **criteria)]
    if not held:
        return {"rate": 0.0, "offered_rate": 0.0, "p99_limit_ms": p99_limit_s * 1000}
    best = max(held, key=lambda s: s.offered_rate)
    return {"rate": round(best.achieved_rate, 1), "offered_rate": best.offered_rate, "p99_limit_ms": p99_limit_s * 1000, "p99_ms": best.latencies.summary()["p99_ms"]}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


@dataclass
class Target:
    """A figure from the issue and whether this run met it."""

    name: str
    measured: float | None
    op: str  # ">=" or "<="
    limit: float
    unit: str = ""
    note: str = ""

    @property
    def holds(self) -> bool | None:
        if self.measured is None:
            return None
        return self.measured >= self.limit if self.op == ">=" else self.measured <= self.limit

    def to_dict(self) -> dict:
        return {**asdict(self), "holds": self.holds}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
