"""The insights driver's view: 10-second buckets per ticker, and 15-minute history for baselines.

The streaming aggregation (``insights.query``) keeps each bucket's totals in Spark's state
store and, in update mode, emits a bucket's *complete* totals whenever a batch changed it.
So applying a row here overwrites, never adds: a replayed batch (a driver killed before
its commit) applies the same totals again, and the view stays exact.

A bucket that the watermark has passed can no longer change (Spark drops later events),
so it is folded once into the per-15-minute event counts the baseline is computed from.
The whole view is a small JSON document the query saves after every batch, beside its
checkpoint, and loads on start: update mode does not re-emit unchanged buckets.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

BUCKET_MS = 10_000
BASELINE_WINDOW_MS = 15 * 60_000
#: The longest window a snapshot has (1 hour): buckets older than this, once folded, are dropped.
HORIZON_MS = 3_600_000


@dataclass
class Bucket:
    """One ticker's events in one 10-second bucket (totals, as the streaming state has them)."""

    checks: int = 0
    buy_orders: int = 0
    sell_orders: int = 0
    buy_shares: int = 0
    sell_shares: int = 0
    buy_amount: float = 0.0
    sell_amount: float = 0.0
    checkers: frozenset[str] = field(default_factory=frozenset)
    orderers: frozenset[str] = field(default_factory=frozenset)

    @property
    def events(self) -> int:
        return self.checks + self.buy_orders + self.sell_orders

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["checkers"], data["orderers"] = sorted(self.checkers), sorted(self.orderers)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Bucket:
        values = dict(data)
        values["checkers"] = frozenset(values.get("checkers") or ())
        values["orderers"] = frozenset(values.get("orderers") or ())
        return cls(**values)


def bucket_start(ms: float, size_ms: int = BUCKET_MS) -> int:
    return int(ms // size_ms * size_ms)


class InsightsView:
    """Buckets of the last hour, history of the baseline days, and how far the watermark went."""

    def __init__(self, tickers: Iterable[str], watermark_ms: int, baseline_days: float) -> None:
        self.tickers = tuple(tickers)
        self.watermark_delay_ms = int(watermark_ms)
        self.baseline_ms = int(baseline_days * 86_400_000)
        self.buckets: dict[tuple[str, int], Bucket] = {}
        #: (ticker, 15-minute window start) -> events in it, from final buckets only.
        self.history: dict[tuple[str, int], int] = {}
        #: Buckets starting before this are folded into ``history``.
        self.folded_until = 0
        self.max_bucket = 0
        self.batch_id = -1

    @property
    def watermark(self) -> int:
        """A lower bound of Spark's watermark: events before it are late and were not counted."""
        return max(0, self.max_bucket - self.watermark_delay_ms) if self.max_bucket else 0

    def apply(self, batch_id: int, rows: Iterable[tuple[str, int, Bucket]]) -> None:
        """Overwrite the buckets a batch emitted, then fold those the watermark has passed."""
        for ticker, start, bucket in rows:
            self.buckets[(ticker, start)] = bucket
            self.max_bucket = max(self.max_bucket, start)
        self.batch_id = max(self.batch_id, batch_id)
        self._fold()

    def _fold(self) -> None:
        final_before = self.watermark - BUCKET_MS  # the whole bucket lies before the watermark
        if final_before <= self.folded_until:
            return
        for (ticker, start), bucket in self.buckets.items():
            if self.folded_until <= start < final_before and bucket.events:
                key = (ticker, bucket_start(start, BASELINE_WINDOW_MS))
                self.history[key] = self.history.get(key, 0) + bucket.events
        self.folded_until = final_before
        self.prune()

    def prune(self) -> None:
        """Forget folded buckets older than the longest window, and history older than the baseline."""
        keep_from = self.max_bucket - HORIZON_MS - BUCKET_MS
        self.buckets = {key: b for key, b in self.buckets.items() if key[1] >= keep_from or key[1] >= self.folded_until}
        history_from = self.max_bucket - self.baseline_ms - BASELINE_WINDOW_MS
        self.history = {key: n for key, n in self.history.items() if key[1] >= history_from}

    def window(self, ticker: str, start: int, end: int) -> list[Bucket]:
        """The ticker's buckets starting in ``[start, end)``."""
        return [b for (t, s), b in self.buckets.items() if t == ticker and start <= s < end]

    def baseline(self, ticker: str, before: int) -> list[int]:
        """Events in each of the ticker's complete 15-minute windows of the baseline days before ``before``.

        Windows without events count as zero, from the first window any ticker had events in:
        a quiet hour is part of the baseline, and a ticker nobody traded is not "unusual" forever.
        """
        first = min((start for _t, start in self.history), default=None)
        if first is None:
            return []
        last = min(bucket_start(before, BASELINE_WINDOW_MS), bucket_start(self.folded_until, BASELINE_WINDOW_MS))
        first = max(first, last - self.baseline_ms)
        return [self.history.get((ticker, w), 0) for w in range(first, last, BASELINE_WINDOW_MS)]

    def to_json(self) -> str:
        return json.dumps(
            {
                "batch_id": self.batch_id,
                "folded_until": self.folded_until,
                "max_bucket": self.max_bucket,
                "buckets": [[t, s, b.to_json()] for (t, s), b in sorted(self.buckets.items())],
                "history": [[t, s, n] for (t, s), n in sorted(self.history.items())],
            },
            separators=(",", ":"),
        )

    def load_json(self, text: str) -> None:
        data = json.loads(text)
        self.batch_id = int(data["batch_id"])
        self.folded_until = int(data["folded_until"])
        self.max_bucket = int(data["max_bucket"])
        self.buckets = {(t, int(s)): Bucket.from_json(b) for t, s, b in data["buckets"]}
        self.history = {(t, int(s)): int(n) for t, s, n in data["history"]}
