"""The fault suite's record: per scenario what was offered, what was broken, and what arrived.
Written to docs/reliability.md at the end of a run, so the committed file is the latest run's."""
from __future__ import annotations

import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

REPORT = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


@dataclass(frozen=True)
class Row:
    scenario: str
    load: str
    faults: str
    expected: int
    delivered: int
    duplicated: int
    lost: int
    seconds: float


def count(expected: dict[str, int], received: dict[str, int]) -> tuple[int, int, int]:
    """(delivered, duplicated, lost) from what each recipient should have got and did get."""
    delivered = sum(min(expected[key], received.get(key, 0)) for key in expected)
    duplicated = sum(max(0, received.get(key, 0) - expected.get(key, 0)) for key in set(expected) | set(received))
    lost = sum(max(0, expected[key] - received.get(key, 0)) for key in expected)
    return delivered, duplicated, lost


def write_report(rows: list[Row], path: Path = REPORT) -> None:
    lines = [
        "# Reliability: the fault suite's latest run",
        "",
        "Written by `tests/faults` (`make test-faults`, also part of `make test`): every process of the",
        "Procfile on PostgreSQL and RabbitMQ, traffic through the gateway, faults injected while it flows.",
        "*Expected* is what users should see (SMS per parent and grade, settlements per payment, grades",
        "written); *delivered* what arrived; *duplicated* and *lost* must be 0, and the suite fails otherwise.",
        "",
        f"Run: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.node() or 'this machine'} (Python {platform.python_version()}).",
        "",
        "| scenario | load | faults injected | expected | delivered | duplicated | lost | seconds |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(f"| {row.scenario} | {row.load} | {row.faults} | {row.expected} | {row.delivered} | {row.duplicated} | {row.lost} | {row.seconds:.0f} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
