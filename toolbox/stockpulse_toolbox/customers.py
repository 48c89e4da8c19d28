"""Simulated customers against the API: the one load driver of the demo and the soak.

Customers check quotes (popular tickers more often) and sometimes buy or sell, through both
the JSON routes and the seed's routes. Every answer is counted, and every 2xx keeps its
``X-Event-Id`` and, for orders, the order id and when it was acknowledged: what the demo
then looks for in the lake and the soak times to the lake. Loopback only and bounded: a
fixed number of sessions, or a steady rate until stopped. Locust stays the customers' load
of the chart and of the fault suite.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

USER_AGENT = "stockpulse-toolbox/1"
CHECK, ORDER = "stock_call", "stock_operation"


@dataclass
class Answers:
    """What the customers were told, counted one way for every driver."""

    acknowledged: Counter = field(default_factory=Counter)  # stock_call / stock_operation -> 2xx answers
    failed: Counter = field(default_factory=Counter)  # "METHOD status" -> count (status 0: no answer)
    event_ids: dict[str, list[str]] = field(default_factory=dict)  # stock_call / stock_operation -> ids
    orders: list[tuple[str, float]] = field(default_factory=list)  # (order_id, wall time of the 201)
    by_status: Counter = field(default_factory=Counter)  # "check 200", "order 201", "order 503", ...

    @property
    def requests(self) -> int:
        return sum(self.acknowledged.values()) + sum(self.failed.values())

    def orders_between(self, since: float, until: float) -> list[tuple[str, float]]:
        return [(order_id, at) for order_id, at in list(self.orders) if since <= at < until]


def call(url: str, method: str, headers: dict[str, str], body: bytes | None = None) -> tuple[int, str | None, bytes]:
    """(status, X-Event-Id, body); status 0 when no answer came."""
    req = urllib.request.Request(url, data=body, method=method, headers={"User-Agent": USER_AGENT, **headers})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers.get("X-Event-Id"), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, None, b""
    except OSError:
        return 0, None, b""


class Customers:
    """Customers of one run (``run_id`` prefixes their session and user ids) against ``base_url``."""

    def __init__(self, base_url: str, tickers: Sequence[str], run_id: str, seed: int = 2026) -> None:
        self.base_url, self.tickers, self.run_id = base_url, tuple(tickers), run_id
        self.rng = random.Random(seed)
        self.weights = [1.0 / (rank + 1) for rank in range(len(self.tickers))]  # Zipf-like popularity
        self.answers = Answers()
        self._lock = threading.Lock()

    def _record(self, kind: str, method: str, status: int, ok: int, event_id: str | None, body: bytes) -> None:
        with self._lock:
            self.answers.by_status[f"{'check' if kind == CHECK else 'order'} {status or 'error'}"] += 1
            if status != ok:
                self.answers.failed[f"{method} {status}"] += 1
                return
            self.answers.acknowledged[kind] += 1
            self.answers.event_ids.setdefault(kind, []).append(event_id or "(no X-Event-Id)")
            if kind == ORDER:
                try:
                    order_id = json.loads(body).get("order_id")
                except ValueError:
                    order_id = None
                if order_id:
                    self.answers.orders.append((order_id, time.time()))

    def check(self, ticker: str, who: dict[str, str]) -> None:
        status, event_id, body = call(f"{self.base_url}/stocks/{ticker}", "GET", who)
        self._record(CHECK, "GET", status, 200, event_id, body)

    def order(self, ticker: str, side: str, quantity: int, who: dict[str, str], seed_route: bool = False) -> None:
        if seed_route:
            status, event_id, body = call(f"{self.base_url}/{ticker}/{side}/{quantity}", "POST", who)
        else:
            payload = json.dumps({"side": side, "quantity": quantity}).encode()
            headers = {**who, "Content-Type": "application/json"}
            status, event_id, body = call(f"{self.base_url}/stocks/{ticker}/orders", "POST", headers, payload)
        self._record(ORDER, "POST", status, 201, event_id, body)

    def sessions(self, count: int, concurrency: int = 8, progress: Callable[[int, int], None] | None = None) -> Answers:
        """``count`` customer sessions; each checks 2-8 quotes and orders 0-3 times (the demo's load)."""
        plans = []
        for n in range(count):
            checks = self.rng.choices(self.tickers, self.weights, k=self.rng.randint(2, 8))
            orders = [
                (self.rng.choice(checks), self.rng.choice(["buy", "sell"]), self.rng.randint(1, 50))
                for _ in range(self.rng.randint(0, 3))
            ]
            user = f"{self.run_id}-u{self.rng.randint(1, max(count // 4, 1))}"
            plans.append(({"X-Session-Id": f"{self.run_id}-s{n}", "X-User-Id": user}, checks, orders))
        done = [0]

        def customer(plan) -> None:
            who, checks, orders = plan
            for ticker in checks:
                self.check(ticker, who)
            for i, (ticker, side, quantity) in enumerate(orders):
                self.order(ticker, side, quantity, who, seed_route=bool(i % 2))  # both routes
            with self._lock:
                done[0] += 1
                if progress is not None:
                    progress(done[0], count)

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(customer, plans))
        return self.answers

    def steady(self, rate: float, check_share: float) -> SteadyRun:
        """Checks and orders at ``rate`` requests per second until the returned run is stopped (the soak's load)."""
        return SteadyRun(self, rate, check_share)

    def burst(self, ticker: str, orders: int = 60, concurrency: int = 8) -> list[str]:
        """``orders`` buys of ``ticker`` at once by a few customers; the ``X-Event-Id`` of each 201."""
        before = len(self.answers.event_ids.get(ORDER, []))

        def buy(n: int) -> None:
            who = {"X-Session-Id": f"{self.run_id}-burst", "X-User-Id": f"{self.run_id}-burst-u{n % 5}"}
            self.order(ticker, "buy", 10 + n % 40, who)

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(buy, range(orders)))
        return self.answers.event_ids.get(ORDER, [])[before:]


class SteadyRun(threading.Thread):
    """A paced loop of one customer request after another, as a thread; ``stop`` ends it."""

    def __init__(self, customers: Customers, rate: float, check_share: float) -> None:
        super().__init__(name="customers-steady", daemon=True)
        self.customers, self.rate, self.check_share = customers, rate, check_share
        self._halt = threading.Event()

    @property
    def answers(self) -> Answers:
        return self.customers.answers

    def run(self) -> None:
        rng, tickers = self.customers.rng, self.customers.tickers
        interval, start, i = 1.0 / self.rate, time.monotonic(), 0
        while not self._halt.is_set():
            delay = start + i * interval - time.monotonic()
            if delay > 0 and self._halt.wait(delay):
                break
            i += 1
            ticker = rng.choice(tickers)
            who = {"X-User-Id": f"{self.customers.run_id}-{rng.randrange(200)}"}
            if rng.random() < self.check_share:
                self.customers.check(ticker, who)
            else:
                self.customers.order(ticker, rng.choice(("buy", "sell")), rng.randint(1, 50), who)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=60)
