"""Read: parents with extended access reading GET /api/v1/students/{id}/grades through the
gateway (gunicorn, production configuration), open loop at rising offered rates; baseline: the same
gunicorn settings and worker count answering the same bytes (gzip-compressed, as the gateway sends
them to this client) as a constant body."""
from __future__ import annotations

import gzip
import json
import time

import requests

from bench.loadgen import ladders, summarise
from bench.scenarios import Context, http_session
from bench.stats import load_average, ratio
from bench.system import children_of, cpu_cost, cpu_seconds

P99_LIMIT_S = 0.100
PATH = "/api/v1/students/{}/grades"


async def run(ctx: Context) -> dict:
    started = load_average()
    readers = ctx.dataset.roster.readers[: ctx.plan.readers]
    ctx.log(f"read: signing in {len(readers)} parents with extended access")
    tokens = ctx.sign_in_parents(sorted({r.login for r in readers}))
    requests_ = [(PATH.format(r.student_id), {"Authorization": f"Bearer {tokens[r.login]}"}) for r in readers]
    # As the load's client (aiohttp) asks for it: Accept-Encoding gzip, so the page comes compressed.
    sample = requests.get(ctx.system.url + requests_[0][0], headers={**requests_[0][1], "Accept-Encoding": "gzip, deflate"}, timeout=30, stream=True)
    sample.raise_for_status()
    wire, encoding = sample.raw.read(decode_content=False), sample.headers.get("Content-Encoding", "")
    body = gzip.decompress(wire) if encoding == "gzip" else wire
    page = json.loads(body)
    ctx.log(f"read: one page is {len(body)} bytes of JSON, {len(wire)} bytes sent ({encoding or 'uncompressed'}), "
            f"{sum(len(s['grades']) for s in page['subjects'])} grades in {len(page['subjects'])} subjects")

    first_reads = _first_reads(ctx, requests_)
    ctx.log(f"read: first read of {first_reads['pages']} pages (each built and stored by gradebook): p50 {first_reads['p50_ms']} ms, "
            f"CPU {first_reads['cpu']['cpu_ms_per_operation']} ms per page")

    past_copies = _past_the_copies(ctx, readers)
    ctx.log(f"read: {past_copies['pages']} stored pages read past the gateway's copies (by teachers): p50 {past_copies['p50_ms']} ms, "
            f"CPU {past_copies['cpu']['cpu_ms_per_operation']} ms per page")

    baseline_process, baseline_url = ctx.system.start_baseline(wire, encoding)
    try:
        _wait_for(baseline_url)
        baseline_pids = {"baseline": baseline_process.pid, **{f"baseline-worker-{n}": pid for n, pid in enumerate(children_of(baseline_process.pid), 1)}}
        async with http_session() as http:

            def fire_at(base_url: str):
                async def fire(index: int, due: float) -> str:
                    path, headers = requests_[index % len(requests_)]
                    async with http.get(base_url + path, headers=headers) as answer:
                        await answer.read()
                        return "ok" if answer.status == 200 else str(answer.status)

                return fire

            ctx.log("read: the grades page through the gateway, and the baseline (constant JSON, same gunicorn settings), step by step in turn")
            cpu_before = ctx.system.cpu_times()
            baseline_cpu_before = {name: cpu_seconds(pid) for name, pid in baseline_pids.items()}
            climbed = await ladders(
                {"baseline": fire_at(baseline_url), "gateway": fire_at(ctx.system.url)}, ctx.plan.read_rates, ctx.plan.step_seconds,
                p99_limit_s=P99_LIMIT_S, log=ctx.log, recover=ctx.plan.recover_seconds,
            )
            baseline, gateway = climbed["baseline"], climbed["gateway"]
            # Only the gateway's steps ran against the system's processes; the baseline's ran against its own.
            gateway_cpu = ctx.system.cpu_cost(cpu_before, ctx.system.cpu_times(), sum(s.sent for s in gateway))
            baseline_cpu = cpu_cost(baseline_cpu_before, {name: cpu_seconds(pid) for name, pid in baseline_pids.items()}, sum(s.sent for s in baseline))
    finally:
        baseline_process.terminate()
        baseline_process.wait(timeout=30)

    result = {
        "what": "GET /api/v1/students/{id}/grades by parents with extended access; open loop; sustained = highest offered rate with p99 <= 100 ms, <1 % errors, >= 95 % achieved",
        "page_bytes": len(body),
        "page_bytes_sent": len(wire),
        "page_encoding": encoding or "identity",
        "grades_on_page": sum(len(s["grades"]) for s in page["subjects"]),
        "distinct_parents": len(tokens),
        "first_reads": first_reads,
        "past_copies": past_copies,
        "baseline": summarise(baseline, P99_LIMIT_S),
        "gateway": summarise(gateway, P99_LIMIT_S),
        "load_average": {"start": started, "end": load_average()},
        "cpu": {"gateway": gateway_cpu, "baseline": baseline_cpu, "past_copies": past_copies["cpu"]},
    }
    result["ratio_to_baseline"] = ratio(result["gateway"]["sustained"]["rate"], result["baseline"]["sustained"]["rate"])
    return result


def _first_reads(ctx: Context, requests_: list[tuple[str, dict]]) -> dict:
    """Every page read once, one at a time, before the ladder: gradebook builds and stores each
    page on its first read (services/gradebook/pages.py), as it would have during the days before
    a morning's surge. Measured here, so the ladder measures reading stored pages and this the
    price of a page that changed."""
    return _read_each(ctx, list({path: headers for path, headers in requests_}.items()))


def _past_the_copies(ctx: Context, readers: list) -> dict:
    """The readers' pages read by a teacher of each class, one at a time. Staff are never
    answered from a gateway worker's copy of a page (gateway/page_copies.py), so this is what a
    stored page costs where the worker serving it holds no copy: the first read of a page on each
    worker, and so most reads of a deployment whose many workers each keep their own copies. The
    second of two passes is measured (the first signs the teachers in and warms gradebook's
    copies of whom they teach)."""
    roster = ctx.dataset.roster
    class_of = {student: class_id for class_id, students in roster.classes.items() for student in students}
    teacher_of: dict[str, object] = {}
    for (class_id, _subject), teacher in roster.teachers.items():
        teacher_of.setdefault(class_id, teacher)
    pages = {PATH.format(r.student_id): dict(ctx.teacher_metadata(teacher_of[class_of[r.student_id]])) for r in readers}
    _read_each(ctx, list(pages.items()))
    return _read_each(ctx, list(pages.items()))


def _read_each(ctx: Context, pages: list[tuple[str, dict]]) -> dict:
    latencies = []
    cpu_before = ctx.system.cpu_times()
    with requests.Session() as http:
        for path, headers in pages:
            started = time.perf_counter()
            http.get(ctx.system.url + path, headers=headers, timeout=30).raise_for_status()
            latencies.append(1000 * (time.perf_counter() - started))
    latencies.sort()
    return {
        "pages": len(latencies),
        "p50_ms": round(latencies[len(latencies) // 2], 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)], 1),
        "cpu": ctx.system.cpu_cost(cpu_before, ctx.system.cpu_times(), len(latencies)),
    }


def _wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError("the baseline server did not answer")
