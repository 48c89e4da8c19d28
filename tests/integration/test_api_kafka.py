"""The API under gunicorn against a real broker: every 2xx is exactly one event, no 4xx leaves one."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter

import pytest
from stockpulse.events import SEED_HEADERS, validation_errors

from tests.support import read_topic
from tests.support.http import call, metric_total

pytestmark = pytest.mark.integration

COMMON = (
    "event_id",
    "schema_version",
    "event_type",
    "event_timestamp",
    "stock_name",
    "user_id",
    "session_id",
    *SEED_HEADERS,
)
CHECK_FIELDS = (*COMMON, "query_timestamp", "price", "yearly_return", "currency", "quote_as_of", "quote_source")
ORDER_FIELDS = (*COMMON, "side", "quantity", "price", "transaction_amount", "transaction_timestamp", "order_id")


def events_of_session(bootstrap: str, topic: str, session: str, expect: int, timeout: float = 30.0) -> list[dict]:
    """The session's events on ``topic``, re-reading the topic until ``expect`` of them arrived or ``timeout``.

    Each read takes 6 s, so events beyond ``expect`` (or any at all when ``expect`` is 0) are seen too.
    """
    deadline = time.monotonic() + timeout
    while True:
        mine = [m for m in read_topic(bootstrap, topic, timeout=6.0) if m["value"].get("session_id") == session]
        if len(mine) >= expect or time.monotonic() > deadline:
            return mine


def test_every_answered_request_is_exactly_one_valid_event(kafka, api):
    url = api.settings.api.url
    session = f"s-{uuid.uuid4().hex[:12]}"
    headers = {"X-User-Id": "u-42", "X-Session-Id": session, "User-Agent": "integration-test/1"}
    tickers = ["GOOG", "AMZN", "TSLA", "FB", "MSFT"]
    checks, orders, roots = Counter(), [], 0
    for i in range(25):
        ticker = tickers[i % len(tickers)]
        path = f"/stocks/{ticker.lower()}" if i % 2 else f"/{ticker}"
        reply = call(url, "GET", path, headers=headers)
        assert reply.status == 200 and reply.body["ticker"] == ticker
        checks[ticker] += 1
    for i in range(10):
        ticker, side, qty = tickers[i % len(tickers)], ("buy", "sell")[i % 2], i + 1
        if i % 2:
            reply = call(
                url,
                "POST",
                f"/{ticker}/{side}/{qty}",
                body=b"{}",
                headers={**headers, "Content-Type": "application/json"},
            )
            assert reply.status == 201
            assert reply.body == {"task": f"{'bought' if side == 'buy' else 'sold'}_{qty}_{ticker}"}
        else:
            reply = call(
                url,
                "POST",
                f"/stocks/{ticker}/orders",
                body=json.dumps({"side": side, "quantity": qty}).encode(),
                headers={**headers, "Content-Type": "application/json"},
            )
            assert reply.status == 201 and reply.body["quantity"] == qty
        orders.append((ticker, side, qty))
    for _ in range(3):
        reply = call(url, "GET", "/", headers=headers)
        assert reply.status == 200 and "stocks" in reply.body
        roots += 1

    check_events = events_of_session(kafka.bootstrap, "stock_call", session, 25)
    order_events = events_of_session(kafka.bootstrap, "stock_operation", session, 10)
    root_events = events_of_session(kafka.bootstrap, "default_call", session, 3)

    assert len(check_events) == 25 and len(order_events) == 10 and len(root_events) == roots
    assert Counter(m["value"]["stock_name"] for m in check_events) == checks
    assert sorted(
        (m["value"]["stock_name"], m["value"]["side"], m["value"]["quantity"]) for m in order_events
    ) == sorted(orders)
    for topic, messages, fields in (
        ("stock_call", check_events, CHECK_FIELDS),
        ("stock_operation", order_events, ORDER_FIELDS),
        ("default_call", root_events, COMMON),
    ):
        for message in messages:
            event = message["value"]
            assert validation_errors(topic, event) == []
            assert set(fields) <= set(event)
            assert event["user_id"] == "u-42" and event["User-Agent"] == "integration-test/1"
            assert message["key"] == event["stock_name"]
    assert len({m["value"]["event_id"] for m in check_events + order_events + root_events}) == 38


BAD_REQUESTS = [
    ("GET", "/stocks/ZZZZ", None, {}, 404),
    ("GET", "/ZZZZ", None, {}, 404),
    ("POST", "/ZZZZ/buy/1", None, {}, 404),
    ("POST", "/GOOG/hold/1", None, {}, 404),
    ("POST", "/GOOG/buy/0", None, {}, 422),
    ("POST", "/GOOG/buy/abc", None, {}, 400),
    ("POST", "/GOOG/buy/10001", None, {}, 422),
    ("POST", "/stocks/GOOG/orders", b'{"side":"buy","quantity":-2}', {"Content-Type": "application/json"}, 422),
    ("POST", "/stocks/GOOG/orders", b'{"side":"buy","quantity":"2"}', {"Content-Type": "application/json"}, 422),
    ("POST", "/stocks/GOOG/orders", b'{"side":"hold","quantity":2}', {"Content-Type": "application/json"}, 422),
    ("POST", "/stocks/GOOG/orders", b'{"side":"buy",', {"Content-Type": "application/json"}, 400),
    ("POST", "/stocks/GOOG/orders", b"side=buy", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ("POST", "/stocks/GOOG/orders", b"{" + b" " * 100_000 + b"}", {"Content-Type": "application/json"}, 413),
    ("DELETE", "/stocks/GOOG", None, {}, 405),
    ("GET", "/stocks/GOOG", None, {"X-User-Id": "<script>"}, 400),
]


def test_bad_input_gets_its_code_and_produces_no_event(kafka, api):
    url = api.settings.api.url
    session = f"bad-{uuid.uuid4().hex[:12]}"
    for method, path, body, headers, status in BAD_REQUESTS:
        reply = call(url, method, path, body=body, headers={"X-Session-Id": session, **headers})
        assert reply.status == status, (method, path, reply.body)
        assert isinstance(reply.body, dict) and reply.body["error"]["code"] and reply.body["error"]["message"]
    # the server keeps serving, and a good order after the bad ones is the only event of the session
    sentinel = call(url, "POST", "/GOOG/buy/1", headers={"X-Session-Id": session})
    assert sentinel.status == 201
    assert len(events_of_session(kafka.bootstrap, "stock_operation", session, 1)) == 1
    assert events_of_session(kafka.bootstrap, "stock_call", session, 0) == []


def test_metrics_count_exactly_the_requests_made(kafka, api):
    url = api.settings.api.url
    route_ok = dict(method="GET", route="/stocks/<ticker>", status="200")
    seed_order = dict(method="POST", route="/<stock_name>/<action>/<quantity>", status="201")
    unknown = dict(method="GET", route="/stocks/<ticker>", status="404")
    before = {
        k: metric_total(api.settings, "stockpulse_http_requests_total", **v)
        for k, v in (("ok", route_ok), ("order", seed_order), ("404", unknown))
    }
    produced_before = metric_total(api.settings, "stockpulse_events_produced_total", topic="stock_operation")
    for _ in range(17):
        assert call(url, "GET", "/stocks/AMD").status == 200
    for _ in range(6):
        assert call(url, "POST", "/AMD/sell/2").status == 201
    for _ in range(4):
        assert call(url, "GET", "/stocks/XXXX").status == 404
    assert metric_total(api.settings, "stockpulse_http_requests_total", **route_ok) - before["ok"] == 17
    assert metric_total(api.settings, "stockpulse_http_requests_total", **seed_order) - before["order"] == 6
    assert metric_total(api.settings, "stockpulse_http_requests_total", **unknown) - before["404"] == 4
    produced = metric_total(api.settings, "stockpulse_events_produced_total", topic="stock_operation")
    assert produced - produced_before == 6
    timed = metric_total(
        api.settings, "stockpulse_http_request_duration_seconds_count", method="GET", route="/stocks/<ticker>"
    )
    assert timed >= 17
