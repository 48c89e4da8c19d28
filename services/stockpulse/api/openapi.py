"""The OpenAPI 3.1 document; a test checks it names every route the app serves."""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..settings import Settings

_ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Bad request",
        404: "Unknown ticker or action",
        405: "Method not allowed",
        413: "Body too large",
        415: "Not JSON",
        422: "Invalid order",
        503: "Kafka or prices unavailable",
    }
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": _ERROR}}} for c in codes}


def _ticker_param(name: str, tickers: tuple[str, ...]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(tickers)},
        "description": "Ticker symbol (case-insensitive)",
    }


_CUSTOMER = [
    {"name": "X-User-Id", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 64}},
    {"name": "X-Session-Id", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 64}},
]


def openapi_spec(settings: Settings) -> dict[str, Any]:
    tickers = settings.tickers
    quote_ok = {
        "200": {
            "description": "Quote",
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
                    "summary": "Readiness: Kafka reachable",
                    "operationId": "readyz",
                    "responses": {"200": {"description": "Ready"}, **_errors(503)},
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
                    "parameters": [_ticker_param("ticker", tickers), *_CUSTOMER],
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
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}},
                        },
                        **_errors(400, 404, 413, 415, 422, 503),
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
                    ],
                    "responses": {
                        "201": {
                            "description": "Order placed",
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
                        **_errors(400, 404, 413, 422, 503),
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
                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
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
