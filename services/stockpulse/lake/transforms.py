"""Pure ``DataFrame -> DataFrame`` steps of the ingest: decode Kafka records, parse, validate, shape rows.

No Python UDF: parsing is ``from_json`` with the contract's schema and every check
is a Spark column expression, so the JVM never calls back into Python per row.
A record either becomes exactly one table row (``reason`` is null) or one
quarantine row carrying the raw payload and every reason it failed.

Validation is a function of the record and of the batch's ``RoutingRules`` only
(``lake.rules``): no wall clock, no live configuration, so a replayed batch routes every
record as the first run did.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType
from pyspark.sql.window import Window

from ..events.model import CHECK_PREFIX
from ..events.topics import STOCK_CALL, STOCK_OPERATION
from .rules import RoutingRules
from .schemas import event_schema, required_fields

CORRUPT = "_corrupt_record"
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def decode(raw: DataFrame) -> DataFrame:
    """Kafka source rows -> text payload plus where it came from."""
    return raw.select(
        F.col("topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.col("key").cast("string").alias("kafka_key"),
        F.col("value").cast("string").alias("raw_value"),
    )


def _parse_schema(topic: str) -> StructType:
    return StructType([*event_schema(topic).fields, StructField(CORRUPT, StringType(), True)])


def _reasons(topic: str, rules: RoutingRules) -> Column:
    e = F.col("event")
    schema = event_schema(topic)
    allowed = F.array(*[F.lit(f.name) for f in schema.fields])
    unexpected = F.array_except(F.json_object_keys("raw_value"), allowed)
    missing = F.filter(
        F.array(*[F.when(e[name].isNull(), F.lit(name)) for name in required_fields(topic)]), lambda x: x.isNotNull()
    )

    # "in the future" means after the record's own Kafka timestamp, which a replay reads unchanged
    logged_ms = F.unix_millis(F.col("kafka_timestamp")).cast("double")

    def ts_bad(name: str) -> Column:
        bad = (e[name] < F.lit(rules.min_event_ms)) | (e[name] > logged_ms + F.lit(rules.max_future_ms))
        if rules.max_past_ms is not None:  # a backfill may be this old, no older
            bad = bad | (e[name] < logged_ms - F.lit(rules.max_past_ms))
        return bad

    unknown_ticker = F.concat(F.lit("unknown ticker: "), F.substring(e["stock_name"], 1, 20))
    checks: list[tuple[Column, Column]] = [
        (e[CORRUPT].isNotNull(), F.lit("fields of the wrong type")),
        (F.size(unexpected) > 0, F.concat(F.lit("unexpected fields: "), F.array_join(unexpected, ", "))),
        (F.size(missing) > 0, F.concat(F.lit("missing fields: "), F.array_join(missing, ", "))),
        (e["schema_version"] != F.lit(rules.schema_version), F.lit("unsupported schema_version")),
        (~e["event_id"].rlike(UUID_RE), F.lit("event_id is not a UUID")),
        (~e["stock_name"].isin(*rules.tickers), unknown_ticker),
        (ts_bad("event_timestamp"), F.lit("event_timestamp out of range")),
        (e["price"] <= 0, F.lit("price must be positive")),
    ]
    if topic == STOCK_CALL:
        checks += [
            (e["event_type"] != F.concat(F.lit(CHECK_PREFIX), e["stock_name"]), F.lit("event_type does not match")),
            (ts_bad("query_timestamp"), F.lit("query_timestamp out of range")),
        ]
    elif topic == STOCK_OPERATION:
        checks += [
            (~e["side"].isin("buy", "sell"), F.lit("side must be buy or sell")),
            (e["quantity"] <= 0, F.lit("quantity must be positive")),
            (e["transaction_amount"] <= 0, F.lit("transaction_amount must be positive")),
            (e["event_type"] != F.concat(e["side"], F.lit("_"), e["stock_name"]), F.lit("event_type does not match")),
            (ts_bad("transaction_timestamp"), F.lit("transaction_timestamp out of range")),
        ]
    joined = F.concat_ws("; ", *[F.when(cond, msg) for cond, msg in checks])
    not_object = F.json_object_keys("raw_value").isNull()
    return (
        F.when(F.col("raw_value").isNull(), F.lit("empty payload"))
        .when(not_object, F.lit("not a JSON object"))
        .otherwise(F.when(joined != "", joined))
    )


def validate(decoded: DataFrame, topic: str, rules: RoutingRules) -> DataFrame:
    """Add ``event`` (the parsed struct) and ``reason`` (null when the record is valid) to ``topic``'s records."""
    parsed = decoded.where(F.col("topic") == topic).withColumn(
        "event",
        F.from_json("raw_value", _parse_schema(topic), {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}),
    )
    checked = parsed.withColumn("reason", _reasons(topic, rules))
    # Only quarantine rows need the raw text; dropping it elsewhere keeps the validated caches small
    # (the writer's cache of the decoded batch already holds each text once, for the batch's duration).
    return checked.withColumn("raw_value", F.when(F.col("reason").isNotNull(), F.col("raw_value")))


def table_rows(validated: DataFrame, topic: str) -> DataFrame:
    """Valid records as table rows: the event's fields, then lineage; one row per ``event_id``.

    Of several records with one ``event_id`` the first in the Kafka log wins (lowest partition,
    then offset), whatever their timestamps: the same one on every run of the batch.
    """
    fields = [F.col("event")[f.name].alias(f.name) for f in event_schema(topic).fields]
    event_time = F.timestamp_millis(F.col("event")["event_timestamp"].cast("long"))
    first_logged = Window.partitionBy("event_id").orderBy("kafka_partition", "kafka_offset")
    return (
        validated.where(F.col("reason").isNull())
        .select(
            *fields,
            event_time.alias("event_time"),
            F.to_date(event_time).alias("event_date"),
            F.col("kafka_partition"),
            F.col("kafka_offset"),
            F.col("kafka_timestamp"),
            F.current_timestamp().alias("ingested_at"),
        )
        .withColumn("_nth", F.row_number().over(first_logged))
        .where(F.col("_nth") == 1)
        .drop("_nth")
    )


def quarantine_rows(validated: DataFrame) -> DataFrame:
    return validated.where(F.col("reason").isNotNull()).select(
        "topic",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
        "kafka_key",
        "raw_value",
        "reason",
        F.current_timestamp().alias("quarantined_at"),
        F.to_date("kafka_timestamp").alias("kafka_date"),
    )
