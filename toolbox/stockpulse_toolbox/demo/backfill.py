"""A simulated week of customer behaviour, produced to Kafka with past event timestamps.

It uses the live traffic's event model (``events.model``), so the ingest lands it like any other
event and the insights query folds it into every ticker's baseline. Volume follows a daily shape
(busier in US market hours, quiet at night and on weekends) and Zipf-like popularity, with a few
events per ticker and hour at least. The ingest accepts the past timestamps within
``STOCKPULSE_BACKFILL_DAYS`` of their Kafka timestamp. Run it once per run folder, before the ingest
starts (``stack.up(before=...)``): events that arrive behind the insights query's watermark are late.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stockpulse.events import STOCK_CALL, STOCK_OPERATION, stock_call_event, stock_operation_event

from ..devstack.produce import produce_records

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Backfill:
    checks: int
    orders: int
    first_ms: float
    last_ms: float


def hourly_rate(hour_utc: int, weekday: int) -> float:
    """Checks per hour of the most popular ticker: a US trading day peaks mid-session."""
    session = 14 <= hour_utc < 21  # 9:30-16:00 New York, roughly
    base = 40.0 if session else 8.0
    if weekday >= 5:
        base *= 0.3
    return base * (1.0 + 0.3 * math.sin((hour_utc - 14) / 7 * math.pi)) if session else base


def week_of_events(
    tickers: Sequence[str], now_ms: float, days: int = 7, seed: int = 7, run_id: str = "backfill"
) -> list[tuple[str, str, dict]]:
    """(topic, key, event) of ``days`` full hours before the current hour, oldest first."""
    rng = random.Random(seed)
    weights = [1.0 / (rank + 1) ** 0.7 for rank in range(len(tickers))]
    end = now_ms // HOUR_MS * HOUR_MS
    out: list[tuple[str, str, dict]] = []
    users = [f"{run_id}-u{n}" for n in range(200)]
    quote = {"yearly_return": 0.08, "currency": "USD", "source": "simulated", "stale": False}
    for h in range(days * 24, 0, -1):
        hour_start = end - h * HOUR_MS
        clock = time.gmtime(hour_start / 1000)
        rate = hourly_rate(clock.tm_hour, clock.tm_wday)
        for ticker, weight in zip(tickers, weights, strict=True):
            n = max(3, int(rng.gauss(rate * weight, math.sqrt(rate * weight))))
            for _ in range(n):
                at = hour_start + rng.random() * HOUR_MS
                user = rng.choice(users)
                context = {"user_id": user, "session_id": f"{run_id}-{user}-{int(at // HOUR_MS)}", "headers": {}}
                price = round(100 * weight + rng.uniform(1, 20), 2)
                check = stock_call_event(ticker, {**quote, "price": price, "as_of": None}, context)
                check["event_timestamp"] = check["query_timestamp"] = at
                out.append((STOCK_CALL, ticker, check))
                if rng.random() < 0.2:
                    side = "buy" if rng.random() < 0.55 else "sell"
                    order = stock_operation_event(ticker, side, rng.randint(1, 60), price, context)
                    order["event_timestamp"] = order["transaction_timestamp"] = at + rng.uniform(1_000, 60_000)
                    out.append((STOCK_OPERATION, ticker, order))
    out.sort(key=lambda item: item[2]["event_timestamp"])
    return out


def produce_backfill(
    bootstrap: str, tickers: Sequence[str], days: int = 7, progress: Callable[[str], None] | None = None
) -> Backfill:
    """Produce the week to Kafka (idempotent producer, all acks); raise if any record failed."""
    events = week_of_events(tickers, time.time() * 1000, days)
    produce_records(
        bootstrap,
        events,
        progress=None if progress is None else lambda n: progress(f"backfill: {n}/{len(events)} events produced"),
    )
    checks = sum(1 for topic, _k, _e in events if topic == STOCK_CALL)
    return Backfill(checks, len(events) - checks, events[0][2]["event_timestamp"], events[-1][2]["event_timestamp"])
