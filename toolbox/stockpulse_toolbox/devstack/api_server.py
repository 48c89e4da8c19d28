"""The API under gunicorn as a background process, configured through the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from stockpulse.settings import Settings

from .paths import venv_bin
from .process import ManagedProcess, port_open, wait_until


class ApiServer:
    def __init__(self, settings: Settings, name: str = "api") -> None:
        self.settings = settings
        self.process = ManagedProcess(name, settings.run_dir)
        host, port = settings.api.bind.rsplit(":", 1)
        self.host, self.port = host, int(port)

    def start(self, timeout: float = 30.0, extra_env: Mapping[str, str] | None = None) -> None:
        prom_dir = self.settings.run_dir / "prometheus" / self.process.name
        env = {
            **os.environ,
            **self.settings.to_env(),
            "PROMETHEUS_MULTIPROC_DIR": str(prom_dir),
            **(extra_env or {}),
        }
        self.process.start(
            [venv_bin("gunicorn"), "-c", "python:stockpulse.api.gunicorn_config"], env=env, cwd=Path.cwd()
        )
        wait_until(lambda: port_open(self.host, self.port), timeout, "api", alive=self.process.running)

    def stop(self, timeout: float = 30.0) -> bool:
        return self.process.stop(timeout)

    def running(self) -> bool:
        return self.process.running()
