"""Experiment: how long ``publish_sync`` (an order's Kafka ack) takes, with the publisher's poll loop as is
and with one poll thread per producer. Nothing in the product changes; the variant is a subclass here.

    .venv/bin/python -m stockpulse.bench.publisher_latency

The publisher's single poll thread alternates ``async.poll(0.05)`` and ``sync.poll(0.05)``: when no
quote check is in flight, ``async.poll`` blocks its full 50 ms, and an order's delivery report waits
behind it.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..devstack.kafka import KafkaBroker
from ..events import STOCK_OPERATION, stock_operation_event
from ..events.admin import ensure_topics
from ..events.publisher import KafkaPublisher
from ..settings import load_settings
from .runner import bench_settings, drop_data


class OnePollerPerProducer(KafkaPublisher):
    """The suggested change: each producer has its own poll thread."""

    def _poll_loop(self) -> None:
        def serve(producer) -> None:
            while not self._stop.is_set():
                producer.poll(0.05)

        threading.Thread(target=serve, args=(self._async,), name="kafka-poll-async", daemon=True).start()
        serve(self._sync)


def order_ack_ms(publisher: KafkaPublisher, count: int = 60, skip: int = 10) -> list[float]:
    event = stock_operation_event("MSFT", "buy", 1, 1.0, {})
    took = []
    for _ in range(count):
        started = time.perf_counter()
        publisher.publish_sync(STOCK_OPERATION, "MSFT", event)
        took.append((time.perf_counter() - started) * 1000.0)
    return took[skip:]


def main() -> int:
    base = load_settings()
    run_dir = Path(tempfile.mkdtemp(prefix="publisher-", dir=base.run_dir if base.run_dir.is_dir() else None))
    settings = bench_settings(base, run_dir)
    broker = KafkaBroker(run_dir, settings.kafka_port, settings.kafka_controller_port)
    try:
        broker.start()
        broker.wait_ready()
        ensure_topics(broker.bootstrap)
        for cls in (KafkaPublisher, OnePollerPerProducer):
            publisher = cls(broker.bootstrap)
            took = order_ack_ms(publisher)
            publisher.close()
            print(f"{cls.__name__:<22} publish_sync: median {statistics.median(took):.2f} ms, max {max(took):.2f} ms")
    finally:
        broker.stop()
        drop_data(run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
