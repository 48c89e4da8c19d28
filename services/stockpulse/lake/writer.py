"""Writing one micro-batch into the tables, idempotently and with few Spark actions.

Spark replays a batch whose commit was not recorded, so every write is harmless when
repeated: event rows are ``MERGE``d on ``event_id`` alone (which also drops re-sent events,
whatever their timestamps), quarantine rows on their Kafka coordinates, and each batch is
validated with the rules of its batch id (``lake.rules``). Kafka is read once per batch, in
as many tasks as the application has cores; one aggregation counts what goes where, and only
tables that receive rows get a ``MERGE`` (docs/lake.md, "Exactly once"; docs/performance.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import reduce

from pyspark.sql import DataFrame

from ..events.topics import LAKE_TOPICS
from .batch_stats import BatchCounts, batch_counts
from .rules import RoutingRules, rules_for
from .tables import DATABASE, QUARANTINE
from .transforms import decode, quarantine_rows, table_rows, validate

#: One row per event_id in the whole table: not per date, so a re-sent event with another timestamp is a duplicate.
EVENT_KEY = "t.event_id = s.event_id"
QUARANTINE_KEY = (
    "t.kafka_date = s.kafka_date AND t.topic = s.topic AND t.kafka_partition = s.kafka_partition "
    "AND t.kafka_offset = s.kafka_offset"
)


def merge_new(rows: DataFrame, table: str, key: str) -> None:
    """Insert the rows whose key is not in ``table`` yet: a replayed batch inserts nothing twice."""
    view = f"incoming_{table}"
    rows.createOrReplaceTempView(view)
    rows.sparkSession.sql(f"MERGE INTO {DATABASE}.{table} t USING {view} s ON {key} WHEN NOT MATCHED THEN INSERT *")


def write_batch(
    batch: DataFrame, rules: RoutingRules, on_merged: Callable[[str], None] | None = None
) -> tuple[BatchCounts, dict[str, float]]:
    """Validate ``batch`` once and merge it into the tables; return its counts (records routed per
    table, ...) and the seconds each table's ``MERGE`` took (the soak watches them grow with the table).

    ``on_merged(table)`` follows each table's commit: a batch is not atomic across tables, and
    the fault suite kills the driver between two of them to prove the replay still writes once."""
    decoded = decode(batch).coalesce(batch.sparkSession.sparkContext.defaultParallelism).persist()
    checked = {topic: validate(decoded, topic, rules).persist() for topic in LAKE_TOPICS}
    merge_seconds: dict[str, float] = {}

    def timed_merge(rows: DataFrame, table: str, key: str) -> None:
        started = time.perf_counter()
        merge_new(rows, table, key)
        merge_seconds[table] = round(time.perf_counter() - started, 3)
        if on_merged is not None:
            on_merged(table)

    try:
        counts = batch_counts(checked)
        routed = counts.tables
        for topic, frame in checked.items():
            if routed[topic]:
                timed_merge(table_rows(frame, topic), topic, EVENT_KEY)
        if routed[QUARANTINE]:
            bad = reduce(DataFrame.unionByName, [quarantine_rows(frame) for frame in checked.values()])
            timed_merge(bad, QUARANTINE, QUARANTINE_KEY)
    finally:
        for frame in checked.values():
            frame.unpersist()
        decoded.unpersist()
    return counts, merge_seconds


def batch_writer(
    rules: Sequence[RoutingRules],
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[int, BatchCounts, dict[str, float]], None] | None = None,
    on_merged: Callable[[int, str], None] | None = None,
) -> Callable[[DataFrame, int], None]:
    """The ``foreachBatch`` function of the ingest query; ``rules`` are the checkpoint's versions."""

    def write(batch: DataFrame, batch_id: int) -> None:
        if on_start is not None:
            on_start(batch_id)
        merged = None if on_merged is None else (lambda table: on_merged(batch_id, table))
        written, merge_seconds = write_batch(batch, rules_for(rules, batch_id), merged)
        if on_done is not None:
            on_done(batch_id, written, merge_seconds)

    return write
