"""gunicorn settings for the gateway, from the same environment variables as everything else."""
import os
import shutil

# Metrics from every worker are summed from files in this folder (prometheus multiprocess mode).
# It must be set before anything imports prometheus_client, hence before the gateway's modules.
_metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(os.environ.get("DZIENNIK_VAR_DIR", "var"), "prometheus-gateway")
)
shutil.rmtree(_metrics_dir, ignore_errors=True)  # counts of an earlier run are not ours
os.makedirs(_metrics_dir, exist_ok=True)

from gateway.settings import GatewaySettings  # noqa: E402
from platform_kit.config import ConfigError, load_settings  # noqa: E402

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


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    # The app is loaded: what it loaded lives as long as the worker (platform_kit/heap.py).
    from platform_kit.heap import freeze_startup_objects

    freeze_startup_objects()
