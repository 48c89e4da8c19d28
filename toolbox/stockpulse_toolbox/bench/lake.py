"""The lake figures: ingest throughput from a pre-filled topic, and end-to-end freshness.

``measure_ingest`` produces events straight to Kafka and times ``stockpulse ingest --available-now``
from its first micro-batch's start to the last Iceberg commit; ``measure_freshness`` times orders
through the API from each 201 to the commit of the snapshot that added its row (``visible_at``);
``measure_insight_freshness`` times one buy at a time until ``/stocks/<t>/insights`` counts it.
Method: docs/performance.md, "Freshness", "Insight freshness" and "Ingest throughput".
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from stockpulse.events import STOCK_CALL, STOCK_OPERATION, stock_call_event, stock_operation_event
from stockpulse.events.admin import topic_end_offsets
from stockpulse.events.topics import LAKE_TOPICS
from stockpulse.lake.catchup import caught_up
from stockpulse.lake.progress import progress_path, read_progress
from stockpulse.settings import Settings, load_settings

from ..devstack.ingest_job import IngestJob
from ..devstack.local_stack import LocalStack
from ..devstack.produce import produce_records
from .api import group_cpu_seconds
from .stats import percentiles


def produce_events(settings: Settings, count: int, order_share: float = 0.2, seed: int = 1) -> float:
    """``count`` valid contract events straight to Kafka; returns the seconds it took."""
    rng = random.Random(seed)
    tickers = settings.tickers

    def events() -> Iterator[tuple[str, str, dict]]:
        for i in range(count):
            ticker = tickers[rng.randrange(len(tickers))]
            context = {"user_id": f"bench-{i % 500}", "session_id": f"s{i % 2000}", "headers": {"Accept": "*/*"}}
            if rng.random() < order_share:
                side = "buy" if rng.random() < 0.5 else "sell"
                price = round(rng.uniform(10, 500), 2)
                yield STOCK_OPERATION, ticker, stock_operation_event(ticker, side, rng.randint(1, 50), price, context)
            else:
                quote = {"price": round(rng.uniform(10, 500), 2), "currency": "USD", "source": "simulated"}
                yield STOCK_CALL, ticker, stock_call_event(ticker, quote, context)

    started = time.monotonic()
    produce_records(
        settings.kafka.bootstrap,
        events(),
        config={"batch.size": 1_000_000, "queue.buffering.max.messages": 500_000},
    )
    return time.monotonic() - started


def total_offsets(settings: Settings) -> int:
    ends = topic_end_offsets(settings.kafka.bootstrap, LAKE_TOPICS)
    return sum(sum(parts.values()) for parts in ends.values())


def iceberg_catalog(settings: Settings):
    from pyiceberg.catalog.hive import HiveCatalog

    return HiveCatalog("bench", uri=settings.metastore_thrift_uri)


def last_commit_ms(settings: Settings, tables: tuple[str, ...] = LAKE_TOPICS) -> float | None:
    catalog = iceberg_catalog(settings)
    stamps = []
    for name in tables:
        snapshot = catalog.load_table(f"default.{name}").current_snapshot()
        if snapshot is not None:
            stamps.append(snapshot.timestamp_ms)
    return max(stamps) if stamps else None


def measure_ingest(settings: Settings, events: int, timeout: float = 1200.0) -> dict[str, Any]:
    """Produce ``events`` and time ``stockpulse ingest --available-now`` catching up with them."""
    produce_s = produce_events(settings, events)
    in_kafka = total_offsets(settings)
    progress_file = progress_path(settings.run_dir)
    progress_file.unlink(missing_ok=True)
    job = LocalStack(settings).ingest
    env, argv = job.env(), job.argv(available_now=True, ui=False)
    log = settings.run_dir / "logs" / "ingest-available-now.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    launched = time.time()
    first: tuple[int, float] | None = None
    batches: set[int] = set()
    cpu_s = 0.0  # the job's process group, the JVM included, at its last sample before it exited
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"ingest --available-now not done after {timeout:.0f}s; see {log}")
                cpu_s = max(cpu_s, group_cpu_seconds(proc.pid, reaped=True))
                progress = read_progress(progress_file) or {}
                if progress.get("batch_started") is not None:
                    batches.add(progress["batch_started"])
                    if first is None or progress["batch_started"] < first[0]:
                        first = (progress["batch_started"], progress["batch_started_at"])
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
    exited = time.time()
    if proc.returncode != 0:
        raise RuntimeError(f"ingest --available-now exited {proc.returncode}; see {log}")
    progress = read_progress(progress_file) or {}
    commit_ms = last_commit_ms(settings)
    if first is None or commit_ms is None:
        raise RuntimeError(f"ingest wrote no batch; see {log}")
    processing_s = commit_ms / 1000.0 - first[1]
    # Sustained: from the second batch on, once the first batch has paid for JIT and class loading.
    history = sorted(progress.get("history") or [], key=lambda b: b["batch"])
    sustained = None
    if len(history) >= 2:
        later_s = commit_ms / 1000.0 - history[1]["started_at"]
        if later_s > 0:
            sustained = round((in_kafka - history[0]["records"]) / later_s, 1)
    totals = progress.get("totals") or {}
    rows = sum(totals.values())
    return {
        "events_produced": events,
        "events_in_kafka": in_kafka,
        "rows_written": totals,
        "produce_seconds": round(produce_s, 2),
        "batches": len(batches),
        "first_batch_seen": first[0],
        "seconds_first_batch_to_last_commit": round(processing_s, 2),
        "events_per_second": round(in_kafka / processing_s, 1) if processing_s > 0 else None,
        "sustained_events_per_second_after_first_batch": sustained,
        "seconds_with_jvm_start": round(exited - launched, 2),
        "events_per_second_with_jvm_start": round(in_kafka / (exited - launched), 1),
        # JVM start, class loading and the first batch's code generation included
        "cpu_seconds": round(cpu_s, 1),
        "cpu_seconds_per_1000_events": round(cpu_s / in_kafka * 1000, 3) if in_kafka else None,
        "caught_up": rows == in_kafka and caught_up(progress, topic_end_offsets(settings.kafka.bootstrap, LAKE_TOPICS)),
        "spark_processed_rows_per_second_last_batch": progress.get("processed_rows_per_second"),
    }


def send_orders(api_url: str, tickers: tuple[str, ...], count: int, rate: float) -> list[tuple[str, float]]:
    """``count`` orders at ``rate`` per second; (order_id, wall time of the 201) for each."""
    import requests

    sent: list[tuple[str, float]] = []
    rng = random.Random(5)
    interval = 1.0 / rate
    start = time.monotonic()
    with requests.Session() as session:
        for i in range(count):
            delay = start + i * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            body = {"side": rng.choice(["buy", "sell"]), "quantity": rng.randint(1, 50)}
            resp = session.post(
                f"{api_url}/stocks/{rng.choice(tickers)}/orders", json=body, headers={"X-User-Id": "bench"}, timeout=30
            )
            answered = time.time()
            if resp.status_code != 201:
                raise RuntimeError(f"order answered {resp.status_code}: {resp.text[:200]}")
            sent.append((resp.json()["order_id"], answered))
    return sent


def _local_path(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme in ("file", "") else uri


def visible_at(settings: Settings, since_ms: float) -> dict[str, float]:
    """order_id -> commit time (ms) of the first snapshot, committed after ``since_ms``, that added its row."""
    import pyarrow.parquet as pq

    table = iceberg_catalog(settings).load_table(f"default.{STOCK_OPERATION}")
    seen: dict[str, float] = {}
    read: set[str] = set()
    for snapshot in sorted(table.snapshots(), key=lambda s: s.timestamp_ms):
        if snapshot.timestamp_ms < since_ms:
            continue
        entries = table.inspect.entries(snapshot_id=snapshot.snapshot_id).to_pylist()
        for entry in entries:
            data_file = entry["data_file"]
            if entry["status"] != 1 or entry["snapshot_id"] != snapshot.snapshot_id or data_file["content"] != 0:
                continue
            path = data_file["file_path"]
            if path in read:
                continue
            read.add(path)
            for order_id in pq.read_table(_local_path(path), columns=["order_id"]).column("order_id").to_pylist():
                seen.setdefault(order_id, float(snapshot.timestamp_ms))
    return seen


class BatchWatch(threading.Thread):
    """Micro-batch durations of the running job, from its progress file.

    A batch ends when the file first shows it finished or, if the job went straight on to the
    next batch before publishing that, when the next one started (0.1 s polling).
    """

    def __init__(self, job: IngestJob) -> None:
        super().__init__(name="batch-watch", daemon=True)
        self.job = job
        self.durations: list[float] = []
        self._halt = threading.Event()

    def run(self) -> None:
        starts: dict[int, float] = {}
        done: set[int] = set()
        while not self._halt.wait(0.1):
            progress = self.job.progress() or {}
            started, finished = progress.get("batch_started"), progress.get("batch_finished")
            if started is not None and progress.get("batch_started_at"):
                starts.setdefault(started, progress["batch_started_at"])
            for batch in sorted(starts):
                if batch in done or finished is None or batch > finished:
                    continue
                done.add(batch)
                self.durations.append(min(time.time(), starts.get(batch + 1, time.time())) - starts[batch])

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def measure_freshness(settings: Settings, job: IngestJob, count: int, rate: float) -> dict[str, Any]:
    """Orders through the API while the ingest runs; API 201 -> row visible in ``stock_operation``.

    Measured once the insights query has also read the backlog the ingest phase left in Kafka:
    steady state, not a restart's catch-up (both queries share the driver's cores)."""
    job.wait_caught_up(timeout=900, insights=True)
    # warm-up: the restarted job's first batches pay for class loading and code generation
    send_orders(settings.api.url, settings.tickers, max(10, count // 10), rate)
    job.wait_caught_up(timeout=300, insights=True)
    since_ms = time.time() * 1000.0
    watch = BatchWatch(job)
    watch.start()
    try:
        sent = send_orders(settings.api.url, settings.tickers, count, rate)
        job.wait_caught_up(timeout=300)
    finally:
        watch.stop()
    seen = visible_at(settings, since_ms)
    delays = [seen[order_id] / 1000.0 - answered for order_id, answered in sent if order_id in seen]
    missing = sum(1 for order_id, _ in sent if order_id not in seen)
    figures = percentiles(delays, (50, 95, 99))
    progress = job.progress() or {}
    return {
        "orders": count,
        "rate_per_second": rate,
        "visible": len(delays),
        "missing": missing,
        "seconds": {k: round(v, 3) for k, v in figures.items()},
        "min_s": round(min(delays), 3) if delays else None,
        "max_s": round(max(delays), 3) if delays else None,
        "trigger_seconds": settings.lake.trigger_seconds,
        "batches": len(watch.durations),
        "batch_seconds": {k: round(v, 2) for k, v in percentiles(watch.durations, (50, 95)).items()},
        "last_batch_rows_per_second": progress.get("processed_rows_per_second"),
    }


def _buy_orders(api_url: str, ticker: str, session) -> int | None:
    resp = session.get(f"{api_url}/stocks/{ticker}/insights", timeout=10)
    return resp.json()["windows"]["15m"]["buy_orders"] if resp.status_code == 200 else None


def measure_insight_freshness(settings: Settings, probes: int, timeout: float = 30.0) -> dict[str, Any]:
    """Order 201 -> ``/stocks/<t>/insights`` counts it, one probe at a time (nothing else ordering ``t``)."""
    import requests

    ticker = settings.tickers[-1]
    delays: list[float] = []
    with requests.Session() as session:
        deadline = time.monotonic() + 300
        while _buy_orders(settings.api.url, ticker, session) is None:  # the first snapshot
            if time.monotonic() > deadline:
                raise RuntimeError("no insights snapshot within 300 s")
            time.sleep(0.5)
        for _ in range(probes):
            before = _buy_orders(settings.api.url, ticker, session) or 0
            resp = session.post(
                f"{settings.api.url}/stocks/{ticker}/orders",
                json={"side": "buy", "quantity": 1},
                headers={"X-User-Id": "bench-insights"},
                timeout=30,
            )
            answered = time.monotonic()
            if resp.status_code != 201:
                raise RuntimeError(f"order answered {resp.status_code}: {resp.text[:200]}")
            while (_buy_orders(settings.api.url, ticker, session) or 0) <= before:
                if time.monotonic() - answered > timeout:
                    raise RuntimeError(f"insights did not count an order within {timeout:.0f} s")
                time.sleep(0.05)
            delays.append(time.monotonic() - answered)
    return {
        "probes": probes,
        "ticker": ticker,
        "seconds": {k: round(v, 3) for k, v in percentiles(delays, (50, 95)).items()},
        "max_s": round(max(delays), 3),
        "insights_trigger_seconds": settings.insights.trigger_seconds,
        "poll_interval_s": 0.05,
    }


def main(argv: list[str] | None = None) -> int:
    """Ingest throughput alone, for trying knobs: ``python -m stockpulse_toolbox.bench.lake --events 300000``.

    Uses the user's settings (e.g. ``STOCKPULSE_MAX_OFFSETS_PER_TRIGGER``) on fresh ports and folders.
    """
    import argparse
    import tempfile

    from .benchstack import bench_settings, drop_data

    parser = argparse.ArgumentParser(description="ingest throughput from a pre-filled topic")
    parser.add_argument("--events", type=int, default=300_000)
    args = parser.parse_args(argv)
    base = load_settings()
    run_dir = Path(tempfile.mkdtemp(prefix="ingest-", dir=base.run_dir if base.run_dir.is_dir() else None))
    settings = bench_settings(base, run_dir)
    try:
        with LocalStack(settings, "kafka", "metastore"):
            figures = measure_ingest(settings, args.events)
    finally:
        drop_data(run_dir)
    print(json.dumps({"max_offsets_per_trigger": settings.lake.max_offsets_per_trigger, **figures}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
