"""The writer's one aggregation on real Spark: routing, reasons, business counts and event-time slices."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from stockpulse.lake.batch_stats import batch_counts
from stockpulse.lake.rules import RoutingRules
from stockpulse.lake.transforms import decode, validate
from stockpulse.settings import DEFAULT_TICKERS

from tests.support import contract_vectors
from tests.support.spark import kafka_frame

pytestmark = pytest.mark.spark

NOW_MS = 1_800_000_000_000.0


def call(ticker: str, event_ms: float, n: int) -> dict:
    event = dict(contract_vectors("stock_call")["valid"][0])
    event.update(
        event_id=f"00000000-0000-4000-8000-{n:012d}",
        stock_name=ticker,
        event_type=f"check_stock_{ticker}",
        event_timestamp=event_ms,
        query_timestamp=event_ms,
    )
    return event


def order(ticker: str, side: str, n: int) -> dict:
    event = dict(contract_vectors("stock_operation")["valid"][0])
    event.update(event_id=f"10000000-0000-4000-8000-{n:012d}", stock_name=ticker, side=side)
    event.update(event_type=f"{side}_{ticker}", event_timestamp=NOW_MS - 500, transaction_timestamp=NOW_MS - 500)
    return event


def test_one_aggregation_counts_routes_reasons_tickers_and_event_times(spark):
    calls = [call("GOOG", NOW_MS - 1_234, 1), call("GOOG", NOW_MS - 1_260, 2), call("MSFT", NOW_MS - 90_400, 3)]
    calls.append(call("MSFT", NOW_MS - 7_200_000 - 30_500, 4))
    bad_calls = [json.dumps(call("ZZZZ", NOW_MS, 5)), "[1, 2]"]
    orders = [order("AMZN", "buy", 6), order("AMZN", "buy", 7), order("AMZN", "sell", 8)]
    bad_order = dict(order("AMZN", "buy", 9), quantity=0)
    # logged by Kafka at NOW_MS: the routing rules judge event times against the record's timestamp
    logged_at = datetime.fromtimestamp(NOW_MS / 1000, tz=UTC)
    frame = kafka_frame(spark, "stock_call", [json.dumps(e) for e in calls] + bad_calls, logged_at).unionByName(
        kafka_frame(spark, "stock_operation", [json.dumps(e) for e in [*orders, bad_order]], logged_at)
    )
    decoded = decode(frame)
    rules = RoutingRules(tickers=tuple(DEFAULT_TICKERS))
    checked = {t: validate(decoded, t, rules) for t in ("stock_call", "stock_operation")}

    counts = batch_counts(checked, now_ms=NOW_MS)

    assert counts.tables == {"stock_call": 4, "stock_operation": 3, "quarantine": 3}
    assert counts.quarantined == {
        ("stock_call", "unknown ticker"): 1,
        ("stock_call", "not a JSON object"): 1,
        ("stock_operation", "quantity must be positive"): 1,
    }
    assert counts.checks == {"GOOG": 2, "MSFT": 2}
    assert counts.orders == {("AMZN", "buy"): 2, ("AMZN", "sell"): 1}
    # slice middles: 100 ms wide under a minute old, 1 s under an hour, 1 min beyond
    # (the two GOOG checks, 1.234 s and 1.26 s old, share a slice)
    slices = sorted(counts.event_times["stock_call"])
    assert slices == [
        ((NOW_MS - 7_200_000 - 60_000 + 30_000) / 1000, 1),
        ((NOW_MS - 91_000 + 500) / 1000, 1),
        ((NOW_MS - 1_300 + 50) / 1000, 2),
    ]
    assert counts.event_times["stock_operation"] == [((NOW_MS - 500 + 50) / 1000, 3)]
