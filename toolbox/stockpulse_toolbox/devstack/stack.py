"""``stockpulse up`` / ``down`` / ``status``: the whole local stack (``LocalStack``) in the background.

Each start prints one progress line; ``status`` asks each part whether it is healthy.
Prometheus starts last, once everything it scrapes runs, and stops first.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stockpulse.events.admin import list_topics, topic_end_offsets
from stockpulse.events.topics import LAKE_TOPICS
from stockpulse.lake.progress import lag
from stockpulse.settings import Settings

from .local_stack import PARTS, LocalStack, http_status
from .process import port_open


def say(message: str) -> None:
    print(f"[stockpulse] {message}", file=sys.stderr, flush=True)


@dataclass
class Part:
    name: str
    start: Callable[[], str]  # starts the part, waits until it is usable, says how to reach it
    stop: Callable[[], bool]
    running: Callable[[], bool]
    health: Callable[[], dict[str, Any]]


def parts(settings: Settings) -> list[Part]:
    stack = LocalStack(settings)
    kafka, api, metastore, ingest = stack.kafka, stack.api, stack.metastore, stack.ingest

    def kafka_health() -> dict[str, Any]:
        if not kafka.running():
            return {"healthy": False, "detail": "not running"}
        try:
            topics = list_topics(kafka.bootstrap, timeout=3)
            return {"healthy": True, "detail": f"{kafka.bootstrap}, topics: {', '.join(sorted(topics))}"}
        except Exception as exc:
            return {"healthy": False, "detail": str(exc)}

    def api_health() -> dict[str, Any]:
        if not api.running():
            return {"healthy": False, "detail": "not running"}
        code, body = http_status(settings.api.url + "/readyz")
        return {"healthy": code == 200, "detail": f"{settings.api.url} readyz={code} {json.dumps(body)}"}

    def metastore_health() -> dict[str, Any]:
        if not metastore.running():
            return {"healthy": False, "detail": "not running"}
        ok = port_open("127.0.0.1", metastore.port)
        return {"healthy": ok, "detail": f"{metastore.uri} (Derby under {metastore.home})"}

    def postgres_health() -> dict[str, Any]:
        postgres = stack.postgres
        if not postgres.running():
            return {"healthy": False, "detail": "not running"}
        ok = port_open("127.0.0.1", postgres.port)
        return {"healthy": ok, "detail": f"{postgres.dsn} (data under {postgres.data})"}

    def ingest_health() -> dict[str, Any]:
        if not ingest.running():
            return {"healthy": False, "detail": "not running"}
        return {"healthy": True, **ingest_report(settings, ingest.progress())}

    def prometheus_health() -> dict[str, Any]:
        if not stack.prometheus.running():
            return {"healthy": False, "detail": "not running"}
        return stack.prometheus.health()

    health = {
        "kafka": kafka_health,
        "metastore": metastore_health,
        "postgres": postgres_health,
        "api": api_health,
        "ingest": ingest_health,
        "maintain": stack.maintain.health,
        "prometheus": prometheus_health,
    }
    return [
        Part(name, stack.starter(name), stack.part(name).stop, stack.part(name).running, health[name]) for name in PARTS
    ]


def ingest_report(settings: Settings, progress: dict[str, Any] | None) -> dict[str, Any]:
    """Last batch, rows per second and lag per topic, for ``status``."""

    if progress is None:
        return {"detail": "starting", "lag": None}
    try:
        lags = lag(topic_end_offsets(settings.kafka.bootstrap, LAKE_TOPICS, timeout=3), progress)
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


class StartFailed(RuntimeError):
    """A part did not start; what this ``up`` had started is stopped again, the rest left running."""

    def __init__(self, part: str, stopped: list[str], cause: BaseException) -> None:
        self.part, self.stopped = part, stopped
        super().__init__(f"{part}: {cause}")


def up(settings: Settings, before: Mapping[str, Callable[[], None]] | None = None) -> list[str]:
    """Start every part not running yet, leaving those that run alone (so ``up`` repairs a stack one
    part of which died); ``before[name]`` runs just before part ``name`` starts (the demo's backfill
    goes to Kafka before the ingest's first batch). Returns the parts it started.

    When a part does not start, the parts this call started, that one included, are stopped, and
    ``StartFailed`` says which: what ran before this call keeps running, and its pid files stay."""
    started: list[Part] = []
    for part in parts(settings):
        if part.running():
            say(f"{part.name} already running")
            continue
        if before and part.name in before:
            before[part.name]()
        say(f"starting {part.name} ...")
        began = time.monotonic()
        started.append(part)
        try:
            ready = part.start()
        except Exception as exc:
            stopped = [p.name for p in reversed(started) if p.stop()]
            raise StartFailed(part.name, stopped, exc) from exc
        say(f"{part.name} {ready} in {time.monotonic() - began:.1f}s")
    say("stack is up; `stockpulse status` to check, `stockpulse down` to stop")
    return [p.name for p in started]


def down(settings: Settings) -> None:
    for part in reversed(parts(settings)):
        if part.stop():
            say(f"stopped {part.name}")


def status(settings: Settings) -> dict[str, dict[str, Any]]:
    report: dict[str, dict[str, Any]] = {}
    for part in parts(settings):
        report[part.name] = {"running": part.running(), **part.health()}
    return report
