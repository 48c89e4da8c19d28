"""gunicorn settings from ``STOCKPULSE_*`` env: ``gunicorn -c python:stockpulse.api.gunicorn_config``.

* ``gthread`` workers; each worker builds its app (no ``preload_app``), so the
  Kafka producers are created after the fork and never shared across processes.
* ``worker_exit`` flushes the worker's producers on graceful shutdown (SIGTERM).
* ``post_worker_init`` starts the worker's probe port (``probe_server``), which orders cannot block.
* the answers gunicorn gives itself (request line or headers too large, malformed
  HTTP) are JSON errors like the app's (``gunicorn_errors``).
* no control socket (``control_socket_disable``): one per-user path for every gunicorn.
* Prometheus multiprocess mode: a metrics folder is set and emptied before any
  process imports ``prometheus_client``; dead workers are marked.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from stockpulse.api import gunicorn_errors
from stockpulse.logconfig import JsonFormatter
from stockpulse.settings import SettingsError, load_settings

try:
    _settings = load_settings()
except SettingsError as exc:
    sys.stderr.write(f"stockpulse: configuration error: {exc}\n")
    sys.exit(2)

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="stockpulse-prom-")
# Emptied once, in the master, before any process writes metric files.
shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

gunicorn_errors.install()

bind = [_settings.api.bind]
workers = _settings.api.workers
threads = _settings.api.threads
worker_class = "gthread"
graceful_timeout = 20
timeout = 30
keepalive = 5
max_requests = 0
# gunicorn >= 25 opens a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl), so
# every gunicorn on a machine (tests, bench, a local stack) would share it, and it adds a thread
# to the master that stops and restarts around every fork. Nothing here uses ``gunicornc``.
control_socket_disable = True
wsgi_app = "stockpulse.api:create_app(public_metrics=False)"  # /metrics: on the probe port
logger_class = "stockpulse.api.gunicorn_logging.Logger"

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "root": {"level": _settings.log_level.upper(), "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"level": _settings.log_level.upper(), "handlers": ["stdout"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": ["stdout"], "propagate": False},
    },
}


def post_worker_init(worker) -> None:
    from stockpulse.api.probe_server import ProbeServer

    app = worker.wsgi
    if not hasattr(app, "extensions"):  # another WSGI app on these settings (the bench's ceiling): no probes
        return
    probes = ProbeServer(_settings.api.probe_bind, app)
    probes.start()
    app.extensions["stockpulse.probes"] = probes


def worker_exit(server, worker) -> None:
    from stockpulse.api import close_app

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        probes = app.extensions.pop("stockpulse.probes", None)
        if probes is not None:
            probes.close()
        close_app(app)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
