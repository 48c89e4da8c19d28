"""The OpenAPI 3.1 document; a test checks it names every route the app serves."""

from __future__ import annotations

import copy
from typing import Any

from .. import __version__
from ..events import STOCK_INSIGHTS, json_schema
from ..settings import Settings
from .customer import ID_PATTERN
from .idempotency import HEADER, KEY_PATTERN
from .routes.insights import DEFAULT_LIMIT, DEFAULT_SORT, MAX_LIMIT, SORTS

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


_NO_EVENT = (
    " Produces no event: reading signals is not a quote check (the stock_call contract), and counting it as one "
    "would feed the attention signal with its own readers."
)
_INSIGHTS_NOT_READY = {
    "503": {
        "description": "No snapshot yet (the insights job has not published one, or this server is still reading "
        "the topic after a start); retry after Retry-After seconds",
        "content": {"application/json": {"schema": _ERROR}},
        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}, "description": "seconds"}},
    }
}


def _contract_refs(node: Any) -> Any:
    """The contract's ``#/$defs/x`` references, pointed at ``#/components/schemas/Insights<X>``."""
    if isinstance(node, dict):
        return {
            k: f"#/components/schemas/Insights{v.rsplit('/', 1)[1].capitalize()}"
            if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/")
            else _contract_refs(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_contract_refs(v) for v in node]
    return node


def _insights_schemas(settings: Settings) -> dict[str, Any]:
    """The answers' schemas, derived from the ``stock_insights`` contract rather than retyped, so they cannot drift."""
    contract = _contract_refs(copy.deepcopy(json_schema(STOCK_INSIGHTS)))
    defs = contract.pop("$defs")
    for key in ("$schema", "$id", "title"):  # a nested $id would change how $ref resolves
        contract.pop(key)
    props = contract["properties"]
    window = defs["window"]["properties"]
    freshness = {
        "as_of": props["as_of"],
        "staleness_s": {
            "type": "number",
            "minimum": 0,
            "description": "seconds from as_of to the answer, rounded to milliseconds",
        },
        "stale": {
            "type": "boolean",
            "description": f"staleness_s above STOCKPULSE_INSIGHTS_STALE_AFTER_S ({settings.insights.stale_after_s:g} "
            "here): the insights job is behind or stopped; the numbers are shown anyway",
        },
    }
    row = {
        "stock_name": props["stock_name"],
        "attention_rank": props["attention_rank"],
        "imbalance": {**window["imbalance"], "description": "15m window: " + window["imbalance"]["description"]},
        "unusual_score": props["unusual"]["properties"]["score"],
        "checks_15m": window["checks"],
        "orders_15m": window["orders"],
        "signals": props["signals"],
        "as_of": props["as_of"],
        "stale": freshness["stale"],
    }
    return {
        **{f"Insights{name.capitalize()}": schema for name, schema in defs.items()},
        "TickerInsights": {
            **contract,
            "description": "The ticker's latest snapshot (schema stock_insights v1) and its freshness",
            "properties": {**props, **freshness},
            "required": [*contract["required"], "staleness_s", "stale"],
        },
        "InsightsRanking": {
            "type": "object",
            "required": ["sort", "as_of", "staleness_s", "stale", "tickers"],
            "additionalProperties": False,
            "properties": {
                "sort": {"type": "string", "enum": list(SORTS)},
                **freshness,
                "as_of": {**props["as_of"], "description": "the newest as_of of all tickers"},
                "tickers": {
                    "type": "array",
                    "maxItems": MAX_LIMIT,
                    "items": {
                        "type": "object",
                        "required": list(row),
                        "additionalProperties": False,
                        "properties": row,
                    },
                },
            },
        },
    }


def openapi_spec(settings: Settings, metrics: bool = True) -> dict[str, Any]:
    """The document of the routes this app serves: ``/metrics`` only where the app's own port answers it."""
    spec = _spec(settings)
    if not metrics:
        del spec["paths"]["/metrics"]
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
            "description": "Stock quotes and orders, each logged as a Kafka event, and live signals from the "
            "streaming aggregates (read from Kafka, logging nothing).",
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
                                        "quantity": {
                                            "type": "integer",
                                            "minimum": 1,
                                            "maximum": settings.api.max_quantity,
                                        },
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
            "/stocks/{ticker}/insights": {
                "get": {
                    "summary": "Live signals of one ticker, with their age",
                    "description": "The latest snapshot the streaming insights job published for the ticker, with "
                    "staleness_s and a stale flag: old numbers are flagged, never hidden." + _NO_EVENT,
                    "operationId": "getTickerInsights",
                    "parameters": [_ticker_param("ticker", tickers)],
                    "responses": {
                        "200": {
                            "description": "Snapshot",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/TickerInsights"}}
                            },
                        },
                        "404": {"description": "Unknown ticker", "content": {"application/json": {"schema": _ERROR}}},
                        **_INSIGHTS_NOT_READY,
                    },
                }
            },
            "/insights": {
                "get": {
                    "summary": "Tickers ranked by a live signal",
                    "description": "attention: attention_rank ascending; imbalance: absolute 15-minute order-flow "
                    "imbalance descending; unusual: unusual-activity z-score descending. Nulls last, ties by "
                    "ticker. as_of, staleness_s and stale describe the newest snapshot; each row has its own "
                    "as_of and stale flag." + _NO_EVENT,
                    "operationId": "rankInsights",
                    "parameters": [
                        {
                            "name": "sort",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": list(SORTS), "default": DEFAULT_SORT},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "Ranking",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/InsightsRanking"}}
                            },
                        },
                        "400": {
                            "description": f"Unknown sort, limit not an integer from 1 to {MAX_LIMIT}, or a query "
                            "parameter "
                            "other than sort and limit (or one given twice)",
                            "content": {"application/json": {"schema": _ERROR}},
                        },
                        **_INSIGHTS_NOT_READY,
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
                            "schema": {"type": "integer", "minimum": 1, "maximum": settings.api.max_quantity},
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
                **_insights_schemas(settings),
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
