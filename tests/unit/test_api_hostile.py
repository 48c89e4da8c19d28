"""Hostile input, through the Flask test client: deeply nested JSON, unknown methods, writes to read-only routes.

Each answer is a JSON error, never a 500, and none mints a Prometheus series. The same requests go to the real
gunicorn in tests/integration/test_hostile_input.py.
"""

from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families
from stockpulse.api import create_app
from stockpulse.api.json_body import MAX_DEPTH, deeper_than
from stockpulse.api.metrics import METHODS, OTHER_METHOD
from stockpulse.prices import SimulatedPrices

JSON = "application/json"
INSIGHTS_PATHS = ("/insights", "/stocks/GOOG/insights")
ALLOWED_ON_INSIGHTS = {"GET", "HEAD", "OPTIONS"}


def json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.is_json, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    return error


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


# -- deeply nested JSON --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        nested(2000),  # within the 4096-byte limit, past the parser's recursion limit
        '{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1),  # valid JSON, one level too deep
        '{"side":' + nested(MAX_DEPTH) + ',"quantity":1}',
        "[" * 4000,  # unbalanced
    ],
)
def test_deeply_nested_json_is_a_400_json_error_and_no_event(client, publisher, body):
    error = json_error(order(client, body), 400, "malformed_json")
    assert str(MAX_DEPTH) in error["message"]
    assert publisher.events == []
    assert client.get("/healthz").status_code == 200


def test_a_hundred_thousand_nested_arrays_are_a_400_where_the_body_limit_lets_them_in(settings, publisher):
    app = create_app(
        settings.with_overrides(api={"max_body_bytes": 1_000_000}),
        publisher=publisher,
        prices=SimulatedPrices(clock=lambda: 1_790_000_000.0),
    )
    client = app.test_client()
    for body in (nested(100_000), "[" * 100_000, '{"a":' * 100_000):
        json_error(order(client, body), 400, "malformed_json")
    assert publisher.events == []


def test_nesting_up_to_the_limit_parses_and_brackets_in_strings_do_not_count(client, publisher):
    # parsed, so the order is judged on its fields: 422, not 400
    json_error(order(client, '{"side":' + nested(MAX_DEPTH - 1) + ',"quantity":1}'), 422, "invalid_side")
    json_error(order(client, json.dumps({"side": "[{" * 1500, "quantity": 1})), 422, "invalid_side")
    assert order(client, json.dumps({"side": "buy", "quantity": 1})).status_code == 201


@pytest.mark.parametrize(
    ("text", "deep"),
    [
        (nested(MAX_DEPTH), False),
        (nested(MAX_DEPTH + 1), True),
        ('["' + "[" * 100 + '"]', False),
        ('["\\"' + "[" * 100 + '"]', False),  # an escaped quote does not end the string
        ('"' + "[" * 100, False),  # an unterminated string runs to the end
        ("[" * 40 + "]" * 40 + "[]", True),
    ],
)
def test_depth_counts_brackets_outside_strings(text, deep):
    assert deeper_than(text, MAX_DEPTH) is deep


def order(client, body: str):
    return client.post("/stocks/GOOG/orders", data=body, content_type=JSON)


# -- unknown methods -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["BREW", "PROPFIND"])
@pytest.mark.parametrize("path", ["/stocks/GOOG", "/GOOG/buy/1", "/insights"])
def test_an_unknown_method_is_a_405_json_error(client, publisher, method, path):
    response = client.open(path, method=method)
    json_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"]
    assert publisher.events == []


def test_unknown_methods_mint_no_series(client):
    for method in ("BREW", "PROPFIND", "X-CUSTOM-1", "X-CUSTOM-2"):
        assert client.open("/stocks/GOOG", method=method).status_code == 405
    client.post("/GOOG/buy/1")
    labels = request_labels(client)
    assert {method for method, _ in labels} <= {*METHODS, OTHER_METHOD}
    assert (OTHER_METHOD, "<unmatched>") in labels
    assert ("POST", "/<stock_name>/<action>/<quantity>") in labels, "the seed route keeps its label"


def request_labels(client) -> set[tuple[str, str]]:
    """(method, route) of every sample of the request counter and histogram."""
    found = set()
    for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True)):
        if family.name in ("stockpulse_http_requests", "stockpulse_http_request_duration_seconds"):
            found |= {(s.labels["method"], s.labels["route"]) for s in family.samples if "method" in s.labels}
    return found


# -- writes to the read-only insights routes -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "BREW"])
@pytest.mark.parametrize("path", INSIGHTS_PATHS)
def test_writing_to_insights_is_a_405_that_allows_only_reads(client, publisher, method, path):
    response = client.open(path, method=method, json={"side": "buy", "quantity": 1})
    json_error(response, 405, "method_not_allowed")
    assert {m.strip() for m in response.headers["Allow"].split(",")} == ALLOWED_ON_INSIGHTS
    assert publisher.events == []


def test_a_post_to_insights_is_no_order(client):
    before = order_outcomes(client)
    assert client.post("/stocks/GOOG/insights").status_code == 405
    assert order_outcomes(client) == before


def order_outcomes(client) -> dict[str, float]:
    for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True)):
        if family.name == "stockpulse_order_requests":
            return {s.labels["outcome"]: s.value for s in family.samples if s.name.endswith("_total")}
    return {}


def test_the_seed_routes_still_take_every_ticker_but_stocks(client, publisher):
    assert client.post("/GOOG/buy/1").status_code == 201
    json_error(client.post("/NOPE/buy/1"), 404, "unknown_ticker")
    json_error(client.post("/stocks/buy/1"), 404, "not_found")
    json_error(client.get("/stocks"), 404, "unknown_ticker")
    assert len(publisher.events) == 1
