"""`make bench` (python -m bench): start the system, load a school year, run every scenario against
its same-run baseline, write bench/results/latest.{json,md} and the plots, remove what it made.

  python -m bench                 # the full run (about 30-40 minutes on 2 cores)
  python -m bench --quick         # a smoke run of a few minutes (also BENCH_QUICK=1, make bench QUICK=1)
  python -m bench --only read,events --profile
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ["read", "login", "refresh", "batch", "events"]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK", "").lower() in ("1", "true", "yes"))
    parser.add_argument("--size", choices=["quick", "full", "scale"], help="data size (default: quick with --quick, else full)")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("BENCH_SEED", "2026")))
    parser.add_argument("--only", default=os.environ.get("BENCH_ONLY", ""), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    parser.add_argument("--profile", action="store_true", default=os.environ.get("BENCH_PROFILE", "").lower() in ("1", "true", "yes"),
                        help="after the measurements, record py-spy profiles of the read, sign-in and events paths")
    parser.add_argument("--results", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args(argv)
    chosen = [s for s in args.only.split(",") if s] or SCENARIOS
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return asyncio.run(run(args, chosen))


async def run(args, chosen: list[str]) -> int:
    from bench.generate import PASSWORD, SIZES, generate, load
    from bench.scenarios import Context, Plan
    from bench.scenarios import batch, events, login, memory, read
    from bench.stats import load_average
    from bench.system import BenchSystem
    from platform_kit.heap import freeze_startup_objects
    from services.identity.credentials import PASSWORDS

    plan = Plan.of(args.quick)
    size_name = args.size or ("quick" if args.quick else "full")
    size = SIZES[size_name]
    results: dict = {"meta": _meta(args, size_name, size), "scenarios": {}}
    results["meta"]["load_average"] = {"start": load_average()}
    log(f"bench: {'QUICK' if args.quick else 'full'} run, data {size_name}, seed {args.seed}, load average {results['meta']['load_average']['start']}")
    began = time.monotonic()
    try:
        with BenchSystem(log) as bench:
            log(f"system ready in {time.monotonic() - began:.0f}s")
            seeder = bench.system.seeder()
            operator = seeder.sign_in(bench.system.operator)
            school_ids = [seeder.school(operator, f"Szkoła Podstawowa nr {n + 1} (benchmark)", policy="brochure") for n in range(size.schools)]
            generated = time.monotonic()
            dataset = generate(size, args.seed, school_ids, PASSWORDS.hash(PASSWORD))
            generate_seconds = time.monotonic() - generated
            log(f"generated {sum(dataset.counts().values()):,} rows in {generate_seconds:.1f}s; loading with COPY")
            load_seconds, table_bytes = load(dataset, bench.resources.databases)
            # The year's rows stay in this process for the whole run: out of the collector's way,
            # or each full collection (1-2 s with the full school) stalls the load generator and
            # shows as the server's latency.
            freeze_startup_objects()
            results["meta"]["data"] = {
                "size": size_name, **size.__dict__, "rows": dataset.counts(), "generate_seconds": round(generate_seconds, 1),
                "load_seconds": {k: round(v, 1) for k, v in load_seconds.items()}, "table_bytes": table_bytes,
                "description": f"{size.schools} school(s) × {size.classes} classes × {size.students_per_class} students, {size.subjects} subjects, "
                               f"{size.grades_per_semester} grades per subject and semester, {size.weeks} weeks of attendance",
            }
            log(f"loaded in {sum(load_seconds.values()):.1f}s: {results['meta']['data']['load_seconds']}")
            ctx = Context(bench, dataset, plan, log)
            await asyncio.sleep(5)
            results["scenarios"]["memory"] = {"idle": memory.idle(bench)}
            idle_cpu = bench.measure_idle(5 if args.quick else 15)
            results["meta"]["idle_cpu_percent"] = {name: round(100 * rate, 2) for name, rate in sorted(idle_cpu.items()) if rate >= 0.001}
            log(f"idle CPU (% of a core): {sum(idle_cpu.values()) * 100:.1f} in all, "
                + ", ".join(f"{n} {100 * r:.1f}" for n, r in sorted(idle_cpu.items(), key=lambda i: -i[1])[:5]))
            runners = {"read": read.run, "login": login.run_login, "refresh": login.run_refresh, "batch": batch.run, "events": events.run}
            for name in chosen:
                waited = bench.quiesce()
                log(f"scenario {name}" + (f" (waited {waited:.0f}s for the previous one's events to drain)" if waited > 2 else ""))
                with memory.PeakSampler(bench) as sampler:
                    try:
                        results["scenarios"][name] = await runners[name](ctx)
                    except Exception as exc:  # one broken scenario still leaves the others' figures
                        log(f"scenario {name} failed: {exc!r}")
                        results["scenarios"][name] = {"error": repr(exc)}
                results["scenarios"]["memory"][f"under {name}"] = sampler.peaks
                await asyncio.sleep(2)
            if args.profile:
                results["profiles"] = await _profiles(ctx, results)
    finally:  # what was measured before a failure is still worth its report
        if results["scenarios"]:
            _write(results, Path(args.results), began)
    if not args.quick and chosen == SCENARIOS and Path(args.results) == ROOT / "bench" / "results":
        from bench import capacity

        capacity.main([])  # docs/capacity.md follows a full run of every scenario
    return 0


def _write(results: dict, out_dir: Path, began: float) -> None:
    from bench import report
    from bench.stats import load_average

    results["meta"]["load_average"]["end"] = load_average()
    results["meta"]["wall_seconds"] = round(time.monotonic() - began)
    results["errors"] = {k: v["error"] for k, v in results["scenarios"].items() if "error" in v}
    results["scenarios"] = {k: v for k, v in results["scenarios"].items() if "error" not in v}
    report.write(results, out_dir)
    log(f"results in {out_dir}/latest.md and latest.json ({results['meta']['wall_seconds']}s)")
    for target in results["targets"]:
        log(f"  {'HOLDS' if target['holds'] else 'misses' if target['holds'] is False else '  n/a'}  {target['name']}: {target['measured']} {target['op']} {target['limit']}")


async def _profiles(ctx, results: dict) -> dict:
    """py-spy on the read path at a fixed rate, then on the events path (after the measurements:
    the profiler's own cost must not be in the figures)."""
    from bench import profile
    from bench.loadgen import open_loop
    from bench.scenarios import http_session
    from bench.scenarios.events import GRADES_PER_CALL

    out_dir = ctx.system.logs.parent / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds = 8 if ctx.plan.quick else 20
    pids = ctx.system.pids()
    summaries = {}

    # The read path: gateway (master and workers), identity (CheckAccess, audit) and gradebook.
    # Busy but not drowning: a backlog would still be worked off while the next profile records.
    measured = _sustained(results, "read") or 0
    read_rate = max(10, round(0.8 * measured))
    readers = ctx.dataset.roster.readers[:60]
    tokens = ctx.sign_in_parents(sorted({r.login for r in readers}))
    recorders = {name: profile.start(pids[name], out_dir / f"read-{name}.txt", seconds, subprocesses=name == "gateway")
                 for name in ("gateway", "identity", "gradebook")}
    async with http_session() as http:

        async def fire(index: int, due: float) -> str:
            reader = readers[index % len(readers)]
            async with http.get(f"{ctx.system.url}/api/v1/students/{reader.student_id}/grades", headers={"Authorization": f"Bearer {tokens[reader.login]}"}) as answer:
                await answer.read()
                return "ok" if answer.status == 200 else str(answer.status)

        step = await open_loop(fire, read_rate, seconds)
    log(f"profile read at {read_rate}/s: p99 {step.latencies.summary()['p99_ms']} ms (with py-spy attached)")
    for name, recorder in recorders.items():
        if recorder is not None:
            recorder.wait(timeout=60)
            summaries[f"read at {read_rate}/s: {name}"] = profile.summarise(out_dir / f"read-{name}.txt")

    # Sign-in: password logins (every thread sampled: argon2id runs without the GIL, and the point
    # is what a login costs beside it), then token refreshes, each at 60 % of its sustained rate.
    from bench.scenarios import login

    for name, measured in (("login", _sustained(results, "login")), ("refresh", _sustained(results, "refresh"))):
        rate = max(10, round(0.6 * (measured or 50)))
        recorders = {process: profile.start(pids[process], out_dir / f"{name}-{process}.txt", seconds, subprocesses=process == "gateway", gil=name == "refresh")
                     for process in ("gateway", "identity")}
        step = await login.profile_load(ctx, name, rate, seconds)
        log(f"profile {name} at {rate}/s: p99 {step.latencies.summary()['p99_ms']} ms (with py-spy attached)")
        for process, recorder in recorders.items():
            if recorder is not None:
                recorder.wait(timeout=60)
                summaries[f"{name} at {rate}/s: {process}"] = profile.summarise(out_dir / f"{name}-{process}.txt")

    # The events path at 50 grades per second.
    from bench.scenarios import events

    names = ("gradebook", "gradebook-relay", "notify-consumer", "notify", "identity")
    await asyncio.to_thread(ctx.system.quiesce)  # the recording must cover the load, not a wait for the last one's events
    recorders = {name: profile.start(pids[name], out_dir / f"events-{name}.txt", seconds) for name in names}
    saved = ctx.plan
    ctx.plan = type(saved)(**{**saved.__dict__, "event_rates": [50], "step_seconds": seconds})
    try:
        await events._pipeline(ctx)
    finally:
        ctx.plan = saved
    for name, recorder in recorders.items():
        if recorder is not None:
            recorder.wait(timeout=60)
            summaries[f"events at 50/s ({GRADES_PER_CALL} per call): {name}"] = profile.summarise(out_dir / f"events-{name}.txt")
    log(f"profiles (collapsed stacks) in {out_dir}")
    return summaries


def _sustained(results: dict, scenario: str) -> float | None:
    return results["scenarios"].get(scenario, {}).get("gateway", {}).get("sustained", {}).get("rate")


def _meta(args, size_name: str, size) -> dict:
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        commit += " (with uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "seed": args.seed,
        "commit": commit,
        "python": sys.version.split()[0],
        "machine": {"cpu_model": cpu_model, "cores": os.cpu_count(), "memory_gb": round(memory_kb / 1024 / 1024, 1), "kernel": platform.release()},
        "gateway": {"workers": os.cpu_count(), "threads": int(os.environ.get("GATEWAY_THREADS", "8")), "server": "gunicorn gthread, gateway/gunicorn.conf.py"},
    }


if __name__ == "__main__":
    sys.exit(main())
