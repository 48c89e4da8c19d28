"""What one micro-batch holds, counted by the one aggregation the writer runs anyway.

The writer needs the records routed per table before it merges; the same Spark action also counts
what the ingest's metrics report, with no extra pass over the batch: quarantined records per topic
and reason class (the reason's text before any ``:``), valid checks per ticker, valid orders per
ticker and side, and valid events per table and event-time slice, for freshness. Slices are 100 ms
wide for events younger than a minute, 1 s up to an hour and 1 min beyond (ages from the start of
the minute), so a backlog yields a bounded number of groups.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ..events.topics import STOCK_CALL, STOCK_OPERATION
from .tables import QUARANTINE

#: Width of an event-time slice (ms) by the events' age (ms) at aggregation: (age below, width).
SLICE_WIDTHS_MS = ((60_000, 100), (3_600_000, 1_000))
OLD_SLICE_WIDTH_MS = 60_000


@dataclass(frozen=True)
class BatchCounts:
    """Counts of one micro-batch; ``tables`` are the records routed per table (quarantine included)."""

    tables: dict[str, int]
    quarantined: dict[tuple[str, str], int] = field(default_factory=dict)  # (topic, reason class)
    checks: dict[str, int] = field(default_factory=dict)  # ticker
    orders: dict[tuple[str, str], int] = field(default_factory=dict)  # (ticker, side)
    event_times: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # table -> (epoch s, events)


def reason_class(reason: Column) -> Column:
    """The first reason's fixed text: everything before its first ``:`` or ``;``."""
    return F.trim(F.regexp_extract(reason, r"^([^:;]+)", 1))


def event_slice_ms(event_ms: Column, now_ms: float) -> Column:
    """The middle of the event-time slice an event falls in (see the module docstring)."""
    age = F.lit(now_ms) - event_ms
    width = F.lit(OLD_SLICE_WIDTH_MS)
    for below, slice_width in reversed(SLICE_WIDTHS_MS):
        width = F.when(age < F.lit(below), F.lit(slice_width)).otherwise(width)
    return F.floor(event_ms / width) * width + width / 2


COLUMNS = ("target", "topic", "reason", "ticker", "side", "slice_ms")


def _count_rows(frame: DataFrame, topic: str, now_ms: float) -> DataFrame:
    """Two rows per record, from one scan: where it was routed (with its reason, ticker and side),
    and, when valid, its event-time slice. A ``slice_ms`` marks an event-time row."""
    valid = F.col("reason").isNull()
    event = F.col("event")
    side = event["side"] if topic == STOCK_OPERATION else F.lit(None).cast("string")
    none = F.lit(None).cast("string")
    route = F.struct(
        F.when(valid, F.lit(topic)).otherwise(F.lit(QUARANTINE)).alias("target"),
        F.lit(topic).alias("topic"),
        F.when(~valid, reason_class(F.col("reason"))).alias("reason"),
        F.when(valid, event["stock_name"]).alias("ticker"),
        F.when(valid, side).alias("side"),
        F.lit(None).cast("double").alias("slice_ms"),
    )
    landed = F.struct(
        F.lit(topic).alias("target"),
        F.lit(topic).alias("topic"),
        none.alias("reason"),
        none.alias("ticker"),
        none.alias("side"),
        event_slice_ms(event["event_timestamp"], now_ms).cast("double").alias("slice_ms"),
    )
    rows = F.when(valid, F.array(route, landed)).otherwise(F.array(route))
    return frame.select(F.explode(rows).alias("row")).select("row.*")


def batch_counts(checked: Mapping[str, DataFrame], now_ms: float | None = None) -> BatchCounts:
    """Count ``checked`` (validated records per topic, ``reason`` null when valid) in one Spark action."""
    now_ms = time.time() * 1000.0 if now_ms is None else now_ms
    # Ages count from the start of the minute: Spark inlines the literal in the generated code,
    # so the query is compiled once a minute, not once a batch; events just get finer slices.
    minute_ms = now_ms - now_ms % 60_000
    parts = [_count_rows(frame, topic, minute_ms) for topic, frame in checked.items()]
    grouped = reduce(DataFrame.unionByName, parts).groupBy(*COLUMNS)
    return counts_from_rows([row.asDict() for row in grouped.count().collect()], tuple(checked))


def counts_from_rows(rows: list[dict], topics: tuple[str, ...]) -> BatchCounts:
    """Fold the aggregation's rows into ``BatchCounts`` (rows with ``slice_ms`` are event-time rows)."""
    counts = BatchCounts(tables=dict.fromkeys((*topics, QUARANTINE), 0))
    for row in rows:
        n = row["count"]
        if row["slice_ms"] is not None:
            counts.event_times.setdefault(row["target"], []).append((row["slice_ms"] / 1000.0, n))
            continue
        counts.tables[row["target"]] = counts.tables.get(row["target"], 0) + n
        if row["target"] == QUARANTINE:
            key = (row["topic"], row["reason"] or "unknown")
            counts.quarantined[key] = counts.quarantined.get(key, 0) + n
        elif row["topic"] == STOCK_CALL:
            counts.checks[row["ticker"]] = counts.checks.get(row["ticker"], 0) + n
        elif row["topic"] == STOCK_OPERATION:
            key = (row["ticker"], row["side"])
            counts.orders[key] = counts.orders.get(key, 0) + n
    return counts
