"""Placing one order: its event, produced synchronously, with or without an ``Idempotency-Key``.

Each answer tells the client what it may do next: 201 (Kafka acknowledged it; it lands once),
503 ``kafka_unavailable`` (nothing was sent; retrying is safe), 504 ``order_in_doubt`` (sent but
not confirmed; a retry with the same key resends the same event and never places it twice),
409 ``request_in_progress``, 422 ``idempotency_key_reused``, 503 ``idempotency_store_unavailable``
(the shared record of keys could not be read; nothing was sent). Without a key a retry is a new order.
Details: docs/reliability.md, "The three answers an order can get" and the ``Idempotency-Key`` section.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import request

from ..events import STOCK_OPERATION, stock_operation_event
from ..events.publisher import PublishInDoubt, PublishRefused
from .customer import request_context
from .deps import current_quote, idempotency_store, publisher, settings
from .errors import ApiError
from .idempotency import HEADER, OrderIntent, fingerprint, idempotency_key
from .idempotency_store import StoreUnavailable

log = logging.getLogger(__name__)

RETRY_AFTER_S = 1
#: How long a pending attempt holds its key beyond the order timeout, before another may take over.
LEASE_MARGIN_S = 7.0

Answer = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Order:
    route: str  # "json" or "seed": the same key on the two routes names two different requests
    ticker: str
    side: str
    quantity: int


def _refused(exc: Exception, order_id: str) -> ApiError:
    return ApiError(
        503,
        "kafka_unavailable",
        f"order not placed, nothing was sent: {exc}; retrying is safe",
        {"order_id": order_id},
        RETRY_AFTER_S,
    )


def _store_down(exc: Exception) -> ApiError:
    return ApiError(
        503,
        "idempotency_store_unavailable",
        f"order not placed, nothing was sent: the record of {HEADER}s cannot be read ({exc}); "
        "retrying with the same key is safe",
        retry_after_s=RETRY_AFTER_S,
    )


def _in_doubt(exc: Exception, order_id: str, keyed: bool) -> ApiError:
    advice = (
        f"retry with the same {HEADER} to learn the outcome; the retry will not place it twice"
        if keyed
        else f"it had no {HEADER}, so a retry may place a second order"
    )
    return ApiError(
        504,
        "order_in_doubt",
        f"the order was sent but Kafka did not confirm it in time ({exc}); it may or may not be placed: {advice}",
        {"order_id": order_id},
        RETRY_AFTER_S,
    )


@dataclass(frozen=True)
class Placed:
    body: dict[str, Any]  # the 201 body, built by the route's ``answer`` from the event
    replayed: bool  # the stored answer to an earlier request with the same key
    event_id: str


def place(order: Order, answer: Answer) -> Placed:
    """Place ``order`` (acknowledged by Kafka when this returns)."""
    context = request_context(request)
    key = idempotency_key(request)
    if key is None:
        event = _event(order, context)
        _send(event, keyed=False)
        return Placed(answer(event), False, event["event_id"])
    intent = OrderIntent(
        context["user_id"] or "", key, fingerprint(order.route, order.ticker, order.side, order.quantity)
    )
    return _place_keyed(intent, order, context, answer)


def _event(order: Order, context: dict[str, Any], ids: tuple[str, str] | None = None) -> dict[str, Any]:
    price = current_quote(order.ticker).price
    return stock_operation_event(order.ticker, order.side, order.quantity, price, context, ids=ids)


def _place_keyed(intent: OrderIntent, order: Order, context: dict[str, Any], answer: Answer) -> Placed:
    """Place a keyed order. Until its event is sent, a store failure is a 503 (nothing was sent);
    after that, the store is only told the outcome, and failing to tell it changes no answer: a
    retry then resends the recorded event, which lands once, and rebuilds the same body from it."""
    store = idempotency_store()
    lease_s = settings().api.order_ack_timeout_ms / 1000.0 + LEASE_MARGIN_S
    try:
        claim = store.begin(intent.scope, intent.key, intent.fingerprint, lease_s)
    except StoreUnavailable as exc:
        raise _store_down(exc) from exc
    if claim.outcome == "replay":
        assert claim.answer is not None and claim.event is not None
        return Placed(claim.answer, True, claim.event["event_id"])
    if claim.outcome == "conflict":
        raise ApiError(422, "idempotency_key_reused", f"this {HEADER} was already used for a different order")
    if claim.outcome == "busy":
        raise ApiError(
            409,
            "request_in_progress",
            f"an earlier request with this {HEADER} is still being answered; retry shortly",
            retry_after_s=max(1, math.ceil(min(claim.retry_after_s, 5.0))),
        )
    event = claim.event
    fresh = event is None  # nothing of this intent was sent yet: price it now
    if fresh:
        try:
            built = _event(order, context, intent.ids(claim.generation))
        except ApiError:
            _tell(store.forget, intent)
            raise
        try:
            event = store.attach(intent.scope, intent.key, built)
        except StoreUnavailable as exc:  # not sent: the record stays pending, and its lease runs out
            raise _store_down(exc) from exc
        fresh = event == built  # else an attempt that outlived its lease got there first, and may have sent it
    try:
        _send(event, keyed=True)
    except ApiError as error:
        if error.status == 503 and fresh:
            _tell(store.forget, intent)
            raise
        # an earlier attempt may have landed: still in doubt, whatever this attempt met
        _tell(store.doubt, intent)
        if error.status == 503:
            unreachable = Exception("an earlier attempt is unconfirmed and Kafka is unreachable now")
            raise _in_doubt(unreachable, event["order_id"], keyed=True) from error
        raise
    body = answer(event)
    _tell(lambda scope, key: store.finish(scope, key, body), intent)
    return Placed(body, False, event["event_id"])


def _tell(step: Callable[[str, str], None], intent: OrderIntent) -> None:
    """Record an outcome the answer does not depend on; a store outage is logged, not raised."""
    try:
        step(intent.scope, intent.key)
    except StoreUnavailable as exc:
        log.warning("idempotency record not updated; a retry resends the recorded event", extra={"error": str(exc)})


def _send(event: dict[str, Any], keyed: bool) -> None:
    try:
        publisher().publish_sync(STOCK_OPERATION, event["stock_name"], event)
    except PublishRefused as exc:
        raise _refused(exc, event["order_id"]) from exc
    except PublishInDoubt as exc:
        raise _in_doubt(exc, event["order_id"], keyed) from exc
