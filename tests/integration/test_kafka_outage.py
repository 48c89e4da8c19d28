"""With the broker down, orders are refused (503) and none of them reaches Kafka afterwards,
while the probes and quotes stay up and the metrics say Kafka is unreachable."""

from __future__ import annotations

import signal
import time
import uuid

import pytest
from stockpulse_toolbox.devstack.local_stack import LocalStack

from tests.support import read_topic, wait_for
from tests.support.http import call, metric_total
from tests.support.stacks import api_settings, start_broker

pytestmark = pytest.mark.integration


def test_orders_get_503_while_kafka_is_down_and_leave_no_event(tmp_path):
    broker = start_broker(tmp_path / "kafka")
    api = LocalStack(api_settings(tmp_path / "api", broker.bootstrap, api={"order_ack_timeout_ms": 2000})).api
    try:
        api.start()
        url, session = api.settings.api.url, f"outage-{uuid.uuid4().hex[:8]}"
        headers = {"X-Session-Id": session}
        before = call(url, "POST", "/GOOG/buy/1", headers=headers)
        assert before.status == 201
        assert call(url, "GET", "/readyz").body == {"status": "ready", "kafka": "reachable"}
        assert metric_total(api.settings, "stockpulse_kafka_reachable") == 1

        broker.stop()
        # every worker's watch notices (the gauge is the minimum over the workers)
        assert wait_for(lambda: metric_total(api.settings, "stockpulse_kafka_reachable") == 0, timeout=20)
        refused = [call(url, "POST", "/GOOG/sell/2", headers=headers) for _ in range(3)]
        refused.append(
            call(
                url,
                "POST",
                "/stocks/GOOG/orders",
                body=b'{"side":"buy","quantity":3}',
                headers={**headers, "Content-Type": "application/json"},
            )
        )
        assert [r.status for r in refused] == [503] * 4
        assert all(r.body["error"]["code"] == "kafka_unavailable" for r in refused)
        assert all(r.headers["Retry-After"] == "1" for r in refused)
        # the outage does not take the pod out of its Service, nor quotes down
        ready = call(url, "GET", "/readyz")
        assert (ready.status, ready.body) == (200, {"status": "ready", "kafka": "unreachable"})
        assert call(url, "GET", "/healthz").status == 200
        assert call(url, "GET", "/stocks/GOOG", headers=headers).status == 200

        broker.start()
        broker.wait_ready()
        time.sleep(3)  # long enough for any retried message to have landed
        after = call(url, "POST", "/GOOG/buy/4", headers=headers)
        assert after.status == 201
        assert wait_for(lambda: metric_total(api.settings, "stockpulse_kafka_reachable") == 1, timeout=20)

        events = [
            m["value"]
            for m in read_topic(broker.bootstrap, "stock_operation", expect=2, timeout=20)
            if m["value"]["session_id"] == session
        ]
        assert sorted((e["side"], e["quantity"]) for e in events) == [("buy", 1), ("buy", 4)]
    finally:
        api.stop()
        broker.stop()


def test_graceful_shutdown_flushes_queued_checks(tmp_path):
    broker = start_broker(tmp_path / "kafka")
    api = LocalStack(api_settings(tmp_path / "api", broker.bootstrap)).api
    try:
        api.start()
        url, session = api.settings.api.url, f"flush-{uuid.uuid4().hex[:8]}"
        for _ in range(40):
            assert call(url, "GET", "/stocks/NVDA", headers={"X-Session-Id": session}).status == 200
        api.process.signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while api.running() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not api.running()
        events = [
            m
            for m in read_topic(broker.bootstrap, "stock_call", expect=40, timeout=20)
            if m["value"]["session_id"] == session
        ]
        assert len(events) == 40
    finally:
        api.stop()
        broker.stop()
