"""Table maintenance as a background process of the local stack: ``stockpulse maintain --every MINUTES``.

In a cluster a ScheduledSparkApplication starts one run per schedule instead; locally one
long-lived driver starts its SparkSession at the first run and keeps it, so later runs
cost no JVM start and ``up`` costs none either.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from stockpulse.lake.maintenance import status_path
from stockpulse.lake.progress import read_progress
from stockpulse.settings import Settings

from .process import ManagedProcess


class MaintainJob:
    def __init__(self, settings: Settings, name: str = "maintain") -> None:
        self.settings = settings
        self.process = ManagedProcess(name, settings.run_dir)

    def start(self) -> None:
        env = {**os.environ, **self.settings.to_env(), "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
        every = str(self.settings.maintenance.interval_minutes)
        self.process.start([sys.executable, "-m", "stockpulse.cli", "maintain", "--every", every], env=env)

    def stop(self, timeout: float = 120.0) -> bool:
        """SIGTERM lets a run in progress finish its current procedure before the driver stops."""
        return self.process.stop(timeout)

    def running(self) -> bool:
        return self.process.running()

    def health(self) -> dict[str, Any]:
        if not self.running():
            return {"healthy": False, "detail": "not running"}
        last = read_progress(status_path(self.settings.run_dir))
        every = f"every {self.settings.maintenance.interval_minutes:g} min"
        if last is None:
            return {"healthy": True, "detail": f"{every}; no run yet"}
        ago = time.time() - last.get("finished_at", 0)
        failed = last.get("failed") or []
        detail = f"{every}; last run {ago:.0f}s ago took {last.get('seconds')}s" + (
            f", {len(failed)} step(s) failed: {failed[0]}" if failed else ""
        )
        return {"healthy": not failed, "detail": detail, "last_run": last}
