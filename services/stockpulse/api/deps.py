"""What routes need from the app: settings, price source, publisher, idempotency store, and the ticker check."""

from __future__ import annotations

from flask import current_app

from ..events.publisher import Publisher
from ..prices import PriceProvider, PriceUnavailable, Quote
from ..settings import Settings
from .errors import ApiError
from .idempotency_store import IdempotencyStore


def settings() -> Settings:
    return current_app.extensions["stockpulse.settings"]


def publisher() -> Publisher:
    return current_app.extensions["stockpulse.publisher"]


def idempotency_store() -> IdempotencyStore:
    return current_app.extensions["stockpulse.idempotency"]


def prices() -> PriceProvider:
    return current_app.extensions["stockpulse.prices"]


def known_ticker(raw: str) -> str:
    """The configured ticker ``raw`` names (case-insensitive), else a 404."""
    ticker = raw.upper()
    if ticker not in settings().tickers:
        shown = raw if len(raw) <= 12 else raw[:12] + "..."
        raise ApiError(404, "unknown_ticker", f"unknown ticker {shown!r}; known: {', '.join(settings().tickers)}")
    return ticker


def current_quote(ticker: str) -> Quote:
    try:
        return prices().quote(ticker)
    except PriceUnavailable as exc:
        raise ApiError(503, "price_unavailable", str(exc)) from exc
