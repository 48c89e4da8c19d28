"""The ingest's own Prometheus metrics, served by the driver on ``STOCKPULSE_INGEST_METRICS_BIND``.

Spark's own metric names differ between versions and deployments, and Spark commits no
consumer-group offsets, so the driver reports what operators need itself, the same locally and
in a cluster: from each query progress (``progress_listener``: records read, rates, batch time,
offsets behind latest, heartbeat), from each committed batch (``observe_batch``: rows per table,
quarantine reasons, checks, orders, freshness) and, at each scrape, a metastore probe.
Every metric: docs/observability.md, "Ingest (the Spark driver)"; the alerts on them follow there.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from threading import Lock
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, start_http_server
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ..events.topics import LAKE_TOPICS
from ..insights.query import late_events
from ..lake.batch_stats import BatchCounts
from ..lake.metastore_probe import metastore_answers
from ..lake.tables import QUARANTINE

log = logging.getLogger(__name__)

#: Freshness buckets (s): the SLO threshold (60 s) is one of them.
FRESHNESS_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 21600.0)
BATCH_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
SIDES = ("buy", "sell")


class WeightedHistogram(Collector):
    """A histogram fed (value, count) pairs: freshness arrives as event counts per event-time slice,
    and observing each event one by one would cost a Python call per event."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float]) -> None:
        self.name, self.documentation = name, documentation
        self.labelnames = tuple(labelnames)
        self.bounds = tuple(sorted(buckets))
        self._series: dict[tuple[str, ...], list[float]] = {}  # labels -> per-bucket counts, +Inf count, sum
        self._lock = Lock()

    def labels(self, *values: str) -> None:
        """Create a series at zero (so queries over it have data before the first observation)."""
        with self._lock:
            self._series.setdefault(tuple(values), [0.0] * (len(self.bounds) + 2))

    def observe(self, labels: tuple[str, ...], value: float, count: int = 1) -> None:
        with self._lock:
            series = self._series.setdefault(labels, [0.0] * (len(self.bounds) + 2))
            index = next((i for i, bound in enumerate(self.bounds) if value <= bound), len(self.bounds))
            series[index] += count
            series[-1] += value * count

    def describe(self) -> Iterable[Metric]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        with self._lock:
            for labels, series in sorted(self._series.items()):
                cumulative, buckets = 0.0, []
                for bound, count in zip((*self.bounds, float("inf")), series[:-1], strict=True):
                    cumulative += count
                    buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
                family.add_metric(list(labels), buckets, sum_value=series[-1])
        return [family]


class MetastoreProbe(Collector):
    """``stockpulse_metastore_reachable`` and the probe's duration, measured when scraped."""

    def __init__(self, uris: str, timeout: float = 2.0) -> None:
        self.uris, self.timeout = uris, timeout

    def _families(self, reachable: float | None, seconds: float | None) -> list[Metric]:
        up = GaugeMetricFamily(
            "stockpulse_metastore_reachable", "1 when the Hive metastore answered a thrift call from the ingest"
        )
        took = GaugeMetricFamily("stockpulse_metastore_probe_duration_seconds", "How long the metastore probe took")
        if reachable is not None and seconds is not None:
            up.add_metric([], reachable)
            took.add_metric([], seconds)
        return [up, took]

    def describe(self) -> Iterable[Metric]:
        return self._families(None, None)

    def collect(self) -> Iterable[Metric]:
        started = time.perf_counter()
        ok = metastore_answers(self.uris, self.timeout)
        return self._families(1.0 if ok else 0.0, time.perf_counter() - started)


def _offsets(value: Any) -> dict[str, dict[str, int]]:
    """A Kafka source offset as {topic: {partition: offset}} (Spark gives a JSON string or an object)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


class IngestMetrics:
    """The metrics of one ingest driver, in their own registry."""

    def __init__(
        self,
        tickers: Sequence[str],
        metastore_uris: str | None = None,
        clock: Callable[[], float] = time.time,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.clock = clock
        self.registry = registry or CollectorRegistry()
        r = self.registry
        p = "stockpulse_ingest"
        gauge, counter = partial(Gauge, registry=r), partial(Counter, registry=r)
        self.input_rate = gauge(f"{p}_input_rows_per_second", "Input rate of the last micro-batch")
        self.processed_rate = gauge(f"{p}_processed_rows_per_second", "Processing rate of the last micro-batch")
        self.input_rows = counter(f"{p}_input_rows", "Kafka records read by the streaming query")
        self.batch_duration = Histogram(
            f"{p}_batch_duration_seconds",
            "Wall time of a micro-batch (trigger execution)",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.rows_written = counter(
            f"{p}_rows_written", "Records routed to each table (duplicates are skipped by the MERGE)", ["table"]
        )
        self.quarantined = counter(
            f"{p}_quarantined", "Records sent to the quarantine table, by topic and reason", ["topic", "reason"]
        )
        self.checks = counter(f"{p}_checks", "Valid quote checks landed, by ticker", ["ticker"])
        self.orders = counter(f"{p}_orders", "Valid orders landed, by ticker and side", ["ticker", "side"])
        self.last_commit = gauge(
            f"{p}_last_commit_timestamp_seconds", "When the last micro-batch was committed to the tables"
        )
        self.last_progress = gauge(
            f"{p}_last_progress_timestamp_seconds",
            "When the streaming query last reported progress or idleness (its heartbeat)",
        )
        self.behind = gauge(
            f"{p}_offsets_behind_latest",
            "Kafka records after the last batch's end offset, at that batch's start",
            ["topic", "partition"],
        )
        self.freshness = WeightedHistogram(
            f"{p}_freshness_seconds", "Commit time minus event time of each landed event", ["table"], FRESHNESS_BUCKETS
        )
        r.register(self.freshness)
        if metastore_uris:
            r.register(MetastoreProbe(metastore_uris))
        ProcessCollector(registry=r)
        for table in (*LAKE_TOPICS, QUARANTINE):
            self.rows_written.labels(table)
        for table in LAKE_TOPICS:
            self.freshness.labels(table)
        for ticker in tickers:
            self.checks.labels(ticker)
            for side in SIDES:
                self.orders.labels(ticker, side)
        self.late_events = Counter(
            "stockpulse_insights_late_events",
            "Events the insights query did not count: later (event time) than its watermark",
            registry=r,
        )
        self.insights_published = gauge(
            "stockpulse_insights_last_publish_timestamp_seconds", "When the insights query last published snapshots"
        )
        self.insights_up = gauge("stockpulse_insights_up", "1 while the insights query runs, 0 after it failed")
        self.last_progress.set(clock())  # started: the heartbeat's clock starts now

    def heartbeat(self) -> None:
        self.last_progress.set(self.clock())

    def observe_progress(self, progress: dict[str, Any]) -> None:
        """One ``StreamingQueryProgress`` (as JSON data).

        Spark's ``numInputRows`` and the rates derived from it count a record once per scan
        of the batch, and the writer scans it once per topic; so the records read are taken
        from the Kafka offsets (end minus start) and Spark's rates are scaled to them.
        """
        self.heartbeat()
        records = 0
        for source in progress.get("sources") or []:
            start, end = _offsets(source.get("startOffset")), _offsets(source.get("endOffset"))
            latest = _offsets(source.get("latestOffset"))
            for topic, partitions in end.items():
                for partition, offset in partitions.items():
                    # a partition without a start (a new checkpoint's first batch) started at offset 0
                    records += max(int(offset) - int(start.get(topic, {}).get(partition, 0)), 0)
            for topic, partitions in latest.items():
                for partition, offset in partitions.items():
                    done = end.get(topic, {}).get(partition, 0)
                    self.behind.labels(topic, str(partition)).set(max(int(offset) - int(done), 0))
        scans = (progress.get("numInputRows") or 0) / records if records else 1.0
        self.input_rows.inc(records)
        self.input_rate.set((progress.get("inputRowsPerSecond") or 0.0) / scans)
        self.processed_rate.set((progress.get("processedRowsPerSecond") or 0.0) / scans)
        duration_ms = (progress.get("durationMs") or {}).get("triggerExecution")
        if duration_ms is not None:
            self.batch_duration.observe(duration_ms / 1000.0)

    def observe_batch(self, counts: BatchCounts, committed_at: float | None = None) -> None:
        """A committed micro-batch: its counts, and freshness as of ``committed_at`` (default: now)."""
        committed_at = self.clock() if committed_at is None else committed_at
        for table, n in counts.tables.items():
            self.rows_written.labels(table).inc(n)
        for (topic, reason), n in counts.quarantined.items():
            self.quarantined.labels(topic, reason).inc(n)
        for ticker, n in counts.checks.items():
            self.checks.labels(ticker).inc(n)
        for (ticker, side), n in counts.orders.items():
            self.orders.labels(ticker, side).inc(n)
        for table, slices in counts.event_times.items():
            for event_s, n in slices:
                self.freshness.observe((table,), max(committed_at - event_s, 0.0), n)
        self.last_commit.set(committed_at)

    def serve(self, bind: str) -> tuple[str, int, Callable[[], None]]:
        """Serve ``/metrics`` on ``host:port`` (port 0: any free one); return the address and a stop function."""
        host, port = bind.rsplit(":", 1)
        server, thread = start_http_server(int(port), addr=host or "0.0.0.0", registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        return host, server.server_port, stop


def progress_listener(metrics: IngestMetrics, ingest_query: str, insights_query: str):
    """A ``StreamingQueryListener`` that feeds ``metrics``; errors are logged, never raised into Spark.

    The session runs two queries: the ingest's progress feeds the ingest metrics, the
    insights query's feeds only its late-event counter.
    """
    from pyspark.sql.streaming import StreamingQueryListener

    class ProgressListener(StreamingQueryListener):
        def onQueryStarted(self, event) -> None:
            metrics.heartbeat()

        def onQueryProgress(self, event) -> None:
            try:
                progress = json.loads(event.progress.json)
                if progress.get("name") == insights_query:
                    metrics.late_events.inc(late_events(progress))
                elif progress.get("name") == ingest_query:
                    metrics.observe_progress(progress)
            except Exception:
                log.exception("ingest metrics: could not read a progress event")

        def onQueryIdle(self, event) -> None:
            metrics.heartbeat()

        def onQueryTerminated(self, event) -> None:
            pass

    return ProgressListener()
