"""The benchmark harness's own logic (bench/): percentiles, the open-loop scheduler (no
coordinated omission), sustained rates and targets, the reproducible data generator. Fast, no
system started; `make bench` runs the benchmark itself."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from bench import report
from bench.generate import SIZES, Size, generate
from bench.loadgen import open_loop, send_offsets
from bench.stats import Latencies, Step, Target, ratio, sustained


# -- percentiles ------------------------------------------------------------------------------------


def test_percentiles_of_a_known_distribution_within_a_tenth_of_a_percent():
    latencies = Latencies()
    for ms in range(1, 1001):  # 1 ms .. 1000 ms, once each
        latencies.record(ms / 1000)
    assert latencies.count == 1000
    assert latencies.percentile(50) == pytest.approx(0.500, rel=1e-3)
    assert latencies.percentile(99) == pytest.approx(0.990, rel=1e-3)
    summary = latencies.summary()
    assert summary["p99_ms"] == pytest.approx(990, rel=1e-3) and summary["max_ms"] == pytest.approx(1000, rel=1e-3)
    assert summary["mean_ms"] == pytest.approx(500.5, rel=1e-3)


def test_a_rare_slow_answer_shows_at_p99_9_not_at_p99():
    latencies = Latencies()
    for _ in range(999):
        latencies.record(0.002)
    latencies.record(5.0)
    assert latencies.percentile(99) == pytest.approx(0.002, rel=1e-3)
    assert latencies.percentile(99.99) == pytest.approx(5.0, rel=1e-3)


def test_nothing_recorded_has_no_percentiles_and_histograms_add_up():
    empty = Latencies()
    assert empty.percentile(99) is None and empty.summary()["p50_ms"] is None
    a, b = Latencies(), Latencies()
    a.record(0.001)
    b.record(0.003)
    a.add(b)
    assert a.count == 2 and a.percentile(100) == pytest.approx(0.003, rel=1e-3)


# -- the open-loop scheduler --------------------------------------------------------------------------


def test_send_offsets_are_evenly_spaced_at_the_offered_rate():
    assert send_offsets(4, 1) == [0, 0.25, 0.5, 0.75]
    assert len(send_offsets(250, 2)) == 500
    assert send_offsets(0, 5) == [] and send_offsets(10, 0) == []


def test_a_stalled_server_shows_in_every_request_that_was_due_during_the_stall():
    """A one-at-a-time server that stalls for 300 ms once: measured from the scheduled times, every
    request due in those 300 ms is late (about 30 at 100/s), not only the one that stalled, and the
    scheduler kept sending while the stalled request was still being answered (open loop)."""
    server = asyncio.Lock()
    fired: list[int] = []
    stall: dict[str, float] = {}

    async def fire(index: int, due: float) -> str:
        fired.append(index)
        async with server:
            if index == 10:
                await asyncio.sleep(0.3)
                stall["fired_meanwhile"] = sum(1 for i in fired if i > 10)
            else:
                await asyncio.sleep(0.001)
        return "ok"

    step = asyncio.run(open_loop(fire, rate=100, duration=1.0, timeout=5))
    assert step.sent == step.ok == 100 and step.errors == step.timeouts == 0
    assert step.latencies.percentile(99) >= 0.25
    # Latencies above 100 ms: the stalled one and those queued behind it (coordinated omission would show 1).
    slow = sum(1 for p in range(1, 101) if step.latencies.percentile(p) > 0.1)
    assert slow >= 15, f"only {slow} % of requests late"
    assert stall["fired_meanwhile"] >= 5  # a closed loop would have sent none while waiting


def test_errors_and_timeouts_are_counted_and_a_step_that_errs_does_not_hold():
    async def fire(index: int, due: float) -> str:
        if index % 10 == 0:
            raise ConnectionResetError()
        if index % 10 == 1:
            await asyncio.sleep(1)
        return "ok" if index % 10 != 2 else "503"

    step = asyncio.run(open_loop(fire, rate=100, duration=0.2, timeout=0.1))
    assert step.sent == 20 and step.timeouts == 2 and step.errors == 4
    assert step.statuses == {"ok": 14, "timeout": 2, "ConnectionResetError": 2, "503": 2}
    assert not step.holds(10.0)


# -- sustained rates, ratios, targets -------------------------------------------------------------------


def _step(rate: float, p99_ms: float, achieved: float | None = None, errors: int = 0) -> Step:
    step = Step(offered_rate=rate, duration_s=10, sent=int(rate * 10), errors=errors)
    step.ok = step.sent - errors
    step.achieved_rate = rate if achieved is None else achieved
    for _ in range(step.sent):
        step.latencies.record(p99_ms / 1000)
    return step


def test_sustained_is_the_highest_offered_rate_that_held_p99_errors_and_throughput():
    steps = [_step(100, 20), _step(200, 60), _step(300, 150), _step(400, 90, achieved=300), _step(500, 50, errors=100)]
    assert [s.holds(0.1) for s in steps] == [True, True, False, False, False]
    best = sustained(steps, 0.1)
    assert best["offered_rate"] == 200 and best["rate"] == 200 and best["p99_ms"] == pytest.approx(60, rel=1e-2)
    assert sustained([_step(100, 500)], 0.1)["rate"] == 0.0


def test_ratios_and_targets():
    assert ratio(350, 1000) == 0.35 and ratio(1, 0) is None and ratio(None, 3) is None
    assert Target("read ratio", 0.35, ">=", 0.35).holds is True
    assert Target("p99", 1200, "<=", 1000).holds is False
    assert Target("not measured", None, ">=", 1).holds is None


def test_targets_are_read_from_the_results_of_a_run():
    def series(rate):
        return {"steps": [], "sustained": {"rate": rate, "offered_rate": rate, "p99_limit_ms": 100}}

    results = {
        "meta": {},
        "scenarios": {
            "read": {"gateway": series(700), "baseline": series(1400), "ratio_to_baseline": 0.5},
            "refresh": {"gateway": series(900)},
            "login": {"ratio_to_raw_argon2id": 0.85},
            "events": {"pipeline": series(1100), "baseline": series(3000), "ratio_to_baseline": 0.367, "p99_ms_at_200_per_second": 400.0},
            "memory": {"idle": {"identity": {"rss_mb": 75.0, "pss_mb": 70.0}, "gateway-worker-1": {"rss_mb": 95.0, "pss_mb": 60.0}}},
        },
    }
    verdicts = [(t.name.split(":")[0], t.holds) for t in report.targets(results)]
    assert verdicts == [
        ("read", True), ("read", True),  # 0.5 of the baseline; 700/s >= 5 x 130/s
        ("refresh", False),  # 900/s < 1,000/s
        ("login", True),
        ("events", True), ("events", False), ("events", True),  # 1,100/s; 0.367 < 0.5 of pika; p99 400 ms at 200/s
        ("memory", False),  # a gateway worker at 95 MB
    ]
    memory = next(t for t in report.targets(results) if t.name.startswith("memory"))
    assert memory.measured == 95.0 and not memory.holds and "gateway-worker-1" in memory.note


# -- the data generator -----------------------------------------------------------------------------------


TINY = Size(schools=2, classes=2, students_per_class=5, subjects=3, grades_per_semester=2, weeks=1)


def test_the_same_seed_gives_the_same_school_year_and_another_seed_another():
    moment = datetime(2026, 10, 1, 12, tzinfo=timezone.utc)

    def tables(seed: int) -> dict:
        dataset = generate(TINY, seed, ["s1", "s2"], "hash", today=moment.date(), now=moment)
        return {(s, t): [tuple(str(v) for v in row) for row in table.rows] for s, ts in dataset.tables.items() for t, table in ts.items()}, dataset.roster

    (first, roster), (again, roster_again), (other, _) = tables(7), tables(7), tables(8)
    assert first == again and roster == roster_again
    assert first[("gradebook", "grades")] != other[("gradebook", "grades")]


def test_a_generated_year_has_every_grade_lesson_and_mark_the_size_asks_for():
    dataset = generate(TINY, 1, ["s1", "s2"], "hash")
    counts = dataset.counts()
    students = TINY.schools * TINY.classes * TINY.students_per_class
    assert counts["identity.enrolments"] == students
    assert counts["gradebook.grades"] == students * TINY.subjects * TINY.grades_per_semester * 2 == counts["gradebook.history"]
    lessons_a_week = 5 + 4 + 3  # Polish, maths, English
    assert counts["attendance.lessons"] == TINY.schools * TINY.classes * TINY.weeks * lessons_a_week
    assert counts["attendance.attendance_marks"] == counts["attendance.lessons"] * TINY.students_per_class
    users = {row[0] for row in dataset.tables["identity"]["users"].rows}
    assert {row[0] for row in dataset.tables["identity"]["parent_links"].rows} <= users
    # Each reader is a parent of the child they read; each SMS student has the add-on through that parent.
    links = {(p, s) for p, s in dataset.tables["identity"]["parent_links"].rows}
    ids_by_login = {row[2]: row[0] for row in dataset.tables["identity"]["users"].rows}
    assert all((ids_by_login[r.login], r.student_id) in links for r in dataset.roster.readers)
    add_ons = {(h, s) for h, s, *_ in dataset.tables["identity"]["add_ons"].rows}
    assert all(any((p, s.student_id) in add_ons for p, _ in links if _ == s.student_id) for s in dataset.roster.sms_students)
    assert len({row[0] for row in dataset.tables["notify"]["preferences"].rows}) == len(dataset.tables["notify"]["preferences"].rows)


def test_the_issue_school_is_the_full_size():
    full = SIZES["full"]
    assert full.classes * full.students_per_class == 750 and full.subjects == 12 and full.grades_per_semester == 10


# -- the capacity model ---------------------------------------------------------------------------------


def test_capacity_counts_shares_under_a_millisecond_and_leaves_out_only_idling():
    from bench import capacity

    results = {
        "meta": {"date": "2026-12-05", "quick": False, "machine": {"cpu_model": "x", "cores": 2}, "load_average": {"start": [1, 1, 1]}, "commit": "abc"},
        "scenarios": {
            "read": {"cpu": {"gateway": {"by_process_ms": {"gradebook": 0.9, "gateway-worker-1": 0.7, "gateway-worker-2": 0.6, "identity-relay": 0.01}}}},
            "events": {"cpu": {"pipeline": {"by_process_ms": {"notify-consumer": 1.1, "gradebook-relay": 0.27}}}},
        },
    }

    built = capacity.model(results)

    surge = built["demand"]["8:00 surge (refresh tokens)"]
    assert surge["gradebook"] == pytest.approx(2000 * 0.0009) and surge["gateway"] == pytest.approx(2000 * 0.0013)
    assert "identity-relay" not in surge  # 0.01 ms a page: a relay polling, not serving
    assert built["demand"]["term end"]["gradebook-relay"] == pytest.approx(2000 * 0.00027)


def test_capacity_scales_each_peak_from_the_cpu_each_process_spent_per_operation():
    from bench import capacity

    def cost(**by_process):
        return {"by_process_ms": by_process}

    results = {
        "meta": {"date": "2026-12-05", "quick": False, "machine": {"cpu_model": "x", "cores": 2}, "load_average": {"start": [1, 1, 1]}, "commit": "abc"},
        "scenarios": {
            "login": {"cpu": {"gateway": cost(**{"identity": 50.0, "gateway-worker-1": 2.0, "gateway-worker-2": 2.0})}},
            "refresh": {"cpu": {"gateway": cost(identity=5.0)}},
            "read": {"cpu": {"gateway": cost(gradebook=10.0, **{"postgres:gradebook": 1.0})}},
            "batch": {"cpu": {"gateway": cost(**{"gateway-worker-1": 30.0, "identity": 500.0})}},
            "events": {"cpu": {"pipeline": cost(**{"notify-consumer": 4.0})}, "baseline": {"sustained": {"rate": 800.0}}},
        },
    }
    built = capacity.model(results)
    surge = built["demand"]["8:00 surge (password logins)"]
    assert surge["identity"] == pytest.approx(1000 * 0.050)  # 1,000 logins/s x 50 ms = 50 cores
    assert surge["gateway"] == pytest.approx(1000 * 0.004)  # the two workers' shares add up
    assert surge["gradebook"] == pytest.approx(2000 * 0.010)  # two pages per sign-in
    term = built["demand"]["term end"]
    assert term["gateway"] == pytest.approx(2000 / 30 * 0.030) and "identity" not in term  # the write is in the pipeline's cost
    assert term["notify-consumer"] == pytest.approx(2000 * 0.004)
    text = capacity.markdown(results)
    assert "| identity | 50.0 | 84 |" in text  # 50 cores at 60 % each
    assert "800 messages/s" in text
