"""What a failed delivery means for an order: refused (503) only when the event provably never reached a broker,
in doubt (504) otherwise, a message librdkafka purged from its queue included.

The real producer runs against a port that accepts connections and never answers, so its messages stay
queued; tests/integration/test_publisher_kafka.py shows a purged message landing on a real broker.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaError
from stockpulse.api import create_app
from stockpulse.events import STOCK_OPERATION, stock_operation_event
from stockpulse.events.publisher import (
    _NOT_PERSISTED,
    KafkaPublisher,
    PublishError,
    PublishInDoubt,
    PublishRefused,
    delivery_failure,
)
from stockpulse.prices import SimulatedPrices

from tests.support import MemoryIdempotencyStore, wait_for


@pytest.fixture
def silent_broker() -> Iterator[str]:
    """A bootstrap address whose connections the kernel accepts and nobody answers: nothing is ever delivered."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize(
    "code",
    [
        KafkaError._PURGE_QUEUE,
        KafkaError._PURGE_INFLIGHT,
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._FATAL,
        KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        KafkaError.REQUEST_TIMED_OUT,
    ],
)
def test_a_report_that_may_follow_a_send_is_in_doubt(code):
    assert isinstance(delivery_failure(STOCK_OPERATION, KafkaError(code)), PublishInDoubt)


@pytest.mark.parametrize("code", sorted(_NOT_PERSISTED))
def test_a_report_the_broker_did_not_write_is_refused(code):
    assert isinstance(delivery_failure(STOCK_OPERATION, KafkaError(code)), PublishRefused)


def test_no_purge_counts_as_not_persisted():
    assert {KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT}.isdisjoint(_NOT_PERSISTED)


def _publish_in_background(publisher: KafkaPublisher) -> tuple[threading.Thread, list[PublishError | None]]:
    outcome: list[PublishError | None] = []

    def publish() -> None:
        event = stock_operation_event("GOOG", "buy", 1, 10.0, {})
        try:
            publisher.publish_sync(STOCK_OPERATION, "GOOG", event)
            outcome.append(None)
        except PublishError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=publish)
    thread.start()
    return thread, outcome


def test_an_order_purged_from_the_queue_at_close_is_in_doubt_and_answered_at_once(silent_broker):
    publisher = KafkaPublisher(silent_broker, order_ack_timeout_ms=60_000)
    thread, outcome = _publish_in_background(publisher)
    try:
        assert wait_for(lambda: publisher.queue_depth() == 1, timeout=5), "the order is queued"
    finally:
        publisher.close(timeout=0.1)
    thread.join(timeout=5)  # not the order timeout: the purge's report is served by close
    assert not thread.is_alive()
    [error] = outcome
    assert isinstance(error, PublishInDoubt) and "_PURGE_QUEUE" in str(error)


def test_an_order_purged_at_close_is_answered_504_and_its_key_stays_in_doubt(settings, silent_broker):
    """What the client sees: 504 ``order_in_doubt``; a retry with the same key is 504 again, never a fresh 503."""
    publisher = KafkaPublisher(silent_broker, order_ack_timeout_ms=60_000)
    prices = SimulatedPrices(clock=lambda: 1_790_000_000.0)
    app = create_app(settings, publisher=publisher, prices=prices, idempotency=MemoryIdempotencyStore())
    headers = {"X-User-Id": "u-1", "Idempotency-Key": "purged-at-close-1"}
    body = {"side": "buy", "quantity": 2}
    answers = []

    def order():
        answers.append(app.test_client().post("/stocks/GOOG/orders", json=body, headers=headers))

    thread = threading.Thread(target=order)
    thread.start()
    try:
        assert wait_for(lambda: publisher.queue_depth() == 1, timeout=5), "the order is queued"
    finally:
        publisher.close(timeout=0.1)  # what a worker's graceful shutdown does, with a shorter flush
    thread.join(timeout=5)
    [answer] = answers
    assert answer.status_code == 504, answer.get_json()
    error = answer.get_json()["error"]
    assert error["code"] == "order_in_doubt" and error["order_id"]
    retry = app.test_client().post("/stocks/GOOG/orders", json=body, headers=headers)
    assert retry.status_code == 504 and retry.get_json()["error"]["order_id"] == error["order_id"]


def test_a_closed_publisher_refuses_without_touching_its_closed_producers(silent_broker):
    """A request still being served while the worker shuts down gets a refusal (nothing was sent), not a 500."""
    publisher = KafkaPublisher(silent_broker)
    publisher.start()
    publisher.close(timeout=0.1)
    event = stock_operation_event("GOOG", "buy", 1, 10.0, {})
    with pytest.raises(PublishRefused):
        publisher.publish_sync(STOCK_OPERATION, "GOOG", event)
    with pytest.raises(PublishRefused):
        publisher.publish_async(STOCK_OPERATION, "GOOG", event)
    assert publisher.kafka_reachable() is False
