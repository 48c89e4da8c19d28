"""The ingest's pure transforms on real Spark, fed with the shared contract vectors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from stockpulse.lake.rules import RoutingRules
from stockpulse.lake.schemas import event_schema
from stockpulse.lake.tables import QUARANTINE_COLUMNS, table_columns
from stockpulse.lake.transforms import decode, quarantine_rows, table_rows, validate
from stockpulse.settings import DEFAULT_TICKERS

from tests.support import contract_vectors
from tests.support.spark import kafka_frame

pytestmark = pytest.mark.spark

RULES = RoutingRules(tickers=DEFAULT_TICKERS)
#: Kafka's timestamp of the records below (LOGGED_AT): the vectors' events happened later that day (19:24 UTC).
LOGGED_MS = 1_795_867_200_000.0


@pytest.mark.parametrize("topic", ["stock_call", "stock_operation"])
def test_valid_vectors_become_rows_with_every_contract_column(spark, topic):
    valid = contract_vectors(topic)["valid"]
    decoded = decode(kafka_frame(spark, topic, [json.dumps(e) for e in valid]))
    checked = validate(decoded, topic, RULES)
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
    checked = validate(decode(kafka_frame(spark, topic, payloads)), topic, RULES)
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
    checked = validate(decode(kafka_frame(spark, "stock_operation", payloads)), "stock_operation", RULES)
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
    rows = table_rows(validate(decoded, "stock_call", RULES), "stock_call")
    assert rows.count() == 1


def test_records_of_the_other_topic_are_left_alone(spark):
    event = contract_vectors("stock_call")["valid"][0]
    decoded = decode(kafka_frame(spark, "stock_call", [json.dumps(event)]))
    checked = validate(decoded, "stock_operation", RULES)
    assert checked.count() == 0


def test_the_future_is_measured_from_the_kafka_timestamp_not_the_clock(spark):
    good = contract_vectors("stock_operation")["valid"][0]
    hour = 3600_000.0
    payloads = [
        json.dumps({**good, "event_timestamp": LOGGED_MS + 23 * hour, "transaction_timestamp": LOGGED_MS}),
        json.dumps({**good, "event_timestamp": LOGGED_MS + 25 * hour, "transaction_timestamp": LOGGED_MS}),
    ]
    checked = validate(decode(kafka_frame(spark, "stock_operation", payloads)), "stock_operation", RULES)
    assert [r.kafka_offset for r in table_rows(checked, "stock_operation").collect()] == [0]
    assert {r.kafka_offset: r.reason for r in quarantine_rows(checked).collect()} == {1: "event_timestamp out of range"}


def test_a_backfill_is_accepted_within_its_window_and_older_events_are_not(spark):
    good = contract_vectors("stock_operation")["valid"][0]
    day = 86_400_000.0
    rules = RoutingRules(tickers=DEFAULT_TICKERS, max_past_ms=8 * day)
    payloads = [
        json.dumps({**good, "event_timestamp": LOGGED_MS - 7 * day, "transaction_timestamp": LOGGED_MS - 7 * day}),
        json.dumps(
            {
                **good,
                "event_id": "00000000-0000-4000-8000-0000000000ff",
                "event_timestamp": LOGGED_MS - 9 * day,
                "transaction_timestamp": LOGGED_MS - 7 * day,
            }
        ),
    ]
    frame = decode(kafka_frame(spark, "stock_operation", payloads))
    checked = validate(frame, "stock_operation", rules)
    assert [r.kafka_offset for r in table_rows(checked, "stock_operation").collect()] == [0]
    assert {r.kafka_offset: r.reason for r in quarantine_rows(checked).collect()} == {1: "event_timestamp out of range"}
    # rules written before the window existed (revision 2) keep accepting both on a replay
    assert len(table_rows(validate(frame, "stock_operation", RULES), "stock_operation").collect()) == 2


def test_accepted_tickers_come_from_the_rules(spark):
    good = contract_vectors("stock_operation")["valid"][0]
    payload = json.dumps({**good, "stock_name": "NEWT", "event_type": f"{good['side']}_NEWT"})
    decoded = decode(kafka_frame(spark, "stock_operation", [payload]))
    old = validate(decoded, "stock_operation", RULES)
    new = validate(decoded, "stock_operation", RoutingRules(tickers=(*DEFAULT_TICKERS, "NEWT")))
    assert [r.reason for r in quarantine_rows(old).collect()] == ["unknown ticker: NEWT"]
    assert [r.stock_name for r in table_rows(new, "stock_operation").collect()] == ["NEWT"]


def test_one_event_id_with_two_timestamps_keeps_the_first_logged(spark):
    event = contract_vectors("stock_call")["valid"][0]
    day_before = {**event, "event_timestamp": event["event_timestamp"] - 86_400_000.0}
    for payloads, first in (([event, day_before], event), ([day_before, event], day_before)):
        decoded = decode(kafka_frame(spark, "stock_call", [json.dumps(p) for p in payloads]))
        rows = table_rows(validate(decoded, "stock_call", RULES), "stock_call").collect()
        assert [(r.event_id, r.event_timestamp, r.kafka_offset) for r in rows] == [
            (event["event_id"], first["event_timestamp"], 0)
        ]
