"""The ingest driver's /metrics on real parts: Kafka, the Hive metastore and Spark, counted against what was sent."""

from __future__ import annotations

import time

import pytest
from stockpulse.events import stock_call_event, stock_operation_event

from tests.support import wait_for
from tests.support.lake import encode, produce
from tests.support.metrics import scrape, value
from tests.support.stacks import lake_parts

pytestmark = [pytest.mark.integration, pytest.mark.spark]

CHECKS = {"GOOG": 3, "AMZN": 5}
ORDERS = {("GOOG", "buy"): 2, ("AMZN", "sell"): 4}


def records() -> list[tuple[str, str | None, bytes]]:
    context = {"user_id": "u-1", "session_id": "s-1", "headers": {}}
    quote = {"price": 10.0, "yearly_return": 0.1, "currency": "USD", "as_of": "2026-11-28T00:00:00Z", "source": "t"}
    out = [
        ("stock_call", ticker, encode(stock_call_event(ticker, quote, context)))
        for ticker, n in CHECKS.items()
        for _ in range(n)
    ]
    out += [
        ("stock_operation", ticker, encode(stock_operation_event(ticker, side, 3, 10.0, context)))
        for (ticker, side), n in ORDERS.items()
        for _ in range(n)
    ]
    unknown = stock_call_event("GOOG", quote, context)
    unknown.update(stock_name="ZZZZ", event_type="check_stock_ZZZZ")
    zero = stock_operation_event("AMZN", "buy", 1, 10.0, context)
    zero["quantity"] = 0
    out += [
        ("stock_call", None, b"not json"),
        ("stock_call", "ZZZZ", encode(unknown)),
        ("stock_operation", "AMZN", encode(zero)),
    ]
    return out


@pytest.fixture(scope="module")
def ingest(tmp_path_factory):
    with lake_parts(tmp_path_factory.mktemp("ingest-metrics-run"), lake={"trigger_seconds": 0.5}) as stack:
        yield stack.settings, stack.metastore, stack.ingest


def test_ingest_metrics_count_what_landed(ingest):
    settings, metastore, job = ingest
    sent_at = time.time()
    produce(settings.kafka.bootstrap, records())
    job.start(ui=False)
    job.wait_caught_up()
    url = f"http://{settings.lake.metrics_bind}/metrics"
    samples = scrape(url)
    elapsed = time.time() - sent_at

    assert value(samples, "stockpulse_ingest_rows_written_total", table="stock_call") == 8
    assert value(samples, "stockpulse_ingest_rows_written_total", table="stock_operation") == 6
    assert value(samples, "stockpulse_ingest_rows_written_total", table="quarantine") == 3
    assert value(samples, "stockpulse_ingest_input_rows_total") == 17
    for topic, reason in [
        ("stock_call", "not a JSON object"),
        ("stock_call", "unknown ticker"),
        ("stock_operation", "quantity must be positive"),
    ]:
        assert value(samples, "stockpulse_ingest_quarantined_total", topic=topic, reason=reason) == 1, (topic, reason)
    for ticker in settings.tickers:
        assert value(samples, "stockpulse_ingest_checks_total", ticker=ticker) == CHECKS.get(ticker, 0), ticker
        for side in ("buy", "sell"):
            expected = ORDERS.get((ticker, side), 0)
            assert value(samples, "stockpulse_ingest_orders_total", ticker=ticker, side=side) == expected

    # every landed event observed once, its freshness between 0 and the time since it was sent
    for table, n in (("stock_call", 8), ("stock_operation", 6)):
        assert value(samples, "stockpulse_ingest_freshness_seconds_count", table=table) == n
        total = value(samples, "stockpulse_ingest_freshness_seconds_sum", table=table)
        assert 0 < total <= n * elapsed
        assert value(samples, "stockpulse_ingest_freshness_seconds_bucket", table=table, le="+Inf") == n
    assert sent_at <= value(samples, "stockpulse_ingest_last_commit_timestamp_seconds") <= time.time()
    assert value(samples, "stockpulse_ingest_batch_duration_seconds_count") >= 1

    # the listener's view of the Kafka source: every partition caught up
    def behind() -> dict[tuple[str, str], float]:
        return {
            (dict(labels)["topic"], dict(labels)["partition"]): v
            for (name, labels), v in scrape(url).items()
            if name == "stockpulse_ingest_offsets_behind_latest"
        }

    assert wait_for(lambda: len(behind()) == 6, timeout=30), behind()
    assert set(behind().values()) == {0.0}
    committed = value(samples, "stockpulse_ingest_last_commit_timestamp_seconds")
    assert wait_for(
        lambda: value(scrape(url), "stockpulse_ingest_last_progress_timestamp_seconds") > committed + 1, timeout=30
    ), "no idle heartbeat after the last batch"

    assert value(samples, "stockpulse_metastore_reachable") == 1
    metastore.stop()
    assert value(scrape(url), "stockpulse_metastore_reachable") == 0
