"""The results: targets from issue #11 evaluated against this run, written as JSON, a Markdown
table and PNG plots (latency percentiles against offered rate)."""
from __future__ import annotations

import json
from pathlib import Path

from bench.stats import Target

ROSARIOSIS_PAGE_PER_SECOND = 130  # the best-known open-source peer's parent grade page on these 2 cores (issue #11)
IDLE_MEMORY_LIMIT_MB = 80


def targets(results: dict) -> list[Target]:
    scenarios = results["scenarios"]
    found: list[Target] = []
    read = scenarios.get("read")
    if read:
        rate = read["gateway"]["sustained"]["rate"]
        found.append(Target("read: gateway / constant-JSON baseline (p99 <= 100 ms)", read["ratio_to_baseline"], ">=", 0.35))
        found.append(Target("read: grades pages per second at p99 <= 100 ms, >= 5x RosarioSIS (130/s)", rate, ">=", 5 * ROSARIOSIS_PAGE_PER_SECOND, "/s"))
    refresh = scenarios.get("refresh")
    if refresh:
        found.append(Target("refresh: token refreshes per second (p99 <= 200 ms)", refresh["gateway"]["sustained"]["rate"], ">=", 1000, "/s"))
    login = scenarios.get("login")
    if login:
        found.append(Target("login: logins per second per core / raw argon2id verifies per second on one core", login["ratio_to_raw_argon2id"], ">=", 0.8))
    events = scenarios.get("events")
    if events:
        found.append(Target("events: grades -> SMS per second sustained", events["pipeline"]["sustained"]["rate"], ">=", 1000, "/s"))
        found.append(Target("events: pipeline / raw pika baseline", events["ratio_to_baseline"], ">=", 0.5))
        found.append(Target("events: p99 grade -> SMS at 200 grades per second", events["p99_ms_at_200_per_second"], "<=", 1000, "ms",
                            "" if events["p99_ms_at_200_per_second"] is not None else "the 200/s step was not reached"))
    memory = scenarios.get("memory")
    if memory:
        idle = memory["idle"]
        heaviest = max(idle.items(), key=lambda item: item[1]["rss_mb"]) if idle else ("", {"rss_mb": None})
        over = sorted(name for name, value in idle.items() if value["rss_mb"] > IDLE_MEMORY_LIMIT_MB)
        found.append(Target("memory: idle resident memory of the largest process", heaviest[1]["rss_mb"], "<=", IDLE_MEMORY_LIMIT_MB, "MB",
                            f"largest: {heaviest[0]}; over the limit: {', '.join(over) or 'none'}"))
    return found


def write(results: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    results["targets"] = [t.to_dict() for t in targets(results)]
    (out_dir / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    (out_dir / "latest.md").write_text(markdown(results), encoding="utf-8")
    plots(results, out_dir)


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        value = f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.0f}"
    return f"{value}{(' ' + unit) if unit else ''}"


def markdown(results: dict) -> str:
    meta = results["meta"]
    lines = [
        "# Benchmark results",
        "",
        f"{meta['date']} · {'QUICK (smoke) run' if meta['quick'] else 'full run'} · {meta['machine']['cpu_model']}, {meta['machine']['cores']} cores, "
        f"{meta['machine']['memory_gb']} GB · commit {meta['commit']} · seed {meta['seed']} · data: {meta['data']['description']}",
        "",
        f"Load average (1, 5, 15 min) at the start {meta['load_average']['start']}, at the end {meta['load_average']['end']}. Other work on this "
        "machine shares its cores: compare ratios against the same-run baselines rather than absolute figures.",
        "",
        "## Targets (issue #11)",
        "",
        "| target | measured | limit | holds |",
        "|---|---:|---:|:---:|",
    ]
    for target in results["targets"]:
        holds = {True: "yes", False: "**no**", None: "—"}[target["holds"]]
        note = f" ({target['note']})" if target["note"] else ""
        lines.append(f"| {target['name']}{note} | {_fmt(target['measured'], target['unit'])} | {target['op']} {_fmt(target['limit'], target['unit'])} | {holds} |")
    scenarios = results["scenarios"]
    described = set()
    for name, series in _series(scenarios):
        lines += ["", f"## {name}", ""]
        scenario_name = name.split(":")[0]
        scenario = scenarios[scenario_name]
        if scenario_name not in described:
            described.add(scenario_name)
            lines += [scenario["what"], "", f"Load average at the start {scenario['load_average']['start']}, at the end {scenario['load_average']['end']}.", ""]
        lines += [
            f"Sustained: **{_fmt(series['sustained']['rate'])}/s** (offered {_fmt(series['sustained']['offered_rate'])}/s, p99 limit {_fmt(series['sustained']['p99_limit_ms'])} ms)"
            + (f"; the most answered while keeping up with the offered rate at any latency: {_fmt(series['max_kept_up_rate'])}/s." if "max_kept_up_rate" in series else "."),
            "",
            "| offered /s | achieved /s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | client CPU | load avg start → end |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for step in series["steps"]:
            load = step.get("load_average", {})
            lines.append(
                f"| {_fmt(step['offered_rate'])} | {_fmt(step['achieved_rate'])} | {_fmt(step['p50_ms'])} | {_fmt(step['p90_ms'])} | {_fmt(step['p99_ms'])} | "
                f"{_fmt(step['p999_ms'])} | {_fmt(step['max_ms'])} | {step['errors'] + step['timeouts']}/{step['sent']} | {_fmt(step['client_cpu'])} | "
                f"{load.get('start', ['?'])[0]} → {load.get('end', ['?'])[0]} |"
            )
    extra = []
    if "read" in scenarios:
        read = scenarios["read"]
        sent = f" ({read['page_bytes_sent']:,} sent, {read['page_encoding']})" if "page_bytes_sent" in read else ""
        extra.append(f"- read: page of {read['page_bytes']:,} bytes{sent} with {read['grades_on_page']} grades; {read['distinct_parents']} parents; "
                     f"gateway / baseline = {_fmt(read['ratio_to_baseline'])}")
        if "first_reads" in read:
            first = read["first_reads"]
            extra.append(f"- read: before the ladder, the first read of each of {first['pages']} pages (gradebook builds and stores it): "
                         f"p50 {first['p50_ms']} ms, p99 {first['p99_ms']} ms, {_fmt(first['cpu']['cpu_ms_per_operation'])} ms CPU per page")
        if "past_copies" in read:
            past = read["past_copies"]
            extra.append(f"- read: a stored page where the gateway worker holds no copy of it (read by teachers, whom copies never answer; "
                         f"what docs/capacity.md counts for the 8:00 surge): {past['pages']} pages one at a time, p50 {past['p50_ms']} ms, "
                         f"{_fmt(past['cpu']['cpu_ms_per_operation'])} ms CPU per page")
    if "login" in scenarios:
        login = scenarios["login"]
        raw = login["raw_argon2id_one_core"]
        extra.append(f"- login: raw argon2id ({raw['parameters']}) {raw['per_second_wall']}/s on one core ({raw['per_cpu_second']} per CPU second); "
                     f"logins {login['logins_per_second_per_core']}/s per core → ratio {_fmt(login['ratio_to_raw_argon2id'])}")
    if "events" in scenarios:
        events = scenarios["events"]
        extra.append(f"- events: pipeline / pika baseline = {_fmt(events['ratio_to_baseline'])}; p99 at 200/s = {_fmt(events['p99_ms_at_200_per_second'])} ms")
    if extra:
        lines += ["", "## Ratios", "", *extra]
    costs = [(f"{name}: {label}", cost) for name, scenario in scenarios.items() for label, cost in (scenario.get("cpu") or {}).items()]
    if costs:
        lines += ["", "## CPU per operation", "",
                  "CPU time (user + system, from /proc) each process spent per request or per SMS over the whole ladder, overloaded steps "
                  "included. It depends much less on the neighbours' load than throughput does; docs/capacity.md scales from it.", "",
                  "| scenario | operations | CPU ms per operation | largest shares (ms) |", "|---|---:|---:|---|"]
        for label, cost in costs:
            top = sorted(cost["by_process_ms"].items(), key=lambda item: -item[1])[:6]
            lines.append(f"| {label} | {cost['operations']:,} | {_fmt(cost['cpu_ms_per_operation'])} | {', '.join(f'{n} {v:g}' for n, v in top)} |")
    memory = scenarios.get("memory")
    if memory:
        names = sorted(memory["idle"])
        loads = [k for k in memory if k != "idle"]
        lines += ["", "## Memory (MB)", "", "RSS counts pages shared with other processes (gunicorn workers share with their master) in full; PSS splits them.", "",
                  "| process | idle RSS | idle PSS | " + " | ".join(f"peak RSS ({k})" for k in loads) + " |",
                  "|---|---:|---:|" + "---:|" * len(loads)]
        for name in names:
            idle = memory["idle"][name]
            peaks = " | ".join(_fmt(memory[k].get(name, {}).get("rss_mb")) for k in loads)
            lines.append(f"| {name} | {_fmt(idle['rss_mb'])} | {_fmt(idle['pss_mb'])} | {peaks} |")
    profiles = results.get("profiles")
    if profiles:
        lines += ["", "## Profiles (py-spy, share of busy samples)", ""]
        for label, profile in profiles.items():
            if not profile.get("busy_samples"):
                continue
            lines += [f"### {label}", "", f"{profile['busy_samples']} busy samples of {profile['samples']}.", "", "| self % | function |", "|---:|---|"]
            lines += [f"| {row['percent']} | `{row['function']}` |" for row in profile["self"][:10]]
            lines += ["", "| inclusive % (this repository's code) | function |", "|---:|---|"]
            lines += [f"| {row['percent']} | `{row['function']}` |" for row in profile.get("own_inclusive", [])[:15]]
            lines.append("")
    lines.append("")
    return "\n".join(lines)


def _series(scenarios: dict) -> list[tuple[str, dict]]:
    """(title, {steps, sustained}) for every ladder measured."""
    found = []
    for name, keys in (("read", ("baseline", "gateway")), ("login", ("gateway",)), ("refresh", ("gateway",)), ("batch", ("gateway",)),
                       ("events", ("baseline", "pipeline"))):
        for key in keys:
            if name in scenarios and key in scenarios[name]:
                found.append((f"{name}: {key}", scenarios[name][key]))
    return found


def plots(results: dict, out_dir: Path) -> list[Path]:
    """One PNG per scenario: latency percentiles and achieved rate against offered rate (log scales)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    scenarios = results["scenarios"]
    grouped: dict[str, list[tuple[str, dict]]] = {}
    for title, series in _series(scenarios):
        grouped.setdefault(title.split(":")[0], []).append((title.split(": ")[1], series))
    for name, all_series in grouped.items():
        figure, (latency, throughput) = plt.subplots(1, 2, figsize=(12, 4.5))
        for (label, series), color in zip(all_series, ("tab:blue", "tab:orange", "tab:green")):
            steps = [s for s in series["steps"] if s["p50_ms"] is not None]
            offered = [s["offered_rate"] for s in steps]
            for key, style in (("p50_ms", ":"), ("p90_ms", "--"), ("p99_ms", "-")):
                latency.plot(offered, [s[key] for s in steps], style, color=color, marker="o", markersize=3, label=f"{label} {key[:-3]}")
            throughput.plot(offered, [s["achieved_rate"] for s in steps], color=color, marker="o", markersize=3, label=label)
            if steps:
                throughput.plot(offered, offered, color="grey", linewidth=0.5)
        limit = all_series[0][1]["sustained"]["p99_limit_ms"]
        latency.axhline(limit, color="red", linewidth=0.8, label=f"p99 limit {limit:g} ms")
        latency.set_yscale("log")
        latency.set_xscale("log")  # a system far below its baseline stays readable beside it
        throughput.set_xscale("log")
        throughput.set_yscale("log")
        latency.set_xlabel("offered rate (/s)")
        latency.set_ylabel("latency from scheduled send (ms)")
        latency.legend(fontsize=7)
        latency.grid(True, which="both", alpha=0.3)
        throughput.set_xlabel("offered rate (/s)")
        throughput.set_ylabel("achieved rate (/s)")
        throughput.legend(fontsize=7)
        throughput.grid(True, alpha=0.3)
        figure.suptitle(f"{name} — {results['meta']['date']} ({'quick' if results['meta']['quick'] else 'full'}), load avg {results['meta']['load_average']['start']}")
        figure.tight_layout()
        path = out_dir / f"{name}.png"
        figure.savefig(path, dpi=90)
        plt.close(figure)
        made.append(path)
    return made
