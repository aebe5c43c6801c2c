"""platform_kit.config: settings from the environment, and ConfigError naming the bad variable."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from platform_kit.config import DEFAULT_AMQP_URL, DEFAULT_GRPC_PORTS, CommonSettings, ConfigError, load_settings
from platform_kit.db import database_url
from services.gradebook.service import GradebookSettings

REPO = Path(__file__).resolve().parents[2]
PYTHON = REPO / ".venv" / "bin" / "python"


def _config_error(cls=GradebookSettings) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(cls)
    return str(caught.value)


def test_defaults_without_environment():
    settings = load_settings(GradebookSettings)

    assert settings.grpc_port == DEFAULT_GRPC_PORTS["gradebook"] == 50052
    assert settings.amqp_url == DEFAULT_AMQP_URL
    assert settings.database_url is None
    assert settings.var_dir == Path("var")
    assert settings.log_level == "INFO"
    assert settings.metrics_port is None
    assert settings.grpc_deadline_seconds == 5.0
    assert settings.migrate_on_start is True
    assert settings.retry_delays_ms == [1_000, 10_000, 60_000]


def test_prefixed_and_shared_variables_are_read(monkeypatch):
    monkeypatch.setenv("GRADEBOOK_GRPC_PORT", "6001")
    monkeypatch.setenv("GRADEBOOK_DATABASE_URL", "sqlite:////tmp/gradebook.db")
    monkeypatch.setenv("GRADEBOOK_MIGRATE_ON_START", "false")
    monkeypatch.setenv("GRADEBOOK_RETRY_DELAYS_MS", "[5, 50]")
    monkeypatch.setenv("AMQP_URL", "amqps://user:pw@broker:5671/dziennik")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("DZIENNIK_GRPC_DEADLINE", "2.5")

    settings = load_settings(GradebookSettings)

    assert settings.grpc_port == 6001
    assert settings.database_url == "sqlite:////tmp/gradebook.db"
    assert settings.migrate_on_start is False
    assert settings.retry_delays_ms == [5, 50]
    assert settings.amqp_url == "amqps://user:pw@broker:5671/dziennik"
    assert settings.log_level == "DEBUG"
    assert settings.grpc_deadline_seconds == 2.5


def test_other_services_variables_are_not_read(monkeypatch):
    monkeypatch.setenv("IDENTITY_GRPC_PORT", "abc")
    monkeypatch.setenv("IDENTITY_DATABASE_URL", "mysql://nope")

    settings = load_settings(GradebookSettings)

    assert settings.grpc_port == 50052
    assert settings.database_url is None


def test_malformed_port_names_the_prefixed_variable(monkeypatch):
    monkeypatch.setenv("GRADEBOOK_GRPC_PORT", "abc")

    message = _config_error()

    assert "GRADEBOOK_GRPC_PORT" in message
    assert "'abc'" in message


def test_bad_amqp_url_names_amqp_url(monkeypatch):
    monkeypatch.setenv("AMQP_URL", "http://localhost:5672/")

    message = _config_error()

    assert "AMQP_URL:" in message
    assert "GRADEBOOK_AMQP_URL" not in message
    assert "amqp://" in message


@pytest.mark.parametrize("url", ["mysql://db/gradebook", "http://db", "gradebook.db"])
def test_database_url_of_another_kind_names_the_prefixed_variable(monkeypatch, url):
    monkeypatch.setenv("GRADEBOOK_DATABASE_URL", url)

    message = _config_error()

    assert "GRADEBOOK_DATABASE_URL:" in message
    assert repr(url) not in message  # URLs may carry credentials: never echoed


def test_a_rejected_secret_is_not_echoed(monkeypatch):
    monkeypatch.setenv("DZIENNIK_SERVICE_TOKEN", "short-s3cret")
    monkeypatch.setenv("AMQP_URL", "http://user:pa55word@broker/")

    message = _config_error()

    assert "DZIENNIK_SERVICE_TOKEN" in message and "AMQP_URL" in message
    assert "s3cret" not in message and "pa55word" not in message


@pytest.mark.parametrize(
    "url", ["sqlite:///var/x.db", "postgresql://u@db/x", "postgres://u@db/x", "postgresql+psycopg://u@db/x"]
)
def test_sqlite_and_postgresql_urls_are_accepted(monkeypatch, url):
    monkeypatch.setenv("GRADEBOOK_DATABASE_URL", url)

    assert load_settings(GradebookSettings).database_url == url


def test_every_problem_is_reported_at_once(monkeypatch):
    monkeypatch.setenv("GRADEBOOK_GRPC_PORT", "abc")
    monkeypatch.setenv("AMQP_URL", "redis://broker")
    monkeypatch.setenv("GRADEBOOK_DATABASE_URL", "mysql://db")
    monkeypatch.setenv("DZIENNIK_GRPC_DEADLINE", "0")
    monkeypatch.setenv("LOG_LEVEL", "chatty")

    message = _config_error()

    for name in ("GRADEBOOK_GRPC_PORT", "AMQP_URL", "GRADEBOOK_DATABASE_URL", "DZIENNIK_GRPC_DEADLINE", "LOG_LEVEL"):
        assert f"{name}:" in message, name
    assert len(message.splitlines()) == 1 + 5  # a heading and one line per problem


def test_overrides_are_validated_like_the_environment():
    with pytest.raises(ConfigError, match="GRADEBOOK_GRPC_WORKERS"):
        load_settings(GradebookSettings, grpc_workers=0)


def test_out_of_range_port_is_refused(monkeypatch):
    monkeypatch.setenv("GRADEBOOK_GRPC_PORT", "70000")

    assert "GRADEBOOK_GRPC_PORT" in _config_error()


def test_malformed_json_list_is_a_config_error(monkeypatch):
    monkeypatch.setenv("GRADEBOOK_RETRY_DELAYS_MS", "[1000, 10000")

    assert "GRADEBOOK_RETRY_DELAYS_MS" in _config_error()


@pytest.mark.parametrize("raw, expected", [("true", True), ("FALSE", False), ("1", True), ("0", False)])
def test_booleans_are_read_from_their_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("GRADEBOOK_MIGRATE_ON_START", raw)

    assert load_settings(GradebookSettings).migrate_on_start is expected


def test_a_boolean_that_is_not_one_names_its_variable(monkeypatch):
    monkeypatch.setenv("GRADEBOOK_MIGRATE_ON_START", "maybe")

    message = _config_error()

    assert "GRADEBOOK_MIGRATE_ON_START:" in message and "'maybe'" in message


def test_an_empty_optional_variable_means_unset(monkeypatch):
    monkeypatch.setenv("METRICS_PORT", "")
    monkeypatch.setenv("GRADEBOOK_DATABASE_URL", "")

    settings = load_settings(GradebookSettings)

    assert settings.metrics_port is None and settings.database_url is None


def test_a_list_of_the_wrong_items_names_its_variable(monkeypatch):
    monkeypatch.setenv("GRADEBOOK_RETRY_DELAYS_MS", '[1000, "soon"]')

    assert "GRADEBOOK_RETRY_DELAYS_MS:" in _config_error()


def test_a_list_longer_than_allowed_is_refused(monkeypatch):
    monkeypatch.setenv("GRADEBOOK_RETRY_DELAYS_MS", str(list(range(11))))

    assert "GRADEBOOK_RETRY_DELAYS_MS:" in _config_error()


def test_defaults_are_not_shared_between_settings():
    first, second = load_settings(GradebookSettings), load_settings(GradebookSettings)

    first.retry_delays_ms.append(5)

    assert second.retry_delays_ms == [1_000, 10_000, 60_000]


def test_an_override_that_names_no_setting_is_a_programming_error():
    with pytest.raises(TypeError, match="grpc_wrokers"):
        load_settings(GradebookSettings, grpc_wrokers=4)


def test_rules_across_fields_are_checked_once_each_field_is_valid(monkeypatch):
    from services.notify.service import NotifySettings

    monkeypatch.setenv("SMS_PROVIDER", "smsapi")
    with pytest.raises(ConfigError, match="SMS_PROVIDER=smsapi needs SMSAPI_TOKEN"):
        load_settings(NotifySettings)

    monkeypatch.setenv("SMSAPI_TOKEN", "token-from-smsapi")
    assert load_settings(NotifySettings).sms_provider == "smsapi"


def test_a_choice_outside_the_list_names_its_variable(monkeypatch):
    from services.notify.service import NotifySettings

    monkeypatch.setenv("SMS_PROVIDER", "pigeon")

    message = _config_error(NotifySettings)

    assert "SMS_PROVIDER:" in message and "'pigeon'" in message


def test_settings_shown_in_a_log_hide_what_may_be_a_credential(monkeypatch):
    monkeypatch.setenv("DZIENNIK_SERVICE_TOKEN", "a-long-service-s3cret")
    monkeypatch.setenv("GRADEBOOK_DATABASE_URL", "postgresql://dziennik:pa55word@db/gradebook")

    shown = repr(load_settings(GradebookSettings))

    assert "s3cret" not in shown and "pa55word" not in shown
    assert "grpc_workers=16" in shown and "service_token=***" in shown


def test_every_variable_a_service_reads_is_named_from_its_prefix_or_its_own_name():
    from platform_kit.config import variables

    read = variables(GradebookSettings)

    assert {"GRADEBOOK_PEOPLE_CACHE_SECONDS", "AMQP_URL"} <= read and "PEOPLE_CACHE_SECONDS" not in read
    assert {"GRADEBOOK_GRPC_PORT", "GRADEBOOK_DATABASE_URL", "DZIENNIK_VAR_DIR", "LOG_LEVEL"} <= variables(GradebookSettings)


# -- where other services answer -------------------------------------------------------------


def test_grpc_target_defaults_to_localhost_and_default_port():
    settings = CommonSettings()

    for service, port in DEFAULT_GRPC_PORTS.items():
        assert settings.grpc_target(service) == f"127.0.0.1:{port}"


def test_grpc_target_follows_the_service_port(monkeypatch):
    monkeypatch.setenv("IDENTITY_GRPC_PORT", "6051")

    settings = CommonSettings()

    assert settings.grpc_target("identity") == "127.0.0.1:6051"
    assert settings.grpc_target("gradebook") == "127.0.0.1:50052"


def test_grpc_target_variable_wins_over_port(monkeypatch):
    monkeypatch.setenv("IDENTITY_GRPC_PORT", "6051")
    monkeypatch.setenv("IDENTITY_GRPC_TARGET", "identity.dziennik.svc:50051")

    assert CommonSettings().grpc_target("identity") == "identity.dziennik.svc:50051"


def test_empty_grpc_target_falls_back_to_port(monkeypatch):
    monkeypatch.setenv("NOTIFY_GRPC_TARGET", "")

    assert CommonSettings().grpc_target("notify") == "127.0.0.1:50056"


def test_malformed_port_of_a_target_names_the_variable(monkeypatch):
    monkeypatch.setenv("BILLING_GRPC_PORT", "50o55")

    with pytest.raises(ConfigError, match="BILLING_GRPC_PORT"):
        CommonSettings().grpc_target("billing")


# -- database URL ----------------------------------------------------------------------------


def test_database_url_defaults_to_a_sqlite_file_in_var_dir(tmp_path):
    url = database_url("gradebook", None, tmp_path / "var")

    assert url == f"sqlite:///{(tmp_path / 'var' / 'gradebook.db').resolve()}"
    assert (tmp_path / "var").is_dir()


@pytest.mark.parametrize("prefix", ["postgresql://", "postgres://"])
def test_postgresql_urls_use_psycopg3(tmp_path, prefix):
    assert database_url("gradebook", f"{prefix}u:p@db:5432/gb", tmp_path) == "postgresql+psycopg://u:p@db:5432/gb"


# -- the command line ------------------------------------------------------------------------


def _run_service(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    # A broker that refuses at once: a process that wrongly reached it would fail fast, not hang.
    environment.update(AMQP_URL="amqp://guest:guest@127.0.0.1:1/%2F", **env)
    return subprocess.run(
        [str(PYTHON), "-m", "services.gradebook", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_serve_with_malformed_port_exits_2_naming_the_variable(tmp_path):
    result = _run_service("serve", GRADEBOOK_GRPC_PORT="abc", DZIENNIK_VAR_DIR=str(tmp_path))

    assert result.returncode == 2, result.stderr
    assert "GRADEBOOK_GRPC_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # stopped before creating its database
