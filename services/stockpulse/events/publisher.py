"""The event publisher: owns the Kafka producers of one process and nothing else does.

Two idempotent producers (``acks=all``), each with its own poll thread so neither delays the
other's delivery reports: quote checks are fire-and-forget (``publish_async``), orders wait for
the acknowledgement (``publish_sync``) and fail as ``PublishRefused`` (nothing sent: it cannot
land) or ``PublishInDoubt`` (sent, not confirmed: it may still land). A watch thread asks the
brokers for metadata every ``WATCH_INTERVAL_S``; a producer that fails fatally is replaced at the
next publish. Producers are created in each gunicorn worker after the fork (docs/reliability.md).
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

WATCH_INTERVAL_S = 2.0
CHECKS, ORDERS = "checks", "orders"

#: Delivery errors that mean the broker did not write the message: it rejected it, or there was no partition
#: to send it to. A purge is not one: librdkafka puts a message whose request timed out or whose connection
#: dropped back in its queue for a retry, so a message purged from the queue (``_PURGE_QUEUE``), like one
#: purged in flight, may have reached a broker that writes it.
_NOT_PERSISTED = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.INVALID_RECORD,
        KafkaError._INVALID_ARG,
    }
)


class PublishError(RuntimeError):
    """The event could not be handed to Kafka or was not acknowledged."""


class PublishRefused(PublishError):
    """Nothing was handed to Kafka: the event cannot land, so a retry cannot make it two."""


class PublishInDoubt(PublishError):
    """The event was handed to Kafka but not confirmed: it may or may not land."""


class Publisher(Protocol):
    """What the API needs from a publisher; tests may inject a recording one."""

    def start(self) -> None: ...

    def publish_async(self, topic: str, key: str | None, event: Mapping[str, Any]) -> None: ...

    def publish_sync(self, topic: str, key: str | None, event: Mapping[str, Any]) -> None: ...

    def kafka_reachable(self) -> bool: ...

    def queue_depth(self) -> int: ...

    def close(self, timeout: float = 10.0) -> None: ...


def encode(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), allow_nan=False).encode("utf-8")


def delivery_failure(topic: str, error: KafkaError) -> PublishError:
    """What a failed delivery report means for the event: refused only when the broker provably did not write it.

    Anything else, a timeout or a purge included, may follow a send the broker writes, so it is in doubt.
    """
    if error.code() in _NOT_PERSISTED:
        return PublishRefused(f"Kafka rejected the {topic} event: {error}")
    return PublishInDoubt(f"Kafka did not confirm the {topic} event: {error}")


class _Channel:
    """One producer and the thread that serves its delivery reports."""

    def __init__(self, name: str, config: dict[str, Any], on_error: Callable[[_Channel, KafkaError], None]) -> None:
        self.name = name
        self.fatal: KafkaError | None = None
        self._stop = threading.Event()
        self.producer = Producer({**config, "error_cb": lambda err: on_error(self, err)})
        self._thread = threading.Thread(target=self._serve, name=f"kafka-poll-{name}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(0.05)

    def retire(self, drain_s: float) -> None:
        """Keep serving reports until the queue is empty (a fatal producer fails it at once) or ``drain_s``."""

        def drain() -> None:
            deadline = time.monotonic() + drain_s
            while len(self.producer) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.close(timeout=0.0)

        threading.Thread(target=drain, name=f"kafka-retire-{self.name}", daemon=True).start()

    def close(self, timeout: float) -> int:
        """Flush for up to ``timeout``, drop what is left, and end the producer's threads; return what was dropped.

        The purged messages' reports are served here, before the poll thread stops, so an order waiting for
        one is answered (in doubt) now rather than at its timeout.
        """
        left = self.producer.flush(timeout)
        if left:
            self.producer.purge()
            self.producer.poll(0)
        self._stop.set()
        self._thread.join(timeout=1.0)
        self.producer.close()
        return left


class KafkaPublisher:
    """confluent-kafka backed ``Publisher``; thread-safe, one per process."""

    def __init__(
        self,
        bootstrap: str,
        order_ack_timeout_ms: int = 5000,
        check_delivery_timeout_ms: int = 300_000,
        on_delivery: DeliveryHook | None = None,
        on_replaced: Callable[[str], None] | None = None,
        on_reachability: Callable[[bool], None] | None = None,
        extra_config: Mapping[str, Any] | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._timeouts_ms = {CHECKS: check_delivery_timeout_ms, ORDERS: order_ack_timeout_ms}
        self._on_delivery = on_delivery or (lambda topic, ok: None)
        self._on_replaced = on_replaced or (lambda name: None)
        self._on_reachability = on_reachability or (lambda ok: None)
        self._extra = dict(extra_config or {})
        self._lock = threading.Lock()
        self._channels: dict[str, _Channel] = {}
        self._closed = threading.Event()
        self._watch: threading.Thread | None = None
        self._reachable: bool | None = None

    # -- producers -------------------------------------------------------------------------
    def _config(self, name: str) -> dict[str, Any]:
        timeout_ms = self._timeouts_ms[name]
        return {
            "bootstrap.servers": self._bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5 if name == CHECKS else 0,
            "message.timeout.ms": timeout_ms,
            "request.timeout.ms": min(timeout_ms, 30_000),
            "socket.connection.setup.timeout.ms": min(timeout_ms, 10_000),
            "reconnect.backoff.max.ms": 1000,
            **self._extra,
        }

    def _channel(self, name: str) -> _Channel:
        channel = self._channels.get(name)
        if channel is not None and channel.fatal is None and not self._closed.is_set():
            return channel
        with self._lock:
            if self._closed.is_set():
                raise PublishRefused("publisher is closed")
            channel = self._channels.get(name)
            if channel is not None and channel.fatal is not None:
                log.error(
                    "kafka producer replaced after a fatal error",
                    extra={"producer": name, "kafka_error": channel.fatal.str()},
                )
                channel.retire(drain_s=self._timeouts_ms[ORDERS] / 1000.0 + 5.0)
                self._on_replaced(name)
                channel = None
            if channel is None:
                channel = self._channels[name] = _Channel(name, self._config(name), self._on_error)
            if self._watch is None:
                self._watch = threading.Thread(target=self._watch_loop, name="kafka-watch", daemon=True)
                self._watch.start()
        return channel

    def _on_error(self, channel: _Channel, err: KafkaError) -> None:
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            self._set_reachable(False)
        if err.fatal():
            channel.fatal = err  # the next publish replaces it
            log.error("kafka producer failed fatally", extra={"producer": channel.name, "kafka_error": err.str()})
        else:
            log.warning("kafka client error", extra={"producer": channel.name, "kafka_error": err.str()})

    def _produce(self, name: str, topic: str, key: str | None, event: Mapping[str, Any], on_delivery) -> None:
        """Queue the event; a producer found dead at this point is replaced once (nothing was queued)."""
        for attempt in (1, 2):
            channel = self._channel(name)
            try:
                channel.producer.produce(topic, value=encode(event), key=key, on_delivery=on_delivery)
                return
            except KafkaException as exc:
                error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
                if error is not None and error.fatal() and attempt == 1:
                    channel.fatal = error
                    continue
                self._on_delivery(topic, False)
                raise PublishRefused(f"could not queue event for {topic}: {exc}") from exc
            except BufferError as exc:
                self._on_delivery(topic, False)
                raise PublishRefused(f"could not queue event for {topic}: {exc}") from exc

    def _callback(self, topic: str, done: threading.Event | None = None, outcome: list[Any] | None = None):
        def deliver(err: KafkaError | None, _msg: Any) -> None:
            ok = err is None
            if ok:
                self._set_reachable(True)
            else:
                log.warning("event not delivered", extra={"topic": topic, "kafka_error": str(err)})
            self._on_delivery(topic, ok)
            if outcome is not None:
                outcome.append(err)
            if done is not None:
                done.set()

        return deliver

    # -- reachability ----------------------------------------------------------------------
    def _set_reachable(self, ok: bool) -> None:
        if ok != self._reachable:
            log.log(logging.INFO if ok else logging.WARNING, "kafka " + ("reachable" if ok else "unreachable"))
        self._reachable = ok
        self._on_reachability(ok)

    def _probe(self, timeout: float) -> bool:
        """Whether a broker answers a metadata request now."""
        try:
            self._channel(ORDERS).producer.list_topics(timeout=timeout)
            ok = True
        except (KafkaException, PublishError):
            ok = False
        self._set_reachable(ok)
        return ok

    def _watch_loop(self) -> None:
        while not self._closed.is_set():
            self._probe(timeout=WATCH_INTERVAL_S)
            self._closed.wait(WATCH_INTERVAL_S)

    # -- Publisher API ---------------------------------------------------------------------
    def start(self) -> None:
        """Create the producers and the watch now (in the worker), so health is known before traffic."""
        self._channel(CHECKS)
        self._channel(ORDERS)

    def publish_async(self, topic: str, key: str | None, event: Mapping[str, Any]) -> None:
        self._produce(CHECKS, topic, key, event, self._callback(topic))

    def publish_sync(self, topic: str, key: str | None, event: Mapping[str, Any]) -> None:
        """Return once Kafka acknowledged the event; raise ``PublishRefused`` or ``PublishInDoubt`` otherwise."""
        self._channel(ORDERS)
        if self._reachable is False and not self._probe(timeout=0.5):
            # Fail before producing: nothing queued means nothing can land later.
            self._on_delivery(topic, False)
            raise PublishRefused("Kafka brokers are unreachable")
        done = threading.Event()
        outcome: list[KafkaError | None] = []
        self._produce(ORDERS, topic, key, event, self._callback(topic, done, outcome))
        # librdkafka always calls back by message.timeout.ms; the margin covers scheduling.
        if not done.wait(self._timeouts_ms[ORDERS] / 1000.0 + 5.0):
            raise PublishInDoubt(f"no delivery report for the {topic} event")
        error = outcome[0]
        if error is not None:
            raise delivery_failure(topic, error)

    def kafka_reachable(self) -> bool:
        """The watch's last word on the brokers (asked now if it has none yet); False once closed."""
        try:
            self.start()
        except PublishRefused:
            return False
        if self._reachable is None:
            self._probe(timeout=1.0)
        return bool(self._reachable)

    def queue_depth(self) -> int:
        return sum(len(channel.producer) for channel in list(self._channels.values()))

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is queued, then stop the threads; called on graceful worker shutdown, once (again: nothing)."""
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
            channels = list(self._channels.values())
        left = sum(channel.close(timeout) for channel in channels)
        if self._watch is not None:
            self._watch.join(timeout=WATCH_INTERVAL_S + 1.0)
        if left:
            log.error("events still queued at shutdown", extra={"queued": left})
