"""Locust customers for the stockpulse API: a black-box client (it imports nothing from ``stockpulse``).

Customers check quotes and place orders (each with its own ``Idempotency-Key``) on tickers picked
by a Zipf law; a check fails unless answered 200, an order unless answered 201 with an ``order_id``.
Usage, the ``STOCKPULSE_*`` variables and the ``seed`` shape: docs/performance.md, "Locust customers".
"""

from __future__ import annotations

import hashlib
import itertools
import json as jsonlib
import os
import random
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from locust import FastHttpUser, LoadTestShape, between, task

SEED_TICKERS = ("MSFT", "AAPL", "AMZN", "GOOG", "BABA", "FB", "INTC", "NVDA", "CRM", "PYPL", "TSLA", "AMD")
DEFAULT_MIX = {"check": 80, "buy": 10, "sell": 8, "burst": 2}
SHAPES = ("", "seed")
#: Answers after which an order is retried with the same key: no answer at all (0), in progress,
#: refused before anything was sent, in doubt.
RETRIED = (0, 409, 502, 503, 504)

# Request names in Locust's statistics.
CHECK = "/stocks/[ticker]"
BUY = "/stocks/[ticker]/orders buy"
SELL = "/stocks/[ticker]/orders sell"
SEED_CHECK = "/[ticker]"
SEED_ORDER = "/[ticker]/{action}/[quantity]"


class ConfigError(ValueError):
    """A ``STOCKPULSE_*`` load-test variable is malformed."""


@dataclass(frozen=True)
class Config:
    tickers: tuple[str, ...] = SEED_TICKERS
    zipf_s: float = 1.1
    mix: tuple[tuple[str, int], ...] = tuple(DEFAULT_MIX.items())
    wait: tuple[float, float] = (0.2, 1.0)
    session_tasks: tuple[int, int] = (10, 40)
    shape: str = ""
    seed_users: int = 1
    seed_duration: float = 0.0
    order_retry_s: float = 0.0
    order_replay_share: float = 0.0
    ledger: str = ""

    @property
    def weights(self) -> dict[str, int]:
        return dict(self.mix)


def _pair(name: str, raw: str, kind: type) -> tuple:
    parts = [p.strip() for p in raw.split(",")]
    try:
        low, high = (kind(p) for p in parts) if len(parts) == 2 else (None, None)
    except ValueError:
        low = high = None
    if low is None or high is None or low < 0 or high < low:
        raise ConfigError(f"{name} must be 'min,max' with 0 <= min <= max, got {raw!r}")
    return low, high


def parse_tickers(raw: str) -> tuple[str, ...]:
    tickers = tuple(dict.fromkeys(t.strip().upper() for t in raw.split(",") if t.strip()))
    if not tickers or not all(t.replace(".", "").replace("-", "").isalnum() for t in tickers):
        raise ConfigError(f"STOCKPULSE_TICKERS must be a comma list of tickers, got {raw!r}")
    return tickers


def parse_mix(raw: str) -> tuple[tuple[str, int], ...]:
    """``check:80,buy:10`` -> weights; tasks left out weigh 0; at least one weight must be positive."""
    weights = dict.fromkeys(DEFAULT_MIX, 0)
    for item in filter(None, (p.strip() for p in raw.split(","))):
        name, _, value = item.partition(":")
        name = name.strip().lower()
        if name not in weights or not value.strip().isdigit():
            raise ConfigError(f"STOCKPULSE_MIX must be like 'check:80,buy:10,sell:8,burst:2', got {raw!r}")
        weights[name] = int(value)
    if not any(weights.values()):
        raise ConfigError(f"STOCKPULSE_MIX gives every task weight 0: {raw!r}")
    return tuple(weights.items())


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    values: dict[str, object] = {}
    if raw := get("STOCKPULSE_TICKERS"):
        values["tickers"] = parse_tickers(raw)
    if raw := get("STOCKPULSE_ZIPF_S"):
        try:
            values["zipf_s"] = float(raw)
        except ValueError:
            raise ConfigError(f"STOCKPULSE_ZIPF_S must be a number >= 0, got {raw!r}") from None
        if not 0 <= values["zipf_s"] <= 10:  # type: ignore[operator]
            raise ConfigError(f"STOCKPULSE_ZIPF_S must be from 0 to 10, got {raw!r}")
    if raw := get("STOCKPULSE_MIX"):
        values["mix"] = parse_mix(raw)
    if raw := get("STOCKPULSE_WAIT"):
        values["wait"] = _pair("STOCKPULSE_WAIT", raw, float)
    if raw := get("STOCKPULSE_SESSION_TASKS"):
        low, high = _pair("STOCKPULSE_SESSION_TASKS", raw, int)
        if low < 1:
            raise ConfigError(f"STOCKPULSE_SESSION_TASKS must start at 1 or more, got {raw!r}")
        values["session_tasks"] = (low, high)
    if raw := get("STOCKPULSE_LOAD_SHAPE"):
        if raw.lower() not in SHAPES:
            raise ConfigError(f"STOCKPULSE_LOAD_SHAPE must be empty or 'seed', got {raw!r}")
        values["shape"] = raw.lower()
    if raw := get("STOCKPULSE_SEED_USERS"):
        if not raw.isdigit() or int(raw) < 1:
            raise ConfigError(f"STOCKPULSE_SEED_USERS must be a positive integer, got {raw!r}")
        values["seed_users"] = int(raw)
    for field, name in (("seed_duration", "STOCKPULSE_SEED_DURATION"), ("order_retry_s", "STOCKPULSE_ORDER_RETRY_S")):
        if raw := get(name):
            values[field] = _seconds(name, raw)
    if raw := get("STOCKPULSE_ORDER_REPLAY_SHARE"):
        values["order_replay_share"] = _share("STOCKPULSE_ORDER_REPLAY_SHARE", raw)
    if raw := get("STOCKPULSE_LEDGER"):
        values["ledger"] = raw
    return Config(**values)  # type: ignore[arg-type]


def _seconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ConfigError(f"{name} must be seconds >= 0, got {raw!r}")
    return value


def _share(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise ConfigError(f"{name} must be a fraction from 0 to 1, got {raw!r}")
    return value


def answer_digest(body: str | None) -> str:
    """A short fingerprint of an answer's body: a replay must match its first answer byte for byte."""
    return hashlib.sha256((body or "").encode()).hexdigest()[:16]


def retry_delay(status: int, retry_after: str | None, waited: float, budget: float) -> float | None:
    """Seconds to wait before the same order is sent again, or None when ``status`` is its final answer."""
    if status not in RETRIED or waited >= budget:
        return None
    try:
        delay = float(retry_after) if retry_after is not None else 0.5
    except ValueError:
        delay = 0.5
    return min(max(delay, 0.1), 5.0, budget - waited)


class Ledger:
    """Every answer as one JSON line: what the fault suite holds against Kafka and the lake."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, **answer: object) -> None:
        if not self.path:
            return
        line = jsonlib.dumps({"t": time.time(), **answer}, separators=(",", ":"))
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def zipf_weights(count: int, s: float) -> list[float]:
    """Probability of each rank 1..count under a Zipf law with exponent ``s`` (0 is uniform); sums to 1."""
    if count < 1:
        raise ValueError("need at least one item")
    raw = [1.0 / rank**s for rank in range(1, count + 1)]
    total = sum(raw)
    return [w / total for w in raw]


class TickerPicker:
    """Tickers by popularity: the first of the list is the most asked for."""

    def __init__(self, tickers: Sequence[str], s: float, rng: random.Random | None = None) -> None:
        self.tickers = list(tickers)
        self.cum_weights = list(itertools.accumulate(zipf_weights(len(self.tickers), s)))
        self.rng = rng or random.Random()

    def pick(self) -> str:
        return self.rng.choices(self.tickers, cum_weights=self.cum_weights)[0]


@dataclass(frozen=True)
class SeedBurst:
    """One run of the seed's ``auto_generate_ab.sh``: ``ab -n <requests>`` on one random ticker."""

    ticker: str
    action: str  # check (the script's live line), buy or sell (its commented-out lines)
    requests: int  # shuf -i 1-10
    quantity: int  # shuf -i 1-50


def plan_seed_burst(rng: random.Random, tickers: Sequence[str], mix: Mapping[str, int]) -> SeedBurst:
    actions = [a for a in ("check", "buy", "sell") if mix.get(a, 0) > 0] or ["check"]
    action = rng.choices(actions, weights=[mix.get(a, 1) for a in actions])[0]
    return SeedBurst(rng.choice(list(tickers)), action, rng.randint(1, 10), rng.randint(1, 50))


CONFIG = load_config()
LEDGER = Ledger(CONFIG.ledger)
ORDER_LOG = os.environ.get("STOCKPULSE_ORDER_LOG", "").strip().lower() == "stdout"
_user_numbers = itertools.count(1)
#: Unique per Locust run (a pid is not: pids are reused), so two runs' customers never share an id.
_RUN = uuid.uuid4().hex[:12]


class _Customer(FastHttpUser):
    """What every customer shares: an identity, sessions, and strict checks of the answers."""

    abstract = True
    host = "http://127.0.0.1:8000"
    wait_time = between(*CONFIG.wait)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.user_id = f"locust-{_RUN}-{next(_user_numbers)}"
        self.picker = TickerPicker(CONFIG.tickers, CONFIG.zipf_s, self.rng)
        self.new_session()

    def new_session(self) -> None:
        self.session_id = uuid.uuid4().hex
        self.tasks_left = self.rng.randint(*CONFIG.session_tasks)

    def headers(self) -> dict[str, str]:
        self.tasks_left -= 1
        if self.tasks_left < 0:
            self.new_session()
        return {"X-User-Id": self.user_id, "X-Session-Id": self.session_id}

    def check(self, path: str, name: str) -> None:
        headers = self.headers()
        with self.client.get(path, headers=headers, name=name, catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"check answered {resp.status_code}, expected 200")
            LEDGER.record(
                kind="check",
                user=self.user_id,
                session=headers["X-Session-Id"],
                status=resp.status_code,
                event_id=resp.headers.get("X-Event-Id"),
            )

    def order(self, path: str, name: str, json: dict | None = None, what: tuple = ()) -> None:
        """One order intent: one key, sent again after an answer that leaves it open, for ``order_retry_s``;
        after its 201, sent once more with a chance of ``order_replay_share``, as a client that lost the
        answer would, and that replay must get the same answer."""
        headers = {**self.headers(), "Idempotency-Key": uuid.uuid4().hex}
        started = time.monotonic()
        first: str | None = None  # the digest of the 201
        for attempt in itertools.count(1):
            with self.client.post(path, json=json, headers=headers, name=name, catch_response=True) as resp:
                status = resp.status_code  # 0: no answer at all (refused, reset)
                answer_headers = resp.headers or {}  # None when there was no answer
                order_id = _order_id(resp.text)
                replayed = answer_headers.get("Idempotent-Replayed") == "true"
                digest = answer_digest(resp.text)
                if status != 201:
                    resp.failure(f"order answered {status}, expected 201")
                elif json is not None and not order_id:
                    resp.failure("order answered 201 without an order_id")
                elif first is not None and digest != first:
                    resp.failure("a replay of the order was answered differently from its first 201")
                elif order_id and ORDER_LOG:
                    line = {"order_acknowledged": order_id, "key": headers["Idempotency-Key"]}
                    print(jsonlib.dumps({**line, "answer": digest, "replayed": replayed}), flush=True)
            LEDGER.record(
                kind="order",
                user=self.user_id,
                session=headers["X-Session-Id"],
                key=headers["Idempotency-Key"],
                attempt=attempt,
                status=status,
                order_id=order_id,
                replayed=replayed,
                what=list(what),
            )
            if status == 201:
                if first is not None or self.rng.random() >= CONFIG.order_replay_share:
                    return
                first = digest  # the answer was "lost": send the same order once more
                continue
            waited = time.monotonic() - started
            delay = retry_delay(status, answer_headers.get("Retry-After"), waited, CONFIG.order_retry_s)
            if delay is None:
                return
            time.sleep(delay)


def _order_id(body: str | None) -> str | None:
    """The order id of a 201, or of the error object of a 503/504."""
    try:
        answer = jsonlib.loads(body or "")
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    error = answer.get("error")
    found = error.get("order_id") if isinstance(error, dict) else answer.get("order_id")
    return found if isinstance(found, str) and found else None


def _weight(name: str) -> int:
    return CONFIG.weights.get(name, 0)


class Customer(_Customer):
    """A trader on the JSON API: mostly checks quotes, sometimes buys or sells, now and then a burst."""

    abstract = CONFIG.shape == "seed"

    def _order(self, ticker: str, side: str) -> None:
        body = {"side": side, "quantity": self.rng.randint(1, 50)}
        self.order(f"/stocks/{ticker}/orders", BUY if side == "buy" else SELL, body, (ticker, side, body["quantity"]))

    @task(_weight("check"))
    def check_quote(self) -> None:
        self.check(f"/stocks/{self.picker.pick()}", CHECK)

    @task(_weight("buy"))
    def buy(self) -> None:
        self._order(self.picker.pick(), "buy")

    @task(_weight("sell"))
    def sell(self) -> None:
        self._order(self.picker.pick(), "sell")

    @task(_weight("burst"))
    def burst(self) -> None:
        """News on one ticker: a few checks in a row, no think time, then a buy."""
        ticker = self.picker.pick()
        for _ in range(self.rng.randint(3, 8)):
            self.check(f"/stocks/{ticker}", CHECK)
        self._order(ticker, "buy")


class SeedCustomer(_Customer):
    """The seed's ``auto_generate_ab.sh`` in a loop, on the seed's routes (``GET /<T>``, ``POST /<T>/buy/<q>``)."""

    abstract = CONFIG.shape != "seed"
    wait_time = between(0.5, 1.5)  # the pause of the shell loop around the script

    @task
    def run_script(self) -> None:
        burst = plan_seed_burst(self.rng, CONFIG.tickers, CONFIG.weights)
        for _ in range(burst.requests):
            if burst.action == "check":
                self.check(f"/{burst.ticker}", SEED_CHECK)
            else:
                name = SEED_ORDER.format(action=burst.action)
                what = (burst.ticker, burst.action, burst.quantity)
                self.order(f"/{burst.ticker}/{burst.action}/{burst.quantity}", name, what=what)


class SeedShape(LoadTestShape):
    """``STOCKPULSE_LOAD_SHAPE=seed``: ``seed_users`` copies of the script, for ``seed_duration`` seconds (0 = ever)."""

    abstract = CONFIG.shape != "seed"
    users = CONFIG.seed_users
    duration = CONFIG.seed_duration

    def tick_at(self, run_time: float) -> tuple[int, float, list] | None:
        if self.duration and run_time >= self.duration:
            return None
        return self.users, float(self.users), [SeedCustomer]

    def tick(self) -> tuple[int, float, list] | None:
        return self.tick_at(self.get_run_time())
