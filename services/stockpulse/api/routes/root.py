"""``GET /``: the seed's usage text, logged to ``default_call``."""

from __future__ import annotations

from flask import Blueprint, Response, request

from ...events import DEFAULT_CALL, default_call_event
from ...events.publisher import PublishError
from ..customer import request_context
from ..deps import publisher
from ..errors import ApiError

bp = Blueprint("root", __name__)

USAGE = (
    "stockpulse API\n"
    "  GET  /<ticker>                          quote and yearly return (seed route)\n"
    "  POST /<ticker>/<buy|sell>/<quantity>    place an order (seed route)\n"
    "  GET  /stocks/<ticker>                   quote as JSON\n"
    '  POST /stocks/<ticker>/orders            JSON {"side": "buy"|"sell", "quantity": <int>}\n'
    "  GET  /stocks/<ticker>/insights          live signals: last 1 min, 15 min, 1 h\n"
    "  GET  /insights?sort=attention|imbalance|unusual&limit=N   the top tickers now\n"
    "  GET  /healthz /readyz /openapi.json      (and /metrics, /healthz, /readyz on the probe port)\n"
    "Optional headers X-User-Id and X-Session-Id identify the customer; orders take an\n"
    "Idempotency-Key header: a retry with the same key never places the order twice.\n"
)


@bp.get("/")
def usage() -> Response:
    event = default_call_event(request_context(request))
    try:
        publisher().publish_async(DEFAULT_CALL, None, event)
    except PublishError as exc:
        raise ApiError(503, "kafka_unavailable", str(exc), retry_after_s=1) from exc
    return Response(USAGE, mimetype="text/plain")
