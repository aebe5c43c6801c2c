"""The system under test: every production process of the Procfile started on its own by the
tests' Cluster (PostgreSQL databases and a RabbitMQ vhost of its own, free ports), the gateway
under gunicorn with gateway/gunicorn.conf.py, notify sending through a local SMSAPI; everything
made is removed again on exit. Also: resident memory of each process."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _pytest.outcomes import Failed

from tests.system import Cluster, Resources, System, free_port, procfile, start_system, wait_ready

ROOT = Path(__file__).resolve().parents[1]
# Production processes only: the demo loader and the PayU simulator are local conveniences.
PROCESSES = [name for name in procfile() if name not in ("demo", "payu-simulator")]


class BenchSystem:
    def __init__(self, log=print, workers: int | None = None) -> None:
        self.log = log
        self.workers = workers or os.cpu_count() or 2
        self.work_dir = Path(tempfile.mkdtemp(prefix="dziennik-bench-"))
        self.logs = ROOT / "var" / "bench" / time.strftime("%Y%m%d-%H%M%S") / "logs"
        self.sms_log = self.work_dir / "sms.tsv"
        self.resources: Resources | None = None
        self.cluster: Cluster | None = None
        self.system: System | None = None
        self._fake: subprocess.Popen | None = None
        self.idle_rates: dict[str, float] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> "BenchSystem":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        token = "bench-" + uuid.uuid4().hex[:8]
        port_file = self.work_dir / "sms.url"
        self._fake = subprocess.Popen(
            [sys.executable, "-m", "bench.fake_sms", "--token", token, "--log", str(self.sms_log), "--port-file", str(port_file)], cwd=ROOT
        )
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text()):
            if time.monotonic() > deadline or self._fake.poll() is not None:
                raise RuntimeError("the fake SMSAPI did not start")
            time.sleep(0.1)
        self.resources = Resources.create()
        for attempt in range(1, 4):
            try:
                self._start_cluster(token, port_file.read_text())
                return
            except (Exception, Failed) as exc:  # wait_ready fails with pytest's Failed (a BaseException)
                # Metrics ports are drawn at random from the range other test systems on this machine
                # use as well: another draw usually settles a clash.
                self.log(f"the system did not start (attempt {attempt}): {str(exc).splitlines()[0][:200]}")
                self.cluster.stop()
                if attempt == 3:
                    raise

    def _start_cluster(self, token: str, sms_url: str) -> None:
        var_dir = self.work_dir / "var"
        shutil.rmtree(var_dir, ignore_errors=True)
        var_dir.mkdir()
        self.system, _ = start_system(
            var_dir, self.resources, self.logs,
            SMS_PROVIDER="smsapi", SMSAPI_BASE_URL=sms_url, SMSAPI_TOKEN=token,
            GATEWAY_WORKERS=str(self.workers),
            IDENTITY_ACCESS_TOKEN_TTL_SECONDS="3600",
            # Production values where the tests' environment lowers them to be reachable in a test.
            IDENTITY_AUDIT_BULK_THRESHOLD="200", GATEWAY_MESSAGES_PER_HOUR="60", NOTIFY_RETRY_DELAYS_MS="[1000, 10000, 60000]",
            IDENTITY_RETRY_DELAYS_MS="[1000, 10000, 60000]", NOTIFY_REMINDER_DAYS="14", NOTIFY_REMINDER_INTERVAL_SECONDS="600",
            NOTIFY_ABSENCE_DELAY_SECONDS="1800", PAYU_SIMULATOR_TROUBLE="0",
        )
        self.cluster = Cluster(self.system, PROCESSES)
        self.log(f"starting {len(PROCESSES)} processes (logs in {self.logs})")
        self.cluster.start()
        wait_ready(self.system, self.cluster.alive, timeout=180)

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
        if self.resources is not None:
            try:
                self.resources.release()
            except Exception as exc:  # keep cleaning up the rest
                self.log(f"could not remove the bench databases or vhost: {exc}")
        if self._fake is not None and self._fake.poll() is None:
            self._fake.send_signal(signal.SIGTERM)
            try:
                self._fake.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._fake.kill()
        shutil.rmtree(self.work_dir, ignore_errors=True)

    # -- what the scenarios use ------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        return self.system.env

    @property
    def url(self) -> str:
        return self.system.url

    def grpc_target(self, service: str) -> str:
        return f"127.0.0.1:{self.env[f'{service.upper()}_GRPC_PORT']}"

    def sms_lines(self) -> list[tuple[float, str, str]]:
        if not self.sms_log.exists():
            return []
        lines = []
        for line in self.sms_log.read_text(encoding="utf-8").splitlines():
            at, to, message = line.split("\t", 2)
            lines.append((float(at), to, message))
        return lines

    def backlog(self) -> dict[str, int]:
        """Work still in flight: unpublished outbox rows per service, messages waiting in the
        vhost's queues, SMS queued in notify."""
        import psycopg

        found: dict[str, int] = {}
        for service, url in self.resources.databases.items():
            with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as connection:
                found[f"{service} outbox"] = connection.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]
                if service == "notify":
                    found["notify queued sms"] = connection.execute("SELECT count(*) FROM sms_messages WHERE status = 'queued'").fetchone()[0]
        vhost = self.env["AMQP_URL"].rsplit("/", 1)[1]
        listed = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages"], capture_output=True, text=True, timeout=60)
        for line in listed.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit() and ".retry." not in parts[0] and not parts[0].endswith(".dead") and not parts[0].startswith("bench."):
                found[f"queue {parts[0]}"] = int(parts[1])
        return found

    def quiesce(self, timeout: float = 600) -> float:
        """Wait until the previous scenario's events have gone through (seconds waited)."""
        began = time.monotonic()
        waiting: dict = {}
        while time.monotonic() - began < timeout:
            try:
                waiting = {k: v for k, v in self.backlog().items() if v}
            except Exception as exc:  # PostgreSQL out of connections (a shared machine), rabbitmqctl slow: look again
                waiting = {"unknown": repr(exc)[:200]}
            if not waiting:
                return time.monotonic() - began
            time.sleep(1)
        self.log(f"still in flight after {timeout:.0f}s: {waiting}")
        return time.monotonic() - began

    def pids(self) -> dict[str, int]:
        """Each process by name; the gateway's gunicorn master and each worker separately."""
        found = {}
        for name, process in self.cluster.processes.items():
            if process.poll() is not None:
                continue
            found[name] = process.pid
            for index, child in enumerate(sorted(children_of(process.pid)), start=1):
                found[f"{name}-worker-{index}"] = child
        return found

    def cpu_times(self) -> dict[str, float]:
        """CPU seconds so far of every process, and of the PostgreSQL backends serving each service's
        database (keyed by backend, so one that came or went between two readings is left out)."""
        times = {name: seconds for name, pid in self.pids().items() if (seconds := cpu_seconds(pid)) is not None}
        for service, pid in self._database_backends():
            seconds = cpu_seconds(pid)
            if seconds is not None:
                times[f"postgres:{service}:{pid}"] = seconds
        times[CLOCK] = time.monotonic()
        return times

    def measure_idle(self, seconds: float) -> dict[str, float]:
        """CPU seconds per second each process spends with nothing asked of it (kept for cpu_cost)."""
        before = self.cpu_times()
        time.sleep(seconds)
        after = self.cpu_times()
        elapsed = after[CLOCK] - before[CLOCK]
        self.idle_rates = {name: (after[name] - before[name]) / elapsed for name in after if name in before and name != CLOCK}
        return self.idle_rates

    def cpu_cost(self, before: dict[str, float], after: dict[str, float], operations: int) -> dict:
        return cpu_cost(before, after, operations, self.idle_rates)

    def _database_backends(self) -> list[tuple[str, int]]:
        import psycopg

        names = {url.rsplit("/", 1)[1]: service for service, url in self.resources.databases.items()}
        admin = self.resources.databases["identity"].replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as connection:
            rows = connection.execute("SELECT datname, pid FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> pg_backend_pid()", (list(names),)).fetchall()
        return [(names[datname], pid) for datname, pid in rows]

    def start_baseline(self, body: bytes, encoding: str = "") -> tuple[subprocess.Popen, str]:
        """The same gunicorn, configuration and worker count answering one constant JSON body (sent
        with Content-Encoding `encoding` if given: the bytes are then compressed already)."""
        body_file = self.work_dir / "baseline-body.json"
        body_file.write_bytes(body)
        port = free_port()
        env = {
            **self.env,
            "BENCH_BASELINE_BODY": str(body_file),
            "BENCH_BASELINE_ENCODING": encoding,
            "PROMETHEUS_MULTIPROC_DIR": str(self.work_dir / "prometheus-baseline"),  # the gateway's own stays untouched
            "GATEWAY_PORT": str(port),
        }
        process = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "gateway/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "bench.baseline_app:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(self.logs / "baseline.log", "ab"), start_new_session=True,
        )
        return process, f"http://127.0.0.1:{port}"


_TICKS = os.sysconf("SC_CLK_TCK")
CLOCK = "_monotonic"  # the time of a cpu_times() reading, under a key no process has


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_cost(before: dict[str, float], after: dict[str, float], operations: int, idle: dict[str, float] | None = None) -> dict:
    """CPU milliseconds each process spent per operation between two `BenchSystem.cpu_times()`,
    and their sum, less what each spends anyway when nothing is asked of it (`idle`: CPU seconds
    per second; relays poll their outbox, consumers their broker). CPU time used per operation
    depends far less on what else runs on the machine than throughput does, so it is what the
    capacity model (docs/capacity.md) scales from."""
    elapsed = after.get(CLOCK, 0.0) - before.get(CLOCK, 0.0)
    spent: dict[str, float] = {}
    background = 0.0
    for name in after:
        if name == CLOCK:
            continue
        key = ":".join(name.split(":")[:2])  # PostgreSQL backends summed per service database
        if name not in before:
            # A backend opened meanwhile (pools grow under load): all its CPU falls in the window.
            if name.startswith("postgres:"):
                spent[key] = spent.get(key, 0.0) + after[name]
            continue
        anyway = (idle or {}).get(name, 0.0) * elapsed
        background += min(anyway, after[name] - before[name])
        spent[key] = spent.get(key, 0.0) + max(0.0, after[name] - before[name] - anyway)
    per_operation = {name: round(1000 * seconds / operations, 3) for name, seconds in sorted(spent.items()) if seconds > 0} if operations else {}
    return {
        "operations": operations,
        "seconds": round(elapsed, 1),
        "idle_cpu_seconds_subtracted": round(background, 2),
        "cpu_seconds": round(sum(spent.values()), 2),
        "cpu_ms_per_operation": round(1000 * sum(spent.values()) / operations, 3) if operations else None,
        "by_process_ms": per_operation,
    }


def children_of(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return children


def memory_of(pid: int) -> dict[str, float] | None:
    """Resident (RSS) and proportional (PSS: shared pages split among their users) memory in MB."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    values = {}
    for line in rollup.splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss"):
            values[key.lower() + "_mb"] = round(int(rest.split()[0]) / 1024, 1)
    return values
