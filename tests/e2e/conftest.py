"""The whole system as `make run` starts it (the same Procfile under honcho), but on PostgreSQL,
in a RabbitMQ vhost of its own, on free ports, with its own var folder."""
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

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["identity", "gradebook", "attendance", "messaging", "billing", "notify"]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"


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
        names = [line.split(":", 1)[0] for line in (ROOT / "Procfile").read_text().splitlines() if line and not line.startswith("#")]
        return f"http://127.0.0.1:{self.base_port + 100 * names.index(process)}/metrics"

    def grpc_channel(self, service: str):
        return open_channel(f"127.0.0.1:{self.env[f'{service.upper()}_GRPC_PORT']}", deadline_seconds=10)

    def seeder(self) -> Seeder:
        return Seeder(self.grpc_channel("identity"), self.grpc_channel("gradebook"))

    def sms_lines(self) -> list[str]:
        outbox = self.var_dir / "sms-outbox.jsonl"
        return outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []

    def logs(self) -> str:
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


def fresh_address() -> str:
    """A client address of its own, so one test's failed sign-ins never throttle another's."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@pytest.fixture(scope="session")
def system(tmp_path_factory) -> System:
    var_dir = tmp_path_factory.mktemp("var")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / f"system-{int(time.time())}.log"
    amqp_url = create_vhost()
    databases = {service: create_database(service) for service in SERVICES}
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
        # Tests speak for several client addresses through X-Forwarded-For.
        "GATEWAY_TRUSTED_PROXIES": "1",
        "DZIENNIK_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
        "PAYU_BASE_URL": f"http://127.0.0.1:{payu_port}",
        "PAYU_SIMULATOR_PORT": str(payu_port),
        "PAYU_SECOND_KEY": "e2e-second-key-" + secrets.token_hex(4),
        "PAYU_SIMULATOR_TROUBLE": "0.2",  # 429s, repeated and reordered notifications
        "PYTHONUNBUFFERED": "1",
    }
    for service in SERVICES:
        env[f"{service.upper()}_DATABASE_URL"] = databases[service]
        env[f"{service.upper()}_GRPC_PORT"] = str(free_port())
    # honcho gives process n the port base + 100·n; stay below the ephemeral range free_port() draws from.
    base_port = random.randrange(10_000, 28_000, 100)
    with open(log, "wb") as output:
        honcho = subprocess.Popen(
            [str(ROOT / ".venv/bin/honcho"), "start", "-f", "Procfile", "-p", str(base_port), "--no-colour"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    system = System(f"http://127.0.0.1:{gateway_port}", env, var_dir, log, Person("", env["DZIENNIK_ADMIN_LOGIN"], env["DZIENNIK_ADMIN_PASSWORD"]), base_port)
    try:
        _wait_ready(system, honcho, timeout=120)
        yield system
    finally:
        _stop(honcho)
        for url in databases.values():
            drop_database(url)
        delete_vhost(amqp_url)


def _wait_ready(system: System, honcho: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if honcho.poll() is not None:
            pytest.fail(f"the system exited while starting; log:\n{system.logs()[-5000:]}")
        try:
            if requests.get(f"{system.url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    pytest.fail(f"the system was not ready within {timeout:.0f}s; log:\n{system.logs()[-5000:]}")


def _stop(honcho: subprocess.Popen) -> None:
    honcho.send_signal(signal.SIGTERM)
    try:
        honcho.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(honcho.pid, signal.SIGKILL)  # anything left behind
    except ProcessLookupError:
        pass
