"""The ingest's pure transforms on real Spark, fed with the shared contract vectors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pyspark.sql import Row
from stockpulse.lake.schemas import event_schema
from stockpulse.lake.tables import QUARANTINE_COLUMNS, table_columns
from stockpulse.lake.transforms import decode, quarantine_rows, table_rows, validate
from stockpulse.settings import DEFAULT_TICKERS

from tests.support import contract_vectors

pytestmark = pytest.mark.spark

NOW_MS = 1_795_893_870_421.0 + 3600_000


def kafka_frame(spark, topic: str, payloads: list[str | None]):
    rows = [
        Row(
            key=b"K",
            value=None if p is None else p.encode(),
            topic=topic,
            partition=0,
            offset=i,
            timestamp=datetime(2026, 11, 28, 12, 0, 0),
            timestampType=0,
        )
        for i, p in enumerate(payloads)
    ]
    return spark.createDataFrame(rows)


@pytest.mark.parametrize("topic", ["stock_call", "stock_operation"])
def test_valid_vectors_become_rows_with_every_contract_column(spark, topic):
    valid = contract_vectors(topic)["valid"]
    decoded = decode(kafka_frame(spark, topic, [json.dumps(e) for e in valid]))
    checked = validate(decoded, topic, DEFAULT_TICKERS, NOW_MS)
    rows = table_rows(checked, topic)
    assert quarantine_rows(checked).count() == 0
    assert [(c, t) for c, t in zip(rows.columns, [t for _, t in table_columns(topic)], strict=True)] == [
        (c, t) for c, t in table_columns(topic)
    ]
    got = sorted((r.asDict() for r in rows.collect()), key=lambda r: r["event_id"])
    for row, event in zip(got, sorted(valid, key=lambda e: e["event_id"]), strict=True):
        for field in event_schema(topic).fieldNames():
            assert row[field] == event[field], field
        expected_time = datetime.fromtimestamp(event["event_timestamp"] / 1000, UTC).replace(tzinfo=None)
        assert row["event_time"] == expected_time.replace(microsecond=expected_time.microsecond // 1000 * 1000)
        assert row["event_date"] == expected_time.date()
        assert row["kafka_partition"] == 0


@pytest.mark.parametrize("topic", ["stock_call", "stock_operation"])
def test_invalid_vectors_are_quarantined_with_a_reason(spark, topic):
    cases = contract_vectors(topic)["invalid"]
    payloads = [json.dumps(c["event"]) for c in cases]
    checked = validate(decode(kafka_frame(spark, topic, payloads)), topic, DEFAULT_TICKERS, NOW_MS)
    assert table_rows(checked, topic).count() == 0
    quarantined = {r.kafka_offset: r for r in quarantine_rows(checked).collect()}
    assert sorted(quarantined) == list(range(len(cases)))
    for offset, case in enumerate(cases):
        row = quarantined[offset]
        assert row.reason, case["reason"]
        assert row.raw_value == payloads[offset] and row.topic == topic and row.kafka_key == "K"
    assert [c for c, _ in QUARANTINE_COLUMNS] == quarantine_rows(checked).columns


def test_garbage_and_unknown_tickers_get_specific_reasons(spark):
    good = contract_vectors("stock_operation")["valid"][0]
    payloads = [
        "not json at all",
        "[1, 2, 3]",
        None,
        json.dumps({**good, "stock_name": "ZZZZ", "event_type": "buy_ZZZZ"}),
        json.dumps({**good, "quantity": 0}),
        json.dumps({**good, "quantity": -3}),
        json.dumps({**good, "quantity": "ten"}),
        json.dumps({k: v for k, v in good.items() if k != "price"}),
        json.dumps({**good, "event_timestamp": 5.0}),
    ]
    checked = validate(
        decode(kafka_frame(spark, "stock_operation", payloads)), "stock_operation", DEFAULT_TICKERS, NOW_MS
    )
    reasons = {r.kafka_offset: r.reason for r in quarantine_rows(checked).collect()}
    assert reasons[0] == "not a JSON object"
    assert reasons[1] == "not a JSON object"
    assert reasons[2] == "empty payload"
    assert reasons[3] == "unknown ticker: ZZZZ"
    assert reasons[4] == "quantity must be positive"
    assert reasons[5] == "quantity must be positive"
    assert "fields of the wrong type" in reasons[6]
    assert reasons[7] == "missing fields: price"
    assert reasons[8] == "event_timestamp out of range"


def test_duplicate_event_ids_in_one_batch_become_one_row(spark):
    event = contract_vectors("stock_call")["valid"][0]
    decoded = decode(kafka_frame(spark, "stock_call", [json.dumps(event)] * 4))
    rows = table_rows(validate(decoded, "stock_call", DEFAULT_TICKERS, NOW_MS), "stock_call")
    assert rows.count() == 1


def test_records_of_the_other_topic_are_left_alone(spark):
    event = contract_vectors("stock_call")["valid"][0]
    decoded = decode(kafka_frame(spark, "stock_call", [json.dumps(event)]))
    checked = validate(decoded, "stock_operation", DEFAULT_TICKERS, NOW_MS)
    assert checked.count() == 0
