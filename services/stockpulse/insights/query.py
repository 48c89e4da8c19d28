"""The insights query: a second Structured Streaming query in the ingest's Spark application.

It keeps exactly the records the ingest lands (the same ``lake.transforms`` checks and routing
rules), drops repeated ``event_id``s within the watermark, and totals them per ticker and
10-second bucket of event time; events later than the watermark are counted, not aggregated.
Each micro-batch updates the driver's ``InsightsView`` (saved beside the checkpoint) and
publishes every ticker's snapshot to the compacted ``stock_insights`` topic; ``refresh``
writes each minute's first snapshots to the lake table and republishes on a quiet market.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from functools import reduce
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ..events.topics import LAKE_TOPICS, STOCK_CALL, STOCK_INSIGHTS
from ..lake.hadoopfs import HadoopFolder
from ..lake.rules import RoutingRules
from ..lake.source import event_stream
from ..lake.transforms import decode, validate
from ..settings import Settings
from .lake_table import write_snapshots
from .snapshot import build_snapshots
from .view import BUCKET_MS, Bucket, InsightsView

log = logging.getLogger(__name__)

QUERY_NAME = "stockpulse-insights"
#: Beside the ingest's checkpoint: ``<checkpoints>/insights`` (Spark's) and ``<checkpoints>/insights-view``.
CHECKPOINT_FOLDER = "insights"
VIEW_FOLDER = "insights-view"
#: Republish when no batch ran for this long, so the windows slide on a quiet market.
IDLE_REPUBLISH_S = 5.0
#: Snapshots go to the lake once per minute of wall clock (one row per ticker and minute).
LAKE_EVERY_MS = 60_000


def customer_events(raw: DataFrame, rules: RoutingRules) -> DataFrame:
    """One row per valid check or order: ticker, event time, kind, shares, amount, customer, event id."""
    decoded = decode(raw)
    parts = []
    for topic in LAKE_TOPICS:
        e = F.col("event")
        valid = validate(decoded, topic, rules).where(F.col("reason").isNull())
        is_check = topic == STOCK_CALL
        parts.append(
            valid.select(
                e["stock_name"].alias("stock_name"),
                F.timestamp_millis(e["event_timestamp"].cast("long")).alias("event_time"),
                (F.lit("check") if is_check else e["side"]).alias("kind"),
                (F.lit(0).cast("long") if is_check else e["quantity"]).alias("quantity"),
                (F.lit(0.0) if is_check else e["transaction_amount"]).alias("amount"),
                e["user_id"].alias("user_id"),
                e["event_id"].alias("event_id"),
            )
        )
    return reduce(DataFrame.unionByName, parts)


def bucket_totals(events: DataFrame, watermark_s: float) -> DataFrame:
    """Per ticker and 10-second bucket: counts, shares, amounts and who checked or ordered."""
    kind = F.col("kind")

    def when(cond, value, zero):
        return F.sum(F.when(cond, value).otherwise(zero))

    return (
        events.withWatermark("event_time", f"{int(watermark_s * 1000)} milliseconds")
        .dropDuplicatesWithinWatermark(["event_id"])
        .groupBy(F.window("event_time", f"{BUCKET_MS // 1000} seconds").alias("bucket"), "stock_name")
        .agg(
            when(kind == "check", F.lit(1), F.lit(0)).alias("checks"),
            when(kind == "buy", F.lit(1), F.lit(0)).alias("buy_orders"),
            when(kind == "sell", F.lit(1), F.lit(0)).alias("sell_orders"),
            when(kind == "buy", F.col("quantity"), F.lit(0)).alias("buy_shares"),
            when(kind == "sell", F.col("quantity"), F.lit(0)).alias("sell_shares"),
            when(kind == "buy", F.col("amount"), F.lit(0.0)).alias("buy_amount"),
            when(kind == "sell", F.col("amount"), F.lit(0.0)).alias("sell_amount"),
            F.collect_set(F.when(kind == "check", F.col("user_id"))).alias("checkers"),
            F.collect_set(F.when(kind != "check", F.col("user_id"))).alias("orderers"),
        )
        .select(F.col("stock_name"), F.unix_millis(F.col("bucket.start")).alias("bucket_start"), "*")
        .drop("bucket")
    )


def _bucket(row: Any) -> tuple[str, int, Bucket]:
    return (
        row["stock_name"],
        int(row["bucket_start"]),
        Bucket(
            checks=int(row["checks"]),
            buy_orders=int(row["buy_orders"]),
            sell_orders=int(row["sell_orders"]),
            buy_shares=int(row["buy_shares"]),
            sell_shares=int(row["sell_shares"]),
            buy_amount=float(row["buy_amount"]),
            sell_amount=float(row["sell_amount"]),
            checkers=frozenset(row["checkers"] or ()),
            orderers=frozenset(row["orderers"] or ()),
        ),
    )


class InsightsPublisher:
    """The driver side: the view, where it is saved, and the two outputs (topic and lake)."""

    def __init__(self, spark: SparkSession, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.spark = spark
        self.settings = settings
        self.folder = HadoopFolder(spark, f"{settings.checkpoint_uri.rstrip('/')}/{VIEW_FOLDER}")
        self.clock = clock
        self.view = InsightsView(
            settings.tickers, int(settings.insights.watermark_seconds * 1000), settings.insights.baseline_days
        )
        self.lock = threading.Lock()
        self.published_at = 0.0
        self.lake_minute = -1
        #: (minute, snapshots) first published in that minute, for ``refresh`` to write to the lake.
        self.latest: tuple[int, dict[str, Any]] | None = None
        self._load()

    def _saved(self) -> list[int]:
        return sorted(int(n[:-5]) for n in self.folder.names() if n.endswith(".json") and n[:-5].isdigit())

    def _load(self) -> None:
        """The newest saved view that parses (a crash mid-write leaves at most the newest one torn)."""
        for batch_id in reversed(self._saved()):
            try:
                self.view.load_json(self.folder.read(f"{batch_id}.json") or "")
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("insights view %d.json unreadable, trying an older one: %s", batch_id, exc)
                continue
            log.info("insights view restored", extra={"batch_id": batch_id, "buckets": len(self.view.buckets)})
            return

    def _save(self) -> None:
        """Saved per batch id, never overwritten in place; the two newest are kept."""
        self.folder.write(f"{self.view.batch_id}.json", self.view.to_json(), overwrite=True)
        for old in self._saved()[:-2]:
            self.folder.delete(f"{old}.json")

    def on_batch(self, batch: DataFrame, batch_id: int) -> None:
        rows = [_bucket(r) for r in batch.collect()]
        with self.lock:
            self.view.apply(batch_id, rows)
            self._save()
            self._publish()

    def refresh(self) -> None:
        """From the driver's main loop: republish when no batch did for a while, and write the
        minute's snapshots to the lake (outside the lock: a batch never waits for an Iceberg commit)."""
        with self.lock:
            if self.view.max_bucket and self.clock() - self.published_at >= IDLE_REPUBLISH_S:
                self._publish()
            due = self.latest if self.latest and self.latest[0] != self.lake_minute else None
        if due is not None:
            minute, snaps = due
            write_snapshots(self.spark, snaps, minute * LAKE_EVERY_MS)
            self.lake_minute = minute

    def _publish(self) -> None:
        now_ms = self.clock() * 1000.0
        snaps = build_snapshots(self.view, now_ms)
        records = [(ticker, json.dumps(snap, separators=(",", ":"))) for ticker, snap in snaps.items()]
        (
            self.spark.createDataFrame(records, "key string, value string")
            .write.format("kafka")
            .option("kafka.bootstrap.servers", self.settings.kafka.bootstrap)
            .option("kafka.acks", "all")
            .option("topic", STOCK_INSIGHTS)
            .save()
        )
        self.published_at = now_ms / 1000.0
        minute = int(now_ms // LAKE_EVERY_MS)
        if self.latest is None or self.latest[0] != minute:  # the minute's first snapshots go to the lake
            self.latest = (minute, snaps)


def start_query(spark: SparkSession, settings: Settings, rules: RoutingRules) -> tuple[Any, InsightsPublisher]:
    """Start the insights query in its own scheduler pool (the ingest's MERGEs do not queue it)."""
    publisher = InsightsPublisher(spark, settings)
    checkpoint = f"{settings.checkpoint_uri.rstrip('/')}/{CHECKPOINT_FOLDER}"
    raw = event_stream(spark, settings)
    totals = bucket_totals(customer_events(raw, rules), settings.insights.watermark_seconds)
    spark.sparkContext.setLocalProperty("spark.scheduler.pool", "insights")
    try:
        query = (
            totals.writeStream.queryName(QUERY_NAME)
            .outputMode("update")
            .foreachBatch(publisher.on_batch)
            .option("checkpointLocation", checkpoint)
            .trigger(processingTime=f"{settings.insights.trigger_seconds} seconds")
            .start()
        )
    finally:
        spark.sparkContext.setLocalProperty("spark.scheduler.pool", None)
    return query, publisher


def late_events(progress: dict[str, Any]) -> int:
    """Rows the query's stateful operators dropped as later than the watermark, in one progress."""
    return sum(int(op.get("numRowsDroppedByWatermark") or 0) for op in progress.get("stateOperators") or [])
