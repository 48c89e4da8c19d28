"""Orders: ``POST /stocks/<ticker>/orders`` and the seed's ``POST /<ticker>/<buy|sell>/<quantity>``.

An order is answered 201 only after Kafka acknowledged its event; otherwise 503 and
no event (see ``events.publisher``). Validation happens before anything is produced,
so a rejected order never leaves an event.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, jsonify, request

from ...events import STOCK_OPERATION, stock_operation_event
from ...events.publisher import PublishError
from ..customer import request_context
from ..deps import current_quote, known_ticker, publisher, settings
from ..errors import ApiError

bp = Blueprint("orders", __name__)

_DIGITS = re.compile(r"^[0-9]{1,12}$")


def _checked_quantity(quantity: Any) -> int:
    maximum = settings().max_quantity
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= maximum:
        raise ApiError(422, "invalid_quantity", f"quantity must be an integer from 1 to {maximum}")
    return quantity


def _place(ticker: str, side: str, quantity: int) -> dict[str, Any]:
    context = request_context(request)
    quote = current_quote(ticker)
    event = stock_operation_event(ticker, side, quantity, quote.price, context)
    try:
        publisher().publish_sync(STOCK_OPERATION, ticker, event)
    except PublishError as exc:
        raise ApiError(503, "kafka_unavailable", f"order not placed: {exc}") from exc
    return event


def _order_body() -> tuple[str, int]:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the order as Content-Type: application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "malformed_json", "the request body is not valid JSON")
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_order", 'the order must be a JSON object {"side": ..., "quantity": ...}')
    unknown = sorted(set(body) - {"side", "quantity"})
    if unknown:
        raise ApiError(422, "invalid_order", f"unknown fields: {', '.join(map(str, unknown))[:200]}")
    side = body.get("side")
    if side not in ("buy", "sell"):
        raise ApiError(422, "invalid_side", 'side must be "buy" or "sell"')
    return side, _checked_quantity(body.get("quantity"))


@bp.post("/stocks/<ticker>/orders")
def create_order(ticker: str):
    ticker = known_ticker(ticker)
    side, quantity = _order_body()
    event = _place(ticker, side, quantity)
    return jsonify(
        order_id=event["order_id"],
        ticker=ticker,
        side=side,
        quantity=quantity,
        price=event["price"],
        amount=event["transaction_amount"],
        currency="USD",
        timestamp=event["transaction_timestamp"],
    ), 201


@bp.post("/<stock_name>/<action>/<quantity>")
def seed_order(stock_name: str, action: str, quantity: str):
    ticker = known_ticker(stock_name)
    if action not in ("buy", "sell"):
        raise ApiError(404, "unknown_action", "action must be buy or sell")
    if not _DIGITS.fullmatch(quantity):
        raise ApiError(400, "invalid_quantity", f"quantity must be an integer from 1 to {settings().max_quantity}")
    count = _checked_quantity(int(quantity))
    _place(ticker, action, count)
    verb = "bought" if action == "buy" else "sold"
    return jsonify(task=f"{verb}_{count}_{ticker}"), 201
