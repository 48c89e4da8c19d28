"""Recorded prices from a CSV file (``replay:<path>``): real market history without a network.

File format, one row per close: ``date,ticker,close`` with a header, ISO dates. The
quote is the last close at or before today (or the newest one), and the yearly return
is measured against the close about a year earlier.
"""

from __future__ import annotations

import csv
from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from .base import PriceUnavailable, Quote, quote_symbol


class ReplayPrices:
    name = "replay"

    def __init__(self, path: str | Path, today: date | None = None) -> None:
        self._path = Path(path)
        self._today = today
        self._series: dict[str, list[tuple[date, float]]] = {}
        with self._path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = {"date", "ticker", "close"} - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"{self._path}: missing columns {sorted(missing)}")
            for row in reader:
                symbol = quote_symbol(row["ticker"].strip())
                self._series.setdefault(symbol, []).append(
                    (date.fromisoformat(row["date"].strip()), float(row["close"]))
                )
        for series in self._series.values():
            series.sort()

    def quote(self, ticker: str) -> Quote:
        symbol = quote_symbol(ticker)
        series = self._series.get(symbol)
        if not series:
            raise PriceUnavailable(f"no recorded prices for {symbol} in {self._path}")
        today = self._today or datetime.now(UTC).date()
        days = [d for d, _ in series]
        idx = max(bisect_right(days, today) - 1, 0)
        as_of, price = series[idx]
        base_idx = max(bisect_right(days, as_of - timedelta(days=365)) - 1, 0)
        base = series[base_idx][1]
        return Quote(
            ticker=ticker,
            symbol=symbol,
            price=round(price, 4),
            yearly_return=round(price / base - 1.0, 6) if base_idx < idx and base > 0 else None,
            currency="USD",
            as_of=as_of.isoformat(),
            source=self.name,
        )

    def cache_stats(self) -> tuple[int, int]:
        return (0, 0)
