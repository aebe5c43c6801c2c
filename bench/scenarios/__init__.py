"""The benchmark's scenarios; each returns a JSON-ready dict with its steps, its sustained rate,
its same-run baseline and the load average at its start and end."""
from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass, field

import aiohttp
import grpc

from bench.generate import PASSWORD, Dataset, Teacher
from bench.system import BenchSystem
from dziennik.identity.v1 import identity_pb2, identity_pb2_grpc
from platform_kit.auth import bearer_metadata
from tools.seed import Person


@dataclass(frozen=True)
class Plan:
    """How long and how hard: a short smoke run (QUICK) or the full run."""

    quick: bool
    step_seconds: float
    read_rates: list[float]
    login_rates: list[float]
    refresh_rates: list[float]
    event_rates: list[float]
    amqp_rates: list[float]
    batch_rates: list[float]
    drain_seconds: float
    recover_seconds: float  # after a step that did not hold: the server works off what the client gave up on
    argon2_seconds: float
    readers: int  # distinct parents signed in for the read scenario

    @classmethod
    def of(cls, quick: bool) -> "Plan":
        if quick:
            return cls(
                quick=True, step_seconds=2, read_rates=[5, 10, 20, 40, 70, 100, 150, 200, 300, 400, 600, 800, 1200, 1600, 2400, 3200],
                login_rates=[5, 10, 20, 30, 45, 60, 90], refresh_rates=[25, 50, 100, 200, 400, 600, 800, 1000, 1300, 1600],
                event_rates=[10, 25, 50, 100, 200, 400, 700, 1000], amqp_rates=[100, 200, 500, 1000, 2000, 3000], batch_rates=[1, 2],
                drain_seconds=20, recover_seconds=3, argon2_seconds=1, readers=60,
            )
        return cls(
            quick=False, step_seconds=15,
            read_rates=[5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 250, 300, 400, 500, 600, 700, 800, 1000, 1200, 1600, 2000, 2400, 3200, 4000],
            login_rates=[5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 100],
            refresh_rates=[25, 50, 75, 100, 150, 200, 300, 400, 500, 600, 800, 1000, 1200, 1500, 2000],
            event_rates=[10, 25, 50, 75, 100, 150, 200, 300, 400, 600, 800, 1000, 1500], amqp_rates=[100, 200, 500, 1000, 1500, 2000, 3000, 4000, 6000],
            batch_rates=[1, 2, 4], drain_seconds=60, recover_seconds=10, argon2_seconds=3, readers=300,
        )


@dataclass
class Context:
    system: BenchSystem
    dataset: Dataset
    plan: Plan
    log: callable = print
    _teacher_metadata: dict[str, tuple] = field(default_factory=dict)
    # The sessions' current refresh tokens (bench/scenarios/login.py): each refresh replaces one.
    refresh_pool: asyncio.Queue | None = None

    def identity(self) -> identity_pb2_grpc.IdentityServiceStub:
        return identity_pb2_grpc.IdentityServiceStub(grpc.insecure_channel(self.system.grpc_target("identity")))

    def sign_in_parents(self, logins: list[str]) -> dict[str, str]:
        """Access tokens of parents, through identity's Login as the gateway would ask it."""
        stub = self.identity()

        def one(login: str) -> tuple[str, str]:
            answer = stub.Login(identity_pb2.LoginRequest(login=login, password=PASSWORD, client_ip="127.0.0.1"), timeout=30)
            return login, answer.tokens.access_token

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            return dict(pool.map(one, logins))

    def teacher_metadata(self, teacher: Teacher) -> tuple:
        """gRPC metadata with a teacher's access token (password and TOTP code), signed in once."""
        if teacher.id not in self._teacher_metadata:
            stub = self.identity()
            person = Person(teacher.id, teacher.login, PASSWORD, teacher.totp_secret)
            answer = stub.Login(identity_pb2.LoginRequest(login=person.login, password=PASSWORD, client_ip="127.0.0.1"), timeout=30)
            tokens = stub.VerifyMfa(identity_pb2.VerifyMfaRequest(mfa_token=answer.mfa_token, code=person.next_code(), client_ip="127.0.0.1"), timeout=30).tokens
            self._teacher_metadata[teacher.id] = bearer_metadata(tokens.access_token)
        return self._teacher_metadata[teacher.id]


def http_session() -> aiohttp.ClientSession:
    """Keep-alive connections, enough of them that the client never limits an open-loop step."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512, force_close=False), timeout=aiohttp.ClientTimeout(total=None))


def grpc_call(future) -> asyncio.Future:
    """A gRPC call future as an awaitable of the running event loop."""
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()

    def settle(call) -> None:
        def inside_loop() -> None:
            if waiter.done():
                return
            try:
                waiter.set_result(call.result())
            except Exception as exc:
                waiter.set_exception(exc)

        loop.call_soon_threadsafe(inside_loop)

    future.add_done_callback(settle)
    return waiter
