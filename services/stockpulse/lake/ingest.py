"""The streaming ingest: Kafka topics -> validated, de-duplicated Iceberg tables, exactly once.

One Structured Streaming query subscribes to the event topics; its ``foreachBatch``
writer (``lake.writer``) merges each micro-batch into ``stock_call``,
``stock_operation`` and ``quarantine``. The checkpoint records Kafka offsets; the
idempotent merges make a replayed batch harmless, so every event lands exactly once
for every reader of the tables. The driver serves its metrics (``lake.ingest_metrics``)
on ``STOCKPULSE_INGEST_METRICS_BIND``.

Before it touches the checkpoint the job takes its driver lease (``lake.lease``; it
waits up to one lease TTL for a previous driver's lease to lapse, then gives up) and
keeps renewing it; it reads or extends the routing rules kept there (``lake.rules``),
and only then repairs an uncommitted batch (``lake.checkpoint``).

Run it::

    stockpulse ingest                 # continuous, trigger every STOCKPULSE_TRIGGER_SECONDS
    stockpulse ingest --available-now # catch up with what is in Kafka, then exit
    spark-submit spark/ingest.py      # the same, on a cluster
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from ..events.topics import LAKE_TOPICS
from ..settings import Settings
from .batch_stats import BatchCounts
from .checkpoint import drop_uncommitted_batch, next_batch_id
from .hadoopfs import HadoopFolder
from .lease import CheckpointBusy, DriverLease, LeaseLost
from .progress import progress_path, write_progress
from .rules import RoutingRules, RulesLog
from .session import build_session
from .source import event_stream
from .tables import ensure_tables, settings_properties
from .writer import batch_writer

log = logging.getLogger(__name__)

QUERY_NAME = "stockpulse-ingest"


def _offsets(progress: dict[str, Any] | None) -> dict[str, dict[str, int]]:
    if not progress or not progress.get("sources"):
        return {}
    end = progress["sources"][0].get("endOffset")
    if isinstance(end, str):
        end = json.loads(end)
    return end or {}


def _last_progress(query) -> dict[str, Any] | None:
    """The last progress as plain JSON data (pyspark returns an object whose offsets are strings)."""
    progress = query.lastProgress
    if progress is None:
        return None
    return json.loads(progress.json) if hasattr(progress, "json") else dict(progress)


def start_metrics(settings: Settings) -> tuple[Any, Callable[[], None]] | None:
    """The driver's metrics and their HTTP server. None, logged, where prometheus-client is not
    installed or the port is taken: losing metrics must not stop the data (the stall alert notices)."""
    try:
        from .ingest_metrics import IngestMetrics
    except ImportError as exc:
        log.error("ingest metrics are off: %s", exc)
        return None
    metrics = IngestMetrics(settings.tickers, settings.metastore_thrift_uri)
    try:
        host, port, stop = metrics.serve(settings.ingest_metrics_bind)
    except OSError as exc:
        log.error("ingest metrics are off: cannot serve on %s: %s", settings.ingest_metrics_bind, exc)
        return None
    log.info("ingest metrics on http://%s:%d/metrics", host or "0.0.0.0", port)
    return metrics, stop


def run(settings: Settings, available_now: bool = False, ui: bool = True) -> int:
    """Run the ingest query until stopped (SIGTERM/SIGINT) or, with ``available_now``, until caught up.

    Returns 3 without touching the checkpoint when another driver holds it, 4 when that
    driver took it over while this one ran.
    """
    served = start_metrics(settings)
    spark = build_session(settings, QUERY_NAME, ui_port=settings.spark_ui_port if ui else None)
    if served is not None:
        from ..insights.query import QUERY_NAME as INSIGHTS_QUERY
        from .ingest_metrics import progress_listener

        spark.streams.addListener(progress_listener(served[0], QUERY_NAME, INSIGHTS_QUERY))
    checkpoint = f"{settings.checkpoint_uri.rstrip('/')}/ingest"
    folder = HadoopFolder(spark, checkpoint)
    lease = DriverLease(folder, settings.checkpoint_lease_seconds)
    try:
        lease.acquire(wait_s=settings.checkpoint_lease_seconds + 5)
    except CheckpointBusy as exc:
        log.error("ingest not started: %s", exc)
        spark.stop()
        if served is not None:
            served[1]()
        return 3
    try:
        return _run(spark, settings, folder, lease, available_now, served[0] if served else None)
    finally:
        try:
            lease.release()
        finally:
            spark.stop()
            if served is not None:
                served[1]()


def _run(
    spark, settings: Settings, folder: HadoopFolder, lease: DriverLease, available_now: bool, metrics: Any = None
) -> int:
    ensure_tables(spark, settings_properties(settings))
    configured = RoutingRules(tickers=tuple(settings.tickers), max_past_ms=settings.backfill_days * 86_400_000)
    rules = RulesLog(folder).adopt(configured, next_batch_id(folder))
    drop_uncommitted_batch(folder, lease, spark.version)
    path = progress_path(settings.run_dir)
    state: dict[str, Any] = {
        "batch_started": None,
        "batch_finished": None,
        "rows_written": {},
        "totals": {},
        "history": [],
        "rules_version": rules[-1].version,
    }
    lock = threading.Lock()

    def on_start(batch_id: int) -> None:
        with lock:
            state["batch_started"] = batch_id
            state["batch_started_at"] = time.time()
            _publish()

    def on_done(batch_id: int, counts: BatchCounts, merge_seconds: dict[str, float]) -> None:
        if metrics is not None:
            metrics.observe_batch(counts)
        written = counts.tables
        with lock:
            state["batch_finished"] = batch_id
            state["rows_written"] = written
            # the last batches' timings, for status and the benchmark
            state["history"] = [
                *state["history"][-49:],
                {
                    "batch": batch_id,
                    "started_at": state["batch_started_at"],
                    "finished_at": time.time(),
                    "records": sum(written.values()),
                    "merge_s": merge_seconds,
                },
            ]
            for table, count in written.items():
                state["totals"][table] = state["totals"].get(table, 0) + count

    def _publish(progress: dict[str, Any] | None = None) -> None:
        """Write the progress file: the writer's state plus Spark's last progress (kept between calls)."""
        if progress is not None:
            state.update(
                batch_id=progress.get("batchId"),
                timestamp=progress.get("timestamp"),
                num_input_rows=progress.get("numInputRows"),
                input_rows_per_second=progress.get("inputRowsPerSecond"),
                processed_rows_per_second=progress.get("processedRowsPerSecond"),
                end_offsets=_offsets(progress),
            )
        snapshot = dict(state)
        snapshot["updated_at"] = time.time()
        write_progress(path, snapshot)

    raw = event_stream(spark, settings)
    writer = raw.writeStream.queryName(QUERY_NAME).foreachBatch(batch_writer(rules, on_start, on_done))
    writer = writer.option("checkpointLocation", folder.uri)
    writer = (
        writer.trigger(availableNow=True)
        if available_now
        else writer.trigger(processingTime=f"{settings.trigger_seconds} seconds")
    )
    query = writer.start()
    with lock:
        _publish()
    log.info("ingest started", extra={"topics": list(LAKE_TOPICS), "available_now": available_now})
    insights = None if available_now else _start_insights(spark, settings, rules[-1], metrics)

    stop = threading.Event()

    def _request_stop(signum, _frame) -> None:
        log.info("ingest stopping", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    last_batch = None
    lost = False
    insights_batch = None
    while query.isActive and not stop.is_set():
        if insights is not None:
            insights = _tend_insights(*insights, metrics)
        progress = _last_progress(query)
        seen = _last_progress(insights[0]) if insights is not None else None
        if seen is not None and seen.get("batchId") != insights_batch:
            # where the insights query is, for ``lake.catchup.insights_caught_up`` (bench and tests)
            insights_batch = seen.get("batchId")
            with lock:
                state["insights_end_offsets"] = _offsets(seen)
                _publish()
        if progress is not None and progress.get("batchId") != last_batch:
            last_batch = progress.get("batchId")
            with lock:
                _publish(progress)
        if lease.due():
            lost = not _renew(lease)
            if lost:
                break
        stop.wait(0.5)
    if insights is not None and insights[0].isActive:
        insights[0].stop()
    if query.isActive:
        query.stop()
    query.awaitTermination()
    with lock:
        _publish(_last_progress(query))
    return 4 if lost else 0


def _start_insights(spark, settings: Settings, rules: RoutingRules, metrics: Any):
    """The second query (``insights.query``), checkpointed beside the ingest's checkpoint
    (the ingest's driver lease covers both). A failure to start it is logged: the lake goes on."""
    from ..insights.query import start_query

    try:
        query, publisher = start_query(spark, settings, rules)
    except Exception:
        log.exception("insights query not started; the ingest goes on")
        if metrics is not None:
            metrics.insights_up.set(0)
        return None
    if metrics is not None:
        metrics.insights_up.set(1)
    log.info("insights started", extra={"topic": "stock_insights"})
    return query, publisher


def _tend_insights(query, publisher, metrics: Any):
    """Republish on a quiet market; after the query failed, say so once and go on without it."""
    if not query.isActive:
        log.error("insights query stopped: %s; the ingest goes on", query.exception())
        if metrics is not None:
            metrics.insights_up.set(0)
        return None
    try:
        publisher.refresh()
    except Exception:
        log.exception("insights refresh failed")
    if metrics is not None and publisher.published_at:
        metrics.insights_published.set(publisher.published_at)
    return query, publisher


def _renew(lease: DriverLease) -> bool:
    """Renew the lease; False when another driver owns the checkpoint now (this one must stop)."""
    try:
        lease.renew()
    except LeaseLost as exc:
        log.error("stopping: %s", exc)
        return False
    except Exception as exc:  # storage hiccup: try again next time, give up once the lease lapsed
        log.warning("lease renewal failed: %s", exc)
        return lease.clock() - lease.renewed_at <= lease.ttl_s
    return True
