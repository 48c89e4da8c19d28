"""Writing one micro-batch into the tables, idempotently.

Spark replays a micro-batch whose commit was not recorded in the checkpoint (a
driver killed mid-batch), so every write here must be harmless when repeated:
event rows are ``MERGE``d on ``event_id`` (which also drops duplicates that
arrive in different batches) and quarantine rows on their Kafka coordinates.
Each ``MERGE`` is one atomic Iceberg commit, so a reader sees a batch's rows for
a table all at once or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from pyspark.sql import DataFrame

from ..events.topics import LAKE_TOPICS
from .tables import DATABASE, QUARANTINE
from .transforms import decode, quarantine_rows, table_rows, validate

EVENT_KEY = "t.event_date = s.event_date AND t.event_id = s.event_id"
QUARANTINE_KEY = (
    "t.kafka_date = s.kafka_date AND t.topic = s.topic AND t.kafka_partition = s.kafka_partition "
    "AND t.kafka_offset = s.kafka_offset"
)


def merge_new(rows: DataFrame, table: str, key: str) -> None:
    """Insert the rows whose key is not in ``table`` yet: a replayed batch inserts nothing twice."""
    view = f"incoming_{table}"
    rows.createOrReplaceTempView(view)
    rows.sparkSession.sql(f"MERGE INTO {DATABASE}.{table} t USING {view} s ON {key} WHEN NOT MATCHED THEN INSERT *")


def batch_writer(
    tickers: Sequence[str],
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[int, dict], None] | None = None,
) -> Callable[[DataFrame, int], None]:
    """The ``foreachBatch`` function of the ingest query."""

    def write(batch: DataFrame, batch_id: int) -> None:
        if on_start is not None:
            on_start(batch_id)
        decoded = decode(batch).persist()
        try:
            now_ms = time.time() * 1000.0
            written: dict[str, int] = {}
            bad = []
            for topic in LAKE_TOPICS:
                checked = validate(decoded, topic, tickers, now_ms).persist()
                rows = table_rows(checked, topic)
                written[topic] = rows.count()
                if written[topic]:
                    merge_new(rows, topic, EVENT_KEY)
                bad.append(quarantine_rows(checked))
            quarantine = bad[0].unionByName(bad[1]) if len(bad) > 1 else bad[0]
            written[QUARANTINE] = quarantine.count()
            if written[QUARANTINE]:
                merge_new(quarantine, QUARANTINE, QUARANTINE_KEY)
        finally:
            decoded.unpersist()
        if on_done is not None:
            on_done(batch_id, written)

    return write
