"""The insights routes against an ``InsightsFeed`` fed by hand through ``apply``, the consumer thread's own path.

Snapshots are written out here to satisfy the ``stock_insights`` v1 schema (checked), and
every expected value (order, staleness, rows) is worked out by hand, not by the code under
test. tests/integration/test_api_insights_kafka.py shows the same against a real broker.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from prometheus_client.parser import text_string_to_metric_families
from stockpulse.api import create_app
from stockpulse.api.insights_feed import InsightsFeed
from stockpulse.api.metrics import record_insights_invalid
from stockpulse.events import STOCK_INSIGHTS, validation_errors
from stockpulse.prices import SimulatedPrices

from tests.support import MemoryIdempotencyStore, contract_vectors

NOW = 1_790_000_000.0  # the view's clock, epoch seconds
NOW_MS = NOW * 1000


def window(minutes: int, as_of: float, checks: int, buy: tuple[int, int], sell: tuple[int, int], imbalance):
    """One window; ``buy``/``sell`` are (orders, shares); ``imbalance`` is given, worked out by the caller."""
    return {
        "start": as_of - minutes * 60_000,
        "end": as_of,
        "checks": checks,
        "orders": buy[0] + sell[0],
        "buy_orders": buy[0],
        "sell_orders": sell[0],
        "buy_shares": buy[1],
        "sell_shares": sell[1],
        "buy_amount": buy[1] * 100.0,
        "sell_amount": sell[1] * 100.0,
        "imbalance": imbalance,
        "customers": 3,
        "conversion": 0.5 if buy[0] + sell[0] else None,
    }


def snapshot(
    ticker: str,
    *,
    rank: int = 1,
    age_s: float = 1.0,
    checks: int = 40,
    buy: tuple[int, int] = (0, 0),
    sell: tuple[int, int] = (0, 0),
    imbalance: float | None = None,
    score: float | None = None,
    signals: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    as_of = NOW_MS - age_s * 1000
    w15 = window(15, as_of, checks, buy, sell, imbalance)
    value = {
        "schema_version": 1,
        "stock_name": ticker,
        "as_of": as_of,
        "watermark": as_of - 60_000,
        "windows": {
            "1m": window(1, as_of, 1, (0, 0), (0, 0), None),
            "15m": w15,
            "1h": {**w15, "start": as_of - 3_600_000},
        },
        "attention_rank": rank,
        "unusual": {
            "score": score,
            "events": checks + w15["orders"],
            "baseline_mean": None if score is None else 10.0,
            "baseline_std": None if score is None else 2.0,
            "baseline_windows": 0 if score is None else 96,
        },
        "signals": signals or [],
    }
    assert validation_errors(STOCK_INSIGHTS, value) == [], "the hand-written snapshot must satisfy the contract"
    return value


def put(view: InsightsFeed, value: dict[str, Any]) -> str:
    return view.apply(value["stock_name"].encode(), json.dumps(value).encode())


@pytest.fixture
def view() -> InsightsFeed:
    return InsightsFeed(None, clock=lambda: NOW, on_invalid=record_insights_invalid)


@pytest.fixture
def client(settings, publisher, view):
    app = create_app(
        settings,
        publisher=publisher,
        prices=SimulatedPrices(clock=lambda: NOW),
        insights=view,
        idempotency=MemoryIdempotencyStore(),
    )
    return app.test_client()


def error_code(reply) -> str:
    assert reply.is_json, reply.get_data(as_text=True)
    return reply.get_json()["error"]["code"]


# -- one ticker ----------------------------------------------------------------------------------------------------


def test_unknown_ticker_is_404_before_and_after_snapshots(client, view):
    assert client.get("/stocks/NOPE/insights").status_code == 404
    put(view, snapshot("GOOG"))
    reply = client.get("/stocks/NOPE/insights")
    assert reply.status_code == 404 and error_code(reply) == "unknown_ticker"


def test_ticker_without_a_snapshot_yet_is_503_with_retry_after(client, view):
    put(view, snapshot("AMZN"))  # another ticker has one, GOOG not yet
    reply = client.get("/stocks/GOOG/insights")
    assert reply.status_code == 503 and error_code(reply) == "insights_not_ready"
    assert int(reply.headers["Retry-After"]) >= 1


def test_fresh_snapshot_is_served_with_its_staleness(client, view):
    value = snapshot("GOOG", age_s=2.5, buy=(3, 30), sell=(1, 10), imbalance=0.5, score=1.25)
    assert put(view, value) == "stored"
    reply = client.get("/stocks/goog/insights")  # case-insensitive, like quotes
    assert reply.status_code == 200
    assert reply.get_json() == {**value, "staleness_s": 2.5, "stale": False}
    assert list(reply.get_json())[:2] == ["schema_version", "stock_name"]  # the contract's order, extras last


def test_old_snapshot_is_served_and_flagged_stale(client, view):
    put(view, snapshot("GOOG", age_s=3600))
    body = client.get("/stocks/GOOG/insights").get_json()
    assert body["staleness_s"] == 3600.0 and body["stale"] is True
    assert body["attention_rank"] == 1  # flagged, not hidden


@pytest.mark.parametrize(("age_s", "stale"), [(30.0, False), (30.001, True)])
def test_stale_means_older_than_the_setting(client, view, settings, age_s, stale):
    assert settings.insights.stale_after_s == 30.0
    put(view, snapshot("GOOG", age_s=age_s))
    body = client.get("/stocks/GOOG/insights").get_json()
    assert (body["staleness_s"], body["stale"]) == (age_s, stale)


def test_stale_threshold_comes_from_settings(settings, publisher, view):
    client = create_app(
        settings.with_overrides(insights={"stale_after_s": 5.0}),
        publisher=publisher,
        insights=view,
        idempotency=MemoryIdempotencyStore(),
    )
    put(view, snapshot("GOOG", age_s=6))
    assert client.test_client().get("/stocks/GOOG/insights").get_json()["stale"] is True


def test_a_later_snapshot_replaces_the_earlier_one(client, view):
    put(view, snapshot("GOOG", age_s=10, checks=5))
    put(view, snapshot("GOOG", age_s=1, checks=7))
    body = client.get("/stocks/GOOG/insights").get_json()
    assert body["windows"]["15m"]["checks"] == 7 and body["staleness_s"] == 1.0


def test_tombstone_removes_the_ticker(client, view):
    put(view, snapshot("GOOG"))
    put(view, snapshot("AMZN"))
    assert view.apply(b"GOOG", None) == "deleted"
    assert client.get("/stocks/GOOG/insights").status_code == 503
    assert client.get("/stocks/AMZN/insights").status_code == 200
    assert [row["stock_name"] for row in client.get("/insights").get_json()["tickers"]] == ["AMZN"]


def test_a_view_still_reading_the_topic_answers_503(settings, publisher):
    """A Kafka-backed view is not caught up before its first read reached the end of the topic."""
    view = InsightsFeed("127.0.0.1:1", clock=lambda: NOW)  # nothing listens there: it never catches up
    put(view, snapshot("GOOG"))  # possibly superseded further down the topic
    client = create_app(
        settings, publisher=publisher, insights=view, idempotency=MemoryIdempotencyStore()
    ).test_client()
    try:
        for path in ("/stocks/GOOG/insights", "/insights"):
            reply = client.get(path)
            assert reply.status_code == 503 and error_code(reply) == "insights_not_ready"
            assert reply.headers["Retry-After"]
    finally:
        view.close()
    assert not view._thread.is_alive()


# -- invalid records -----------------------------------------------------------------------------------------------


def scrape_invalid(client) -> dict[str, float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "stockpulse_insights_invalid"
        for sample in family.samples
        if sample.name == "stockpulse_insights_invalid_total"
    }


def test_invalid_records_are_skipped_counted_and_keep_the_last_good_snapshot(client, view, caplog):
    good = snapshot("GOOG", checks=9)
    put(view, good)
    before = scrape_invalid(client)
    assert set(before) == {"json", "schema", "key"}  # the series exist at zero
    missing_rank = {k: v for k, v in snapshot("GOOG").items() if k != "attention_rank"}
    negative_checks = snapshot("GOOG")
    negative_checks["windows"]["15m"]["checks"] = -1
    outcomes = [
        view.apply(b"GOOG", b"{not json"),
        view.apply(b"GOOG", b"\xff\xfe"),
        view.apply(b"GOOG", json.dumps({**good, "as_of": float("nan")}).encode()),  # NaN is no JSON
        view.apply(b"GOOG", json.dumps(missing_rank).encode()),
        view.apply(b"GOOG", json.dumps(negative_checks).encode()),
        view.apply(b"GOOG", json.dumps([1, 2]).encode()),
        view.apply(b"AMZN", json.dumps(good).encode()),  # key and stock_name disagree
        view.apply(None, json.dumps(good).encode()),
    ]
    assert outcomes == ["json", "json", "json", "schema", "schema", "schema", "key", "key"]
    assert dict(view.invalid) == {"json": 3, "schema": 3, "key": 2}
    after = scrape_invalid(client)
    assert {reason: after[reason] - before[reason] for reason in after} == {"json": 3, "schema": 3, "key": 2}
    assert "skipped a stock_insights record (schema)" in caplog.text
    assert client.get("/stocks/GOOG/insights").get_json()["windows"]["15m"]["checks"] == 9
    assert client.get("/stocks/AMZN/insights").status_code == 503


def test_the_shared_contract_vectors_are_stored_or_skipped(client, view):
    """contracts/events/stock_insights.v1.json, which the Spark side's tests read too: producer and reader agree."""
    vectors = contract_vectors(STOCK_INSIGHTS)
    assert vectors["valid"] and vectors["invalid"]
    for case in vectors["invalid"]:
        key = str(case["event"].get("stock_name", "GOOG")).encode()
        assert view.apply(key, json.dumps(case["event"]).encode()) == "schema", case["reason"]
    assert client.get("/insights").status_code == 503
    for value in vectors["valid"]:
        assert put(view, value) == "stored"
        body = client.get(f"/stocks/{value['stock_name']}/insights").get_json()
        assert {k: v for k, v in body.items() if k not in ("staleness_s", "stale")} == value


def test_view_remembers_its_first_snapshot_and_reports_its_age():
    clock = [NOW]
    view = InsightsFeed(None, clock=lambda: clock[0])
    assert (view.has_snapshot(), view.first_snapshot_at, view.age_s()) == (False, None, None)
    view.apply(b"GOOG", b"not json")
    assert view.has_snapshot() is False
    put(view, snapshot("GOOG", age_s=4))
    clock[0] = NOW + 10
    put(view, snapshot("AMZN", age_s=2))  # as_of NOW - 2 s, the newest
    assert view.first_snapshot_at == NOW
    assert view.age_s() == pytest.approx(12.0)
    view.apply(b"AMZN", None)
    view.apply(b"GOOG", None)
    assert view.has_snapshot() is True and view.age_s() is None


def test_age_gauge_shows_the_newest_snapshot_age(client, view):
    put(view, snapshot("GOOG", age_s=7.5))
    put(view, snapshot("AMZN", age_s=2.5))
    text = client.get("/metrics").get_data(as_text=True)
    ages = [
        s.value
        for f in text_string_to_metric_families(text)
        if f.name == "stockpulse_insights_age_seconds"
        for s in f.samples
    ]
    assert ages == [2.5]


# -- the ranking ---------------------------------------------------------------------------------------------------

#: rank, 15m imbalance (from the shares), unusual score; expected orders worked out by hand below.
RANKED = {
    "GOOG": {"rank": 2, "buy": (3, 30), "sell": (1, 10), "imbalance": 0.5, "score": 1.0},
    "AMZN": {"rank": 1, "buy": (0, 0), "sell": (2, 20), "imbalance": -1.0, "score": None},
    "TSLA": {"rank": 2, "buy": (0, 0), "sell": (0, 0), "imbalance": None, "score": 3.2},
    "MSFT": {"rank": 3, "buy": (1, 10), "sell": (2, 30), "imbalance": -0.5, "score": -4.0},
    "AAPL": {"rank": 4, "buy": (0, 0), "sell": (0, 0), "imbalance": None, "score": None},
}


@pytest.fixture
def ranked(view) -> InsightsFeed:
    for i, (ticker, spec) in enumerate(RANKED.items()):
        put(view, snapshot(ticker, age_s=10 + i, checks=50 - i, **spec))
    put(view, snapshot("ZZZZ", rank=1, imbalance=None, score=99.0))  # in the topic, not a configured ticker
    return view


@pytest.mark.parametrize(
    ("query", "sort", "expected"),
    [
        # rank ascending; GOOG and TSLA share rank 2: by name
        ("", "attention", ["AMZN", "GOOG", "TSLA", "MSFT", "AAPL"]),
        ("?sort=attention", "attention", ["AMZN", "GOOG", "TSLA", "MSFT", "AAPL"]),
        # |imbalance| descending: 1.0, then 0.5 for GOOG (+0.5) and MSFT (-0.5) by name, then the nulls by name
        ("?sort=imbalance", "imbalance", ["AMZN", "GOOG", "MSFT", "AAPL", "TSLA"]),
        # score descending: 3.2, 1.0, -4.0, then the nulls by name
        ("?sort=unusual", "unusual", ["TSLA", "GOOG", "MSFT", "AAPL", "AMZN"]),
    ],
)
def test_ranking_orders_by_the_chosen_signal_with_nulls_last(client, ranked, query, sort, expected):
    reply = client.get("/insights" + query)
    assert reply.status_code == 200
    body = reply.get_json()
    assert body["sort"] == sort
    assert [row["stock_name"] for row in body["tickers"]] == expected


def test_ranking_rows_and_freshness(client, ranked):
    body = client.get("/insights?sort=unusual&limit=2").get_json()
    # newest snapshot: GOOG, 10 s old (TSLA 12 s, ...); ZZZZ (1 s) is not configured and does not count
    assert (body["as_of"], body["staleness_s"], body["stale"]) == (NOW_MS - 10_000, 10.0, False)
    assert body["tickers"] == [
        {
            "stock_name": "TSLA",
            "attention_rank": 2,
            "imbalance": None,
            "unusual_score": 3.2,
            "checks_15m": 48,
            "orders_15m": 0,
            "signals": [],
            "as_of": NOW_MS - 12_000,
            "stale": False,
        },
        {
            "stock_name": "GOOG",
            "attention_rank": 2,
            "imbalance": 0.5,
            "unusual_score": 1.0,
            "checks_15m": 50,
            "orders_15m": 4,
            "signals": [],
            "as_of": NOW_MS - 10_000,
            "stale": False,
        },
    ]


def test_ranking_flags_each_stale_row(client, view):
    signals = [{"code": "buy_pressure", "message": "buyers outweigh sellers 3 to 1 in the last 15 minutes"}]
    put(view, snapshot("GOOG", rank=1, age_s=5, signals=signals))
    put(view, snapshot("AMZN", rank=2, age_s=120))
    body = client.get("/insights").get_json()
    assert (body["staleness_s"], body["stale"]) == (5.0, False)
    assert [(r["stock_name"], r["stale"]) for r in body["tickers"]] == [("GOOG", False), ("AMZN", True)]
    assert body["tickers"][0]["signals"] == signals


def test_ranking_limit_defaults_to_ten(client, view, settings):
    assert len(settings.tickers) == 12
    for rank, ticker in enumerate(settings.tickers, start=1):
        put(view, snapshot(ticker, rank=rank))
    assert [r["stock_name"] for r in client.get("/insights").get_json()["tickers"]] == list(settings.tickers[:10])
    assert [r["stock_name"] for r in client.get("/insights?limit=2").get_json()["tickers"]] == ["MSFT", "AAPL"]
    assert len(client.get("/insights?limit=100").get_json()["tickers"]) == 12
    assert len(client.get("/insights?limit=1").get_json()["tickers"]) == 1


def test_ranking_before_any_snapshot_is_503(client, view):
    reply = client.get("/insights")
    assert reply.status_code == 503 and error_code(reply) == "insights_not_ready"
    assert int(reply.headers["Retry-After"]) >= 1
    put(view, snapshot("ZZZZ"))  # only a ticker this API does not serve
    assert client.get("/insights").status_code == 503


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?sort=price", "invalid_sort"),
        ("?sort=ATTENTION", "invalid_sort"),
        ("?sort=", "invalid_sort"),
        ("?limit=0", "invalid_limit"),
        ("?limit=101", "invalid_limit"),
        ("?limit=-1", "invalid_limit"),
        ("?limit=1.5", "invalid_limit"),
        ("?limit=ten", "invalid_limit"),
        ("?limit=", "invalid_limit"),
        ("?limit=99999999999999999999", "invalid_limit"),
        ("?sort=attention&order=desc", "unknown_parameter"),
        ("?ticker=GOOG", "unknown_parameter"),
        ("?sort=attention&sort=unusual", "repeated_parameter"),
        ("?limit=1&limit=2", "repeated_parameter"),
    ],
)
def test_bad_ranking_query_is_a_400_json_error(client, ranked, query, code):
    reply = client.get("/insights" + query)
    assert reply.status_code == 400 and error_code(reply) == code
    assert reply.get_json()["error"]["message"]


def test_bad_query_is_400_even_before_the_first_snapshot(client):
    assert client.get("/insights?limit=0").status_code == 400


# -- routing, events, documentation --------------------------------------------------------------------------------


def test_insights_is_not_taken_for_a_ticker(client, view):
    """``/insights`` is a static rule; it wins over the seed's ``/<stock_name>`` quote."""
    adapter = client.application.url_map.bind("localhost")
    assert adapter.match("/insights", method="GET")[0] == "insights.ranking"
    assert adapter.match("/stocks/GOOG/insights", method="GET")[0] == "insights.ticker_insights"
    assert adapter.match("/GOOG", method="GET")[0] == "quotes.seed_quote"
    assert adapter.match("/stocks/GOOG", method="GET")[0] == "quotes.quote"
    put(view, snapshot("GOOG"))
    assert client.get("/insights").get_json()["tickers"][0]["stock_name"] == "GOOG"


def test_options_advertise_only_get(client):
    """The path also matches the seed's POST /<ticker>/<action>/<quantity>; OPTIONS must not advertise that POST."""
    for path in ("/stocks/GOOG/insights", "/insights"):
        reply = client.options(path)
        assert reply.status_code == 200
        assert {m.strip() for m in reply.headers["Allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}, path


def test_insights_routes_produce_no_event(client, publisher, ranked):
    replies = [
        client.get("/stocks/GOOG/insights"),
        client.get("/stocks/NVDA/insights"),
        client.get("/stocks/NOPE/insights"),
        client.get("/insights?sort=imbalance"),
        client.get("/insights?sort=nope"),
    ]
    assert [r.status_code for r in replies] == [200, 503, 404, 200, 400]
    assert publisher.events == []
    assert client.get("/stocks/GOOG").status_code == 200  # while a quote still does
    assert publisher.topics() == ["stock_call"]


def test_answers_match_the_openapi_document(client, ranked):
    spec = client.get("/openapi.json").get_json()

    def check(path: str, status: int) -> None:
        reply = client.get(path)
        assert reply.status_code == status
        operation = spec["paths"][path.split("?")[0].replace("GOOG", "{ticker}").replace("NVDA", "{ticker}")]["get"]
        schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
        validator = Draft202012Validator({**schema, "components": spec["components"]})
        assert list(validator.iter_errors(reply.get_json())) == []

    check("/stocks/GOOG/insights", 200)
    check("/stocks/NVDA/insights", 503)
    for sort in ("attention", "imbalance", "unusual"):
        check(f"/insights?sort={sort}&limit=100", 200)
    check("/insights?limit=0", 400)
    assert spec["paths"]["/stocks/{ticker}/insights"]["get"]["responses"]["503"]["headers"]["Retry-After"]
    for path in ("/stocks/{ticker}/insights", "/insights"):
        assert "no event" in spec["paths"][path]["get"]["description"].lower()


def test_an_app_with_an_injected_publisher_keeps_insights_off_kafka(settings, publisher):
    app = create_app(settings, publisher=publisher, idempotency=MemoryIdempotencyStore())
    view = app.extensions["stockpulse.insights"]
    assert view.bootstrap is None and view.caught_up()
    assert app.test_client().get("/insights").status_code == 503
