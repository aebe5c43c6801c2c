"""The whole system as `make run` starts it (the same Procfile under honcho), but on PostgreSQL,
in a RabbitMQ vhost of its own, on free ports, with its own var folder (tests/system.py)."""
from __future__ import annotations

import subprocess
import time

import pytest

from tests.system import ARTIFACTS, ROOT, Resources, System, free_port, fresh_address, start_system, stop_group, wait_ready

__all__ = ["System", "free_port", "fresh_address"]


@pytest.fixture(scope="session")
def system(tmp_path_factory) -> System:
    var_dir = tmp_path_factory.mktemp("var")
    (ARTIFACTS / "e2e").mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "e2e" / f"system-{int(time.time())}.log"
    resources = Resources.create()
    system, env = start_system(var_dir, resources, log)
    with open(log, "wb") as output:
        honcho = subprocess.Popen(
            [str(ROOT / ".venv/bin/honcho"), "start", "-f", "Procfile", "-p", str(system.base_port), "--no-colour"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(system, lambda: honcho.poll() is None, timeout=120)
        yield system
    finally:
        stop_group(honcho)
        resources.release()
