"""Helpers for the lake tests: produce contract events straight to Kafka, wait for the ingest, query the lake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from stockpulse.devstack.api_server import settings_env
from stockpulse.devstack.ingest_job import IngestJob
from stockpulse.events.admin import topic_end_offsets
from stockpulse.events.topics import LAKE_TOPICS
from stockpulse.lake.progress import lag
from stockpulse.settings import Settings

STOCKPULSE = str(Path(sys.executable).parent / "stockpulse")


def produce(bootstrap: str, records: list[tuple[str, str | None, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5})
    failures: list[Any] = []
    for topic, key, value in records:
        producer.produce(topic, key=key, value=value, on_delivery=lambda err, _m: err and failures.append(err))
        producer.poll(0)
    assert producer.flush(30) == 0
    assert failures == []


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def wait_caught_up(settings: Settings, job: IngestJob, timeout: float = 180.0) -> dict[str, Any]:
    """Until the job's last finished batch covers every record in Kafka."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert job.running(), f"ingest died; see {job.process.log_file}"
        progress = job.progress()
        if (
            progress
            and progress.get("batch_finished") is not None
            and progress.get("batch_started") == progress.get("batch_finished")
        ):
            behind = lag(topic_end_offsets(settings.kafka_bootstrap, LAKE_TOPICS), progress)
            if progress.get("batch_id") == progress.get("batch_finished") and sum(behind.values()) == 0:
                return progress
        time.sleep(0.5)
    raise AssertionError(f"ingest did not catch up in {timeout}s: {job.progress()}")


def sql_json(settings: Settings, query: str, timeout: float = 180) -> list[dict[str, Any]]:
    """Rows of ``query`` through ``stockpulse sql --json``: the analysts' path."""
    env = {**os.environ, **settings_env(settings)}
    result = subprocess.run(
        [STOCKPULSE, "sql", "--json", query], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def in_flight(progress: dict[str, Any]) -> bool:
    """A batch has run for a good part of a typical batch: its merges are under way."""
    started = progress.get("batch_started")
    if started is None or started == progress.get("batch_finished"):
        return False
    history = progress.get("history") or []
    typical = history[-1]["finished_at"] - history[-1]["started_at"] if history else 1.0
    return time.time() - progress["batch_started_at"] > 0.4 * typical


def kill_when(job: IngestJob, predicate, timeout: float = 120.0) -> dict:
    """SIGKILL the job (driver and JVM) as soon as its progress satisfies ``predicate``; return that progress."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = job.progress()
        if progress and predicate(progress):
            job.kill()
            return progress
        time.sleep(0.02)
    raise AssertionError(f"condition never met: {job.progress()}")
