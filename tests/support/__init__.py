"""Helpers the test suites share: contract vectors, a recording publisher, Kafka reading."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from stockpulse.settings import PROJECT_ROOT

CONTRACTS = PROJECT_ROOT / "contracts" / "events"


def contract_vectors(topic: str) -> dict[str, Any]:
    return json.loads((CONTRACTS / f"{topic}.v1.json").read_text())


class RecordingPublisher:
    """Stands in for Kafka in unit tests only; tests/integration proves the same against a real broker.

    ``refuse``: nothing is recorded and the publish is refused (Kafka known down);
    ``doubt``: the event is recorded (it landed) but the order's publish reports it unconfirmed.
    """

    def __init__(self) -> None:
        self.events: list[tuple[str, str | None, dict[str, Any]]] = []
        self.refuse = False
        self.doubt = False
        self.reachable = True
        self._lock = threading.Lock()

    def _record(self, topic: str, key: str | None, event: dict[str, Any]) -> None:
        from stockpulse.events.publisher import PublishRefused, encode

        if self.refuse:
            raise PublishRefused("recording publisher told to refuse")
        encode(event)  # must be serialisable exactly as the real publisher sends it
        with self._lock:
            self.events.append((topic, key, dict(event)))

    publish_async = _record

    def publish_sync(self, topic: str, key: str | None, event: dict[str, Any]) -> None:
        from stockpulse.events.publisher import PublishInDoubt

        self._record(topic, key, event)
        if self.doubt:
            raise PublishInDoubt("recording publisher told to leave it in doubt")

    def start(self) -> None:
        pass

    def kafka_reachable(self) -> bool:
        return self.reachable

    def queue_depth(self) -> int:
        return 0

    def close(self, timeout: float = 10.0) -> None:
        pass

    def topics(self) -> list[str]:
        return [topic for topic, _, _ in self.events]


def read_topic(
    bootstrap: str, topic: str, expect: int | None = None, timeout: float = 20.0, idle: float = 2.0
) -> list[dict[str, Any]]:
    """Every message of ``topic`` from the beginning, as (key, value-json) dicts.

    Reads until ``expect`` messages arrived (then ``idle`` more seconds to catch extras)
    or until ``timeout``.
    """
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{time.time_ns()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = [TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions]
        consumer.assign(partitions)
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        quiet_until: float | None = None
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                if expect is not None and len(messages) >= expect:
                    quiet_until = quiet_until or time.monotonic() + idle
                    if time.monotonic() >= quiet_until:
                        break
                continue
            if msg.error():
                continue
            messages.append(
                {
                    "key": msg.key().decode() if msg.key() else None,
                    "partition": msg.partition(),
                    "offset": msg.offset(),
                    "value": json.loads(msg.value()),
                }
            )
        return messages
    finally:
        consumer.close()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def tmp_run_dir(base: Path, name: str) -> Path:
    path = base / name
    path.mkdir(parents=True, exist_ok=True)
    return path


class MemoryIdempotencyStore:
    """Stands in for Postgres in unit tests only, deciding with the real store's ``decide``;
    tests/integration/test_idempotency_postgres.py proves the same against a real Postgres."""

    def __init__(self, ttl_s: float = 86_400.0, clock=time.time) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._records: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.down = False  # every call raises StoreUnavailable, as when Postgres is unreachable

    def _now_us(self) -> int:
        from stockpulse.api.idempotency_store import StoreUnavailable

        if self.down:
            raise StoreUnavailable("memory store told to be down")
        return int(self._clock() * 1_000_000)

    def begin(self, scope: str, key: str, fingerprint: str, lease_s: float):
        from dataclasses import replace

        from stockpulse.api.idempotency_store import Record, decide

        with self._lock:
            now = self._now_us()
            record = self._records.get((scope, key))
            claim = decide(record, fingerprint, now, self.ttl_s)
            lease_until = now + int(lease_s * 1_000_000)
            if claim.outcome == "new":
                self._records[(scope, key)] = Record(fingerprint, None, "pending", None, lease_until, now)
            elif claim.outcome == "retry":
                self._records[(scope, key)] = replace(record, state="pending", lease_until_us=lease_until)
            return claim

    def _update(self, scope: str, key: str, **changes: Any) -> None:
        from dataclasses import replace

        with self._lock:
            self._now_us()
            if (scope, key) in self._records:
                self._records[(scope, key)] = replace(self._records[(scope, key)], **changes)

    def attach(self, scope: str, key: str, event: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._now_us()
            record = self._records[(scope, key)]
            if record.event is None:
                from dataclasses import replace

                self._records[(scope, key)] = record = replace(record, event=json.dumps(event))
            return json.loads(record.event)

    def finish(self, scope: str, key: str, answer: dict[str, Any]) -> None:
        self._update(scope, key, state="done", answer=json.dumps(answer), lease_until_us=0)

    def doubt(self, scope: str, key: str) -> None:
        self._update(scope, key, state="in_doubt", lease_until_us=0)

    def forget(self, scope: str, key: str) -> None:
        with self._lock:
            self._now_us()
            record = self._records.get((scope, key))
            if record is not None and record.state == "pending":
                from dataclasses import replace

                self._records[(scope, key)] = replace(record, event=None, lease_until_us=0)

    def close(self) -> None:
        pass
