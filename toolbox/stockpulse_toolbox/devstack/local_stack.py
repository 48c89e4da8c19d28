"""The one builder of a local stack: the parts you ask for, on the ports of the settings you give.

``stockpulse up``, the demo, the bench, the soak, the fault suite and the integration tests
all build their stack here, so there is one way a broker, a metastore, an API or an ingest
starts on this machine::

    with LocalStack(on_free_ports(settings, run_dir), "kafka", "api") as stack:
        ...  # stack.kafka.bootstrap, stack.settings.api.url

Parts start in dependency order, each waiting until it is usable (Kafka answers metadata
and has the topics, the API is ready, the ingest's query runs), and stop in reverse.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from stockpulse.events.admin import ensure_topics
from stockpulse.settings import Settings

from .api_server import ApiServer
from .ingest_job import IngestJob
from .kafka import KafkaBroker
from .maintain_job import MaintainJob
from .metastore import LocalMetastore
from .postgres import LocalPostgres
from .process import free_ports
from .prometheus import LocalPrometheus

#: Every part, in the order they start.
PARTS = ("kafka", "metastore", "postgres", "api", "ingest", "maintain", "prometheus")
#: Parts another part cannot work without: asking for the API brings the database of its keys.
NEEDS = {"api": ("postgres",)}


def on_free_ports(settings: Settings, run_dir: Path, **overrides: Any) -> Settings:
    """``settings`` with every listening port on a free one and its state under ``run_dir``:
    a stack beside any other on this machine (tests, the bench, the soak)."""
    kafka, controller, api, probes, metastore, spark_ui, ingest_metrics, kafka_metrics, prometheus, postgres = (
        free_ports(10)
    )
    local = {
        "kafka_port": kafka,
        "kafka_controller_port": controller,
        "metastore_port": metastore,
        "kafka_metrics_port": kafka_metrics,
        "prometheus_port": prometheus,
        "postgres_port": postgres,
    }
    on_ports = settings.with_overrides(
        run_dir=run_dir,
        local=local,
        kafka={"bootstrap": f"127.0.0.1:{kafka}"},
        api={"bind": f"127.0.0.1:{api}", "probe_bind": f"127.0.0.1:{probes}"},
        lake={
            "metastore_uri": "",
            "warehouse": "",
            "checkpoint_dir": "",
            "metrics_bind": f"127.0.0.1:{ingest_metrics}",
        },
        spark={"ui_port": spark_ui},
    )
    return on_ports.with_overrides(**overrides)


def http_status(url: str, timeout: float = 2.0) -> tuple[int, Any]:
    """The status and JSON body of a GET (0 and the error when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return 0, {"error": str(exc)}


class LocalStack:
    """The parts of a local stack; ``start`` brings up those asked for (all by default)."""

    def __init__(self, settings: Settings, *parts: str, ingest_ui: bool = True) -> None:
        unknown = set(parts) - set(PARTS)
        if unknown:
            raise ValueError(f"unknown parts {sorted(unknown)}; the parts are {', '.join(PARTS)}")
        self.settings = settings
        wanted = set(parts) | {need for part in parts for need in NEEDS.get(part, ())}
        self.parts = tuple(p for p in PARTS if p in wanted) if parts else PARTS
        self.ingest_ui = ingest_ui
        # The broker's JMX exporter costs CPU; only a stack with Prometheus scrapes it.
        metrics_port = settings.local.kafka_metrics_port if "prometheus" in self.parts else None
        self.kafka = KafkaBroker(
            settings.run_dir, settings.local.kafka_port, settings.local.kafka_controller_port, metrics_port=metrics_port
        )
        self.metastore = LocalMetastore(settings)
        self.postgres = LocalPostgres(settings)
        self.api = ApiServer(settings)
        self.ingest = IngestJob(settings)
        self.maintain = MaintainJob(settings)
        self.prometheus = LocalPrometheus(settings)
        self._started: list[str] = []

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def starter(self, name: str) -> Callable[[], str]:
        """The function that starts part ``name`` and waits until it is usable; it says how to reach it."""
        return getattr(self, f"_start_{name}")

    def start(self, *names: str, before: dict[str, Callable[[], None]] | None = None) -> None:
        """Start ``names`` (default: the stack's parts) in order; ``before[name]`` runs just before ``name``."""
        for name in self.with_needs(names or self.parts):
            if before and name in before:
                before[name]()
            self.starter(name)()
            if name not in self._started:
                self._started.append(name)

    def with_needs(self, names: tuple[str, ...]) -> list[str]:
        """``names``, each preceded by the parts it needs that are neither asked for nor running."""
        order: list[str] = []
        for name in names:
            for need in NEEDS.get(name, ()):
                if need not in order and need not in names and not self.part(need).running():
                    order.append(need)
            order.append(name)
        return order

    def stop(self, *names: str) -> list[str]:
        """Stop ``names`` (default: every part this object started) in reverse order; those that ran."""
        stopped = []
        for name in reversed(names or PARTS):
            if not names and name not in self._started:
                continue
            if self.part(name).stop():
                stopped.append(name)
            if name in self._started:
                self._started.remove(name)
        return stopped

    def part(self, name: str) -> Any:
        return getattr(self, name)

    def ingest_job(self, settings: Settings | None = None, name: str = "ingest") -> IngestJob:
        """Another ingest driver on this stack (another checkpoint, rules or a second driver)."""
        return IngestJob(settings or self.settings, name)

    def _start_kafka(self) -> str:
        self.kafka.start()
        self.kafka.wait_ready()
        created = ensure_topics(self.kafka.bootstrap)
        return f"ready on {self.kafka.bootstrap}" + (f" (created topics {', '.join(created)})" if created else "")

    def _start_metastore(self) -> str:
        self.metastore.start()
        return f"ready on {self.metastore.uri}"

    def _start_postgres(self) -> str:
        self.postgres.start()
        return f"ready on {self.postgres.dsn}"

    def _start_api(self, timeout: float = 30.0) -> str:
        self.api.start()
        deadline = time.monotonic() + timeout
        while http_status(self.settings.api.url + "/readyz")[0] != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"api did not become ready; see {self.api.process.log_file}")
            time.sleep(0.2)
        return f"ready on {self.settings.api.url}"

    def _start_ingest(self) -> str:
        self.ingest.start(ui=self.ingest_ui)
        return "running" + (f" (Spark UI http://127.0.0.1:{self.settings.spark.ui_port})" if self.ingest_ui else "")

    def _start_maintain(self) -> str:
        self.maintain.start()
        return f"running, first run in {self.settings.maintenance.interval_minutes:g} min"

    def _start_prometheus(self) -> str:
        self.prometheus.start()
        return f"ready on {self.prometheus.url}"
