"""The one way the toolbox and the tests put many events on Kafka at once (the bench's backlog,
the demo's backfilled week, test fixtures): an idempotent producer that waits for every ack."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from confluent_kafka import Producer

#: (topic, key, value): a value that is not bytes or text is sent as compact JSON.
Record = tuple[str, str | bytes | None, Any]


def _bytes(value: Any) -> bytes | str | None:
    if value is None or isinstance(value, bytes | str):
        return value
    return json.dumps(value, separators=(",", ":")).encode()


def produce_records(
    bootstrap: str,
    records: Iterable[Record],
    *,
    timestamp_ms: float | None = None,
    progress: Callable[[int], None] | None = None,
    every: int = 10_000,
    flush_timeout: float = 120.0,
    config: Mapping[str, Any] | None = None,
) -> int:
    """Send ``records`` in order and wait for every ack; the number sent.

    ``timestamp_ms`` sets their Kafka (CreateTime) timestamp, else the producer's clock;
    ``progress(n)`` is called every ``every`` records. Raises RuntimeError when any record
    was not delivered.
    """
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 20, **(config or {})}
    )
    failures: list[str] = []

    def delivered(err, _msg) -> None:
        if err is not None:
            failures.append(str(err))

    stamp = {} if timestamp_ms is None else {"timestamp": int(timestamp_ms)}
    sent = 0
    for topic, key, value in records:
        payload = _bytes(value)
        while True:
            try:
                producer.produce(topic, key=key, value=payload, on_delivery=delivered, **stamp)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.1)
        producer.poll(0)
        sent += 1
        if progress is not None and sent % every == 0:
            progress(sent)
    if producer.flush(flush_timeout) != 0 or failures:
        raise RuntimeError(f"{len(failures)} of {sent} records not delivered: {failures[:3]}")
    return sent
