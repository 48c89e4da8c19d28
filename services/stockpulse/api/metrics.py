"""Prometheus metrics, in multiprocess mode under gunicorn (``PROMETHEUS_MULTIPROC_DIR``).

Counters are per process and summed by the collector, a dead worker's counts included, so
they never drop; the queue-depth gauge uses ``livesum`` so a dead worker's value disappears.
The metric objects are created at import, which gunicorn's config guarantees happens after
``PROMETHEUS_MULTIPROC_DIR`` is set. Label values known in advance (topics, order outcomes)
are created at zero, so a rate or a ratio over them has a series before the first failure.
docs/observability.md lists every metric.
"""

from __future__ import annotations

import functools
import math
import os
import re
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from ..events.topics import EVENT_TOPICS
from .insights_feed import INVALID_REASONS as INSIGHTS_INVALID_REASONS

ALL_TOPIC_NAMES = EVENT_TOPICS

REQUESTS = Counter("stockpulse_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "stockpulse_http_request_duration_seconds",
    "Time to answer a request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENTS_PRODUCED = Counter("stockpulse_events_produced_total", "Events acknowledged by Kafka", ["topic"])
EVENTS_FAILED = Counter("stockpulse_events_failed_total", "Events Kafka did not take or acknowledge", ["topic"])
PRODUCERS_REPLACED = Counter(
    "stockpulse_kafka_producers_replaced_total", "Kafka producers replaced after a fatal error", ["producer"]
)
KAFKA_REACHABLE = Gauge(
    "stockpulse_kafka_reachable",
    "1 when the brokers answered this worker's last metadata request, else 0 (min over workers)",
    multiprocess_mode="livemin",
)
ORDERS = Counter(
    "stockpulse_order_requests_total",
    "Order requests answered, by outcome: accepted (2xx), rejected (4xx), refused (503), in_doubt (504), failed",
    ["outcome"],
)
QUEUE_DEPTH = Gauge(
    "stockpulse_producer_queue_depth", "Events waiting in the producers' queues", multiprocess_mode="livesum"
)
PRICE_CACHE_HITS = Counter("stockpulse_price_cache_hits_total", "Quotes answered from the price cache")
PRICE_CACHE_MISSES = Counter("stockpulse_price_cache_misses_total", "Quotes that needed a price download")
INSIGHTS_INVALID = Counter(
    "stockpulse_insights_invalid_total",
    "stock_insights records a worker's view skipped, by reason: json (not JSON), schema, key (not the stock_name)",
    ["reason"],
)
# livemax: the worst worker's view decides; +Inf until a worker has a snapshot, so "no insights" alerts like "old"
INSIGHTS_AGE = Gauge(
    "stockpulse_insights_age_seconds",
    "Seconds since the as_of of the newest snapshot in a worker's insights view (+Inf while empty), max over workers",
    multiprocess_mode="livemax",
)

ORDER_OUTCOMES = ("accepted", "rejected", "refused", "in_doubt", "failed")
#: The values of the requests' ``method`` label: any other method a client sends (BREW, PROPFIND) is "other",
#: so clients cannot mint series.
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
OTHER_METHOD = "other"
for _topic in ALL_TOPIC_NAMES:
    EVENTS_PRODUCED.labels(topic=_topic)
    EVENTS_FAILED.labels(topic=_topic)
for _outcome in ORDER_OUTCOMES:
    ORDERS.labels(outcome=_outcome)
for _reason in INSIGHTS_INVALID_REASONS:
    INSIGHTS_INVALID.labels(reason=_reason)

GAUGE_INTERVAL_S = 1.0

bp = Blueprint("metrics", __name__)


def record_delivery(topic: str, ok: bool) -> None:
    (EVENTS_PRODUCED if ok else EVENTS_FAILED).labels(topic=topic).inc()


def record_replaced(producer: str) -> None:
    PRODUCERS_REPLACED.labels(producer=producer).inc()


def record_reachability(ok: bool) -> None:
    KAFKA_REACHABLE.set(1 if ok else 0)


def record_insights_invalid(reason: str) -> None:
    INSIGHTS_INVALID.labels(reason=reason).inc()


def method_label(method: str) -> str:
    return method if method in METHODS else OTHER_METHOD


@functools.cache
def route_label(rule: str) -> str:
    """The route's template without converter names: ``/<seed_ticker:stock_name>`` is ``/<stock_name>``."""
    return re.sub(r"<[^<>:]+:([^<>]+)>", r"<\1>", rule)


def order_outcome(status: int) -> str:
    """What an order request's status says about the order, for the availability SLO."""
    if status < 400:
        return "accepted"
    if status < 500:
        return "rejected"
    return {503: "refused", 504: "in_doubt"}.get(status, "failed")


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def sample_gauges(app: Flask, now: float, force: bool = False) -> None:
    """Samples, once a second per worker (each write is an mmap write): the queue depth, the
    insights view's age, and the price cache's hits and misses since the last sample, added to
    their counters."""
    state = app.extensions.setdefault("stockpulse.gauges_set_at", [0.0])
    if not force and now - state[0] < GAUGE_INTERVAL_S:
        return
    state[0] = now
    publisher = app.extensions.get("stockpulse.publisher")
    if publisher is not None:
        QUEUE_DEPTH.set(publisher.queue_depth())
    insights = app.extensions.get("stockpulse.insights")
    if insights is not None:
        age = insights.age_s()
        INSIGHTS_AGE.set(math.inf if age is None else age)
    prices = app.extensions.get("stockpulse.prices")
    if prices is not None:
        hits, misses = prices.cache_stats()
        counted = app.extensions.setdefault("stockpulse.cache_counted", [0, 0])  # the provider's totals so far
        if hits > counted[0]:
            PRICE_CACHE_HITS.inc(hits - counted[0])
        if misses > counted[1]:
            PRICE_CACHE_MISSES.inc(misses - counted[1])
        counted[:] = [hits, misses]


def exposition(app: Flask) -> bytes:
    """Every worker's samples in Prometheus' text format (``CONTENT_TYPE_LATEST``), this worker's gauges fresh."""
    sample_gauges(app, time.perf_counter(), force=True)
    return generate_latest(_registry())


@bp.get("/metrics")
def metrics() -> Response:
    return Response(exposition(current_app), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask, route: bool = True) -> None:
    """Count every request; with ``route``, also answer ``/metrics`` on the app's own port (a dev
    server). Under gunicorn the probe port answers it instead (``probe_server``), so the port
    customers reach does not show them the service's internals."""
    if route:
        app.register_blueprint(bp)

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response):
        now = time.perf_counter()
        route = route_label(request.url_rule.rule) if request.url_rule is not None else "<unmatched>"
        if route != "/metrics":
            method = method_label(request.method)
            REQUESTS.labels(method, route, str(response.status_code)).inc()
            LATENCY.labels(method, route).observe(now - g.get("started", now))
            if request.blueprint == "orders" and request.method == "POST":
                ORDERS.labels(order_outcome(response.status_code)).inc()
        sample_gauges(app, now)
        return response
