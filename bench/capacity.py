"""docs/capacity.md from a benchmark's results: how many replicas of each process, broker nodes and
database cores a deployment needs for the issue's peaks, scaled from the CPU time each process spent
per operation in the run (bench/results/latest.json).

  python -m bench.capacity [bench/results/latest.json] [docs/capacity.md]

CPU per operation rather than throughput: on a shared machine throughput says as much about the
neighbours as about the system, while the CPU a request costs changes much less."""
from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ACCOUNTS = 5_000_000
LOGINS_PER_SECOND = 1_000  # the 8:00 surge
GRADES_PER_SECOND = 2_000  # the end of a term
PAGES_PER_SIGN_IN = 2  # assumption: opening the app loads about two register pages within the surge's minute
GRADES_PER_BATCH = 30  # teachers enter a class sheet at a time (POST /grades/batch)
UTILISATION = 0.6  # a replica or core is planned at 60 % busy, leaving room for spikes and a failed node
CORES_PER_DB_NODE = 8
SMS_SHARE = 0.5  # grades whose parent gets an SMS (the generated school: the add-on in half the families)


def _group(process: str) -> str:
    """`gateway-worker-2` -> `gateway`, `postgres:identity` stays."""
    return re.sub(r"-worker-\d+$", "", process)


# Per operation: below this a process was only idling along (what is left after subtracting its
# idle CPU). Well under the smallest real share: a grades page costs gradebook ~1 ms and a relay
# ~0.3 ms per SMS, which a threshold of 1 ms once dropped from the model.
NOISE_MS = 0.05


def _costs(cost: dict | None) -> dict[str, float]:
    grouped: dict[str, float] = {}
    for process, ms in (cost or {}).get("by_process_ms", {}).items():
        grouped[_group(process)] = grouped.get(_group(process), 0.0) + ms
    return {group: ms for group, ms in grouped.items() if ms >= NOISE_MS}


def model(results: dict) -> dict:
    scenarios = results["scenarios"]
    cpu = lambda name, label: _costs(scenarios.get(name, {}).get("cpu", {}).get(label))  # noqa: E731
    workloads = {
        # name: (per second, CPU ms by process group per operation, where it comes from)
        "8:00 surge, password logins": (LOGINS_PER_SECOND, cpu("login", "gateway"), "login"),
        "8:00 surge, the same parents on refresh tokens instead": (LOGINS_PER_SECOND, cpu("refresh", "gateway"), "refresh"),
        # As the gateway serves a page it keeps no copy of (gateway/page_copies.py): with many
        # workers, each keeping its own copies, most reads after a sign-in are such reads.
        "8:00 surge, pages read after signing in": (
            LOGINS_PER_SECOND * PAGES_PER_SIGN_IN, cpu("read", "past_copies") or cpu("read", "gateway"), "read (grades page, the heaviest; no gateway copy)"
        ),
        # The gateway's share of a class sheet (the write behind it is in the next line's cost).
        "term end, class sheets of 30 through the gateway": (GRADES_PER_SECOND / GRADES_PER_BATCH, {k: v for k, v in cpu("batch", "gateway").items() if k == "gateway"}, "batch (gateway only)"),
        # Write, outbox, relay, consumer, identity's contacts, the SMS: an upper bound, as if every grade led to an SMS.
        "term end, grades written -> event -> SMS": (GRADES_PER_SECOND, cpu("events", "pipeline"), "events (per grade delivered as SMS)"),
    }
    peaks = {
        "8:00 surge (password logins)": ["8:00 surge, password logins", "8:00 surge, pages read after signing in"],
        "8:00 surge (refresh tokens)": ["8:00 surge, the same parents on refresh tokens instead", "8:00 surge, pages read after signing in"],
        "term end": ["term end, class sheets of 30 through the gateway", "term end, grades written -> event -> SMS"],
    }
    demand: dict[str, dict[str, float]] = {}
    for peak, names in peaks.items():
        cores: dict[str, float] = {}
        for name in names:
            rate, costs, _ = workloads[name]
            for group, ms in costs.items():
                cores[group] = cores.get(group, 0.0) + rate * ms / 1000
        demand[peak] = cores
    events = scenarios.get("events", {})
    broker_rate = (events.get("baseline") or {}).get("sustained", {}).get("rate") or None
    return {"workloads": workloads, "demand": demand, "broker_rate": broker_rate}


def markdown(results: dict) -> str:
    meta = results["meta"]
    built = model(results)
    quick = meta.get("quick")
    lines = [
        "# Capacity model",
        "",
        f"> **From one benchmark run** ({meta['date']}, {'a QUICK smoke run' if quick else 'a full run'}, {meta['machine']['cpu_model']}, "
        f"{meta['machine']['cores']} cores, load average {meta['load_average']['start']} → {meta['load_average'].get('end')}, commit {meta['commit']}). "
        "The services are still being optimised (issue #11, docs/performance.md): the figures below change with them. "
        "Repeated runs on this shared machine differed by up to half in CPU per operation, and the same code measured 2.5–3.4 times more CPU per operation on one host of this workplace than on another (docs/performance.md; the processor is named above), so read these as orders of magnitude and scale from a run on the hardware you deploy on. Regenerate with `python -m bench.capacity` after `make bench` (a full run does it itself).",
        "",
        "## Method",
        "",
        "The benchmark records, for every process, the CPU time (user + system, from `/proc`) it spent per operation over each scenario, "
        "PostgreSQL backends included (per service database; PostgreSQL's own background writers are not). CPU per operation is far less sensitive to a busy machine than throughput. "
        f"Each peak's rate times that cost gives the cores each process kind needs; a replica is planned at {UTILISATION:.0%} of one core "
        "(a Python process uses at most about one core: the GIL), which leaves room for spikes and for losing a node. "
        f"Each process's CPU when idle (relays polling, consumers waiting) is measured first and subtracted; shares under {NOISE_MS} ms per "
        "operation are left out as noise.",
        "",
        "Peaks (issue #11): 5 million accounts; **1,000 sign-ins per second at 8:00**; **2,000 grades per second at the end of a term**. "
        f"Assumptions: each sign-in is followed by about {PAGES_PER_SIGN_IN} page reads in the same minute (the grades page, the heaviest, stands for all); "
        f"grades arrive as class sheets of {GRADES_PER_BATCH}; as an upper bound every grade leads to an SMS (in the generated school "
        f"{SMS_SHARE:.0%} of families have the add-on; the others' events still pass relay, broker and notify's consumer).",
        "",
        "## Cost per operation measured",
        "",
        "| workload | rate /s | measured in | CPU ms per operation (by process) |",
        "|---|---:|---|---|",
    ]
    for name, (rate, costs, source) in built["workloads"].items():
        shown = ", ".join(f"{group} {ms:.1f}" for group, ms in sorted(costs.items(), key=lambda item: -item[1])) or "not measured"
        lines.append(f"| {name} | {rate:,.0f} | {source} | {shown} (total {sum(costs.values()):.1f}) |")
    lines += ["", "## Cores and replicas per peak", ""]
    for peak, cores in built["demand"].items():
        lines += [f"### {peak}", "", "| process kind | cores busy | replicas at 60 % |", "|---|---:|---:|"]
        python = {k: v for k, v in cores.items() if not k.startswith("postgres:")}
        databases = {k: v for k, v in cores.items() if k.startswith("postgres:")}
        for group, busy in sorted(python.items(), key=lambda item: -item[1]):
            if busy >= 0.05:
                name = "gateway (gunicorn worker processes)" if group == "gateway" else group
                lines.append(f"| {name} | {busy:,.1f} | {max(1, math.ceil(busy / UTILISATION)):,} |")
        for group, busy in sorted(databases.items(), key=lambda item: -item[1]):
            if busy >= 0.05:
                nodes = max(1, math.ceil(busy / (CORES_PER_DB_NODE * UTILISATION)))
                lines.append(f"| {group} (PostgreSQL backends) | {busy:,.1f} | {nodes} × {CORES_PER_DB_NODE}-core primary, plus a standby |")
        lines.append(f"| **total** | **{sum(cores.values()):,.1f}** | |")
        lines.append("")
    lines += _broker(built, results) + _storage(results) + _reading(built)
    return "\n".join(lines) + "\n"


def _broker(built: dict, results: dict) -> list[str]:
    messages = GRADES_PER_SECOND * 2  # GradeRecorded, and (upper bound) an SmsSent for each
    rate = built["broker_rate"]
    lines = ["## RabbitMQ", "",
             f"At the term-end peak the broker carries about {messages:,.0f} persistent messages per second ({GRADES_PER_SECOND:,} GradeRecorded "
             f"and an SmsSent for each SMS), each into a quorum queue replicated on three nodes."]
    if rate:
        publishers = math.ceil(messages / (rate * UTILISATION))
        lines += ["",
                  f"The same-run baseline (one pika publisher waiting for each confirm, one consumer, a quorum queue) sustained **{rate:,.0f} messages/s** "
                  f"on this machine. A relay publishes the same way, one confirm at a time, so {publishers} relay replicas (each claiming its own "
                  "outbox rows with SKIP LOCKED) would be needed at that speed; batching confirms (publishing a batch, then waiting for all its "
                  "confirms) is the first change to try. A three-node cluster (the minimum for quorum queues) with the consumers' queues' leaders "
                  "spread over the nodes carries this load if each node sustains the baseline; measure on the production disks, since a "
                  "quorum queue's throughput is bound by fsync."]
    else:
        lines += ["", "The broker baseline was not measured in this run."]
    return lines + [""]


def _storage(results: dict) -> list[str]:
    data = results["meta"].get("data", {})
    sizes, rows = data.get("table_bytes"), data.get("rows")
    if not sizes or not rows:
        return []
    users = rows.get("identity.users", 0)
    students = rows.get("identity.enrolments", 0)
    if not users or not students:
        return []
    scale = ACCOUNTS / users
    weeks = data.get("weeks", 38)
    lines = ["## Storage", "",
             f"From the loaded school year ({students:,} students among {users:,} accounts; attendance for {weeks} weeks, scaled to 38), "
             f"5 million accounts are about {students * scale:,.0f} students. One school year, tables with indexes:", "",
             "| service | one year at 5 M accounts |", "|---|---:|"]
    for service, tables in sizes.items():
        total = 0.0
        for table, size in tables.items():
            factor = 38 / weeks if table in ("lessons", "attendance_marks") and weeks else 1
            total += size * scale * factor
        lines.append(f"| {service} | {total / 1e9:,.1f} GB |")
    lines += ["", "Registers are kept for years (the law asks for the class register's history), so plan for several years of "
              "grades and attendance per database, and partition `attendance_marks` and `grades` by school year. Identifiers are "
              "stored as 36-character strings; PostgreSQL's 16-byte `uuid` type would shrink these tables and their indexes by about "
              "a third to a half.", ""]
    return lines


def _reading(built: dict) -> list[str]:
    senders = built["demand"]["term end"].get("notify-consumer", 0.0)
    replicas = max(1, math.ceil(senders / UTILISATION))
    return [
        "## What this does not cover yet",
        "",
        "- Throughput per replica is not yet where issue #11 wants it (see bench/results/latest.md): the cores above follow today's "
        "cost per operation and shrink as the costs found by profiling are removed.",
        "- The broker's and PostgreSQL's own limits (connections, fsync, lock contention) are not modelled beyond CPU; PostgreSQL "
        "connections are: every replica holds a pool, so put PgBouncer in front of each database well before hundreds of replicas.",
        "- Memory: see the memory table in bench/results/latest.md (idle and peak RSS per process) for pod requests and limits.",
        "- The SMS provider's latency: the bench's fake answers in about a millisecond, a real provider in 100-300 ms, so one "
        "notify-consumer hands over `NOTIFY_SEND_CONCURRENCY` (8) SMS at a time, 25-80 per second. At the term-end peak (one SMS "
        f"per grade) that is 25-80 consumers at the default, or the setting raised to 64 in the {replicas} above (and the provider's own "
        "rate limit asked for).",
        "",
    ]


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else ROOT / "bench" / "results" / "latest.json"
    target = Path(argv[1]) if len(argv) > 1 else ROOT / "docs" / "capacity.md"
    target.write_text(markdown(json.loads(source.read_text(encoding="utf-8"))), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
