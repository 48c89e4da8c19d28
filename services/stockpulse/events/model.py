"""The versioned event model: one constructor per event type, the only place events are shaped.

Field names follow the seed (``stock_name``, ``query_timestamp``, ``transaction_amount``,
the raw request headers ``Accept``/``Host``/...) so the seed's SQL keeps working, plus
what the lake needs for exactly-once and analytics (``event_id``, ``schema_version``,
user/session ids, ``order_id``, ``side``, ``quantity``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

SCHEMA_VERSION = 1

#: Request headers the seed copied into every event (``event.update(request.headers)``).
SEED_HEADERS = ("Accept", "Host", "User-Agent", "Content-Type", "Content-Length")
MAX_HEADER_CHARS = 512

CHECK_PREFIX = "check_stock_"
DEFAULT_EVENT_TYPE = "default instructions"


def now_ms() -> float:
    return time.time() * 1000.0


def _base(
    event_type: str, stock_name: str | None, context: Mapping[str, Any], event_id: str | None = None
) -> dict[str, Any]:
    headers: Mapping[str, str | None] = context.get("headers", {})
    event: dict[str, Any] = {
        "event_id": event_id or str(uuid.uuid4()),
        "schema_version": SCHEMA_VERSION,
        "event_type": event_type,
        "event_timestamp": now_ms(),
        "stock_name": stock_name,
        "user_id": context.get("user_id"),
        "session_id": context.get("session_id"),
    }
    for name in SEED_HEADERS:
        value = headers.get(name)
        event[name] = None if value is None else str(value)[:MAX_HEADER_CHARS]
    return event


def default_call_event(context: Mapping[str, Any]) -> dict[str, Any]:
    return _base(DEFAULT_EVENT_TYPE, None, context)


def stock_call_event(stock_name: str, quote: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    event = _base(f"{CHECK_PREFIX}{stock_name}", stock_name, context)
    event.update(
        query_timestamp=event["event_timestamp"],
        price=float(quote["price"]),
        yearly_return=quote.get("yearly_return"),
        currency=quote.get("currency"),
        quote_as_of=quote.get("as_of"),
        quote_source=quote.get("source"),
        quote_stale=bool(quote.get("stale", False)),
    )
    return event


def stock_operation_event(
    stock_name: str,
    side: str,
    quantity: int,
    price: float,
    context: Mapping[str, Any],
    ids: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """An order event; ``ids`` (event id, order id) are given when an ``Idempotency-Key`` fixes them."""
    if side not in ("buy", "sell"):
        raise ValueError(f"side must be buy or sell, got {side!r}")
    event_id, order_id = ids or (str(uuid.uuid4()), str(uuid.uuid4()))
    event = _base(f"{side}_{stock_name}", stock_name, context, event_id)
    event.update(
        order_id=order_id,
        side=side,
        quantity=int(quantity),
        price=float(price),
        transaction_amount=round(float(price) * int(quantity), 6),
        transaction_timestamp=event["event_timestamp"],
    )
    return event
