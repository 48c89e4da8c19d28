"""Simulated prices: deterministic per ticker and minute, so tests and demos are repeatable offline.

Each ticker gets a realistic start price and a year of daily closes from a geometric
random walk seeded by the ticker's name; the yearly return compares the current price
with the close a year earlier. The current price moves by minute, seeded too, so two
workers quoting at the same minute agree.
"""

from __future__ import annotations

import math
import random
import time
import zlib
from datetime import UTC, datetime
from functools import cache

from .base import Quote, quote_symbol

TRADING_DAYS = 252

#: Rough prices of late 2025; unknown tickers start at 100.
START_PRICES = {
    "MSFT": 480.0,
    "AAPL": 270.0,
    "AMZN": 230.0,
    "GOOG": 280.0,
    "BABA": 160.0,
    "META": 640.0,
    "INTC": 38.0,
    "NVDA": 185.0,
    "CRM": 240.0,
    "PYPL": 62.0,
    "TSLA": 430.0,
    "AMD": 230.0,
}


def _seed(symbol: str, salt: str = "") -> int:
    return zlib.crc32(f"{symbol}:{salt}".encode())


@cache
def daily_history(symbol: str, seed: int = 0) -> tuple[float, ...]:
    """``TRADING_DAYS + 1`` daily closes ending at the start price, oldest first."""
    rng = random.Random(_seed(symbol, str(seed)))
    drift = rng.uniform(-0.0004, 0.0012)
    vol = rng.uniform(0.012, 0.03)
    closes = [START_PRICES.get(symbol, 100.0)]
    for _ in range(TRADING_DAYS):
        # walk backwards so the newest close is the realistic start price
        closes.append(closes[-1] / math.exp(drift + vol * rng.gauss(0.0, 1.0)))
    return tuple(round(c, 4) for c in reversed(closes))


class SimulatedPrices:
    name = "simulated"

    def __init__(self, seed: int = 0, clock: callable = time.time) -> None:  # type: ignore[valid-type]
        self._seed = seed
        self._clock = clock

    def quote(self, ticker: str) -> Quote:
        symbol = quote_symbol(ticker)
        history = daily_history(symbol, self._seed)
        now = self._clock()
        minute = int(now // 60)
        rng = random.Random(_seed(symbol, f"{self._seed}:{minute}"))
        price = round(history[-1] * (1.0 + rng.uniform(-0.01, 0.01)), 2)
        return Quote(
            ticker=ticker,
            symbol=symbol,
            price=price,
            yearly_return=round(price / history[0] - 1.0, 6),
            currency="USD",
            as_of=datetime.fromtimestamp(minute * 60, UTC).isoformat().replace("+00:00", "Z"),
            source=self.name,
        )

    def cache_stats(self) -> tuple[int, int]:
        return (0, 0)
