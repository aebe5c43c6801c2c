"""An open-loop load generator: requests are sent at fixed scheduled times whatever the server
does, and each latency is measured from the request's *scheduled* time, not from when it was
actually sent. A server that stalls therefore shows the stall in every request that should have
gone meanwhile (no coordinated omission), as wrk2 and Gatling do.

`fire(i, due)` is any coroutine making request number i, due at wall-clock time `due` (seconds
since the epoch, for latencies measured elsewhere, such as grade -> SMS), and returning an outcome
label ("ok" or an HTTP status / error name); HTTP (aiohttp), gRPC futures and AMQP all fit."""
from __future__ import annotations

import asyncio
import resource
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from bench.stats import Step, load_average, sustained

Fire = Callable[[int, float], Awaitable[str]]


def send_offsets(rate: float, duration: float) -> list[float]:
    """Seconds after the start at which each request is due: evenly spaced at `rate` per second."""
    if rate <= 0 or duration <= 0:
        return []
    return [i / rate for i in range(int(round(rate * duration)))]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def open_loop(fire: Fire, rate: float, duration: float, *, timeout: float = 10.0) -> Step:
    """Offer `rate` requests per second for `duration` seconds; wait for the stragglers (at most
    `timeout` each) and return the step."""
    loop = asyncio.get_running_loop()
    step = Step(offered_rate=rate, duration_s=duration)
    step.load_average["start"] = load_average()
    statuses: Counter[str] = Counter()
    finished: list[float] = []
    offsets = send_offsets(rate, duration)

    async def one(index: int, due: float) -> None:
        try:
            outcome = await asyncio.wait_for(fire(index, due + wall_offset), timeout)
        except asyncio.TimeoutError:
            outcome = "timeout"
        except Exception as exc:  # a refused connection, a reset: an error, and it still took time
            outcome = type(exc).__name__
        now = loop.time()
        step.latencies.record(timeout if outcome == "timeout" else now - due)
        statuses[outcome] += 1
        if outcome == "ok":
            finished.append(now)

    cpu_before = _cpu_seconds()
    start = loop.time() + 0.05
    wall_offset = time.time() - loop.time()
    tasks = []
    for index, offset in enumerate(offsets):
        due = start + offset
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(index, due)))
    await asyncio.gather(*tasks)
    elapsed = max(loop.time() - start, 1e-9)
    step.client_cpu = (_cpu_seconds() - cpu_before) / elapsed
    step.sent = len(offsets)
    step.ok = statuses["ok"]
    step.timeouts = statuses["timeout"]
    step.errors = step.sent - step.ok - step.timeouts
    step.statuses = dict(statuses)
    # Achieved: answers per second over the time the offered load took (or longer, if the
    # server fell behind and the last answers came late).
    window = max(duration, (max(finished) - start) if finished else duration)
    step.achieved_rate = step.ok / window
    step.load_average["end"] = load_average()
    return step


async def ladder(fire: Fire, rates: list[float], duration: float, *, label: str = "", **options) -> list[Step]:
    """Offer each rate in turn until `give_up_after` steps in a row did not hold (p99 above the
    limit, errors, or the rate not achieved): past that point the server is only queueing."""
    return (await ladders({label: fire}, rates, duration, **options))[label]


async def ladders(
    fires: dict[str, Fire],
    rates: list[float],
    duration: float,
    *,
    p99_limit_s: float,
    timeout: float = 10.0,
    pause: float = 1.0,
    give_up_after: int = 2,
    log: Callable[[str], None] = print,
    before_step: Callable[[str, float], None] | None = None,
    recover: float = 10.0,
) -> dict[str, list[Step]]:
    """Several ladders climbed together, one step of each per rate in turn (a system and its
    baseline), so both see the same neighbours on a shared machine. Each climbs past its latency
    limit while it still keeps up (the curve of latency against load is worth having) and stops
    after `give_up_after` steps in a row that are saturated: the offered rate not achieved, errors,
    or a p99 ten times the limit."""
    steps: dict[str, list[Step]] = {label: [] for label in fires}
    failed = dict.fromkeys(fires, 0)
    for rate in rates:
        for label, fire in fires.items():
            if failed[label] >= give_up_after:
                continue
            if before_step is not None:
                before_step(label, rate)
            step = await open_loop(fire, rate, duration, timeout=timeout)
            steps[label].append(step)
            summary = step.latencies.summary()
            held = step.holds(p99_limit_s)
            log(
                f"  {label} {rate:>7.0f}/s offered -> {step.achieved_rate:7.1f}/s achieved, p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms, "
                f"errors {step.errors + step.timeouts}/{step.sent}, client cpu {step.client_cpu:.2f}, load {step.load_average['start'][0]} "
                f"{'ok' if held else 'NOT HELD'}"
            )
            failed[label] = failed[label] + 1 if saturated(step, p99_limit_s) else 0
            # An overloaded server still works through requests the client gave up on: let it.
            await asyncio.sleep(pause if held else max(pause, min(timeout, recover)))
        if all(count >= give_up_after for count in failed.values()):
            break
    return steps


def saturated(step: Step, p99_limit_s: float) -> bool:
    """Past the knee: requests queue up faster than they are answered."""
    return not step.holds(max(10 * p99_limit_s, 1.0))


def summarise(steps: list[Step], p99_limit_s: float) -> dict:
    """The steps, the sustained rate (within the p99 limit) and the most the server answered
    while keeping up with what was offered at all (whatever the latency)."""
    kept_up = [s for s in steps if not saturated(s, p99_limit_s)]
    return {
        "steps": [s.to_dict() for s in steps],
        "sustained": sustained(steps, p99_limit_s),
        "max_kept_up_rate": round(max((s.achieved_rate for s in kept_up), default=0.0), 1),
    }


def wall_clock() -> float:
    """Seconds since the epoch: comparable across processes (the SMS log, the AMQP consumer)."""
    return time.time()
