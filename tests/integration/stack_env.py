"""The environment that runs `stockpulse up` / `demo` on free loopback ports, never the fixed defaults."""

from __future__ import annotations

import os
from pathlib import Path

from stockpulse.devstack.process import free_port


def stack_env(run_dir: Path, **extra: str) -> dict[str, str]:
    """Every listening port of the local stack on a free one, state under ``run_dir``, plus ``extra``."""
    kafka_port = free_port()
    return {
        **os.environ,
        "STOCKPULSE_RUN_DIR": str(run_dir),
        "STOCKPULSE_KAFKA_PORT": str(kafka_port),
        "STOCKPULSE_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka_port}",
        "STOCKPULSE_KAFKA_CONTROLLER_PORT": str(free_port()),
        "STOCKPULSE_KAFKA_METRICS_PORT": str(free_port()),
        "STOCKPULSE_API_BIND": f"127.0.0.1:{free_port()}",
        "STOCKPULSE_METASTORE_PORT": str(free_port()),
        "STOCKPULSE_SPARK_UI_PORT": str(free_port()),
        "STOCKPULSE_INGEST_METRICS_BIND": f"127.0.0.1:{free_port()}",
        "STOCKPULSE_PROMETHEUS_PORT": str(free_port()),
        **extra,
    }
