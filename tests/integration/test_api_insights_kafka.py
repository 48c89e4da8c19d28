"""The insights routes under gunicorn (2 workers) against a real broker: every worker follows the
compacted ``stock_insights`` topic, serves the latest snapshot of a ticker, and rebuilds its view
from the topic after a restart, with nothing produced meanwhile.

The snapshots are produced here by hand (the Spark job that publishes them has its own test,
test_insights.py), for tickers unique to this test, so other tests' data in the shared topic
cannot interfere; the API is configured with exactly these tickers.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from stockpulse.events import STOCK_INSIGHTS, validation_errors
from stockpulse_toolbox.devstack.local_stack import LocalStack
from stockpulse_toolbox.devstack.produce import produce_records

from tests.support.http import Reply, call, metric_total
from tests.support.stacks import api_settings

pytestmark = pytest.mark.integration

#: Requests per probe: with 2 workers, each answer comes from either, so several are asked.
PROBES = 20


def snapshot(ticker: str, as_of_ms: float, checks: int, rank: int) -> dict[str, Any]:
    window = {
        "start": as_of_ms - 900_000,
        "end": as_of_ms,
        "checks": checks,
        "orders": 1,
        "buy_orders": 1,
        "sell_orders": 0,
        "buy_shares": 5,
        "sell_shares": 0,
        "buy_amount": 500.0,
        "sell_amount": 0.0,
        "imbalance": 1.0,
        "customers": 1,
        "conversion": 1.0,
    }
    value = {
        "schema_version": 1,
        "stock_name": ticker,
        "as_of": as_of_ms,
        "watermark": as_of_ms - 60_000,
        "windows": {"1m": window, "15m": window, "1h": window},
        "attention_rank": rank,
        "unusual": {"score": None, "events": checks + 1, "baseline_mean": None, "baseline_std": None,
                    "baseline_windows": 0},
        "signals": [],
    }  # fmt: skip
    assert validation_errors(STOCK_INSIGHTS, value) == []
    return value


def produce(bootstrap: str, records: list[tuple[str, bytes | None]]) -> None:
    """Produce in this order (one partition, idempotent producer: the order is kept) and wait for every ack."""
    produce_records(bootstrap, [(STOCK_INSIGHTS, key, value) for key, value in records], flush_timeout=30)


def end_offset(bootstrap: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4()}"})
    try:
        return consumer.get_watermark_offsets(TopicPartition(STOCK_INSIGHTS, 0), timeout=10)[1]
    finally:
        consumer.close()


def probe(url: str, path: str) -> list[Reply]:
    return [call(url, "GET", path) for _ in range(PROBES)]


def wait_until_all(url: str, path: str, good, timeout: float = 45.0) -> list[Reply]:
    """Probe until every answer is ``good``; fail with the last answers at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        replies = probe(url, path)
        if all(good(r) for r in replies):
            return replies
        assert time.monotonic() < deadline, [(r.status, r.body) for r in replies[:3]]
        time.sleep(0.2)


def test_every_worker_serves_the_latest_snapshot_and_rebuilds_it_after_a_restart(kafka, tmp_path_factory):
    tag = uuid.uuid4().hex[:6].upper()
    first, second, broken = f"I{tag}A", f"I{tag}B", f"I{tag}C"
    settings = api_settings(tmp_path_factory.mktemp("api-insights-run"), kafka.bootstrap, tickers=(first, second))
    server = LocalStack(settings, "api").api
    server.start()
    url = settings.api.url
    try:
        # before any snapshot of these tickers: 503 with Retry-After in every worker, a JSON error
        for reply in probe(url, f"/stocks/{first}/insights"):
            assert reply.status == 503 and reply.body["error"]["code"] == "insights_not_ready", reply.body
            assert int(reply.headers["Retry-After"]) >= 1

        now_ms = time.time() * 1000
        old, latest = (
            snapshot(first, now_ms - 5_000, checks=1, rank=2),
            snapshot(first, now_ms - 1_000, checks=2, rank=1),
        )
        other = snapshot(second, now_ms - 3_000, checks=1, rank=2)
        produce(
            kafka.bootstrap,
            [
                (first, json.dumps(old).encode()),
                (first, json.dumps(latest).encode()),  # replaces the first under compaction
                (second, json.dumps(other).encode()),
                (broken, b"{not json"),  # skipped and counted by each worker
            ],
        )
        offset = end_offset(kafka.bootstrap)

        def is_latest(reply: Reply) -> bool:
            return reply.status == 200 and reply.body["windows"]["15m"]["checks"] == 2

        replies = wait_until_all(url, f"/stocks/{first.lower()}/insights", is_latest)
        body = replies[-1].body
        assert {k: v for k, v in body.items() if k not in ("staleness_s", "stale")} == latest
        assert body["staleness_s"] >= 1.0 and body["stale"] is (body["staleness_s"] > settings.insights.stale_after_s)
        ranking = wait_until_all(url, "/insights", lambda r: r.status == 200 and len(r.body["tickers"]) == 2)
        assert [row["stock_name"] for row in ranking[-1].body["tickers"]] == [first, second]
        assert ranking[-1].body["as_of"] == latest["as_of"]
        # both workers read the broken record: each counted it once (other tests' bad records can only add)
        assert metric_total(settings, "stockpulse_insights_invalid_total", reason="json") >= 2

        assert server.stop()
        server.start()
        # rebuilt from the compacted topic: 503 while a worker catches up, then the latest snapshot, never the old one
        seen: list[int] = []

        def rebuilt(reply: Reply) -> bool:
            assert reply.status in (200, 503), reply.body
            assert reply.status == 503 or reply.body["windows"]["15m"]["checks"] == 2, "a superseded snapshot"
            seen.append(reply.status)
            return reply.status == 200

        wait_until_all(url, f"/stocks/{first}/insights", rebuilt)
        assert call(url, "GET", f"/stocks/{second}/insights").body["as_of"] == other["as_of"]
        assert end_offset(kafka.bootstrap) == offset, "nothing was produced to rebuild the view"
        print(f"after the restart: {seen.count(503)} answers 503 before every worker caught up")
    finally:
        server.stop()
