"""The Flask application factory; gunicorn runs it as ``stockpulse.api:create_app(public_metrics=False)``."""

from __future__ import annotations

import logging

from flask import Flask, request

from ..events.publisher import KafkaPublisher, Publisher
from ..prices import PriceProvider, make_provider
from ..settings import Settings, load_settings
from . import metrics
from .errors import ApiError, register_error_handlers
from .idempotency_store import IdempotencyStore, PostgresIdempotencyStore
from .insights_feed import InsightsFeed
from .json_body import BoundedJSONProvider
from .routes import docs, health, orders, quotes, root
from .routes import insights as insights_routes  # the name ``insights`` is create_app's parameter

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    publisher: Publisher | None = None,
    prices: PriceProvider | None = None,
    insights: InsightsFeed | None = None,
    idempotency: IdempotencyStore | None = None,
    public_metrics: bool = True,
) -> Flask:
    """Build the app; tests pass their own settings, publisher, price source, insights view or key store.

    ``public_metrics=False`` (gunicorn's configuration) leaves ``/metrics`` to the probe port.

    Without ``insights`` the app follows the ``stock_insights`` topic on the configured
    brokers, unless a ``publisher`` was passed: a caller that keeps the app off Kafka for
    events (the unit tests) must not have it read a real broker for insights behind its
    back, so it gets an empty view without Kafka (insights answer 503) and passes a view
    filled through ``InsightsFeed.apply`` when it wants some.
    """
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.api.max_body_bytes, JSON_SORT_KEYS=False)
    app.json = BoundedJSONProvider(app)  # a deeply nested body is a 400, not a RecursionError
    app.json.sort_keys = False
    # "//stocks//GOOG" is a 404 like any unknown path, not a redirect the OpenAPI document does not describe
    app.url_map.merge_slashes = False
    app.extensions["stockpulse.settings"] = settings
    app.extensions["stockpulse.prices"] = prices or make_provider(
        settings.api.price_source, settings.tickers, settings.api.price_cache_ttl_s
    )
    app.extensions["stockpulse.publisher"] = publisher or KafkaPublisher(
        settings.kafka.bootstrap,
        order_ack_timeout_ms=settings.api.order_ack_timeout_ms,
        check_delivery_timeout_ms=settings.api.check_delivery_timeout_ms,
        on_delivery=metrics.record_delivery,
        on_replaced=metrics.record_replaced,
        on_reachability=metrics.record_reachability,
    )
    app.extensions["stockpulse.idempotency"] = idempotency or PostgresIdempotencyStore(
        settings.idempotency_dsn,
        settings.api.idempotency_ttl_s,
        pool_size=settings.api.threads,
        password_file=settings.api.idempotency_password_file,
    )
    if insights is None:
        bootstrap = settings.kafka.bootstrap if publisher is None else None
        insights = InsightsFeed(bootstrap, on_invalid=metrics.record_insights_invalid)
    app.extensions["stockpulse.insights"] = insights

    @app.before_request
    def _limit_body() -> None:
        # Rejected before any route reads the body, also for routes that ignore it.
        if request.content_length is not None and request.content_length > settings.api.max_body_bytes:
            raise ApiError(
                413, "payload_too_large", f"request bodies are limited to {settings.api.max_body_bytes} bytes"
            )

    register_error_handlers(app)
    metrics.init_app(app, route=public_metrics)
    app.extensions["stockpulse.public_metrics"] = public_metrics
    for module in (health, docs, root, quotes, orders, insights_routes):
        app.register_blueprint(module.bp)
    # After the fork (gunicorn builds the app in each worker): Kafka health is known before traffic,
    # and each worker reads the insights topic with its own consumer.
    app.extensions["stockpulse.publisher"].start()
    app.extensions["stockpulse.insights"].start()
    return app


def close_app(app: Flask) -> None:
    """Flush the publisher, stop the insights consumer; gunicorn calls this when a worker exits gracefully."""
    publisher = app.extensions.get("stockpulse.publisher")
    if publisher is not None:
        publisher.close()
    view = app.extensions.get("stockpulse.insights")
    if view is not None:
        view.close()
    store = app.extensions.get("stockpulse.idempotency")
    if store is not None:
        store.close()
