"""``stockpulse up`` / ``down`` / ``status``: the local stack, each part a background process.

The parts: Kafka, the metastore, the API, the streaming ingest and the table maintenance
(``stockpulse maintain --every STOCKPULSE_MAINTAIN_INTERVAL_MINUTES``).

Parts start in dependency order and stop in reverse. Each start prints one progress
line and waits until the part is really usable (Kafka answers metadata, the API is
ready), so a command that follows ``up`` never races the stack. Prometheus starts
last, once everything it scrapes runs, and stops first.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stockpulse.events.admin import ensure_topics, topic_end_offsets
from stockpulse.events.topics import LAKE_TOPICS
from stockpulse.lake.progress import lag
from stockpulse.settings import Settings

from .api_server import ApiServer
from .ingest_job import IngestJob
from .kafka import KafkaBroker
from .maintain_job import MaintainJob
from .metastore import LocalMetastore
from .process import port_open
from .prometheus import LocalPrometheus


def say(message: str) -> None:
    print(f"[stockpulse] {message}", file=sys.stderr, flush=True)


def broker(settings: Settings) -> KafkaBroker:
    return KafkaBroker(
        settings.run_dir, settings.kafka_port, settings.kafka_controller_port, metrics_port=settings.kafka_metrics_port
    )


@dataclass
class Part:
    name: str
    start: Callable[[], str]  # starts the part, waits until it is usable, says how to reach it
    stop: Callable[[], bool]
    running: Callable[[], bool]
    health: Callable[[], dict[str, Any]]


def _http_json(url: str, timeout: float = 2.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return 0, {"error": str(exc)}


def parts(settings: Settings) -> list[Part]:
    kafka = broker(settings)
    api = ApiServer(settings)

    def start_kafka() -> str:
        kafka.start()
        kafka.wait_ready()
        created = ensure_topics(kafka.bootstrap)
        return f"ready on {kafka.bootstrap}" + (f" (created topics {', '.join(created)})" if created else "")

    def kafka_health() -> dict[str, Any]:
        if not kafka.running():
            return {"healthy": False, "detail": "not running"}
        try:
            from confluent_kafka.admin import AdminClient

            topics = AdminClient({"bootstrap.servers": kafka.bootstrap}).list_topics(timeout=3).topics
            return {"healthy": True, "detail": f"{kafka.bootstrap}, topics: {', '.join(sorted(topics))}"}
        except Exception as exc:
            return {"healthy": False, "detail": str(exc)}

    def start_api() -> str:
        api.start()
        deadline = time.monotonic() + 30
        while _http_json(settings.api_url + "/readyz")[0] != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("api did not become ready; see " + str(api.process.log_file))
            time.sleep(0.2)
        return f"ready on {settings.api_url}"

    def api_health() -> dict[str, Any]:
        if not api.running():
            return {"healthy": False, "detail": "not running"}
        code, body = _http_json(settings.api_url + "/readyz")
        return {"healthy": code == 200, "detail": f"{settings.api_url} readyz={code} {json.dumps(body)}"}

    metastore = LocalMetastore(settings)

    def start_metastore() -> str:
        metastore.start()
        return f"ready on {metastore.uri}"

    def metastore_health() -> dict[str, Any]:
        if not metastore.running():
            return {"healthy": False, "detail": "not running"}
        ok = port_open("127.0.0.1", metastore.port)
        return {"healthy": ok, "detail": f"{metastore.uri} (Derby under {metastore.home})"}

    ingest = IngestJob(settings)

    def start_ingest() -> str:
        ingest.start()
        return f"running (Spark UI http://127.0.0.1:{settings.spark_ui_port})"

    def ingest_health() -> dict[str, Any]:
        if not ingest.running():
            return {"healthy": False, "detail": "not running"}
        return {"healthy": True, **ingest_report(settings, ingest.progress())}

    maintain = MaintainJob(settings)

    def start_maintain() -> str:
        maintain.start()
        return f"running, first run in {settings.maintain_interval_minutes:g} min"

    prometheus = LocalPrometheus(settings)

    def start_prometheus() -> str:
        prometheus.start()
        return f"ready on {prometheus.url}"

    def prometheus_health() -> dict[str, Any]:
        if not prometheus.running():
            return {"healthy": False, "detail": "not running"}
        return prometheus.health()

    return [
        Part("kafka", start_kafka, kafka.stop, kafka.running, kafka_health),
        Part("metastore", start_metastore, metastore.stop, metastore.running, metastore_health),
        Part("api", start_api, api.stop, api.running, api_health),
        Part("ingest", start_ingest, ingest.stop, ingest.running, ingest_health),
        Part("maintain", start_maintain, maintain.stop, maintain.running, maintain.health),
        Part("prometheus", start_prometheus, prometheus.stop, prometheus.running, prometheus_health),
    ]


def ingest_report(settings: Settings, progress: dict[str, Any] | None) -> dict[str, Any]:
    """Last batch, rows per second and lag per topic, for ``status``."""

    if progress is None:
        return {"detail": "starting", "lag": None}
    try:
        lags = lag(topic_end_offsets(settings.kafka_bootstrap, LAKE_TOPICS, timeout=3), progress)
    except Exception as exc:
        lags = {"error": str(exc)}
    age = time.time() - progress["updated_at"] if progress.get("updated_at") else None
    rate = progress.get("processed_rows_per_second")
    detail = (
        f"last batch {progress.get('batch_id')} ({progress.get('num_input_rows') or 0} rows"
        + (f", {rate:.0f} rows/s" if rate else "")
        + ")"
        + (f" {age:.0f}s ago" if age is not None else "")
        + f"; lag {', '.join(f'{t}={n}' for t, n in lags.items())}"
        + f"; routing rules v{progress.get('rules_version')}"
    )
    return {
        "detail": detail,
        "last_batch": progress.get("batch_id"),
        "rows_per_second": rate,
        "lag": lags,
        "totals": progress.get("totals"),
        "rules_version": progress.get("rules_version"),
    }


def up(settings: Settings, before: Mapping[str, Callable[[], None]] | None = None) -> None:
    """Start every part not running yet; ``before[name]`` runs just before part ``name`` starts
    (the demo's backfill goes to Kafka before the ingest's first batch)."""
    for part in parts(settings):
        if part.running():
            say(f"{part.name} already running")
            continue
        if before and part.name in before:
            before[part.name]()
        say(f"starting {part.name} ...")
        started = time.monotonic()
        ready = part.start()
        say(f"{part.name} {ready} in {time.monotonic() - started:.1f}s")
    say("stack is up; `stockpulse status` to check, `stockpulse down` to stop")


def down(settings: Settings) -> None:
    for part in reversed(parts(settings)):
        if part.stop():
            say(f"stopped {part.name}")


def status(settings: Settings) -> dict[str, dict[str, Any]]:
    report: dict[str, dict[str, Any]] = {}
    for part in parts(settings):
        report[part.name] = {"running": part.running(), **part.health()}
    return report
