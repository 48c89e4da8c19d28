"""Orders: ``POST /stocks/<ticker>/orders`` and the seed's ``POST /<ticker>/<buy|sell>/<quantity>``.

An order is answered 201 only after Kafka acknowledged its event; 503 when it was
refused before anything was sent, 504 when it was sent but not confirmed (it may
land); both routes take an ``Idempotency-Key`` (see ``api.order_placement``). Validation
happens before anything is produced, so a rejected order never leaves an event.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, jsonify, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter

from ..deps import known_ticker, settings
from ..errors import ApiError
from ..json_body import MAX_DEPTH
from ..order_placement import Order, Placed, place

bp = Blueprint("orders", __name__)


class SeedTicker(BaseConverter):
    """The seed route's first segment: anything but ``stocks``, whose paths are the resource routes'.

    Werkzeug tries the next rule when a path matches but its method does not, so without this
    ``POST /stocks/GOOG/insights`` would be taken for an order of the ticker "stocks" (404), and a
    405 on such a path would list the seed route's POST in its ``Allow`` header.
    """

    regex = r"(?!stocks\Z)[^/]+"
    part_isolating = True


@bp.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters["seed_ticker"] = SeedTicker


_DIGITS = re.compile(r"^[0-9]{1,12}$")


def _checked_quantity(quantity: Any) -> int:
    # JSON Schema's "integer" (the OpenAPI document's type) includes 3.0: a number whose fraction is zero
    if isinstance(quantity, float) and quantity.is_integer():
        quantity = int(quantity)
    maximum = settings().api.max_quantity
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= maximum:
        raise ApiError(422, "invalid_quantity", f"quantity must be an integer from 1 to {maximum}")
    return quantity


def _created(placed: Placed):
    response = jsonify(placed.body)
    response.headers["X-Event-Id"] = placed.event_id
    if placed.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response, 201


def _order_body() -> tuple[str, int]:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the order as Content-Type: application/json")
    body = request.get_json(silent=True)
    if body is None:
        message = f"the request body is not valid JSON (at most {MAX_DEPTH} levels of nesting)"
        raise ApiError(400, "malformed_json", message)
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
    return _created(place(Order("json", ticker, side, quantity), _order_answer))


def _order_answer(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_id": event["order_id"],
        "ticker": event["stock_name"],
        "side": event["side"],
        "quantity": event["quantity"],
        "price": event["price"],
        "amount": event["transaction_amount"],
        "currency": "USD",
        "timestamp": event["transaction_timestamp"],
    }


@bp.post("/<seed_ticker:stock_name>/<action>/<quantity>")
def seed_order(stock_name: str, action: str, quantity: str):
    ticker = known_ticker(stock_name)
    if action not in ("buy", "sell"):
        raise ApiError(404, "unknown_action", "action must be buy or sell")
    if not _DIGITS.fullmatch(quantity):
        raise ApiError(400, "invalid_quantity", f"quantity must be an integer from 1 to {settings().api.max_quantity}")
    count = _checked_quantity(int(quantity))
    return _created(place(Order("seed", ticker, action, count), _seed_answer))


def _seed_answer(event: dict[str, Any]) -> dict[str, Any]:
    verb = "bought" if event["side"] == "buy" else "sold"
    return {"task": f"{verb}_{event['quantity']}_{event['stock_name']}"}
