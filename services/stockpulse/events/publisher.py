"""The event publisher: owns the Kafka producers of one process and nothing else does.

Two idempotent producers (``acks=all``) per process, because the two kinds of
events need different promises:

* quote checks are fire-and-forget for the request (``publish_async``); librdkafka
  retries them for ``check_delivery_timeout_ms`` and the delivery callback counts
  success and failure in metrics;
* orders are answered only after the broker acknowledged the event
  (``publish_sync``). Their producer's ``message.timeout.ms`` equals the time the
  request waits, so a message reported as failed is never delivered later: a 503
  order leaves no event behind.

Producers are created lazily on first use, i.e. inside each gunicorn worker after
the fork, never in the master.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Producer

log = logging.getLogger(__name__)

DeliveryHook = Callable[[str, bool], None]


class PublishError(RuntimeError):
    """The event could not be handed to Kafka or was not acknowledged."""


class Publisher(Protocol):
    """What the API needs from a publisher; tests may inject a recording one."""

    def publish_async(self, topic: str, key: str | None, event: Mapping[str, Any]) -> None: ...

    def publish_sync(self, topic: str, key: str | None, event: Mapping[str, Any]) -> None: ...

    def ping(self, timeout: float = 1.0) -> bool: ...

    def queue_depth(self) -> int: ...

    def close(self, timeout: float = 10.0) -> None: ...


def encode(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), allow_nan=False).encode("utf-8")


class KafkaPublisher:
    """confluent-kafka backed ``Publisher``; thread-safe, one per process."""

    def __init__(
        self,
        bootstrap: str,
        order_ack_timeout_ms: int = 5000,
        check_delivery_timeout_ms: int = 300_000,
        on_delivery: DeliveryHook | None = None,
        extra_config: Mapping[str, Any] | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._order_timeout_ms = order_ack_timeout_ms
        self._check_timeout_ms = check_delivery_timeout_ms
        self._on_delivery = on_delivery or (lambda topic, ok: None)
        self._extra = dict(extra_config or {})
        self._lock = threading.Lock()
        self._async: Producer | None = None
        self._sync: Producer | None = None
        self._pollers: list[threading.Thread] = []
        self._stop = threading.Event()
        self._brokers_down_since: float | None = None
        self._last_ping: tuple[float, bool] = (0.0, False)

    # -- producers -------------------------------------------------------------------------
    def _config(self, timeout_ms: int, linger_ms: int) -> dict[str, Any]:
        return {
            "bootstrap.servers": self._bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": linger_ms,
            "message.timeout.ms": timeout_ms,
            "request.timeout.ms": min(timeout_ms, 30_000),
            "socket.connection.setup.timeout.ms": min(timeout_ms, 10_000),
            "reconnect.backoff.max.ms": 1000,
            "error_cb": self._on_error,
            **self._extra,
        }

    def _producers(self) -> tuple[Producer, Producer]:
        if self._async is None or self._sync is None:
            with self._lock:
                if self._async is None or self._sync is None:
                    if self._stop.is_set():
                        raise PublishError("publisher is closed")
                    self._async = Producer(self._config(self._check_timeout_ms, linger_ms=5))
                    self._sync = Producer(self._config(self._order_timeout_ms, linger_ms=0))
                    # One poll thread per producer: a blocking poll of one must never delay the
                    # other's delivery reports (an order waits for its report).
                    self._pollers = [
                        threading.Thread(target=self._poll_loop, args=(p,), name=f"kafka-poll-{n}", daemon=True)
                        for n, p in (("checks", self._async), ("orders", self._sync))
                    ]
                    for thread in self._pollers:
                        thread.start()
        return self._async, self._sync

    def _poll_loop(self, producer: Producer) -> None:
        while not self._stop.is_set():
            producer.poll(0.05)

    def _on_error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            self._brokers_down_since = self._brokers_down_since or time.monotonic()
        log.warning("kafka client error", extra={"kafka_error": err.str(), "fatal": err.fatal()})

    def _callback(self, topic: str, done: threading.Event | None = None, outcome: list[Any] | None = None):
        def deliver(err: KafkaError | None, _msg: Any) -> None:
            ok = err is None
            if ok:
                self._brokers_down_since = None
            else:
                log.warning("event not delivered", extra={"topic": topic, "kafka_error": str(err)})
            self._on_delivery(topic, ok)
            if outcome is not None:
                outcome.append(err)
            if done is not None:
                done.set()

        return deliver

    # -- Publisher API ---------------------------------------------------------------------
    def publish_async(self, topic: str, key: str | None, event: Mapping[str, Any]) -> None:
        producer, _ = self._producers()
        try:
            producer.produce(topic, value=encode(event), key=key, on_delivery=self._callback(topic))
        except (BufferError, KafkaException) as exc:
            self._on_delivery(topic, False)
            raise PublishError(f"could not queue event for {topic}: {exc}") from exc

    def publish_sync(self, topic: str, key: str | None, event: Mapping[str, Any]) -> None:
        _, producer = self._producers()
        if self._brokers_down_since is not None and not self.ping(timeout=0.5, max_age=0.0):
            # Fail before producing: nothing queued means nothing can land later.
            self._on_delivery(topic, False)
            raise PublishError("Kafka brokers are unreachable")
        done = threading.Event()
        outcome: list[Any] = []
        try:
            producer.produce(topic, value=encode(event), key=key, on_delivery=self._callback(topic, done, outcome))
        except (BufferError, KafkaException) as exc:
            self._on_delivery(topic, False)
            raise PublishError(f"could not queue event for {topic}: {exc}") from exc
        # librdkafka always calls back by message.timeout.ms; the margin covers scheduling.
        if not done.wait(self._order_timeout_ms / 1000.0 + 5.0):
            raise PublishError(f"no delivery report for {topic} event")
        if outcome[0] is not None:
            raise PublishError(f"Kafka did not acknowledge the {topic} event: {outcome[0]}")

    def ping(self, timeout: float = 1.0, max_age: float = 2.0) -> bool:
        """Whether a broker answers a metadata request; cached for ``max_age`` seconds."""
        checked_at, ok = self._last_ping
        if time.monotonic() - checked_at < max_age:
            return ok
        try:
            producer, _ = self._producers()
            producer.list_topics(timeout=timeout)
            ok = True
            self._brokers_down_since = None
        except (KafkaException, PublishError):
            ok = False
        self._last_ping = (time.monotonic(), ok)
        return ok

    def queue_depth(self) -> int:
        if self._async is None or self._sync is None:
            return 0
        return len(self._async) + len(self._sync)

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is queued, then stop polling; called on graceful worker shutdown."""
        with self._lock:
            producers = [p for p in (self._async, self._sync) if p is not None]
            left = sum(p.flush(timeout) for p in producers)
            self._stop.set()
        for thread in self._pollers:
            thread.join(timeout=1.0)
        if left:
            log.error("events still queued at shutdown", extra={"queued": left})
