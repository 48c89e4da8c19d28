"""Kafka records as the Kafka source hands them to Spark, without a broker (the transforms' tests)."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Row

#: The Kafka timestamp the records carry unless a test says otherwise.
LOGGED_AT = datetime(2026, 11, 28, 12, 0, 0)


def kafka_frame(spark, topic: str, payloads: list[str | None], logged_at: datetime = LOGGED_AT):
    rows = [
        Row(
            key=b"K",
            value=None if p is None else p.encode(),
            topic=topic,
            partition=0,
            offset=i,
            timestamp=logged_at,
            timestampType=0,
        )
        for i, p in enumerate(payloads)
    ]
    return spark.createDataFrame(rows)
