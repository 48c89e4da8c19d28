"""The advisory report on real Spark, against a fixed event set and answers worked out by hand."""

from __future__ import annotations

from datetime import datetime

import pytest
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType, TimestampType
from stockpulse.lake.report import build_report

pytestmark = pytest.mark.spark

CALL_SCHEMA = StructType(
    [
        StructField("stock_name", StringType()),
        StructField("event_time", TimestampType()),
        StructField("session_id", StringType()),
        StructField("user_id", StringType()),
    ]
)
ORDER_SCHEMA = StructType(
    [
        StructField("stock_name", StringType()),
        StructField("event_time", TimestampType()),
        StructField("session_id", StringType()),
        StructField("user_id", StringType()),
        StructField("side", StringType()),
        StructField("quantity", LongType()),
        StructField("price", DoubleType()),
        StructField("transaction_amount", DoubleType()),
    ]
)


def at(hh: int, mm: int) -> datetime:
    return datetime(2026, 11, 27, hh, mm)


CALLS = [
    ("GOOG", at(10, 5), "s1", "u1"),
    ("GOOG", at(10, 20), "s2", "u2"),
    ("GOOG", at(11, 10), "s1", "u1"),
    ("GOOG", at(12, 30), "s3", "u3"),
    ("GOOG", at(12, 40), "s3", "u3"),
    ("GOOG", at(12, 50), "s4", None),
    ("MSFT", at(10, 15), "s1", "u1"),
    ("MSFT", at(11, 30), "s2", "u2"),
    ("TSLA", at(12, 10), "s2", "u2"),
]
ORDERS = [
    ("GOOG", at(10, 30), "s1", "u1", "buy", 10, 100.0, 1000.0),
    ("GOOG", at(12, 45), "s3", "u3", "sell", 4, 110.0, 440.0),
    ("MSFT", at(11, 35), "s2", "u2", "buy", 5, 400.0, 2000.0),
    ("MSFT", at(11, 50), "s2", "u2", "sell", 5, 410.0, 2050.0),
    ("TSLA", at(12, 15), "s5", "u1", "buy", 2, 250.0, 500.0),
    ("AMZN", at(12, 55), None, "u4", "sell", 3, 200.0, 600.0),
]


@pytest.fixture(scope="module")
def report(spark):
    calls = spark.createDataFrame(CALLS, CALL_SCHEMA)
    orders = spark.createDataFrame(ORDERS, ORDER_SCHEMA)
    return build_report(calls, orders, quarantine_rows=2)


def test_coverage(report):
    assert report["coverage"] == {
        "stock_call_rows": 9,
        "stock_operation_rows": 6,
        "first_event": "2026-11-27T10:05:00",
        "last_event": "2026-11-27T12:55:00",
        "quarantine_rows": 2,
    }


def test_the_seeds_questions(report):
    assert report["seed"] == {
        "total_checks": 9,
        "checks_per_ticker": {"GOOG": 6, "MSFT": 2, "TSLA": 1},
        "most_checked": {"stock_name": "GOOG", "query_count": 6},
        "least_checked": {"stock_name": "TSLA", "query_count": 1},
        "max_transaction": 2050.0,
    }


def test_order_flow_and_imbalance(report):
    assert report["order_flow"] == [
        {
            "stock_name": "AMZN",
            "buy_shares": 0,
            "sell_shares": 3,
            "buy_amount": 0.0,
            "sell_amount": 600.0,
            "orders": 1,
            "net_shares": -3,
            "net_amount": -600.0,
            "imbalance": -1.0,
        },
        {
            "stock_name": "GOOG",
            "buy_shares": 10,
            "sell_shares": 4,
            "buy_amount": 1000.0,
            "sell_amount": 440.0,
            "orders": 2,
            "net_shares": 6,
            "net_amount": 560.0,
            "imbalance": 0.428571,
        },
        {
            "stock_name": "MSFT",
            "buy_shares": 5,
            "sell_shares": 5,
            "buy_amount": 2000.0,
            "sell_amount": 2050.0,
            "orders": 2,
            "net_shares": 0,
            "net_amount": -50.0,
            "imbalance": 0.0,
        },
        {
            "stock_name": "TSLA",
            "buy_shares": 2,
            "sell_shares": 0,
            "buy_amount": 500.0,
            "sell_amount": 0.0,
            "orders": 1,
            "net_shares": 2,
            "net_amount": 500.0,
            "imbalance": 1.0,
        },
    ]


def _w(ticker, start, checks, buy, sell, buy_amount, sell_amount):
    return {
        "stock_name": ticker,
        "window_start": start,
        "checks": checks,
        "buy_shares": buy,
        "sell_shares": sell,
        "buy_amount": buy_amount,
        "sell_amount": sell_amount,
    }


def test_volume_per_ticker_hour_and_day(report):
    h = "2026-11-27T{:02d}:00:00".format
    assert report["windows"]["hour"] == [
        _w("GOOG", h(10), 2, 10, 0, 1000.0, 0.0),
        _w("MSFT", h(10), 1, 0, 0, 0.0, 0.0),
        _w("GOOG", h(11), 1, 0, 0, 0.0, 0.0),
        _w("MSFT", h(11), 1, 5, 5, 2000.0, 2050.0),
        _w("AMZN", h(12), 0, 0, 3, 0.0, 600.0),
        _w("GOOG", h(12), 3, 0, 4, 0.0, 440.0),
        _w("TSLA", h(12), 1, 2, 0, 500.0, 0.0),
    ]
    day = "2026-11-27T00:00:00"
    assert report["windows"]["day"] == [
        _w("AMZN", day, 0, 0, 3, 0.0, 600.0),
        _w("GOOG", day, 6, 10, 4, 1000.0, 440.0),
        _w("MSFT", day, 2, 5, 5, 2000.0, 2050.0),
        _w("TSLA", day, 1, 2, 0, 500.0, 0.0),
    ]


def test_check_to_order_conversion(report):
    assert report["conversion"] == [
        {
            "stock_name": "AMZN",
            "checks": 0,
            "orders": 1,
            "checked_sessions": 0,
            "converted_sessions": 0,
            "orders_per_check": None,
            "session_conversion": None,
        },
        {
            "stock_name": "GOOG",
            "checks": 6,
            "orders": 2,
            "checked_sessions": 4,
            "converted_sessions": 2,
            "orders_per_check": 0.333333,
            "session_conversion": 0.5,
        },
        {
            "stock_name": "MSFT",
            "checks": 2,
            "orders": 2,
            "checked_sessions": 2,
            "converted_sessions": 1,
            "orders_per_check": 1.0,
            "session_conversion": 0.5,
        },
        {
            "stock_name": "TSLA",
            "checks": 1,
            "orders": 1,
            "checked_sessions": 1,
            "converted_sessions": 0,
            "orders_per_check": 1.0,
            "session_conversion": 0.0,
        },
    ]


def test_attention_against_buying_concentration(report):
    assert report["attention"] == [
        {
            "stock_name": "AMZN",
            "checks": 0,
            "bought": 0.0,
            "attention": 0.0,
            "buy_concentration": 0.0,
            "attention_gap": 0.0,
        },
        {
            "stock_name": "GOOG",
            "checks": 6,
            "bought": 1000.0,
            "attention": 0.666667,
            "buy_concentration": 0.285714,
            "attention_gap": 0.380953,
        },
        {
            "stock_name": "MSFT",
            "checks": 2,
            "bought": 2000.0,
            "attention": 0.222222,
            "buy_concentration": 0.571429,
            "attention_gap": -0.349207,
        },
        {
            "stock_name": "TSLA",
            "checks": 1,
            "bought": 500.0,
            "attention": 0.111111,
            "buy_concentration": 0.142857,
            "attention_gap": -0.031746,
        },
    ]


def test_top_customers_by_traded_amount(report):
    assert report["top_customers"] == [
        {"user_id": "u2", "orders": 2, "traded_amount": 4050.0, "buy_amount": 2000.0, "sell_amount": 2050.0},
        {"user_id": "u1", "orders": 2, "traded_amount": 1500.0, "buy_amount": 1500.0, "sell_amount": 0.0},
        {"user_id": "u4", "orders": 1, "traded_amount": 600.0, "buy_amount": 0.0, "sell_amount": 600.0},
        {"user_id": "u3", "orders": 1, "traded_amount": 440.0, "buy_amount": 0.0, "sell_amount": 440.0},
    ]


def test_unusual_activity_is_the_last_hour_against_the_tickers_own_baseline(report):
    last = "2026-11-27T12:00:00"
    assert report["unusual_activity"] == [
        {
            "stock_name": "GOOG",
            "last_hour": last,
            "last_hour_events": 4,
            "baseline_mean": 2.0,
            "baseline_stddev": 1.414214,
            "baseline_hours": 2,
            "z_score": 1.414214,
        },
        {
            "stock_name": "MSFT",
            "last_hour": last,
            "last_hour_events": 0,
            "baseline_mean": 2.0,
            "baseline_stddev": 1.414214,
            "baseline_hours": 2,
            "z_score": -1.414214,
        },
        {
            "stock_name": "AMZN",
            "last_hour": last,
            "last_hour_events": 1,
            "baseline_mean": 0.0,
            "baseline_stddev": 0.0,
            "baseline_hours": 2,
            "z_score": None,
        },
        {
            "stock_name": "TSLA",
            "last_hour": last,
            "last_hour_events": 2,
            "baseline_mean": 0.0,
            "baseline_stddev": 0.0,
            "baseline_hours": 2,
            "z_score": None,
        },
    ]


def test_html_report_draws_its_charts_in_headless_chromium(report, tmp_path):
    import shutil
    import subprocess

    from PIL import Image
    from stockpulse.lake.charts import BUY, NEUTRAL, SELL
    from stockpulse.lake.report_render import render_html

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: run `make setup`"
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1400,1000",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 1000)
    colours = image.getcolors(maxcolors=1_000_000)
    counts = {f"#{r:02x}{g:02x}{b:02x}": n for n, (r, g, b) in colours}
    # every bar colour covers a real area: the SVG charts were laid out and painted
    for colour in (BUY, SELL, NEUTRAL):
        assert counts.get(colour, 0) > 2000, f"{colour} barely drawn: {counts.get(colour, 0)} px"
    # and the page is not one colour: text and axes are there
    assert len(counts) > 50
