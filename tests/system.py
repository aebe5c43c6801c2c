"""The whole system on one machine for tests: every Procfile process on PostgreSQL, in a RabbitMQ
vhost of its own, on free ports, with its own var folder. The end-to-end suite runs it under honcho
exactly as `make run` does; the fault suite runs each process on its own (`Cluster`) so it can kill
and restart them one by one."""
from __future__ import annotations

import os
import random
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from platform_kit.grpc_client import open_channel
from tests.conftest import create_database, create_vhost, delete_vhost, drop_database
from tools.seed import Person, Seeder

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ["identity", "gradebook", "attendance", "messaging", "billing", "notify"]
ARTIFACTS = ROOT / "test-artifacts"


def procfile() -> dict[str, str]:
    """Process name -> its shell command, in the Procfile's order."""
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return {name.strip(): command.strip() for name, _, command in (line.partition(":") for line in lines)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class System:
    url: str
    env: dict[str, str]
    var_dir: Path
    log: Path
    operator: Person
    base_port: int
    _tokens: dict[str, str] = field(default_factory=dict)

    def metrics_url(self, process: str) -> str:
        """honcho gives the n-th Procfile process $PORT = base + 100·n; services serve /metrics there."""
        return f"http://127.0.0.1:{self.base_port + 100 * list(procfile()).index(process)}/metrics"

    def grpc_channel(self, service: str):
        return open_channel(f"127.0.0.1:{self.env[f'{service.upper()}_GRPC_PORT']}", deadline_seconds=10)

    def seeder(self) -> Seeder:
        return Seeder(*(self.grpc_channel(service) for service in ("identity", "gradebook", "notify", "billing")))

    def sms_lines(self) -> list[str]:
        outbox = self.var_dir / "sms-outbox.jsonl"
        return outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []

    def logs(self) -> str:
        """Every process's output: one file (honcho), or a folder of one file per process."""
        if self.log.is_dir():
            return "\n".join(
                f"{path.stem}: {line}" for path in sorted(self.log.glob("*.log")) for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
            )
        return self.log.read_text(encoding="utf-8", errors="replace")

    def sign_in(self, person: Person, address: str = "") -> dict[str, str]:
        """Sign in through the gateway as a user would (with the TOTP code for staff); returns
        the token pair."""
        headers = {"X-Forwarded-For": address or fresh_address()}
        answer = requests.post(f"{self.url}/api/v1/auth/login", json={"login": person.login, "password": person.password}, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if body.get("mfa_required"):
            answer = requests.post(
                f"{self.url}/api/v1/auth/mfa", json={"mfa_token": body["mfa_token"], "code": person.next_code()}, headers=headers, timeout=10
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["refresh_token"]
        return body

    def headers(self, person: Person) -> dict[str, str]:
        """An Authorization header for `person`, signing in once per test run (a TOTP code
        works once, so staff can sign in only about twice in 30 seconds)."""
        if person.login not in self._tokens:
            self._tokens[person.login] = self.sign_in(person)["access_token"]
        return {"Authorization": f"Bearer {self._tokens[person.login]}"}

    def buy_sms_alerts(self, parent: Person, secretary: Person, *students: Person) -> None:
        """The parent orders the sms_alerts add-on for each child and pays cash at the office;
        returns once identity has applied it (billing -> PaymentSettled -> identity)."""
        from tests.conftest import wait_for

        for student in students:
            order = requests.post(
                f"{self.url}/api/v1/billing/orders", json={"product": "sms_alerts", "student_id": student.id, "channel": "cash"}, headers=self.headers(parent), timeout=10
            )
            assert order.status_code == 201, order.text
            paid = requests.post(
                f"{self.url}/api/v1/billing/orders/{order.json()['id']}/cash-payment", json={"amount": order.json()["amount"]}, headers=self.headers(secretary), timeout=10
            )
            assert paid.status_code == 200, paid.text

        def allowed() -> bool:
            me = requests.get(f"{self.url}/api/v1/me", headers=self.headers(parent), timeout=10).json()
            return {s.id for s in students} <= {c["student_id"] for c in me["children"] if c["sms_alerts"]["allowed"]}

        wait_for(allowed, timeout=30, interval=0.3, message="the sms_alerts add-on applied by identity")

    def publish(self, routing_key: str, message, message_id: str) -> None:
        """Put an event on the bus as its producer's relay would."""
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(self.env["AMQP_URL"]))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_publish(
                "dziennik.events",
                routing_key,
                message.SerializeToString(),
                properties=pika.BasicProperties(message_id=message_id, type=routing_key, delivery_mode=2, timestamp=int(time.time())),
            )
        finally:
            connection.close()


def api(system: "System", method: str, path: str, headers: dict | None = None, **kwargs) -> requests.Response:
    """A request to the public API (`path` under /api/v1) as a client makes it."""
    return requests.request(method, f"{system.url}/api/v1{path}", headers=headers, timeout=30, **kwargs)


def fresh_address() -> str:
    """A client address of its own, so one test's failed sign-ins never throttle another's."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"




@dataclass
class Resources:
    """The databases and vhost a running system uses; removed again by `release`."""

    amqp_url: str
    databases: dict[str, str]

    @classmethod
    def create(cls) -> "Resources":
        return cls(create_vhost(), {service: create_database(service) for service in SERVICES})

    def release(self) -> None:
        for url in self.databases.values():
            drop_database(url)
        delete_vhost(self.amqp_url)


def environment(var_dir: Path, resources: Resources, **overrides: str) -> dict[str, str]:
    """The settings every process of a test system gets (ports free, secrets fresh)."""
    amqp_url, databases = resources.amqp_url, resources.databases
    gateway_port = free_port()
    payu_port = free_port()
    env = {
        **os.environ,
        "DZIENNIK_VAR_DIR": str(var_dir),
        "AMQP_URL": amqp_url,
        "GATEWAY_PORT": str(gateway_port),
        "GATEWAY_WORKERS": "2",
        "DZIENNIK_ADMIN_LOGIN": "e2e.admin",
        "DZIENNIK_ADMIN_PASSWORD": secrets.token_urlsafe(12),
        "DZIENNIK_SERVICE_TOKEN": secrets.token_urlsafe(24),
        "NOTIFY_RETRY_DELAYS_MS": "[500, 2000]",
        "NOTIFY_ABSENCE_DELAY_SECONDS": "3",
        "NOTIFY_REMINDER_DAYS": "400",  # a fresh year of access is already within the reminder window
        "NOTIFY_REMINDER_INTERVAL_SECONDS": "1",
        "IDENTITY_RETRY_DELAYS_MS": "[500, 2000]",
        "IDENTITY_AUDIT_BULK_THRESHOLD": "40",  # the takeover alarm, low enough for a test to reach
        "GATEWAY_MESSAGES_PER_HOUR": "10",  # a limit a test can reach
        # Tests speak for several client addresses through X-Forwarded-For.
        "GATEWAY_TRUSTED_PROXIES": "1",
        "DZIENNIK_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
        "PAYU_BASE_URL": f"http://127.0.0.1:{payu_port}",
        "PAYU_SIMULATOR_PORT": str(payu_port),
        "PAYU_SECOND_KEY": "e2e-second-key-" + secrets.token_hex(4),
        "PAYU_SIMULATOR_TROUBLE": "0.2",  # 429s, repeated and reordered notifications
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }
    for service in SERVICES:
        env[f"{service.upper()}_DATABASE_URL"] = databases[service]
        env[f"{service.upper()}_GRPC_PORT"] = str(free_port())
    return env


def start_system(var_dir: Path, resources: Resources, log: Path, **overrides: str) -> tuple[System, dict[str, str]]:
    env = environment(var_dir, resources, **overrides)
    # Process n gets the port base + 100·n (as honcho does); below the ephemeral range free_port() draws from.
    base_port = random.randrange(10_000, 28_000, 100)
    system = System(f"http://127.0.0.1:{env['GATEWAY_PORT']}", env, var_dir, log, Person("", env["DZIENNIK_ADMIN_LOGIN"], env["DZIENNIK_ADMIN_PASSWORD"]), base_port)
    return system, env


def wait_ready(system: System, alive, timeout: float) -> None:
    """Until the gateway says every backend is ready; `alive()` false means the system died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            pytest.fail(f"the system exited while starting; log:\n{system.logs()[-5000:]}")
        try:
            if requests.get(f"{system.url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    pytest.fail(f"the system was not ready within {timeout:.0f}s; log:\n{system.logs()[-5000:]}")


def stop_group(process: subprocess.Popen, timeout: float = 30) -> int | None:
    """SIGTERM, wait, then SIGKILL whatever is left of the process group; the exit code, or None
    if it had to be killed."""
    try:
        process.send_signal(signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
    try:
        os.killpg(process.pid, signal.SIGKILL)  # anything left behind
    except ProcessLookupError:
        pass
    return code


class Cluster:
    """Each Procfile process started on its own (as honcho would: `$PORT`, a shell), so a test can
    kill one, stop all with SIGTERM, and start them again."""

    def __init__(self, system: System, names: list[str]) -> None:
        self.system = system
        self.commands = {name: command for name, command in procfile().items() if name in names}
        self.ports = {name: system.base_port + 100 * index for index, name in enumerate(procfile())}
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, *names: str) -> None:
        """Start processes (all by default), each logging to its own file in the system's log folder."""
        self.system.log.mkdir(parents=True, exist_ok=True)
        for name in names or tuple(self.commands):
            env = {**self.system.env, "PORT": str(self.ports[name])}
            with open(self.system.log / f"{name}.log", "ab") as log:
                self.processes[name] = subprocess.Popen(
                    ["bash", "-c", self.commands[name]], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes.values())

    def revive(self) -> list[str]:
        """Start whatever is not running (after a test that stopped processes failed half-way)."""
        dead = [name for name, process in self.processes.items() if process.poll() is not None]
        if dead:
            self.start(*dead)
        return dead

    def signal(self, name: str, sig: int) -> None:
        os.killpg(self.processes[name].pid, sig)

    def kill(self, name: str) -> None:
        """SIGKILL: the process dies mid-way, with no chance to finish anything."""
        self.signal(name, signal.SIGKILL)
        self.processes[name].wait(timeout=10)

    def restart(self, name: str) -> None:
        if self.processes[name].poll() is None:
            self.kill(name)
        self.start(name)

    def stop(self, names: list[str] | None = None, timeout: float = 30) -> dict[str, int | None]:
        """SIGTERM to each (all at once) and their exit codes (None: had to be killed)."""
        chosen = names or list(self.processes)
        for name in chosen:
            try:
                self.signal(name, signal.SIGTERM)
            except ProcessLookupError:
                pass
        codes = {}
        deadline = time.monotonic() + timeout
        for name in chosen:
            try:
                codes[name] = self.processes[name].wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                codes[name] = None
                os.killpg(self.processes[name].pid, signal.SIGKILL)
                self.processes[name].wait()
        return codes
