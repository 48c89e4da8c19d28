"""The API dashboard: traffic, latency, errors, the events it produces, orders and their SLO."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from .common import NS, RATE, dashboard, percentiles, row, stat, timeseries

UID = "stockpulse-api"
REQUESTS = f"stockpulse_http_requests_total{{{NS}}}"
LATENCY = f"stockpulse_http_request_duration_seconds_bucket{{{NS}}}"
ORDERS = f"stockpulse_order_requests_total{{{NS}}}"


def request_rate():
    return timeseries(
        "Requests per second by status",
        "Every answered request except /metrics, by HTTP status.",
        "reqps",
        [(f"sum by (status) (rate({REQUESTS}[{RATE}]))", "{{status}}")],
    )


def latency_percentiles():
    return timeseries(
        "Latency percentiles",
        "Time from request to answer, over every route.",
        "s",
        percentiles(LATENCY, (0.5, 0.95, 0.99)),
    )


def latency_by_route():
    return timeseries(
        "Latency p95 by route",
        "95th percentile of the answer time per route (tickers are one route).",
        "s",
        percentiles(LATENCY, (0.95,), by="route"),
    )


def errors_by_status():
    return timeseries(
        "Errors per second by status and route",
        "4xx are the clients' (unknown ticker, bad order), 5xx are ours (503 Kafka unavailable).",
        "reqps",
        [
            (
                f'sum by (status, route) (rate(stockpulse_http_requests_total{{{NS},status=~"[45].."}}[{RATE}]))',
                "{{status}} {{route}}",
            )
        ],
    )


def events_produced():
    return timeseries(
        "Events acknowledged and failed per topic",
        "Events Kafka acknowledged, and those it refused or never confirmed.",
        "ops",
        [
            (f"sum by (topic) (rate(stockpulse_events_produced_total{{{NS}}}[{RATE}]))", "acked {{topic}}"),
            (f"sum by (topic) (rate(stockpulse_events_failed_total{{{NS}}}[{RATE}]))", "failed {{topic}}"),
        ],
    )


def orders_by_outcome():
    return timeseries(
        "Orders per second by outcome",
        "accepted (2xx), rejected (4xx, the client's), refused (503), in_doubt (504: sent, not confirmed), failed.",
        "reqps",
        [(f"sum by (outcome) (rate({ORDERS}[{RATE}]))", "{{outcome}}")],
    )


def orders_in_doubt():
    return timeseries(
        "Orders refused and in doubt",
        "Refused orders left no event; an order in doubt may or may not be in Kafka (the client retries with its key).",
        "reqps",
        [
            (
                f'sum by (outcome) (rate(stockpulse_order_requests_total{{{NS},outcome=~"refused|in_doubt"}}[{RATE}]))',
                "{{outcome}}",
            )
        ],
    )


def order_availability():
    return stat(
        "Order availability (SLO 99.9 %)",
        "Share of order requests answered 2xx among those not rejected as the client's fault, last hour.",
        "percentunit",
        [(f"1 - namespace:stockpulse_order_errors:ratio_rate1h{{{NS}}}", "1h")],
    )


def producer_queue():
    return stat(
        "Producer queue",
        "Events waiting in the live workers' Kafka producers.",
        "short",
        [(f"sum(stockpulse_producer_queue_depth{{{NS}}})", "events")],
    )


def price_cache():
    return timeseries(
        "Price cache hits and misses",
        "Quotes answered from the cache and quotes that needed a price download (live prices only).",
        "ops",
        [
            (f"sum(rate(stockpulse_price_cache_hits_total{{{NS}}}[{RATE}]))", "hits"),
            (f"sum(rate(stockpulse_price_cache_misses_total{{{NS}}}[{RATE}]))", "misses"),
        ],
    )


def build() -> Dashboard:
    return (
        dashboard(
            UID,
            "stockpulse / API",
            "The HTTP API on gunicorn: traffic, latency, errors, events.",
            "stockpulse_http_requests_total",
        )
        .with_row(row("Traffic"))
        .with_panel(request_rate())
        .with_panel(errors_by_status())
        .with_panel(latency_percentiles())
        .with_panel(latency_by_route())
        .with_row(row("Orders and events"))
        .with_panel(order_availability())
        .with_panel(producer_queue())
        .with_panel(orders_by_outcome())
        .with_panel(orders_in_doubt())
        .with_panel(events_produced())
        .with_panel(price_cache())
    )
