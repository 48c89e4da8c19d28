"""Debian's Prometheus for the local stack: a generated scrape config, the chart's rules, data under the run folder.

It scrapes what a cluster's Prometheus scrapes through the chart's monitors, with the
same metric names: the API (one target: in multiprocess mode any worker's ``/metrics``
sums every worker's files), the ingest driver (``STOCKPULSE_INGEST_METRICS_BIND``), the
Kafka broker's JMX exporter agent, and itself. Every target carries
``namespace="local"``, the label a cluster's targets get from their namespace, so the
dashboards' and rules' queries run unchanged. The rules are the chart's
``charts/stockpulse/rules/stockpulse.rules.yaml``, so a broken rule stops ``up``.
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from typing import Any

from stockpulse.settings import PROJECT_ROOT, Settings

from .process import ManagedProcess, wait_until

RULES = PROJECT_ROOT / "charts" / "stockpulse" / "rules" / "stockpulse.rules.yaml"
NAMESPACE = "local"
SCRAPE_INTERVAL = "5s"


def _loopback(bind: str) -> str:
    """A listening address as a scrape target: a wildcard host is reached on loopback."""
    host, port = bind.rsplit(":", 1)
    return f"{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{port}"


def scrape_targets(settings: Settings) -> dict[str, str]:
    """Job name -> host:port of each part of the local stack that serves metrics."""
    return {
        "stockpulse-api": _loopback(settings.api.probe_bind),  # gunicorn's API answers /metrics there
        "stockpulse-ingest": _loopback(settings.lake.metrics_bind),
        "stockpulse-kafka": f"127.0.0.1:{settings.local.kafka_metrics_port}",
        "prometheus": f"127.0.0.1:{settings.local.prometheus_port}",
    }


def config(settings: Settings) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target], "labels": {"namespace": NAMESPACE}}]}
            for job, target in scrape_targets(settings).items()
        ],
    }


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        raise FileNotFoundError("Debian's prometheus is not installed: run `make setup` as root")
    return found


class LocalPrometheus:
    def __init__(self, settings: Settings, name: str = "prometheus") -> None:
        self.settings = settings
        self.home = settings.run_dir / "prometheus-server"
        self.process = ManagedProcess(name, settings.run_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.local.prometheus_port}"

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def start(self, timeout: float = 60.0) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        config_file = self.home / "prometheus.yml"
        config_file.write_text(json.dumps(config(self.settings), indent=2))  # JSON is YAML too
        self.process.start(
            [
                prometheus_binary(),
                f"--config.file={config_file}",
                f"--storage.tsdb.path={self.home / 'data'}",
                "--storage.tsdb.retention.time=7d",
                f"--web.listen-address=127.0.0.1:{self.settings.local.prometheus_port}",
            ]
        )
        wait_until(lambda: self.get("/-/ready")[0] == 200, timeout, "prometheus", alive=self.process.running)

    def targets(self) -> list[dict[str, Any]]:
        status, body = self.get("/api/v1/targets?state=active")
        return json.loads(body)["data"]["activeTargets"] if status == 200 else []

    def health(self) -> dict[str, Any]:
        if self.get("/-/ready")[0] != 200:
            return {"healthy": False, "detail": f"{self.url} not ready"}
        targets = self.targets()
        down = sorted(t["labels"]["job"] for t in targets if t["health"] != "up")
        up = len(targets) - len(down)
        detail = f"{self.url}, {up}/{len(targets)} targets up" + (f" (down: {', '.join(down)})" if down else "")
        return {"healthy": True, "detail": detail, "targets_down": down}

    def stop(self, timeout: float = 30.0) -> bool:
        return self.process.stop(timeout)

    def running(self) -> bool:
        return self.process.running()
