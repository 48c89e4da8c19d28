"""The event topics as a Structured Streaming source: one definition for the ingest and the insights query."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from ..events.topics import LAKE_TOPICS
from ..settings import Settings


def event_stream(spark: SparkSession, settings: Settings) -> DataFrame:
    """From the earliest offsets (a new checkpoint reads the whole retention), at most
    ``STOCKPULSE_MAX_OFFSETS_PER_TRIGGER`` records per batch, failing rather than skipping
    when retention deleted records the checkpoint still needs."""
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka.bootstrap)
        .option("subscribe", ",".join(LAKE_TOPICS))
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", str(settings.lake.max_offsets_per_trigger))
        .option("failOnDataLoss", "true")
        .option("kafka.max.partition.fetch.bytes", str(8 * 1024 * 1024))
        .option("kafka.fetch.max.bytes", str(64 * 1024 * 1024))
        .load()
    )
