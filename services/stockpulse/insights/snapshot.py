"""The ``stock_insights`` contract (events/stock_insights.v1.schema.json) built from the view.

Windows slide by one 10-second bucket: the ``1m`` window at ``as_of`` holds the six
buckets that end after ``as_of - 1 minute``, the current (partial) one included.
"""

from __future__ import annotations

import math
from typing import Any

from ..events.model import SCHEMA_VERSION
from .view import BASELINE_WINDOW_MS, BUCKET_MS, Bucket, InsightsView, bucket_start

WINDOWS_MS = {"1m": 60_000, "15m": 900_000, "1h": 3_600_000}
#: The window the rank, the imbalance signal and the unusual score look at.
SIGNAL_WINDOW = "15m"
#: A z-score from which attention counts as unusual.
UNUSUAL_Z = 3.0
#: Buy (or sell) shares at least this many times the other side make a pressure signal.
PRESSURE_RATIO = 2.0
#: Fewer orders than this in the window say nothing about pressure.
PRESSURE_MIN_ORDERS = 5


def window_stats(buckets: list[Bucket], start: int, end: float) -> dict[str, Any]:
    buy_shares = sum(b.buy_shares for b in buckets)
    sell_shares = sum(b.sell_shares for b in buckets)
    checkers = frozenset().union(*(b.checkers for b in buckets))
    orderers = frozenset().union(*(b.orderers for b in buckets))
    shares = buy_shares + sell_shares
    return {
        "start": float(start),
        "end": float(end),
        "checks": sum(b.checks for b in buckets),
        "orders": sum(b.buy_orders + b.sell_orders for b in buckets),
        "buy_orders": sum(b.buy_orders for b in buckets),
        "sell_orders": sum(b.sell_orders for b in buckets),
        "buy_shares": buy_shares,
        "sell_shares": sell_shares,
        "buy_amount": round(sum(b.buy_amount for b in buckets), 6),
        "sell_amount": round(sum(b.sell_amount for b in buckets), 6),
        "imbalance": round((buy_shares - sell_shares) / shares, 6) if shares else None,
        "customers": len(checkers | orderers),
        "conversion": round(len(checkers & orderers) / len(checkers), 6) if checkers else None,
    }


def unusual(events: int, history: list[int]) -> dict[str, Any]:
    """z-score of ``events`` against past windows; the spread is at least Poisson's (sqrt of the
    mean) and at least 1, so a perfectly regular history does not make every blip infinite."""
    if not history:
        return {"score": None, "events": events, "baseline_mean": None, "baseline_std": None, "baseline_windows": 0}
    mean = sum(history) / len(history)
    std = math.sqrt(sum((n - mean) ** 2 for n in history) / len(history))
    spread = max(std, math.sqrt(mean), 1.0)
    return {
        "score": round((events - mean) / spread, 4),
        "events": events,
        "baseline_mean": round(mean, 4),
        "baseline_std": round(std, 4),
        "baseline_windows": len(history),
    }


def _signals(ticker: str, snap: dict[str, Any]) -> list[dict[str, str]]:
    found = []
    window = snap["windows"][SIGNAL_WINDOW]
    score = snap["unusual"]["score"]
    if score is not None and score >= UNUSUAL_Z:
        found.append(
            {
                "code": "unusual_attention",
                "message": f"{ticker} sees {snap['unusual']['events']} checks and orders in the last 15 minutes, "
                f"{score:.1f} standard deviations above its usual {snap['unusual']['baseline_mean']:.1f}",
            }
        )
    buy, sell = window["buy_shares"], window["sell_shares"]
    if window["orders"] >= PRESSURE_MIN_ORDERS:
        if buy >= PRESSURE_RATIO * max(sell, 1) and buy > sell:
            ratio = f"{buy / sell:.1f} to 1" if sell else "with no sellers"
            found.append({"code": "buy_pressure", "message": f"buyers outweigh sellers {ratio} in the last 15 minutes"})
        elif sell >= PRESSURE_RATIO * max(buy, 1) and sell > buy:
            ratio = f"{sell / buy:.1f} to 1" if buy else "with no buyers"
            found.append(
                {"code": "sell_pressure", "message": f"sellers outweigh buyers {ratio} in the last 15 minutes"}
            )
    if snap["attention_rank"] == 1 and window["checks"] > 0:
        found.append({"code": "most_checked", "message": "the most checked ticker of the last 15 minutes"})
    return found


def build_snapshots(view: InsightsView, now_ms: float) -> dict[str, dict[str, Any]]:
    """One snapshot per configured ticker, as of ``now_ms`` (tickers without events included)."""
    current = bucket_start(now_ms)
    snaps: dict[str, dict[str, Any]] = {}
    for ticker in view.tickers:
        windows = {}
        for name, size in WINDOWS_MS.items():
            start = current + BUCKET_MS - size
            windows[name] = window_stats(view.window(ticker, start, current + BUCKET_MS), start, now_ms)
        signal_window = windows[SIGNAL_WINDOW]
        events = signal_window["checks"] + signal_window["orders"]
        baseline = view.baseline(ticker, bucket_start(now_ms, BASELINE_WINDOW_MS))
        snaps[ticker] = {
            "schema_version": SCHEMA_VERSION,
            "stock_name": ticker,
            "as_of": float(now_ms),
            "watermark": float(view.watermark),
            "windows": windows,
            "attention_rank": 1,
            "unusual": unusual(events, baseline),
            "signals": [],
        }
    checks = {t: s["windows"][SIGNAL_WINDOW]["checks"] for t, s in snaps.items()}
    for ticker, snap in snaps.items():
        snap["attention_rank"] = 1 + sum(1 for n in checks.values() if n > checks[ticker])
        snap["signals"] = _signals(ticker, snap)
    return snaps
