"""Acceptance of the observability work on the real local stack, as `make up` starts it (free ports).

Load is driven against the API (and one malformed record straight into Kafka); then,
through the real Prometheus's HTTP API: every target is up, the request, order and event
counters equal what the test sent, and every PromQL expression of the committed
dashboards and of the rules parses, each panel query returning at least one series.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from tests.support import wait_for
from tests.support.http import call
from tests.support.lake import produce
from tests.support.promql import DASHBOARDS, dashboard_queries, evaluate, prom, rules
from tests.support.stack_env import stack_env

pytestmark = [pytest.mark.integration, pytest.mark.spark]

STOCKPULSE = str(Path(sys.executable).parent / "stockpulse")

QUOTES = {"GOOG": 7, "AMZN": 4, "MSFT": 2}  # GET /stocks/<ticker>
SEED_QUOTES = {"NVDA": 3}  # GET /<ticker>
ORDERS = {("GOOG", "buy"): 3, ("AMZN", "sell"): 2, ("MSFT", "buy"): 1}  # POST /stocks/<ticker>/orders
SEED_ORDERS = {("TSLA", "buy"): 2}  # POST /<ticker>/buy/5
UNKNOWN_QUOTES = 2  # GET /stocks/NOPE: 404
BAD_ORDERS = 1  # quantity 0: 422


def stockpulse(env: dict[str, str], *args: str, timeout: float = 420) -> subprocess.CompletedProcess:
    return subprocess.run([STOCKPULSE, *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    env = stack_env(tmp_path_factory.mktemp("observability-run"), STOCKPULSE_TRIGGER_SECONDS="1")
    try:
        up = stockpulse(env, "up")
        assert up.returncode == 0, up.stderr[-4000:]
        yield env, f"http://{env['STOCKPULSE_API_BIND']}", f"http://127.0.0.1:{env['STOCKPULSE_PROMETHEUS_PORT']}"
    finally:
        down = stockpulse(env, "down", timeout=180)
        assert down.returncode == 0, down.stderr


def by_labels(base: str, expr: str, *labels: str) -> dict[tuple[str, ...], float]:
    answer = prom(base, expr)
    assert answer["status"] == "success", answer
    return {tuple(s["metric"].get(k, "") for k in labels): float(s["value"][1]) for s in answer["data"]["result"]}


def drive_load(api: str, bootstrap: str) -> None:
    for ticker, n in QUOTES.items():
        for _ in range(n):
            assert call(api, "GET", f"/stocks/{ticker}").status == 200
    for ticker, n in SEED_QUOTES.items():
        for _ in range(n):
            assert call(api, "GET", f"/{ticker}").status == 200
    for (ticker, side), n in ORDERS.items():
        body = json.dumps({"side": side, "quantity": 4}).encode()
        for _ in range(n):
            reply = call(api, "POST", f"/stocks/{ticker}/orders", body, {"Content-Type": "application/json"})
            assert reply.status == 201, reply.body
    for (ticker, side), n in SEED_ORDERS.items():
        for _ in range(n):
            assert call(api, "POST", f"/{ticker}/{side}/5").status == 201
    for _ in range(UNKNOWN_QUOTES):
        assert call(api, "GET", "/stocks/NOPE").status == 404
    body = json.dumps({"side": "buy", "quantity": 0}).encode()
    for _ in range(BAD_ORDERS):
        assert call(api, "POST", "/stocks/GOOG/orders", body, {"Content-Type": "application/json"}).status == 422
    produce(bootstrap, [("stock_call", None, b"this is not an event")])


def test_a_loaded_stack_fills_every_dashboard_and_its_counters_match_what_was_sent(stack):
    env, api, prometheus = stack
    drive_load(api, env["STOCKPULSE_KAFKA_BOOTSTRAP"])
    ns = '{namespace="local"}'

    # the lake caught up: the ingest's business counters reach what was sent (then they must equal it)
    quotes = Counter({**QUOTES, **SEED_QUOTES})
    orders = Counter({**ORDERS, **SEED_ORDERS})

    def landed() -> bool:
        checks = by_labels(prometheus, f"sum(stockpulse_ingest_checks_total{ns})")
        placed = by_labels(prometheus, f"sum(stockpulse_ingest_orders_total{ns})")
        bad = by_labels(prometheus, 'sum(stockpulse_ingest_rows_written_total{namespace="local",table="quarantine"})')
        return checks.get((), 0) >= quotes.total() and placed.get((), 0) >= orders.total() and bad.get((), 0) >= 1

    assert wait_for(landed, timeout=240, interval=2), "the ingest's counters never reached what was sent"
    # two more scrapes and a rule evaluation after the last change, so every rate has its samples
    time.sleep(12)

    targets = json.loads(urllib.request.urlopen(f"{prometheus}/api/v1/targets", timeout=10).read())
    health = {t["labels"]["job"]: t["health"] for t in targets["data"]["activeTargets"]}
    assert health == dict.fromkeys(["stockpulse-api", "stockpulse-ingest", "stockpulse-kafka", "prometheus"], "up")

    # the API's counters equal the requests sent (probes of `up` aside)
    answered = 'stockpulse_http_requests_total{namespace="local",route!~"/readyz|/healthz"}'
    requests = by_labels(prometheus, f"sum by (method, route, status) ({answered})", "method", "route", "status")
    assert requests == {
        ("GET", "/stocks/<ticker>", "200"): sum(QUOTES.values()),
        ("GET", "/<stock_name>", "200"): sum(SEED_QUOTES.values()),
        ("POST", "/stocks/<ticker>/orders", "201"): sum(ORDERS.values()),
        ("POST", "/<stock_name>/<action>/<quantity>", "201"): sum(SEED_ORDERS.values()),
        ("GET", "/stocks/<ticker>", "404"): UNKNOWN_QUOTES,
        ("POST", "/stocks/<ticker>/orders", "422"): BAD_ORDERS,
    }
    outcomes = by_labels(prometheus, f"sum by (outcome) (stockpulse_order_requests_total{ns})", "outcome")
    accepted = orders.total()
    assert outcomes == {
        ("accepted",): accepted,
        ("rejected",): BAD_ORDERS,
        ("refused",): 0,
        ("in_doubt",): 0,
        ("failed",): 0,
    }
    produced = by_labels(prometheus, f"sum by (topic) (stockpulse_events_produced_total{ns})", "topic")
    assert produced == {("stock_call",): quotes.total(), ("stock_operation",): accepted, ("default_call",): 0}

    # ... and so do the ingest's, per ticker and side, from what landed in the lake
    checks = by_labels(prometheus, f"sum by (ticker) (stockpulse_ingest_checks_total{ns}) > 0", "ticker")
    assert checks == {(t,): n for t, n in quotes.items()}
    placed = by_labels(prometheus, f"sum by (ticker, side) (stockpulse_ingest_orders_total{ns}) > 0", "ticker", "side")
    assert placed == {key: n for key, n in orders.items()}
    quarantined = by_labels(
        prometheus, f"sum by (topic, reason) (stockpulse_ingest_quarantined_total{ns})", "topic", "reason"
    )
    assert quarantined == {("stock_call", "not a JSON object"): 1}

    # every dashboard query parses and returns data; every rule expression parses
    failed, empty = evaluate(prometheus, "local")
    assert len(dashboard_queries()) >= 30 and len(rules()) >= 20
    assert failed == []
    assert empty == []

    # each dashboard's namespace variable (Grafana's label_values) offers the local namespace
    for path in DASHBOARDS:
        (variable,) = [v for v in json.loads(path.read_text())["templating"]["list"] if v["name"] == "namespace"]
        metric = variable["query"].removeprefix("label_values(").split(",")[0]
        url = f"{prometheus}/api/v1/label/namespace/values?{urllib.parse.urlencode({'match[]': metric})}"
        assert "local" in json.loads(urllib.request.urlopen(url, timeout=10).read())["data"], path.name

    status = stockpulse(env, "status", "--json", timeout=120)
    report = json.loads(status.stdout)
    assert report["prometheus"]["healthy"] and "4/4 targets up" in report["prometheus"]["detail"]
