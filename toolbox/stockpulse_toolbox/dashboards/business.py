"""The business dashboard: checks and orders per ticker, buy against sell, attention, from what landed in the lake."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from .common import NS, RATE, bars, dashboard, timeseries

UID = "stockpulse-business"
CHECKS = f"stockpulse_ingest_checks_total{{{NS}}}"
ORDERS = f"stockpulse_ingest_orders_total{{{NS}}}"


def checks_per_ticker():
    return timeseries(
        "Quote checks per second by ticker",
        "Valid quote checks landed in the lake.",
        "ops",
        [(f"sum by (ticker) (rate({CHECKS}[{RATE}]))", "{{ticker}}")],
    )


def orders_per_ticker():
    return timeseries(
        "Orders per second by ticker and side",
        "Valid orders landed in the lake.",
        "ops",
        [(f"sum by (ticker, side) (rate({ORDERS}[{RATE}]))", "{{side}} {{ticker}}")],
    )


def buy_against_sell():
    return timeseries(
        "Buy against sell",
        "Orders per second on each side, over every ticker.",
        "ops",
        [(f"sum by (side) (rate({ORDERS}[{RATE}]))", "{{side}}")],
    )


def attention():
    return timeseries(
        "Attention: share of quote checks by ticker",
        "Each ticker's share of all quote checks: where customers look.",
        "percentunit",
        [
            (
                f"sum by (ticker) (rate({CHECKS}[{RATE}])) / ignoring (ticker) group_left sum(rate({CHECKS}[{RATE}]))",
                "{{ticker}}",
            )
        ],
    )


def checks_in_range():
    return bars(
        "Quote checks in the time range by ticker",
        "Valid quote checks landed during the dashboard's time range.",
        "short",
        [(f"sort_desc(sum by (ticker) (increase({CHECKS}[$__range])))", "{{ticker}}")],
    )


def orders_in_range():
    return bars(
        "Orders in the time range by ticker and side",
        "Valid orders landed during the dashboard's time range.",
        "short",
        [(f"sort_desc(sum by (ticker, side) (increase({ORDERS}[$__range])))", "{{side}} {{ticker}}")],
    )


def build() -> Dashboard:
    return (
        dashboard(
            UID,
            "stockpulse / business",
            "What customers check and trade, as landed in the lake.",
            "stockpulse_ingest_checks_total",
        )
        .with_panel(checks_per_ticker())
        .with_panel(attention())
        .with_panel(orders_per_ticker())
        .with_panel(buy_against_sell())
        .with_panel(checks_in_range())
        .with_panel(orders_in_range())
    )
