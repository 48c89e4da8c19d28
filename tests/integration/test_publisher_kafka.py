"""The order producer against a real broker: in doubt when a stalled broker does not confirm or the message
is purged after a send, refused when the broker is known down, and a producer that failed fatally replaced
instead of refusing forever."""

from __future__ import annotations

import signal
import threading
import time
import uuid

import pytest
from confluent_kafka import KafkaError
from stockpulse.events import STOCK_OPERATION, stock_operation_event
from stockpulse.events.publisher import ORDERS, KafkaPublisher, PublishError, PublishInDoubt, PublishRefused

from tests.support import read_topic, wait_for
from tests.support.stacks import start_broker

pytestmark = pytest.mark.integration


def order(session: str, quantity: int) -> dict:
    return stock_operation_event("GOOG", "buy", quantity, 10.0, {"session_id": session})


def landed(bootstrap: str, session: str, expect: int) -> list[dict]:
    messages = read_topic(bootstrap, STOCK_OPERATION, expect=expect, timeout=30)
    return [m["value"] for m in messages if m["value"]["session_id"] == session]


@pytest.fixture
def own_broker(tmp_path):
    """A broker of the test's own (it is stopped and stalled), a publisher on it, one order already placed."""
    broker = start_broker(tmp_path / "kafka")
    publisher = KafkaPublisher(broker.bootstrap, order_ack_timeout_ms=1500)
    session = f"own-{uuid.uuid4().hex[:8]}"
    try:
        publisher.publish_sync(STOCK_OPERATION, "GOOG", order(session, 1))
        yield broker, publisher, session
    finally:
        publisher.close()
        broker.stop()


def test_stalled_broker_leaves_the_order_in_doubt_and_it_lands_after_all(own_broker):
    broker, publisher, session = own_broker
    broker.process.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(PublishInDoubt):
            publisher.publish_sync(STOCK_OPERATION, "GOOG", order(session, 2))
        assert time.monotonic() - started < 1.5 + 5.0
    finally:
        broker.process.signal(signal.SIGCONT)
    # what the old "503, order not placed" answer got wrong: the unconfirmed order lands once the broker resumes
    events = landed(broker.bootstrap, session, expect=2)
    assert sorted(e["quantity"] for e in events) == [1, 2]
    assert wait_for(lambda: _placed(publisher, session, 3), timeout=30), "the producer recovers"


def _placed(publisher: KafkaPublisher, session: str, quantity: int) -> bool:
    try:
        publisher.publish_sync(STOCK_OPERATION, "GOOG", order(session, quantity))
        return True
    except (PublishInDoubt, PublishRefused):
        return False


def test_order_purged_from_the_queue_after_a_send_is_in_doubt_and_lands_after_all(own_broker):
    """A request that times out sends its message back to librdkafka's queue for a retry; a shutdown purges it
    from there (``_PURGE_QUEUE``), yet the stalled broker already holds the request and writes it on resuming."""
    broker, _, session = own_broker
    # the request times out long before the order does, so the message is back in the queue when purged
    publisher = KafkaPublisher(broker.bootstrap, order_ack_timeout_ms=20_000, extra_config={"socket.timeout.ms": 1000})
    outcome: list[PublishError | None] = []
    sender = threading.Thread(target=lambda: outcome.append(_publish(publisher, order(session, 3))))
    try:
        publisher.publish_sync(STOCK_OPERATION, "GOOG", order(session, 2))
        broker.process.signal(signal.SIGSTOP)
        sender.start()
        time.sleep(4.0)  # sent at once, timed out after 1 s, queued again: reconnecting cannot finish while stalled
    finally:
        try:
            publisher.close(timeout=0.5)  # a worker's graceful shutdown, with a shorter flush: it purges the order
        finally:
            broker.process.signal(signal.SIGCONT)
    sender.join(timeout=5)  # answered by the purge, not at the order timeout
    [error] = outcome
    assert isinstance(error, PublishInDoubt) and "_PURGE_QUEUE" in str(error), error
    events = landed(broker.bootstrap, session, expect=3)
    assert sorted(e["quantity"] for e in events) == [1, 2, 3], "the purged order landed: answering 503 was wrong"


def _publish(publisher: KafkaPublisher, event: dict) -> PublishError | None:
    try:
        publisher.publish_sync(STOCK_OPERATION, "GOOG", event)
    except PublishError as exc:
        return exc
    return None


def test_order_is_refused_without_sending_while_the_broker_is_down(own_broker):
    broker, publisher, session = own_broker
    broker.stop()
    assert wait_for(lambda: not publisher.kafka_reachable(), timeout=20)
    with pytest.raises(PublishRefused):
        publisher.publish_sync(STOCK_OPERATION, "GOOG", order(session, 2))
    broker.start()
    broker.wait_ready()
    assert wait_for(publisher.kafka_reachable, timeout=30)
    publisher.publish_sync(STOCK_OPERATION, "GOOG", order(session, 3))
    time.sleep(2)  # a refused event would have had time to land
    assert sorted(e["quantity"] for e in landed(broker.bootstrap, session, expect=2)) == [1, 3]


def test_fatal_producer_error_replaces_the_producer_and_orders_keep_landing(kafka):
    replaced: list[str] = []
    publisher = KafkaPublisher(kafka.bootstrap, on_replaced=replaced.append)
    session = f"fatal-{uuid.uuid4().hex[:8]}"
    try:
        publisher.publish_sync(STOCK_OPERATION, "GOOG", order(session, 1))
        broken = publisher._channels[ORDERS]
        # what librdkafka reports when it gives up on a producer (e.g. its idempotence state is lost)
        publisher._on_error(broken, KafkaError(KafkaError._FATAL, "injected fatal error", fatal=True))
        publisher.publish_sync(STOCK_OPERATION, "GOOG", order(session, 2))
        assert replaced == [ORDERS]
        assert publisher._channels[ORDERS] is not broken
        assert sorted(e["quantity"] for e in landed(kafka.bootstrap, session, expect=2)) == [1, 2]
    finally:
        publisher.close()
