"""One ``Idempotency-Key`` across two API replicas (two gunicorn servers) sharing one Kafka and
one Postgres, as the pods of one Service do: the same answer byte for byte, 409 and 422 across
replicas, answers that survive a restart, and one event per intent in Kafka."""

from __future__ import annotations

import json
import signal
import threading
import uuid
from collections.abc import Iterator

import pytest
from stockpulse.events import STOCK_OPERATION
from stockpulse_toolbox.devstack.local_stack import LocalStack
from stockpulse_toolbox.devstack.process import free_port

from tests.support import read_topic, wait_for
from tests.support.http import Reply, call
from tests.support.stacks import api_settings


@pytest.fixture(scope="module")
def replicas(kafka, tmp_path_factory) -> Iterator[tuple[LocalStack, LocalStack]]:
    settings = api_settings(tmp_path_factory.mktemp("replica-a"), kafka.bootstrap, api={"order_ack_timeout_ms": 4000})
    second = settings.with_overrides(
        run_dir=tmp_path_factory.mktemp("replica-b"), api={"bind": f"127.0.0.1:{free_port()}"}
    )
    with LocalStack(settings, "api") as a:  # and the Postgres the API needs
        b = LocalStack(second)
        b.starter("api")()  # the same Kafka and Postgres as a
        try:
            yield a, b
        finally:
            b.stop("api")


def order(stack: LocalStack, key: str, quantity: int = 3, user: str = "u-replicas") -> Reply:
    headers = {"Content-Type": "application/json", "Idempotency-Key": key, "X-User-Id": user}
    body = json.dumps({"side": "buy", "quantity": quantity}).encode()
    return call(stack.settings.api.url, "POST", "/stocks/AMD/orders", body, headers)


def record_state(stack: LocalStack, key: str) -> str | None:
    import psycopg

    with psycopg.connect(stack.settings.idempotency_dsn) as conn:
        row = conn.execute("SELECT state FROM keyed_order WHERE key = %s", (key,)).fetchone()
    return row[0] if row else None


def events_of(kafka, event_ids: set[str]) -> list[str]:
    """Event ids of ``stock_operation`` records among ``event_ids`` (with repeats, as Kafka holds them)."""
    records = read_topic(kafka.bootstrap, STOCK_OPERATION, timeout=6)
    return [r["value"]["event_id"] for r in records if r["value"]["event_id"] in event_ids]


def test_a_retry_on_the_other_replica_gets_the_same_bytes_and_places_nothing(replicas, kafka):
    a, b = replicas
    key = str(uuid.uuid4())
    first, again = order(a, key), order(b, key)
    assert first.status == again.status == 201
    assert again.raw == first.raw and again.headers["X-Event-Id"] == first.headers["X-Event-Id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert events_of(kafka, {first.headers["X-Event-Id"]}) == [first.headers["X-Event-Id"]]


def test_a_key_reused_for_another_order_is_422_on_the_other_replica(replicas):
    a, b = replicas
    key = str(uuid.uuid4())
    assert order(a, key, quantity=3).status == 201
    reused = order(b, key, quantity=4)
    assert reused.status == 422 and reused.body["error"]["code"] == "idempotency_key_reused"


def test_an_attempt_in_flight_on_one_replica_is_409_on_the_other(replicas, kafka):
    a, b = replicas
    key = str(uuid.uuid4())
    answers: list[Reply] = []
    kafka.process.signal(signal.SIGSTOP)  # the broker holds the first attempt's event
    try:
        first = threading.Thread(target=lambda: answers.append(order(a, key)))
        first.start()
        assert wait_for(lambda: record_state(a, key) == "pending"), "replica a never claimed the key"
        busy = order(b, key)
        assert busy.status == 409, busy
        assert busy.body["error"]["code"] == "request_in_progress" and int(busy.headers["Retry-After"]) >= 1
    finally:
        kafka.process.signal(signal.SIGCONT)
    first.join(timeout=30)
    (held,) = answers
    assert held.status in (201, 504), held
    # whatever the held attempt was told, a retry on the other replica learns the outcome
    retry = order(b, key)
    for _ in range(20):
        if retry.status != 409:
            break
        threading.Event().wait(1)
        retry = order(b, key)
    assert retry.status == 201
    if held.status == 201:
        assert retry.raw == held.raw
    assert set(events_of(kafka, {retry.headers["X-Event-Id"]})) == {retry.headers["X-Event-Id"]}


def test_answers_outlive_a_restart_of_both_replicas(replicas):
    a, b = replicas
    key = str(uuid.uuid4())
    first = order(a, key)
    assert first.status == 201
    for stack in (a, b):  # a rollout: every pod replaced
        stack.api.stop()
        stack.starter("api")()
    after = order(b, key)
    assert after.status == 201 and after.raw == first.raw
