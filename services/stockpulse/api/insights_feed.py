"""Each worker's in-memory copy of the compacted ``stock_insights`` topic: ticker -> latest snapshot.

Every worker answers for every ticker, so each reads all partitions from the beginning, with no
consumer group and no commits, then follows the topic; a restart rebuilds the view from Kafka.
The routes answer 503 until every partition was read to its end once (``caught_up``). ``apply``
parses and checks each record: a bad one is skipped, logged and counted (``on_invalid``), never
raised; a tombstone deletes the ticker. ``start`` runs inside each gunicorn worker, after the fork.
Why no consumer group, and why wait: docs/architecture.md, "One request, from route to report".
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from ..events import STOCK_INSIGHTS, validation_errors

log = logging.getLogger(__name__)

#: Why a record was skipped; the metric's ``reason`` label takes exactly these values.
INVALID_REASONS = ("json", "schema", "key")

#: How long one poll blocks; also the longest ``close`` waits for the thread to notice.
POLL_S = 0.5
#: Between two tries to find the topic's partitions (topic not created yet, broker down); each try
#: blocks at most METADATA_TIMEOUT_S, short so that ``close`` is not kept waiting.
METADATA_RETRY_S = 2.0
METADATA_TIMEOUT_S = 1.0
#: Skipped records logged per reason; the counter keeps counting, the log does not flood.
MAX_WARNINGS_PER_REASON = 20

InvalidHook = Callable[[str], None]


class InvalidSnapshot(ValueError):
    """A record of the topic that the view skips; ``reason`` is one of ``INVALID_REASONS``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _no_constants(name: str) -> float:
    # json.loads accepts NaN and Infinity, which the schema's "number" would let through and no JSON client can read
    raise ValueError(f"{name} is not JSON")


def parse_snapshot(key: bytes | str | None, value: bytes | str) -> tuple[str, dict[str, Any]]:
    """The ticker and snapshot a record carries, or ``InvalidSnapshot``."""
    try:
        ticker = key.decode("utf-8") if isinstance(key, bytes) else key
    except UnicodeDecodeError:
        ticker = None
    if not ticker:
        raise InvalidSnapshot("key", f"record key {key!r} is not a ticker")
    try:
        snapshot = json.loads(value, parse_constant=_no_constants)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise InvalidSnapshot("json", f"{ticker}: value is not JSON ({exc})") from None
    errors = validation_errors(STOCK_INSIGHTS, snapshot)
    if errors:
        raise InvalidSnapshot("schema", f"{ticker}: value breaks the {STOCK_INSIGHTS} schema: {'; '.join(errors[:3])}")
    if snapshot["stock_name"] != ticker:
        raise InvalidSnapshot("key", f"record key {ticker!r} names another ticker than {snapshot['stock_name']!r}")
    return ticker, snapshot


class InsightsFeed:
    """The latest snapshot per ticker, fed by a daemon consumer thread (or by hand through ``apply``).

    ``bootstrap`` None makes a view without Kafka: ``start`` does nothing and the view
    counts as caught up from the start, so whatever ``apply`` put in is served (tests).
    Snapshots handed out are shared, read-only dicts: they are replaced, never changed.
    """

    def __init__(
        self,
        bootstrap: str | None,
        topic: str = STOCK_INSIGHTS,
        clock: Callable[[], float] = time.time,
        on_invalid: InvalidHook | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.clock = clock
        self._on_invalid = on_invalid
        self._lock = threading.Lock()
        self._snapshots: dict[str, dict[str, Any]] = {}
        self._first_snapshot_at: float | None = None
        self.invalid: Counter[str] = Counter()
        self._caught_up = threading.Event()
        if bootstrap is None:
            self._caught_up.set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- records -------------------------------------------------------------------------

    def apply(self, key: bytes | str | None, value: bytes | str | None) -> str:
        """Apply one record of the topic; return ``stored``, ``deleted`` or the reason it was skipped."""
        if value is None:
            ticker = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
            with self._lock:
                self._snapshots.pop(ticker or "", None)
            return "deleted"
        try:
            ticker, snapshot = parse_snapshot(key, value)
        except InvalidSnapshot as exc:
            self.invalid[exc.reason] += 1
            if self.invalid[exc.reason] <= MAX_WARNINGS_PER_REASON:
                log.warning("skipped a %s record (%s): %s", self.topic, exc.reason, exc)
            if self._on_invalid is not None:
                self._on_invalid(exc.reason)
            return exc.reason
        with self._lock:
            self._snapshots[ticker] = snapshot
            if self._first_snapshot_at is None:
                self._first_snapshot_at = self.clock()
        return "stored"

    # -- reading -------------------------------------------------------------------------

    def caught_up(self) -> bool:
        """True once the first read reached the end of every partition: no superseded value is served."""
        return self._caught_up.is_set()

    def snapshot(self, ticker: str) -> dict[str, Any] | None:
        with self._lock:
            return self._snapshots.get(ticker)

    def snapshots(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self._snapshots)

    @property
    def first_snapshot_at(self) -> float | None:
        """Wall-clock seconds when this worker stored its first valid snapshot; None before."""
        return self._first_snapshot_at

    def has_snapshot(self) -> bool:
        """Whether any valid snapshot ever arrived (tombstones since included)."""
        return self._first_snapshot_at is not None

    def age_s(self) -> float | None:
        """Seconds from the newest snapshot's ``as_of`` to now; None while the view is empty."""
        with self._lock:
            newest = max((s["as_of"] for s in self._snapshots.values()), default=None)
        return None if newest is None else max(0.0, self.clock() - newest / 1000.0)

    # -- the consumer thread -------------------------------------------------------------

    def start(self) -> None:
        """Start following the topic (no-op without Kafka, or when already started)."""
        if self.bootstrap is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="insights-view", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                # librdkafka insists on a group id; with assign() and no commits it is never used
                "group.id": "stockpulse-api-insights",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "client.id": "stockpulse-api-insights",
                # librdkafka's own lines through logging (JSON under gunicorn), not raw on stderr
                "logger": log,
                "error_cb": lambda err: log.debug("insights consumer: %s", err),
            }
        )
        try:
            partitions = self._partitions(consumer)
            if partitions is None:
                return
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
            pending = set(partitions)  # partitions not yet read to their end once
            while not self._stop.is_set():
                msg = consumer.poll(POLL_S)
                if msg is None:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        pending.discard(msg.partition())
                        if not pending and not self._caught_up.is_set():
                            log.info("insights view caught up: %d tickers", len(self.snapshots()))
                            self._caught_up.set()
                    else:
                        log.warning("insights consumer: %s", err)
                    continue
                self.apply(msg.key(), msg.value())
        except Exception:
            log.exception("insights consumer stopped; this worker's insights go stale")
        finally:
            consumer.close()

    def _partitions(self, consumer: Consumer) -> list[int] | None:
        """The topic's partition ids, retried until the topic exists; None when closed meanwhile."""
        while not self._stop.is_set():
            try:
                topic = consumer.list_topics(self.topic, timeout=METADATA_TIMEOUT_S).topics.get(self.topic)
                if topic is not None and topic.error is None and topic.partitions:
                    return sorted(topic.partitions)
                log.warning("topic %s not found yet; insights answer 503 until it is", self.topic)
            except Exception as exc:  # KafkaException: brokers unreachable
                log.warning("insights consumer cannot read metadata: %s", exc)
            self._stop.wait(METADATA_RETRY_S)
        return None
