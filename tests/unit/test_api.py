from __future__ import annotations

import pytest
from stockpulse.api.metrics import route_label
from stockpulse.events import validation_errors

from tests.support import MemoryIdempotencyStore

JSON = "application/json"


def order(client, ticker="GOOG", body=None, **kw):
    kw.setdefault("json", body if body is not None else {"side": "buy", "quantity": 5})
    return client.post(f"/stocks/{ticker}/orders", **kw)


def test_root_returns_usage_text_and_logs_a_default_call(client, publisher):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "/stocks/<ticker>" in response.get_data(as_text=True)
    assert publisher.topics() == ["default_call"]


@pytest.mark.parametrize("path", ["/stocks/GOOG", "/stocks/goog", "/GOOG"])
def test_quote_routes_answer_a_quote_and_log_a_check(client, publisher, path):
    response = client.get(path, headers={"X-User-Id": "u-1", "X-Session-Id": "s-9"})
    assert response.status_code == 200
    quote = response.get_json()
    assert quote["ticker"] == "GOOG" and quote["price"] > 0 and quote["currency"] == "USD"
    assert {"yearly_return", "as_of", "source", "stale"} <= set(quote)
    [(topic, key, event)] = publisher.events
    assert (topic, key) == ("stock_call", "GOOG")
    assert event["user_id"] == "u-1" and event["session_id"] == "s-9" and event["price"] == quote["price"]
    assert validation_errors(topic, event) == []


def test_json_order_is_201_with_id_price_and_amount(client, publisher):
    response = order(client, "tsla", {"side": "sell", "quantity": 7})
    assert response.status_code == 201
    body = response.get_json()
    assert body["ticker"] == "TSLA" and body["side"] == "sell" and body["quantity"] == 7
    assert body["amount"] == pytest.approx(body["price"] * 7)
    [(topic, key, event)] = publisher.events
    assert (topic, key) == ("stock_operation", "TSLA")
    assert event["order_id"] == body["order_id"] and event["transaction_amount"] == body["amount"]
    assert validation_errors(topic, event) == []


@pytest.mark.parametrize(("action", "task"), [("buy", "bought_10_AMZN"), ("sell", "sold_10_AMZN")])
def test_seed_order_route_keeps_the_seed_answer(client, publisher, action, task):
    response = client.post(f"/AMZN/{action}/10", data="{}", content_type=JSON)
    assert response.status_code == 201
    assert response.get_json() == {"task": task}
    [(topic, _, event)] = publisher.events
    assert topic == "stock_operation" and event["side"] == action and event["quantity"] == 10
    assert event["Content-Type"] == JSON


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("get", "/stocks/ZZZZ", {}, 404, "unknown_ticker"),
        ("get", "/NOPE", {}, 404, "unknown_ticker"),
        ("get", "/" + "A" * 3000, {}, 404, "unknown_ticker"),
        ("post", "/stocks/ZZZZ/orders", {"json": {"side": "buy", "quantity": 1}}, 404, "unknown_ticker"),
        ("post", "/ZZZZ/buy/1", {}, 404, "unknown_ticker"),
        ("post", "/GOOG/hold/1", {}, 404, "unknown_action"),
        ("post", "/GOOG/buy/0", {}, 422, "invalid_quantity"),
        ("post", "/GOOG/buy/10001", {}, 422, "invalid_quantity"),
        ("post", "/GOOG/buy/-3", {}, 400, "invalid_quantity"),
        ("post", "/GOOG/buy/2.5", {}, 400, "invalid_quantity"),
        ("post", "/GOOG/buy/ten", {}, 400, "invalid_quantity"),
        ("post", "/GOOG/buy/99999999999999999999999", {}, 400, "invalid_quantity"),
        ("post", "/stocks/GOOG/orders", {"json": {"side": "buy", "quantity": 0}}, 422, "invalid_quantity"),
        ("post", "/stocks/GOOG/orders", {"json": {"side": "buy", "quantity": -1}}, 422, "invalid_quantity"),
        ("post", "/stocks/GOOG/orders", {"json": {"side": "buy", "quantity": 1.5}}, 422, "invalid_quantity"),
        ("post", "/stocks/GOOG/orders", {"json": {"side": "buy", "quantity": "5"}}, 422, "invalid_quantity"),
        ("post", "/stocks/GOOG/orders", {"json": {"side": "buy", "quantity": True}}, 422, "invalid_quantity"),
        ("post", "/stocks/GOOG/orders", {"json": {"side": "buy", "quantity": 10**30}}, 422, "invalid_quantity"),
        ("post", "/stocks/GOOG/orders", {"json": {"side": "buy"}}, 422, "invalid_quantity"),
        ("post", "/stocks/GOOG/orders", {"json": {"side": "short", "quantity": 1}}, 422, "invalid_side"),
        ("post", "/stocks/GOOG/orders", {"json": {"side": "buy", "quantity": 1, "x": 1}}, 422, "invalid_order"),
        ("post", "/stocks/GOOG/orders", {"json": [1, 2]}, 422, "invalid_order"),
        ("post", "/stocks/GOOG/orders", {"data": '{"side": "buy", ', "content_type": JSON}, 400, "malformed_json"),
        ("post", "/stocks/GOOG/orders", {"data": "\xff\xfe", "content_type": JSON}, 400, "malformed_json"),
        (
            "post",
            "/stocks/GOOG/orders",
            {"data": "side=buy", "content_type": "text/plain"},
            415,
            "unsupported_media_type",
        ),
        ("post", "/stocks/GOOG/orders", {"data": "x" * 5000, "content_type": JSON}, 413, "payload_too_large"),
        ("post", "/GOOG/buy/1", {"data": "x" * 5000, "content_type": JSON}, 413, "payload_too_large"),
        ("delete", "/stocks/GOOG", {}, 405, "method_not_allowed"),
        ("put", "/stocks/GOOG/orders", {"json": {}}, 405, "method_not_allowed"),
        ("get", "/stocks/GOOG/orders", {}, 405, "method_not_allowed"),
        ("get", "/stocks/GOOG", {"headers": {"X-User-Id": "x" * 65}}, 400, "invalid_header"),
        ("post", "/GOOG/buy/1", {"headers": {"X-Session-Id": "a b"}}, 400, "invalid_header"),
        ("get", "/a/b/c/d", {}, 404, "not_found"),
        ("get", "/stocks//GOOG", {}, 404, "not_found"),
    ],
)
def test_bad_input_gets_a_json_error_and_no_event(client, publisher, method, path, kwargs, status, code):
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    assert publisher.events == []
    assert client.get("/healthz").status_code == 200, "the server keeps serving"


def test_order_is_503_and_not_placed_when_kafka_refuses(client, publisher):
    publisher.refuse = True
    response = order(client)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.get_json()["error"]["code"] == "kafka_unavailable"
    assert client.post("/GOOG/buy/3").status_code == 503
    assert publisher.events == []


def test_kafka_outage_keeps_the_probes_and_quotes_up_and_readiness_reports_it(client, publisher):
    assert client.get("/readyz").get_json()["kafka"] == "reachable"
    publisher.reachable = False
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json() == {"status": "ready", "kafka": "unreachable"}
    assert client.get("/healthz").status_code == 200
    assert client.get("/stocks/GOOG").status_code == 200


def test_a_whole_number_written_with_a_fraction_is_that_integer(client, publisher):
    response = order(client, body={"side": "buy", "quantity": 3.0})
    assert response.status_code == 201 and response.get_json()["quantity"] == 3
    [(_, _, event)] = publisher.events
    assert event["quantity"] == 3 and isinstance(event["quantity"], int)


def test_max_quantity_comes_from_settings(settings, publisher):
    from stockpulse.api import create_app

    client = create_app(
        settings.with_overrides(api={"max_quantity": 5}), publisher=publisher, idempotency=MemoryIdempotencyStore()
    ).test_client()
    assert client.post("/GOOG/buy/5").status_code == 201
    assert client.post("/GOOG/buy/6").status_code == 422


def test_openapi_describes_every_route(app, client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = route_label(rule.rule).replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method.lower()))
    assert served == documented


def test_metrics_count_requests_by_route_and_status(client):
    before = _counter(client, 'route="/stocks/<ticker>",status="200"')
    for _ in range(3):
        client.get("/stocks/GOOG")
    client.get("/stocks/NOPE")
    assert _counter(client, 'route="/stocks/<ticker>",status="200"') == before + 3
    assert _counter(client, 'route="/stocks/<ticker>",status="404"') >= 1


def _counter(client, labels: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    for line in text.splitlines():
        if line.startswith("stockpulse_http_requests_total{") and labels in line and 'method="GET"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_every_evented_answer_names_its_event(client, publisher):
    """X-Event-Id is the event_id of the event the request produced, on each route that produces one."""
    answers = [
        client.get("/stocks/GOOG"),
        client.get("/AMZN"),
        client.post("/stocks/GOOG/orders", json={"side": "buy", "quantity": 2}),
        client.post("/TSLA/sell/3"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 201, 201]
    sent = [event["event_id"] for _topic, _key, event in publisher.events]
    assert [a.headers.get("X-Event-Id") for a in answers] == sent
    assert len(set(sent)) == 4


def test_a_replayed_order_names_the_original_event(client, publisher):
    headers = {"X-User-Id": "u-1", "Idempotency-Key": "0b8f7c4e-2f7a-4d53-9d1e-6f1c2b3a4d5e"}
    first = client.post("/stocks/GOOG/orders", json={"side": "buy", "quantity": 2}, headers=headers)
    again = client.post("/stocks/GOOG/orders", json={"side": "buy", "quantity": 2}, headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert [e["event_id"] for _t, _k, e in publisher.events] == [first.headers["X-Event-Id"]]
    assert again.headers["X-Event-Id"] == first.headers["X-Event-Id"]
