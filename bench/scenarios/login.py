"""Login: password sign-ins per second per core through the gateway against the raw argon2id
verify rate of one core with identity's own parameters; and token refreshes per second (the 8:00
surge of parents opening the app rides on refresh tokens)."""
from __future__ import annotations

import asyncio
import os
import random
import statistics
import time

from bench.generate import PASSWORD
from bench.loadgen import Fire, Step, ladder, open_loop, summarise
from bench.scenarios import Context, http_session
from bench.stats import load_average, ratio


LOGIN_P99_LIMIT_S = 0.5
REFRESH_P99_LIMIT_S = 0.2


def argon2_verify_rate(seconds: float) -> dict:
    """Verifications per second on one core (one thread), with the hash parameters identity uses."""
    from services.identity.credentials import PASSWORDS

    stored = PASSWORDS.hash(PASSWORD)
    count = 0
    cpu_began, began = time.process_time(), time.perf_counter()
    while time.perf_counter() - began < seconds:
        PASSWORDS.verify(stored, PASSWORD)
        count += 1
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    return {
        "parameters": {"time_cost": PASSWORDS.time_cost, "memory_cost_kib": PASSWORDS.memory_cost, "parallelism": PASSWORDS.parallelism},
        "verifies": count,
        "per_second_wall": round(count / wall, 1),
        # Other work on the machine takes CPU from this thread too: per CPU second is the core's rate.
        "per_cpu_second": round(count / cpu, 1) if cpu else None,
    }


async def run_login(ctx: Context) -> dict:
    started = load_average()
    cores = os.cpu_count() or 1
    ctx.log("login: raw argon2id verify rate, one core (before every step of the ladder, so both see the same neighbours)")
    raw_samples: list[dict] = []

    def raw_rate(label: str, rate: float) -> None:
        raw_samples.append(argon2_verify_rate(ctx.plan.argon2_seconds))
        ctx.log(f"  raw argon2id: {raw_samples[-1]['per_second_wall']}/s wall, {raw_samples[-1]['per_cpu_second']}/s per CPU second")

    async with http_session() as http:
        ctx.log("login: POST /api/v1/auth/login through the gateway")
        cpu_before = ctx.system.cpu_times()
        steps = await ladder(_logins(ctx, http), ctx.plan.login_rates, ctx.plan.step_seconds, p99_limit_s=LOGIN_P99_LIMIT_S, log=ctx.log, label="login",
                             before_step=raw_rate, recover=ctx.plan.recover_seconds)
        cpu = ctx.system.cpu_cost(cpu_before, ctx.system.cpu_times(), sum(s.sent for s in steps))
    raw = {
        **raw_samples[0],
        "samples": [s["per_second_wall"] for s in raw_samples],
        "per_second_wall": statistics.median(s["per_second_wall"] for s in raw_samples),
        "per_cpu_second": statistics.median(s["per_cpu_second"] for s in raw_samples if s["per_cpu_second"]),
        "verifies": sum(s["verifies"] for s in raw_samples),
    }
    result = {
        "what": "POST /api/v1/auth/login (parents, no second factor) from 2,000 client addresses; sustained = p99 <= 500 ms; per core = sustained / cores",
        "cores": cores,
        "raw_argon2id_one_core": raw,
        "gateway": summarise(steps, LOGIN_P99_LIMIT_S),
        "load_average": {"start": started, "end": load_average()},
        "cpu": {"gateway": cpu},
    }
    per_core = result["gateway"]["sustained"]["rate"] / cores
    result["logins_per_second_per_core"] = round(per_core, 2)
    result["ratio_to_raw_argon2id"] = ratio(per_core, raw["per_second_wall"])
    return result


async def run_refresh(ctx: Context) -> dict:
    started = load_average()
    async with http_session() as http:
        fire = _refreshes(ctx, http)
        ctx.log(f"refresh: POST /api/v1/auth/refresh, {_refresh_pool(ctx).qsize()} sessions rotating their refresh tokens")
        cpu_before = ctx.system.cpu_times()
        steps = await ladder(fire, ctx.plan.refresh_rates, ctx.plan.step_seconds, p99_limit_s=REFRESH_P99_LIMIT_S, log=ctx.log, label="refresh",
                             recover=ctx.plan.recover_seconds)
        cpu = ctx.system.cpu_cost(cpu_before, ctx.system.cpu_times(), sum(s.sent for s in steps))
    return {
        "what": "POST /api/v1/auth/refresh, each session's token rotated on every use; sustained = p99 <= 200 ms",
        "sessions": _refresh_pool(ctx).qsize(),
        "gateway": summarise(steps, REFRESH_P99_LIMIT_S),
        "load_average": {"start": started, "end": load_average()},
        "cpu": {"gateway": cpu},
    }


async def profile_load(ctx: Context, scenario: str, rate: float, seconds: float) -> Step:
    """`rate` logins or refreshes per second for `seconds` (while a profiler records)."""
    async with http_session() as http:
        return await open_loop(_logins(ctx, http) if scenario == "login" else _refreshes(ctx, http), rate, seconds)


def _logins(ctx: Context, http) -> Fire:
    """Parents signing in with their passwords, from 2,000 addresses (schools behind their NATs)."""
    logins = ctx.dataset.roster.parent_logins
    addresses = [f"127.{random.Random(n).randrange(1, 255)}.{n // 250}.{n % 250 + 1}" for n in range(2000)]

    async def fire(index: int, due: float) -> str:
        headers = {"X-Forwarded-For": addresses[index % len(addresses)]}
        body = {"login": logins[index % len(logins)], "password": PASSWORD}
        async with http.post(ctx.system.url + "/api/v1/auth/login", json=body, headers=headers) as answer:
            payload = await answer.json(content_type=None)
            return "ok" if answer.status == 200 and payload.get("access_token") else str(answer.status)

    return fire


def _refresh_pool(ctx: Context) -> asyncio.Queue[str]:
    """The sessions' current refresh tokens, kept on the context: each use replaces one, and a
    replayed token would end its session, so every load after the first continues from here."""
    if ctx.refresh_pool is None:
        ctx.refresh_pool = asyncio.Queue()
        for token in ctx.dataset.roster.refresh_tokens:
            ctx.refresh_pool.put_nowait(token)
    return ctx.refresh_pool


def _refreshes(ctx: Context, http) -> Fire:
    pool = _refresh_pool(ctx)

    async def fire(index: int, due: float) -> str:
        token = await pool.get()  # a session whose previous refresh is still under way waits (and that counts)
        async with http.post(ctx.system.url + "/api/v1/auth/refresh", json={"refresh_token": token}) as answer:
            payload = await answer.json(content_type=None)
            if answer.status == 200:
                pool.put_nowait(payload["refresh_token"])  # rotation: the next refresh of this session uses the new one
                return "ok"
            return str(answer.status)

    return fire
