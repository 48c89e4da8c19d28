"""The streaming ingest job: Kafka topics -> validated, de-duplicated Iceberg tables, exactly once.

Under the driver lease on the checkpoint it adopts the routing rules, repairs an uncommitted
batch, runs the ingest query (``lake.source`` -> ``lake.writer``) and, when continuous, the live
insights query beside it. It serves its metrics (``jobs.ingest_metrics``) and writes the progress
file that ``stockpulse status``, the bench and the tests read. Guarantees: docs/lake.md.

Run it::

    stockpulse ingest                 # continuous, trigger every STOCKPULSE_TRIGGER_SECONDS
    stockpulse ingest --available-now # catch up with what is in Kafka, then exit
    spark-submit spark/ingest.py      # the same, on a cluster
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..arguments import INGEST_HELP, ingest_arguments, job_main
from ..events.topics import LAKE_TOPICS
from ..insights.query import QUERY_NAME as INSIGHTS_QUERY
from ..insights.query import InsightsPublisher, start_query
from ..lake.batch_stats import BatchCounts
from ..lake.checkpoint import drop_uncommitted_batch, next_batch_id
from ..lake.hadoopfs import HadoopFolder
from ..lake.lease import CheckpointBusy, DriverLease, LeaseLost
from ..lake.progress import progress_path, write_progress
from ..lake.rules import RoutingRules, RulesLog
from ..lake.session import build_session
from ..lake.source import event_stream
from ..lake.tables import ensure_tables, settings_properties
from ..lake.writer import batch_writer
from ..settings import Settings

log = logging.getLogger(__name__)

QUERY_NAME = "stockpulse-ingest"
#: Batches whose timings the progress file keeps.
HISTORY = 50
#: Exit codes: another driver holds the checkpoint; another driver took it over while this one ran.
EXIT_BUSY, EXIT_LEASE_LOST = 3, 4


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


class IngestProgress:
    """What the driver knows of its batches, written to the progress file on each change.

    The writer's callbacks run on Spark's stream thread and the driver loop on the main
    thread, so every change and every write holds one lock.
    """

    def __init__(self, path: Path, rules_version: int) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {
            "batch_started": None,
            "batch_finished": None,
            "rows_written": {},
            "totals": {},
            "history": [],
            "rules_version": rules_version,
        }

    def batch_started(self, batch_id: int) -> None:
        with self._lock:
            self._state["batch_started"] = batch_id
            self._state["batch_started_at"] = time.time()
            self._state["batch_merged"] = []
            self._write()

    def table_merged(self, batch_id: int, table: str) -> None:
        """The batch's ``MERGE`` into ``table`` committed (the batch's other tables may still be pending)."""
        with self._lock:
            if self._state.get("batch_started") == batch_id:
                self._state["batch_merged"] = [*self._state.get("batch_merged", []), table]
                self._write()

    def batch_done(self, batch_id: int, counts: BatchCounts, merge_seconds: dict[str, float]) -> None:
        written = counts.tables
        with self._lock:
            state = self._state
            state["batch_finished"] = batch_id
            state["rows_written"] = written
            state["history"] = [
                *state["history"][-(HISTORY - 1) :],
                {
                    "batch": batch_id,
                    "started_at": state.get("batch_started_at"),
                    "finished_at": time.time(),
                    "records": sum(written.values()),
                    "merge_s": merge_seconds,
                },
            ]
            for table, count in written.items():
                state["totals"][table] = state["totals"].get(table, 0) + count

    def query_progress(self, progress: dict[str, Any] | None = None) -> None:
        """Record Spark's last progress of the ingest query (kept between calls) and write the file."""
        with self._lock:
            if progress is not None:
                self._state.update(
                    batch_id=progress.get("batchId"),
                    timestamp=progress.get("timestamp"),
                    num_input_rows=progress.get("numInputRows"),
                    input_rows_per_second=progress.get("inputRowsPerSecond"),
                    processed_rows_per_second=progress.get("processedRowsPerSecond"),
                    end_offsets=_offsets(progress),
                )
            self._write()

    def insights_progress(self, progress: dict[str, Any]) -> None:
        """Where the insights query is, for ``lake.catchup.insights_caught_up`` (bench and tests)."""
        with self._lock:
            self._state["insights_end_offsets"] = _offsets(progress)
            self._write()

    def _write(self) -> None:
        write_progress(self.path, {**self._state, "updated_at": time.time()})


class InsightsRunner:
    """The insights query beside the ingest (checkpointed next to it, under the ingest's lease).

    Its failures are logged and end it alone: the lake goes on without live signals.
    """

    def __init__(self, spark, settings: Settings, rules: RoutingRules, metrics: Any) -> None:
        self.metrics = metrics
        self.query: Any = None
        self.publisher: InsightsPublisher | None = None
        self._batch = None
        try:
            self.query, self.publisher = start_query(spark, settings, rules)
        except Exception:
            log.exception("insights query not started; the ingest goes on")
            self._up(False)
            return
        self._up(True)
        log.info("insights started", extra={"topic": "stock_insights"})

    def _up(self, up: bool) -> None:
        if self.metrics is not None:
            self.metrics.insights_up.set(1 if up else 0)

    @property
    def running(self) -> bool:
        return self.query is not None

    def tend(self, progress: IngestProgress) -> None:
        """Republish on a quiet market and report where the query is; after it failed, say so once."""
        if self.query is None or self.publisher is None:
            return
        if not self.query.isActive:
            log.error("insights query stopped: %s; the ingest goes on", self.query.exception())
            self._up(False)
            self.query = self.publisher = None
            return
        try:
            self.publisher.refresh()
        except Exception:
            log.exception("insights refresh failed")
        if self.metrics is not None and self.publisher.published_at:
            self.metrics.insights_published.set(self.publisher.published_at)
        seen = _last_progress(self.query)
        if seen is not None and seen.get("batchId") != self._batch:
            self._batch = seen.get("batchId")
            progress.insights_progress(seen)

    def stop(self) -> None:
        if self.query is not None and self.query.isActive:
            self.query.stop()


def start_metrics(settings: Settings) -> tuple[Any, Any] | None:
    """The driver's metrics and their HTTP server's stop function. None, logged, where
    prometheus-client is missing or the port is taken: losing metrics must not stop the data."""
    try:
        # prometheus-client is optional in a Spark image built without it
        from .ingest_metrics import IngestMetrics
    except ImportError as exc:
        log.error("ingest metrics are off: %s", exc)
        return None
    metrics = IngestMetrics(settings.tickers, settings.metastore_thrift_uri)
    try:
        host, port, stop = metrics.serve(settings.lake.metrics_bind)
    except OSError as exc:
        log.error("ingest metrics are off: cannot serve on %s: %s", settings.lake.metrics_bind, exc)
        return None
    log.info("ingest metrics on http://%s:%d/metrics", host or "0.0.0.0", port)
    return metrics, stop


def run(settings: Settings, available_now: bool = False, ui: bool = True) -> int:
    """Run the ingest until stopped (SIGTERM/SIGINT) or, with ``available_now``, until caught up.

    Returns ``EXIT_BUSY`` without touching the checkpoint when another driver holds it,
    ``EXIT_LEASE_LOST`` when that driver took it over while this one ran.
    """
    served = start_metrics(settings)
    metrics = served[0] if served else None
    spark = build_session(settings, QUERY_NAME, ui_port=settings.spark.ui_port if ui else None)
    if metrics is not None:
        from .ingest_metrics import progress_listener  # loaded only where prometheus-client is (start_metrics)

        spark.streams.addListener(progress_listener(metrics, QUERY_NAME, INSIGHTS_QUERY))
    folder = HadoopFolder(spark, f"{settings.checkpoint_uri.rstrip('/')}/ingest")
    lease = DriverLease(folder, settings.lake.checkpoint_lease_seconds)
    try:
        try:
            lease.acquire(wait_s=settings.lake.checkpoint_lease_seconds + 5)
        except CheckpointBusy as exc:
            log.error("ingest not started: %s", exc)
            return EXIT_BUSY
        try:
            return IngestDriver(spark, settings, folder, lease, metrics).run(available_now)
        finally:
            lease.release()
    finally:
        spark.stop()
        if served is not None:
            served[1]()


class IngestDriver:
    """One driver's run of the ingest query (and the insights query) while it holds the lease."""

    def __init__(self, spark, settings: Settings, folder: HadoopFolder, lease: DriverLease, metrics: Any) -> None:
        self.spark, self.settings, self.folder, self.lease, self.metrics = spark, settings, folder, lease, metrics
        self.stop_requested = threading.Event()

    def _prepare(self) -> list[RoutingRules]:
        """Tables, routing rules and the checkpoint's repair: all before the first batch."""
        ensure_tables(self.spark, settings_properties(self.settings))
        configured = RoutingRules(
            tickers=tuple(self.settings.tickers), max_past_ms=self.settings.lake.backfill_days * 86_400_000
        )
        rules = RulesLog(self.folder).adopt(configured, next_batch_id(self.folder))
        drop_uncommitted_batch(self.folder, self.lease, self.spark.version)
        return rules

    def _on_done(self, progress: IngestProgress):
        def on_done(batch_id: int, counts: BatchCounts, merge_seconds: dict[str, float]) -> None:
            if self.metrics is not None:
                self.metrics.observe_batch(counts)
            progress.batch_done(batch_id, counts, merge_seconds)

        return on_done

    def _start_query(self, rules: list[RoutingRules], progress: IngestProgress, available_now: bool):
        writer = (
            event_stream(self.spark, self.settings)
            .writeStream.queryName(QUERY_NAME)
            .foreachBatch(batch_writer(rules, progress.batch_started, self._on_done(progress), progress.table_merged))
            .option("checkpointLocation", self.folder.uri)
        )
        if available_now:
            return writer.trigger(availableNow=True).start()
        return writer.trigger(processingTime=f"{self.settings.lake.trigger_seconds} seconds").start()

    def _request_stop(self, signum, _frame) -> None:
        log.info("ingest stopping", extra={"signal": signum})
        self.stop_requested.set()

    def run(self, available_now: bool) -> int:
        rules = self._prepare()
        progress = IngestProgress(progress_path(self.settings.run_dir), rules[-1].version)
        query = self._start_query(rules, progress, available_now)
        progress.query_progress()
        log.info("ingest started", extra={"topics": list(LAKE_TOPICS), "available_now": available_now})
        insights = None if available_now else InsightsRunner(self.spark, self.settings, rules[-1], self.metrics)
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        lost = False
        last_batch = None
        while query.isActive and not self.stop_requested.is_set():
            if insights is not None:
                insights.tend(progress)
            seen = _last_progress(query)
            if seen is not None and seen.get("batchId") != last_batch:
                last_batch = seen.get("batchId")
                progress.query_progress(seen)
            if self.lease.due() and not renew(self.lease):
                lost = True
                break
            self.stop_requested.wait(0.5)
        if insights is not None:
            insights.stop()
        if query.isActive:
            query.stop()
        query.awaitTermination()
        progress.query_progress(_last_progress(query))
        return EXIT_LEASE_LOST if lost else 0


def renew(lease: DriverLease) -> bool:
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


def main(argv: Sequence[str] | None = None) -> int:
    """The entry point ``spark/ingest.py`` calls."""
    parser = argparse.ArgumentParser(prog="stockpulse ingest", description=INGEST_HELP)
    ingest_arguments(parser)
    return job_main(parser, argv, lambda settings, args: run(settings, args.available_now, not args.no_ui))
