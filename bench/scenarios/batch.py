"""Batch write: a teacher entering a class sheet of 30 grades in one request,
POST /api/v1/grades/batch through the gateway, at a few fixed offered rates; p50 and p99."""
from __future__ import annotations

import random

from bench.loadgen import open_loop
from bench.scenarios import Context, http_session
from bench.stats import load_average, sustained


GRADES_PER_REQUEST = 30
P99_LIMIT_S = 1.0
VALUES = ["1", "2", "3-", "3", "3+", "4-", "4", "4+", "5-", "5", "5+", "6"]


async def run(ctx: Context) -> dict:
    started = load_average()
    roster = ctx.dataset.roster
    rng = random.Random(ctx.dataset.seed + 2)
    pairs = [(class_id, subject_id) for class_id in roster.classes for subject_id in roster.subjects]
    rng.shuffle(pairs)
    pairs = pairs[:24]
    ctx.log(f"batch: signing in {len({roster.teachers[p].id for p in pairs})} teachers")
    tokens = {pair: dict(ctx.teacher_metadata(roster.teachers[pair]))["authorization"] for pair in pairs}
    steps = []
    async with http_session() as http:

        async def fire(index: int, due: float) -> str:
            class_id, subject_id = pairs[index % len(pairs)]
            students = roster.classes[class_id]
            # A class of 25 gets 30 grades: a test for everyone and a few answers at the board.
            grades = [{"student_id": students[k % len(students)], "value": rng.choice(VALUES)} for k in range(GRADES_PER_REQUEST)]
            body = {"subject_id": subject_id, "grades": grades}
            async with http.post(ctx.system.url + "/api/v1/grades/batch", json=body, headers={"Authorization": tokens[(class_id, subject_id)]}) as answer:
                await answer.read()
                return "ok" if answer.status == 201 else str(answer.status)

        cpu_before = ctx.system.cpu_times()
        for rate in ctx.plan.batch_rates:
            step = await open_loop(fire, rate, max(ctx.plan.step_seconds * 2, 10 / rate), timeout=30)
            steps.append(step)
            summary = step.latencies.summary()
            ctx.log(f"  batch {rate:>4.0f}/s ({rate * GRADES_PER_REQUEST:.0f} grades/s) -> p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms, "
                    f"errors {step.errors + step.timeouts}/{step.sent} {step.statuses}")
        # Only the request's own work: each grade's event is handled afterwards (the events scenario measures that).
        cpu = ctx.system.cpu_cost(cpu_before, ctx.system.cpu_times(), sum(s.sent for s in steps))
    return {
        "cpu": {"gateway": cpu},
        "what": f"POST /api/v1/grades/batch with {GRADES_PER_REQUEST} grades, open loop at fixed rates; sustained = p99 <= 1 s",
        "grades_per_request": GRADES_PER_REQUEST,
        "gateway": {"steps": [s.to_dict() for s in steps], "sustained": sustained(steps, P99_LIMIT_S)},
        "load_average": {"start": started, "end": load_average()},
    }
