"""The lake's tables: Iceberg, in the Hive metastore, partitioned by event date (contract: names and seed columns)."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from ..events.topics import STOCK_CALL, STOCK_OPERATION
from .schemas import event_schema

QUARANTINE = "quarantine"
DATABASE = "default"

#: Columns the ingest adds to every event: when it happened, where it came from in Kafka, when it landed.
LINEAGE_COLUMNS = (
    ("event_time", "timestamp"),
    ("event_date", "date"),
    ("kafka_partition", "int"),
    ("kafka_offset", "bigint"),
    ("kafka_timestamp", "timestamp"),
    ("ingested_at", "timestamp"),
)

QUARANTINE_COLUMNS = (
    ("topic", "string"),
    ("kafka_partition", "int"),
    ("kafka_offset", "bigint"),
    ("kafka_timestamp", "timestamp"),
    ("kafka_key", "string"),
    ("raw_value", "string"),
    ("reason", "string"),
    ("quarantined_at", "timestamp"),
    ("kafka_date", "date"),
)


def _ddl_type(spark_type) -> str:
    return spark_type.simpleString()


def _quote(name: str) -> str:
    return f"`{name}`"


def table_columns(topic: str) -> list[tuple[str, str]]:
    schema: StructType = event_schema(topic)
    return [(f.name, _ddl_type(f.dataType)) for f in schema.fields] + list(LINEAGE_COLUMNS)


def _create(
    spark: SparkSession, name: str, columns: list[tuple[str, str]] | tuple, partition: str, comment: str
) -> None:
    cols = ",\n  ".join(f"{_quote(n)} {t}" for n, t in columns)
    spark.sql(
        f"CREATE TABLE IF NOT EXISTS {DATABASE}.{name} (\n  {cols}\n) USING iceberg "
        f"PARTITIONED BY ({partition}) COMMENT '{comment}' "
        "TBLPROPERTIES ('format-version'='2', 'write.distribution-mode'='none', "
        "'write.metadata.delete-after-commit.enabled'='true', 'write.metadata.previous-versions-max'='50')"
    )


def ensure_tables(spark: SparkSession) -> None:
    """Create the three tables when missing; safe to call on every start."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    _create(spark, STOCK_CALL, table_columns(STOCK_CALL), "event_date", "Quote checks, one row per event_id")
    _create(spark, STOCK_OPERATION, table_columns(STOCK_OPERATION), "event_date", "Orders, one row per event_id")
    _create(spark, QUARANTINE, QUARANTINE_COLUMNS, "kafka_date", "Records that failed validation, with the reason")
