"""gunicorn settings for the gateway, from the same environment variables as everything else."""
import os
import shutil

from gateway.settings import GatewaySettings
from platform_kit.config import ConfigError, load_settings

try:
    _settings = load_settings(GatewaySettings)
except ConfigError as exc:
    raise SystemExit(f"gateway: {exc}")

bind = f"0.0.0.0:{_settings.port}"
workers = _settings.workers
worker_class = "gthread"
threads = _settings.threads
timeout = 30
graceful_timeout = 10
accesslog = None  # request logs come from the app, in JSON, with the request id
errorlog = "-"


def on_starting(server):
    # Metrics from every worker are summed from files in this folder (prometheus multiprocess mode).
    folder = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_settings.var_dir / "prometheus-gateway"))
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
