"""Prometheus metrics, in multiprocess mode under gunicorn (``PROMETHEUS_MULTIPROC_DIR``).

Counters are per process and summed by the collector; gauges use ``livesum`` so a dead
worker's values disappear. The metric objects are created at import, which gunicorn's
config guarantees happens after ``PROMETHEUS_MULTIPROC_DIR`` is set.
"""

from __future__ import annotations

import os
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
QUEUE_DEPTH = Gauge(
    "stockpulse_producer_queue_depth", "Events waiting in the producers' queues", multiprocess_mode="livesum"
)
PRICE_CACHE_HITS = Gauge(
    "stockpulse_price_cache_hits", "Quotes answered from the price cache", multiprocess_mode="livesum"
)
PRICE_CACHE_MISSES = Gauge(
    "stockpulse_price_cache_misses", "Quotes that needed a price download", multiprocess_mode="livesum"
)

GAUGE_INTERVAL_S = 1.0

bp = Blueprint("metrics", __name__)


def record_delivery(topic: str, ok: bool) -> None:
    (EVENTS_PRODUCED if ok else EVENTS_FAILED).labels(topic=topic).inc()


def record_replaced(producer: str) -> None:
    PRODUCERS_REPLACED.labels(producer=producer).inc()


def record_reachability(ok: bool) -> None:
    KAFKA_REACHABLE.set(1 if ok else 0)


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def sample_gauges(app: Flask, now: float, force: bool = False) -> None:
    """Gauges are samples: once a second per worker is plenty, and each set is an mmap write."""
    state = app.extensions.setdefault("stockpulse.gauges_set_at", [0.0])
    if not force and now - state[0] < GAUGE_INTERVAL_S:
        return
    state[0] = now
    publisher = app.extensions.get("stockpulse.publisher")
    if publisher is not None:
        QUEUE_DEPTH.set(publisher.queue_depth())
    prices = app.extensions.get("stockpulse.prices")
    if prices is not None:
        hits, misses = prices.cache_stats()
        PRICE_CACHE_HITS.set(hits)
        PRICE_CACHE_MISSES.set(misses)


@bp.get("/metrics")
def metrics() -> Response:
    sample_gauges(current_app, time.perf_counter(), force=True)  # this worker's samples are fresh
    return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response):
        now = time.perf_counter()
        route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        if route != "/metrics":
            REQUESTS.labels(request.method, route, str(response.status_code)).inc()
            LATENCY.labels(request.method, route).observe(now - g.get("started", now))
        sample_gauges(app, now)
        return response
