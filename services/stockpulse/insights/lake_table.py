"""The lake's history of the insights: Iceberg table ``stock_insights``, one row per ticker and minute.

A row is the first snapshot the query published in that minute of wall clock; the
``MERGE`` inserts only when the (ticker, minute) row is absent, so a replayed batch adds
nothing. The main figures are columns for SQL; ``snapshot`` keeps the whole contract.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import SparkSession

from ..lake.tables import DATABASE, INSIGHTS, INSIGHTS_COLUMNS


def _ts(ms: float) -> datetime:
    """Timezone-aware: PySpark would read a naive datetime in the process's local zone."""
    return datetime.fromtimestamp(ms / 1000.0, UTC)


def snapshot_row(snap: Mapping[str, Any], minute_ms: int) -> tuple:
    w15, w1h, unusual = snap["windows"]["15m"], snap["windows"]["1h"], snap["unusual"]
    return (
        snap["stock_name"],
        _ts(minute_ms),
        _ts(snap["as_of"]),
        snap["attention_rank"],
        unusual["score"],
        unusual["events"],
        unusual["baseline_mean"],
        unusual["baseline_std"],
        unusual["baseline_windows"],
        w15["checks"],
        w15["orders"],
        w15["buy_shares"],
        w15["sell_shares"],
        w15["imbalance"],
        w15["customers"],
        w15["conversion"],
        w1h["checks"],
        w1h["orders"],
        w1h["imbalance"],
        json.dumps(snap, separators=(",", ":")),
        _ts(minute_ms).date(),
    )


def write_snapshots(spark: SparkSession, snaps: Mapping[str, Mapping[str, Any]], minute_ms: int) -> None:
    schema = ", ".join(f"{name} {kind}" for name, kind in INSIGHTS_COLUMNS)
    rows = spark.createDataFrame([snapshot_row(s, minute_ms) for s in snaps.values()], schema)
    rows.createOrReplaceTempView("incoming_stock_insights")
    spark.sql(
        f"MERGE INTO {DATABASE}.{INSIGHTS} t USING incoming_stock_insights s "
        "ON t.stock_name = s.stock_name AND t.as_of_minute = s.as_of_minute WHEN NOT MATCHED THEN INSERT *"
    )
