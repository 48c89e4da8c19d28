"""Live signals: ``GET /stocks/<ticker>/insights`` and ``GET /insights?sort=...&limit=N``.

Both answer from this worker's ``InsightsFeed`` (the compacted ``stock_insights`` topic),
never from the lake. Every answer carries ``as_of``, ``staleness_s`` and ``stale``: old
signals are flagged, not hidden, so a stopped insights job does not look like a quiet market.
Until the worker has read the topic to its end and holds what was asked, the answer is 503
with ``Retry-After``. Only the configured tickers are served. These routes produce no event:
reading signals is not a quote check (README, "Live insights").
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from ..deps import known_ticker, settings
from ..errors import ApiError
from ..insights_feed import InsightsFeed

bp = Blueprint("insights", __name__)

SORTS = ("attention", "imbalance", "unusual")
DEFAULT_SORT = "attention"
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
QUERY_PARAMETERS = ("sort", "limit")
#: The insights job triggers about every second; a worker catches up with the topic in less.
RETRY_AFTER_S = 2

_LIMIT = re.compile(r"^[0-9]{1,3}$")


def view() -> InsightsFeed:
    return current_app.extensions["stockpulse.insights"]


def _not_ready(message: str) -> ApiError:
    return ApiError(503, "insights_not_ready", message, retry_after_s=RETRY_AFTER_S)


def _caught_up(insights: InsightsFeed) -> None:
    if not insights.caught_up():
        raise _not_ready("this server is still reading the latest insights; retry shortly")


def _staleness(as_of_ms: float, now_s: float) -> tuple[float, bool]:
    """Seconds since ``as_of`` (epoch ms; clock skew never makes it negative) and whether that is stale."""
    staleness = round(max(0.0, now_s - as_of_ms / 1000.0), 3)
    return staleness, staleness > settings().insights.stale_after_s


# Only GET (with HEAD and OPTIONS): the seed's POST /<ticker>/<action>/<quantity> never takes a /stocks/ path
# (routes.orders.SeedTicker), so any other method is a 405 whose Allow header lists GET, HEAD, OPTIONS.
@bp.get("/stocks/<ticker>/insights")
def ticker_insights(ticker: str):
    ticker = known_ticker(ticker)
    insights = view()
    _caught_up(insights)
    snapshot = insights.snapshot(ticker)
    if snapshot is None:
        raise _not_ready(f"no insights for {ticker} yet; they appear once the insights job has seen its events")
    staleness, stale = _staleness(snapshot["as_of"], insights.clock())
    return jsonify({**snapshot, "staleness_s": staleness, "stale": stale})


def _query() -> tuple[str, int]:
    """``sort`` and ``limit``, or a 400: a misspelt parameter must not silently give the default."""
    unknown = sorted(set(request.args) - set(QUERY_PARAMETERS))
    if unknown:
        raise ApiError(
            400, "unknown_parameter", f"unknown query parameters: {', '.join(unknown)[:200]}; use sort and limit"
        )
    for name in QUERY_PARAMETERS:
        if len(request.args.getlist(name)) > 1:
            raise ApiError(400, "repeated_parameter", f"give {name} once")
    sort = request.args.get("sort", DEFAULT_SORT)
    if sort not in SORTS:
        raise ApiError(400, "invalid_sort", f"sort must be one of {', '.join(SORTS)}")
    limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not _LIMIT.fullmatch(limit) or not 1 <= int(limit) <= MAX_LIMIT:
        raise ApiError(400, "invalid_limit", f"limit must be an integer from 1 to {MAX_LIMIT}")
    return sort, int(limit)


def _order(sort: str, snapshot: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key: best first, missing values (null) last, ties by ticker."""
    name = snapshot["stock_name"]
    if sort == "attention":
        return (snapshot["attention_rank"], name)
    value = snapshot["windows"]["15m"]["imbalance"] if sort == "imbalance" else snapshot["unusual"]["score"]
    if value is None:
        return (1, 0.0, name)
    return (0, -abs(value) if sort == "imbalance" else -value, name)


def _row(snapshot: dict[str, Any], now_s: float) -> dict[str, Any]:
    window = snapshot["windows"]["15m"]
    return {
        "stock_name": snapshot["stock_name"],
        "attention_rank": snapshot["attention_rank"],
        "imbalance": window["imbalance"],
        "unusual_score": snapshot["unusual"]["score"],
        "checks_15m": window["checks"],
        "orders_15m": window["orders"],
        "signals": snapshot["signals"],
        # snapshots are published when a ticker's numbers change, so each row has its own age
        "as_of": snapshot["as_of"],
        "stale": _staleness(snapshot["as_of"], now_s)[1],
    }


@bp.get("/insights")
def ranking():
    sort, limit = _query()
    insights = view()
    _caught_up(insights)
    known = settings().tickers
    snapshots = [s for ticker, s in insights.snapshots().items() if ticker in known]
    if not snapshots:
        raise _not_ready("no insights yet; they appear once the insights job has seen events")
    now = insights.clock()
    as_of = max(s["as_of"] for s in snapshots)
    staleness, stale = _staleness(as_of, now)
    ranked = sorted(snapshots, key=lambda s: _order(sort, s))[:limit]
    return jsonify(
        {
            "sort": sort,
            "as_of": as_of,
            "staleness_s": staleness,
            "stale": stale,
            "tickers": [_row(s, now) for s in ranked],
        }
    )
