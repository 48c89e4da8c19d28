"""The OpenAPI 3.1 document; a test checks it names every route the app serves."""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..settings import Settings
from .customer import ID_PATTERN
from .idempotency import HEADER, KEY_PATTERN

_ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Bad request",
        404: "Unknown ticker or action",
        405: "Method not allowed",
        409: "An earlier request with this Idempotency-Key is still being answered (Retry-After)",
        413: "Body too large",
        414: "Request line longer than 4094 bytes",
        415: "Not JSON",
        422: "Invalid order, or an Idempotency-Key already used for a different order",
        431: "A header longer than 8190 bytes, or more than 100 headers",
        503: "Refused before anything was sent (Kafka unreachable) or prices unavailable; "
        "the order was not placed, retrying is safe (Retry-After)",
        504: "The order was sent but Kafka did not confirm it: it may be placed. Retry with the same "
        "Idempotency-Key to learn the outcome; that never places it twice (Retry-After, error.order_id)",
    }
    retry = {"Retry-After": {"schema": {"type": "integer", "minimum": 1}, "description": "seconds"}}
    return {
        str(c): {
            "description": text[c],
            "content": {"application/json": {"schema": _ERROR}},
            **({"headers": retry} if c in (409, 503, 504) else {}),
        }
        for c in codes
    }


def _ticker_param(name: str, tickers: tuple[str, ...]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(tickers)},
        "description": "Ticker symbol (case-insensitive)",
    }


_CUSTOMER = [
    {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": ID_PATTERN},
        "description": what,
    }
    for name, what in (("X-User-Id", "the customer; lands in the events"), ("X-Session-Id", "the customer's session"))
]
_IDEMPOTENCY_KEY = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": KEY_PATTERN},
    "description": "One key per customer intent (a UUID is best), optionally as a quoted string. A repeat with "
    "the same key and order gets the original answer (header Idempotent-Replayed: true) and never a second "
    "order; the same key with another order is a 422. Keys are scoped by X-User-Id and kept for "
    "STOCKPULSE_IDEMPOTENCY_TTL_S (default 24 h).",
}
_EVENT_ID = {
    "X-Event-Id": {
        "schema": {"type": "string", "format": "uuid"},
        "description": "the event_id of the event this request produced: the row's key in the lake",
    }
}
_CREATED_HEADERS = {
    **_EVENT_ID,
    "Idempotent-Replayed": {
        "schema": {"type": "string", "enum": ["true"]},
        "description": "present when this is the stored answer to an earlier request with the same key",
    },
}


def openapi_spec(settings: Settings) -> dict[str, Any]:
    spec = _spec(settings)
    for operations in spec["paths"].values():
        for operation in operations.values():
            # gunicorn answers these itself, for any route, before the app sees the request (gunicorn_errors)
            operation["responses"] = {**_errors(400, 414, 431), **operation["responses"]}
    return spec


def _spec(settings: Settings) -> dict[str, Any]:
    tickers = settings.tickers
    quote_ok = {
        "200": {
            "description": "Quote",
            "headers": _EVENT_ID,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Quote"}}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "stockpulse API",
            "version": __version__,
            "description": "Stock quotes and orders; every request becomes a Kafka event.",
        },
        "paths": {
            "/": {
                "get": {
                    "summary": "Usage text (seed route)",
                    "operationId": "usage",
                    "responses": {
                        "200": {"description": "Usage", "content": {"text/plain": {"schema": {"type": "string"}}}}
                    },
                }
            },
            "/healthz": {
                "get": {"summary": "Liveness", "operationId": "healthz", "responses": {"200": {"description": "Alive"}}}
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: the app is built; reports Kafka without depending on it",
                    "operationId": "readyz",
                    "responses": {
                        "200": {
                            "description": "Ready",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["status", "kafka"],
                                        "properties": {
                                            "status": {"const": "ready"},
                                            "kafka": {"enum": ["reachable", "unreachable"]},
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "operationId": "metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "openapi",
                    "responses": {"200": {"description": "OpenAPI document"}},
                }
            },
            "/stocks/{ticker}": {
                "get": {
                    "summary": "Quote a stock",
                    "operationId": "getQuote",
                    "parameters": [_ticker_param("ticker", tickers), *_CUSTOMER],
                    "responses": {**quote_ok, **_errors(400, 404, 503)},
                }
            },
            "/stocks/{ticker}/orders": {
                "post": {
                    "summary": "Buy or sell shares; 201 only once Kafka acknowledged the order event",
                    "operationId": "createOrder",
                    "parameters": [_ticker_param("ticker", tickers), *_CUSTOMER, _IDEMPOTENCY_KEY],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["side", "quantity"],
                                    "properties": {
                                        "side": {"type": "string", "enum": ["buy", "sell"]},
                                        "quantity": {"type": "integer", "minimum": 1, "maximum": settings.max_quantity},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Order placed",
                            "headers": _CREATED_HEADERS,
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}},
                        },
                        **_errors(400, 404, 409, 413, 415, 422, 503, 504),
                    },
                }
            },
            "/{stock_name}": {
                "get": {
                    "summary": "Quote a stock (seed route)",
                    "operationId": "getQuoteSeed",
                    "parameters": [_ticker_param("stock_name", tickers), *_CUSTOMER],
                    "responses": {**quote_ok, **_errors(400, 404, 503)},
                }
            },
            "/{stock_name}/{action}/{quantity}": {
                "post": {
                    "summary": "Buy or sell shares (seed route)",
                    "operationId": "createOrderSeed",
                    "parameters": [
                        _ticker_param("stock_name", tickers),
                        {
                            "name": "action",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "enum": ["buy", "sell"]},
                        },
                        {
                            "name": "quantity",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": settings.max_quantity},
                        },
                        *_CUSTOMER,
                        _IDEMPOTENCY_KEY,
                    ],
                    "responses": {
                        "201": {
                            "description": "Order placed",
                            "headers": _CREATED_HEADERS,
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["task"],
                                        "properties": {"task": {"type": "string", "examples": ["bought_10_AMZN"]}},
                                    }
                                }
                            },
                        },
                        **_errors(400, 404, 409, 413, 422, 503, 504),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "order_id": {
                                    "type": "string",
                                    "format": "uuid",
                                    "description": "the order a 503 or 504 is about",
                                },
                            },
                        }
                    },
                },
                "Quote": {
                    "type": "object",
                    "required": ["ticker", "symbol", "price", "currency", "as_of", "source", "stale"],
                    "properties": {
                        "ticker": {"type": "string"},
                        "symbol": {"type": "string"},
                        "price": {"type": "number"},
                        "yearly_return": {"type": ["number", "null"]},
                        "currency": {"type": "string"},
                        "as_of": {"type": "string"},
                        "source": {"type": "string"},
                        "stale": {"type": "boolean"},
                    },
                },
                "Order": {
                    "type": "object",
                    "required": ["order_id", "ticker", "side", "quantity", "price", "amount"],
                    "properties": {
                        "order_id": {"type": "string", "format": "uuid"},
                        "ticker": {"type": "string"},
                        "side": {"type": "string"},
                        "quantity": {"type": "integer"},
                        "price": {"type": "number"},
                        "amount": {"type": "number"},
                        "currency": {"type": "string"},
                        "timestamp": {"type": "number"},
                    },
                },
            }
        },
    }
