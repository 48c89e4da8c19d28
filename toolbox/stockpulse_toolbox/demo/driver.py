"""A small built-in load driver: customers with sessions who check quotes and sometimes trade.

Bounded (a fixed number of sessions), loopback only, and it keeps the ``X-Event-Id`` of every
answer the API acknowledged, per event kind: the ids the demo then looks for in the lake.
"""

from __future__ import annotations

import json
import random
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    acknowledged: Counter = field(default_factory=Counter)  # stock_call / stock_operation -> 2xx answers
    failed: Counter = field(default_factory=Counter)  # "METHOD status" -> count
    event_ids: dict[str, list[str]] = field(default_factory=dict)  # stock_call / stock_operation -> ids

    @property
    def requests(self) -> int:
        return sum(self.acknowledged.values()) + sum(self.failed.values())


def _request(url: str, method: str, headers: dict[str, str], body: bytes | None = None) -> tuple[int, str | None]:
    """(status, X-Event-Id); status 0 when no answer came."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()
            return resp.status, resp.headers.get("X-Event-Id")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return 0, None


def run_load(
    base_url: str,
    tickers: Sequence[str],
    sessions: int,
    run_id: str,
    seed: int = 2026,
    concurrency: int = 8,
    progress=None,
) -> LoadResult:
    """``sessions`` customer sessions; each checks 2-8 quotes (popular tickers more often) and orders 0-3 times."""
    rng = random.Random(seed)
    weights = [1.0 / (rank + 1) for rank in range(len(tickers))]  # Zipf-like popularity
    plans = []
    for n in range(sessions):
        checks = rng.choices(list(tickers), weights, k=rng.randint(2, 8))
        orders = [
            (rng.choice(checks), rng.choice(["buy", "sell"]), rng.randint(1, 50)) for _ in range(rng.randint(0, 3))
        ]
        plans.append((f"{run_id}-s{n}", f"{run_id}-u{rng.randint(1, max(sessions // 4, 1))}", checks, orders))
    result = LoadResult()
    lock = threading.Lock()
    done = [0]

    def customer(plan) -> None:
        session, user, checks, orders = plan
        headers = {"X-Session-Id": session, "X-User-Id": user, "User-Agent": "stockpulse-demo/1"}
        outcomes = []
        for ticker in checks:
            status, event_id = _request(f"{base_url}/stocks/{ticker}", "GET", headers)
            outcomes.append(("stock_call", "GET", status, 200, event_id))
        for i, (ticker, side, qty) in enumerate(orders):
            if i % 2:  # the seed's route and the JSON route, both
                status, event_id = _request(f"{base_url}/{ticker}/{side}/{qty}", "POST", headers)
            else:
                body = json.dumps({"side": side, "quantity": qty}).encode()
                status, event_id = _request(
                    f"{base_url}/stocks/{ticker}/orders", "POST", {**headers, "Content-Type": "application/json"}, body
                )
            outcomes.append(("stock_operation", "POST", status, 201, event_id))
        with lock:
            for kind, method, status, ok, event_id in outcomes:
                if status == ok:
                    result.acknowledged[kind] += 1
                    result.event_ids.setdefault(kind, []).append(event_id or "(no X-Event-Id)")
                else:
                    result.failed[f"{method} {status}"] += 1
            done[0] += 1
            if progress is not None:
                progress(done[0], sessions)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(customer, plans))
    return result


def get_json(url: str) -> tuple[int, dict]:
    """(status, JSON body); status 0 and an empty body when no answer came."""
    req = urllib.request.Request(url, headers={"User-Agent": "stockpulse-demo/1"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read())
        except ValueError:
            return exc.code, {}
    except (OSError, ValueError):
        return 0, {}


def burst(base_url: str, ticker: str, run_id: str, orders: int = 60, concurrency: int = 8) -> list[str]:
    """``orders`` buys of ``ticker`` at once by a few customers; the ``X-Event-Id`` of each 201."""
    headers = {"Content-Type": "application/json", "User-Agent": "stockpulse-demo/1"}

    def buy(n: int) -> str | None:
        who = {"X-Session-Id": f"{run_id}-burst", "X-User-Id": f"{run_id}-burst-u{n % 5}"}
        body = json.dumps({"side": "buy", "quantity": 10 + n % 40}).encode()
        status, event_id = _request(f"{base_url}/stocks/{ticker}/orders", "POST", {**headers, **who}, body)
        return event_id if status == 201 else None

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return [event_id for event_id in pool.map(buy, range(orders)) if event_id]
