"""Quote checks: ``GET /stocks/<ticker>`` and the seed's ``GET /<ticker>``, logged to ``stock_call``.

The event is produced asynchronously: a quote is answered without waiting for the
broker; the delivery callback counts it in metrics. ``X-Event-Id`` names the event, so a
client (the demo, support) can find exactly this check in the lake.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ...events import STOCK_CALL, stock_call_event
from ...events.publisher import PublishError
from ..customer import request_context
from ..deps import current_quote, known_ticker, publisher
from ..errors import ApiError

bp = Blueprint("quotes", __name__)


def _check(raw_ticker: str):
    ticker = known_ticker(raw_ticker)
    context = request_context(request)
    quote = current_quote(ticker).to_dict()
    event = stock_call_event(ticker, quote, context)
    try:
        publisher().publish_async(STOCK_CALL, ticker, event)
    except PublishError as exc:
        raise ApiError(503, "kafka_unavailable", str(exc), retry_after_s=1) from exc
    response = jsonify(quote)
    response.headers["X-Event-Id"] = event["event_id"]
    return response


@bp.get("/stocks/<ticker>")
def quote(ticker: str):
    return _check(ticker)


@bp.get("/<stock_name>")
def seed_quote(stock_name: str):
    return _check(stock_name)
