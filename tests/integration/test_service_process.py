"""A service process as Kubernetes or `make run` starts it: it migrates its own database,
answers gRPC health (liveness at once, readiness once the database answers), and stops
cleanly on SIGTERM."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import wait_for
from tests.system import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("service", ["attendance", "notify"])
def test_a_service_migrates_answers_health_and_stops_on_sigterm(service, postgres_databases, amqp_url, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DZIENNIK_VAR_DIR": str(tmp_path),
        "AMQP_URL": amqp_url,
        f"{service.upper()}_DATABASE_URL": postgres_databases(service),
        f"{service.upper()}_GRPC_PORT": str(port),
    }
    process = subprocess.Popen([sys.executable, "-m", f"services.{service}", "serve"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        health = health_pb2_grpc.HealthStub(grpc.insecure_channel(f"127.0.0.1:{port}"))

        def status(name: str):
            try:
                return health.Check(health_pb2.HealthCheckRequest(service=name), timeout=1).status
            except grpc.RpcError:
                return None

        wait_for(lambda: status("") == health_pb2.HealthCheckResponse.SERVING, timeout=30, message="liveness")
        wait_for(lambda: status("readiness") == health_pb2.HealthCheckResponse.SERVING, timeout=30, message="readiness")
        full_name = f"dziennik.{service}.v1.{service.capitalize()}Service"
        assert status(full_name) == health_pb2.HealthCheckResponse.SERVING

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert "stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
