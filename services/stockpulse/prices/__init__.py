"""Price sources behind one interface, chosen by ``STOCKPULSE_PRICE_SOURCE``."""

from __future__ import annotations

from collections.abc import Sequence

from .base import PriceProvider, PriceUnavailable, Quote, quote_symbol
from .live import LivePrices
from .replay import ReplayPrices
from .simulated import SimulatedPrices


def make_provider(source: str, tickers: Sequence[str], ttl_s: float = 30.0) -> PriceProvider:
    """``simulated`` | ``yfinance`` | ``replay:<path>``."""
    if source == "simulated":
        return SimulatedPrices()
    if source == "yfinance":
        return LivePrices(tickers, ttl_s=ttl_s)
    if source.startswith("replay:"):
        return ReplayPrices(source.removeprefix("replay:"))
    raise ValueError(f"unknown price source {source!r}")


__all__ = [
    "LivePrices",
    "PriceProvider",
    "PriceUnavailable",
    "Quote",
    "ReplayPrices",
    "SimulatedPrices",
    "make_provider",
    "quote_symbol",
]
