"""Helpers for the lake tests: contract events straight to Kafka, the ingest watched, the lake queried."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from stockpulse.events import stock_call_event, stock_operation_event
from stockpulse.settings import DEFAULT_TICKERS, Settings
from stockpulse_toolbox.devstack.ingest_job import IngestJob
from stockpulse_toolbox.devstack.local_stack import LocalStack
from stockpulse_toolbox.devstack.produce import produce_records

STOCKPULSE = str(Path(sys.executable).parent / "stockpulse")
TICKERS = list(DEFAULT_TICKERS)


def produce(bootstrap: str, records: list[tuple[str, str | None, bytes]], logged_ms: float | None = None) -> None:
    """Send ``records``; ``logged_ms`` sets their Kafka (CreateTime) timestamp, else the producer's clock."""
    produce_records(bootstrap, records, timestamp_ms=logged_ms, config={"linger.ms": 5}, flush_timeout=30)


def valid_events(rng: random.Random, calls_per_ticker: dict[str, int], orders: int):
    """Contract events, shuffled: ``calls_per_ticker`` quote checks and ``orders`` orders on random tickers."""
    events = []
    for ticker, n in calls_per_ticker.items():
        for _ in range(n):
            quote = {
                "price": round(rng.uniform(10, 500), 2),
                "yearly_return": 0.1,
                "currency": "USD",
                "as_of": "2026-11-28T00:00:00Z",
                "source": "simulated",
            }
            context = {"user_id": f"u{rng.randint(1, 20)}", "session_id": f"s{rng.randint(1, 50)}", "headers": {}}
            events.append(("stock_call", ticker, stock_call_event(ticker, quote, context)))
    for _ in range(orders):
        ticker = rng.choice(TICKERS)
        context = {"user_id": f"u{rng.randint(1, 20)}", "session_id": None, "headers": {"Accept": "*/*"}}
        event = stock_operation_event(
            ticker, rng.choice(["buy", "sell"]), rng.randint(1, 500), round(rng.uniform(10, 500), 2), context
        )
        events.append(("stock_operation", ticker, event))
    rng.shuffle(events)
    return events


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def sql_json(settings: Settings, query: str, timeout: float = 180) -> list[dict[str, Any]]:
    """Rows of ``query`` through ``stockpulse sql --json``: the analysts' path."""
    env = {**os.environ, **settings.to_env()}
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


def between_tables(progress: dict[str, Any]) -> bool:
    """A batch in flight whose ``MERGE`` into stock_call has committed and the one into stock_operation
    not yet: a kill now leaves the batch half written."""
    started = progress.get("batch_started")
    in_progress = started is not None and started != progress.get("batch_finished")
    return in_progress and progress.get("batch_merged") == ["stock_call"]


def commits_since(settings: Settings, table: str, since_s: float) -> list[Any]:
    """The snapshots the ingest committed to ``table`` at or after ``since_s`` (maintenance's
    compactions, operation ``replace``, are not the ingest's)."""
    from pyiceberg.catalog.hive import HiveCatalog

    loaded = HiveCatalog("tests", uri=settings.metastore_thrift_uri).load_table(f"default.{table}")
    return [
        s
        for s in loaded.snapshots()
        if s.timestamp_ms >= since_s * 1000 and s.summary is not None and s.summary.operation.value != "replace"
    ]


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


def ingest_available_now(settings: Settings, timeout: float = 300) -> subprocess.CompletedProcess:
    """``stockpulse ingest --available-now`` as its own driver process (catch up, then exit)."""
    return LocalStack(settings).ingest.catch_up(timeout=timeout)


def lake_table(settings: Settings, name: str, columns: tuple[str, ...] = ("*",)):
    """The committed rows of ``name`` as Arrow, read by pyiceberg through the metastore (no Spark)."""
    from pyiceberg.catalog.hive import HiveCatalog

    table = HiveCatalog("tests", uri=settings.metastore_thrift_uri).load_table(f"default.{name}")
    return table.scan(selected_fields=columns).to_arrow()


def quarantined_ids(settings: Settings) -> list[str]:
    """``event_id`` of every quarantined record whose payload is a JSON object with one."""
    ids = []
    for raw in lake_table(settings, "quarantine", ("raw_value",)).column("raw_value").to_pylist():
        try:
            ids.append(json.loads(raw)["event_id"])
        except (TypeError, ValueError, KeyError):
            continue
    return ids
