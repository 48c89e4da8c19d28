"""The lake's tables: Iceberg, in the Hive metastore, partitioned by event date (contract: names and seed columns).

Their properties carry the part of maintenance that needs no schedule (``table_properties``):
the data file size writers and compaction aim at, commit retries for the ingest and the
maintenance job committing side by side, old metadata files deleted on commit, and the
snapshot retention that ``expire_snapshots`` (and any other engine's expiry) applies.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from ..events.topics import STOCK_CALL, STOCK_OPERATION
from ..settings import Settings
from .schemas import event_schema

QUARANTINE = "quarantine"
#: The insights query's snapshots, one row per ticker and minute (``insights.lake_table``).
INSIGHTS = "stock_insights"
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


INSIGHTS_COLUMNS = (
    ("stock_name", "string"),
    ("as_of_minute", "timestamp"),
    ("as_of", "timestamp"),
    ("attention_rank", "int"),
    ("unusual_score", "double"),
    ("unusual_events", "bigint"),
    ("baseline_mean", "double"),
    ("baseline_std", "double"),
    ("baseline_windows", "int"),
    ("checks_15m", "bigint"),
    ("orders_15m", "bigint"),
    ("buy_shares_15m", "bigint"),
    ("sell_shares_15m", "bigint"),
    ("imbalance_15m", "double"),
    ("customers_15m", "bigint"),
    ("conversion_15m", "double"),
    ("checks_1h", "bigint"),
    ("orders_1h", "bigint"),
    ("imbalance_1h", "double"),
    ("snapshot", "string"),
    ("as_of_date", "date"),
)


def _ddl_type(spark_type) -> str:
    return spark_type.simpleString()


def _quote(name: str) -> str:
    return f"`{name}`"


def table_columns(topic: str) -> list[tuple[str, str]]:
    schema: StructType = event_schema(topic)
    return [(f.name, _ddl_type(f.dataType)) for f in schema.fields] + list(LINEAGE_COLUMNS)


def table_properties(
    target_file_mb: int = 128, snapshot_retention_hours: float = 1.0, snapshots_kept: int = 100
) -> dict[str, str]:
    """Iceberg properties of every lake table (``STOCKPULSE_TARGET_FILE_MB`` and the snapshot retention)."""
    return {
        "write.distribution-mode": "none",
        "write.target-file-size-bytes": str(target_file_mb * 1024 * 1024),
        # the ingest commits every trigger while compaction commits too: retry instead of failing a batch
        "commit.retry.num-retries": "10",
        "write.metadata.delete-after-commit.enabled": "true",
        "write.metadata.previous-versions-max": "20",
        "history.expire.max-snapshot-age-ms": str(int(snapshot_retention_hours * 3600 * 1000)),
        "history.expire.min-snapshots-to-keep": str(snapshots_kept),
    }


def _props(properties: Mapping[str, str]) -> str:
    return ", ".join(f"'{k}'='{v}'" for k, v in properties.items())


def _create(
    spark: SparkSession,
    name: str,
    columns: list[tuple[str, str]] | tuple,
    partition: str,
    comment: str,
    properties: Mapping[str, str],
    update: bool,
) -> None:
    cols = ",\n  ".join(f"{_quote(n)} {t}" for n, t in columns)
    spark.sql(
        f"CREATE TABLE IF NOT EXISTS {DATABASE}.{name} (\n  {cols}\n) USING iceberg "
        f"PARTITIONED BY ({partition}) COMMENT '{comment}' "
        f"TBLPROPERTIES ('format-version'='2', {_props(properties)})"
    )
    if not update:
        return
    current = {row["key"]: row["value"] for row in spark.sql(f"SHOW TBLPROPERTIES {DATABASE}.{name}").collect()}
    changed = {k: v for k, v in properties.items() if current.get(k) != v}
    if changed:  # a table created by an older release, or settings changed: one metadata commit
        spark.sql(f"ALTER TABLE {DATABASE}.{name} SET TBLPROPERTIES ({_props(changed)})")


def ensure_tables(spark: SparkSession, properties: Mapping[str, str] | None = None) -> None:
    """Create the tables when missing; safe on every start.

    With ``properties`` (the ingest and the maintenance job pass the configured ones) existing
    tables are brought up to date too; without, readers such as the report change nothing.
    """
    props = table_properties() if properties is None else properties
    update = properties is not None
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    for name, columns, partition, comment in (
        (STOCK_CALL, table_columns(STOCK_CALL), "event_date", "Quote checks, one row per event_id"),
        (STOCK_OPERATION, table_columns(STOCK_OPERATION), "event_date", "Orders, one row per event_id"),
        (QUARANTINE, QUARANTINE_COLUMNS, "kafka_date", "Records that failed validation, with the reason"),
        (INSIGHTS, INSIGHTS_COLUMNS, "as_of_date", "The insights published each minute, per ticker"),
    ):
        _create(spark, name, columns, partition, comment, props, update)


def settings_properties(settings: Settings) -> dict[str, str]:
    """``table_properties`` from the ``STOCKPULSE_*`` settings."""
    return table_properties(
        settings.maintenance.target_file_mb,
        settings.maintenance.snapshot_retention_hours,
        settings.maintenance.snapshots_kept,
    )
