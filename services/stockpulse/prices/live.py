"""Live prices from Yahoo Finance through ``yfinance``, made safe to call from request threads.

* One TTL cache per worker process, shared by all its request threads; a miss
  refreshes every configured ticker in one batched download, and concurrent
  misses wait for that one download instead of starting their own.
* Each download has a timeout; after ``failure_threshold`` failures in a row a
  circuit breaker stops calling Yahoo for ``cooldown_s``.
* While Yahoo is failing, the last good quote is served with ``stale: true``;
  only a ticker never fetched gets ``PriceUnavailable`` (the API's 503).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from .base import PriceUnavailable, Quote, quote_symbol

log = logging.getLogger(__name__)

#: symbol -> (closes over about a year, oldest first; currency)
History = dict[str, tuple[Sequence[float], str]]
Downloader = Callable[[Sequence[str], float], History]


def yfinance_download(symbols: Sequence[str], timeout: float) -> History:
    """One batched ``yf.download`` call for a year of daily closes of every symbol."""
    import yfinance as yf  # imported lazily: only the live source needs it

    frame = yf.download(
        list(symbols),
        period="1y",
        interval="1d",
        group_by="ticker",
        auto_adjust=True,
        threads=False,
        progress=False,
        timeout=timeout,
    )
    history: History = {}
    for symbol in symbols:
        try:
            closes = frame[symbol]["Close"].dropna().tolist() if len(symbols) > 1 else frame["Close"].dropna().tolist()
        except KeyError:
            continue
        if closes:
            history[symbol] = (closes, "USD")
    return history


class CircuitBreaker:
    def __init__(self, failure_threshold: int, cooldown_s: float, clock: Callable[[], float]) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None

    def allow(self) -> bool:
        if self._opened_at is None:
            return True
        return self._clock() - self._opened_at >= self.cooldown_s  # half-open: one try

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None

    def failure(self) -> None:
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._opened_at = self._clock()

    @property
    def open(self) -> bool:
        return self._opened_at is not None


class LivePrices:
    name = "yfinance"

    def __init__(
        self,
        tickers: Sequence[str],
        ttl_s: float = 30.0,
        timeout_s: float = 5.0,
        failure_threshold: int = 3,
        cooldown_s: float = 60.0,
        downloader: Downloader = yfinance_download,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._symbols = tuple(dict.fromkeys(quote_symbol(t) for t in tickers))
        self._ttl = ttl_s
        self._timeout = timeout_s
        self._download = downloader
        self._clock = clock
        self.breaker = CircuitBreaker(failure_threshold, cooldown_s, clock)
        self._lock = threading.Lock()
        self._history: History = {}
        self._fetched_at: float | None = None
        self._as_of = ""
        self._hits = 0
        self._misses = 0

    def _fresh(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at < self._ttl

    def _refresh(self) -> None:
        if not self.breaker.allow():
            return
        try:
            history = self._download(self._symbols, self._timeout)
            if not history:
                raise PriceUnavailable("Yahoo Finance returned no prices")
        except Exception as exc:  # any failure of the remote call counts against the breaker
            self.breaker.failure()
            log.warning("price download failed", extra={"error": str(exc), "breaker_open": self.breaker.open})
            return
        self.breaker.success()
        self._history.update(history)
        self._fetched_at = self._clock()
        self._as_of = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    def quote(self, ticker: str) -> Quote:
        symbol = quote_symbol(ticker)
        with self._lock:
            if self._fresh() and symbol in self._history:
                self._hits += 1
            else:
                self._misses += 1
                self._refresh()
            entry = self._history.get(symbol)
            stale = not self._fresh()
        if entry is None:
            raise PriceUnavailable(f"no price for {symbol} from Yahoo Finance")
        closes, currency = entry
        price = float(closes[-1])
        return Quote(
            ticker=ticker,
            symbol=symbol,
            price=round(price, 4),
            yearly_return=round(price / float(closes[0]) - 1.0, 6) if len(closes) > 1 and closes[0] else None,
            currency=currency,
            as_of=self._as_of,
            source=self.name,
            stale=stale,
        )

    def cache_stats(self) -> tuple[int, int]:
        return (self._hits, self._misses)
