"""What a service process loads before it does any work (docs/memory.md): a library stays out of
every process that does not use it, so each one's idle memory holds only its own command."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Loaded where they are used: Alembic by `migrate`, PyJWT/cryptography by the first token checked,
# and the rest by the request that prints a PDF, draws a QR code, reads a bank statement, writes an
# iCalendar feed, checks a new password or calls PayU.
ON_USE = {"alembic", "jwt", "cryptography", "fpdf", "segno", "mt940", "icalendar", "zxcvbn", "requests"}
SERVER_ONLY = {"grpc", "grpc_health", "grpc_reflection"}
# Settings are read with msgspec (platform_kit/config.py): pydantic held ~10 MB in every process.
NEVER = {"pydantic", "pydantic_core", "pydantic_settings"}
# identity's server signs tokens with its own keys from the start.
SERVER_NEEDS = {"identity": {"jwt", "cryptography"}}

LAZY = ["identity", "gradebook", "attendance", "messaging", "billing", "notify"]

# Prints the top-level packages loaded so far, as one JSON line per stage.
_PRELUDE = """
import json, sys
def loaded(stage):
    print(json.dumps([stage, sorted({name.split(".")[0] for name in sys.modules})]))
"""
_SERVICE_PROBE = """
from services.{service}.service import DEFINITION
loaded("module")
DEFINITION.grpc(DEFINITION.runtime())
loaded("server")
"""
_SMS_SENDER_PROBE = """
from platform_kit.config import load_settings
from services.notify.service import NotifySettings, provider_for
for name in ("smsapi", "twilio"):
    provider_for(load_settings(NotifySettings, sms_provider=name, smsapi_token="t", twilio_account_sid="AC1", twilio_auth_token="s", twilio_from="+48500000000"))
loaded("sender")
"""
_GATEWAY_PROBE = """
import gateway.wsgi  # the worker's app, following identity's changes
loaded("app")
"""


def _loaded(probe: str, var_dir: Path) -> dict[str, set[str]]:
    """Top-level packages loaded at each `loaded(stage)` of `probe`, run in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", _PRELUDE + probe],
        cwd=REPO,
        # followers of identity's changes (gateway, gradebook) find no broker here and keep trying
        env={"PATH": "", "DZIENNIK_VAR_DIR": str(var_dir), "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return {stage: set(names) for stage, names in map(json.loads, result.stdout.splitlines())}


@pytest.mark.parametrize("service", LAZY)
def test_a_service_module_loads_neither_the_grpc_server_nor_what_only_some_requests_use(service, tmp_path):
    loaded = _loaded(_SERVICE_PROBE.format(service=service), tmp_path)

    # What relays, consumers and `migrate` start from.
    assert not loaded["module"] & (ON_USE | SERVER_ONLY)
    # The server itself waits for the request that needs a library.
    assert SERVER_ONLY <= loaded["server"]
    assert loaded["server"] & ON_USE == SERVER_NEEDS.get(service, set())
    assert not loaded["server"] & NEVER


def test_the_sms_sender_talks_to_providers_through_urllib3_without_requests(tmp_path):
    loaded = _loaded(_SMS_SENDER_PROBE, tmp_path)

    assert "urllib3" in loaded["sender"] and "requests" not in loaded["sender"]


def test_the_gateway_loads_no_database_library_and_pyjwt_only_with_the_first_token(tmp_path):
    loaded = _loaded(_GATEWAY_PROBE, tmp_path)

    assert "pika" in loaded["app"]  # the probe is the worker's: it follows identity's changes
    assert not loaded["app"] & {"sqlalchemy", "psycopg", "alembic", "jwt", "cryptography"}
    assert not loaded["app"] & NEVER
