"""The Postgres record of keyed orders, as the replicas of the API share it: the real database
(Debian's PostgreSQL 15, started by the toolbox's LocalStack on a free port)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from stockpulse.api.idempotency_store import PostgresIdempotencyStore, StoreUnavailable
from stockpulse_toolbox.devstack.local_stack import LocalStack
from stockpulse_toolbox.devstack.process import free_port

from tests.support.stacks import stack_settings

EVENT = {"event_id": "e-1", "order_id": "o-1", "price": 10.0}


@pytest.fixture(scope="module")
def postgres(tmp_path_factory) -> Iterator[LocalStack]:
    with LocalStack(stack_settings(tmp_path_factory.mktemp("postgres-run")), "postgres") as stack:
        yield stack


@pytest.fixture
def replicas(postgres) -> Iterator[list[PostgresIdempotencyStore]]:
    stores = [PostgresIdempotencyStore(postgres.settings.idempotency_dsn, ttl_s=60) for _ in range(2)]
    yield stores
    for store in stores:
        store.close()


def key() -> str:
    return f"k-{time.monotonic_ns()}"


def test_two_replicas_racing_for_one_key_claim_it_once(replicas):
    threads_per_key = 8
    outcomes: dict[str, list[str]] = {}
    lock = threading.Lock()
    start = threading.Barrier(threads_per_key)

    def attempt(store: PostgresIdempotencyStore, name: str) -> None:
        start.wait()
        try:
            outcome = store.begin("u", name, "fp", lease_s=30).outcome
        except Exception as exc:  # a lost race must not surface as an error either
            outcome = type(exc).__name__
        with lock:
            outcomes.setdefault(name, []).append(outcome)

    for name in [key() for _ in range(10)]:
        threads = [threading.Thread(target=attempt, args=(replicas[n % 2], name)) for n in range(threads_per_key)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(outcomes) == 10
    assert all(sorted(found) == ["busy"] * (threads_per_key - 1) + ["new"] for found in outcomes.values()), outcomes


def test_a_new_workers_threads_all_wait_for_the_table_on_a_fresh_database(postgres):
    """A worker's first orders arrive together, on a database that has no table yet: every thread
    waits until its pool has created it (one once used the pool before that: a 500)."""
    import psycopg

    name = f"fresh_{time.monotonic_ns()}"
    base = postgres.settings.idempotency_dsn
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    store = PostgresIdempotencyStore(base.rsplit("/", 1)[0] + f"/{name}", ttl_s=60, pool_size=16)
    threads = 16
    start = threading.Barrier(threads)
    outcomes: list[str] = []

    def first_order(n: int) -> None:
        start.wait()
        time.sleep(n * 0.005)  # arrivals spread over the first connection and the table's creation
        try:
            outcome = store.begin("u", f"first-{n}", "fp", lease_s=30).outcome
        except Exception as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        outcomes.append(outcome)

    try:
        running = [threading.Thread(target=first_order, args=(n,)) for n in range(threads)]
        for thread in running:
            thread.start()
        for thread in running:
            thread.join()
    finally:
        store.close()
    assert outcomes == ["new"] * threads


def test_a_record_moves_from_pending_to_done_and_every_replica_replays_its_answer(replicas):
    a, b = replicas
    name = key()
    claim = a.begin("u", name, "fp", lease_s=30)
    assert claim.outcome == "new" and claim.generation > 0
    assert b.begin("u", name, "fp", lease_s=30).outcome == "busy"
    assert b.begin("u", name, "other", lease_s=30).outcome == "conflict"
    assert a.attach("u", name, EVENT) == EVENT
    answer = {"order_id": "o-1", "price": 10.0, "z": 1, "a": 2}  # key order is part of the bytes
    a.finish("u", name, answer)
    replay = b.begin("u", name, "fp", lease_s=30)
    assert replay.outcome == "replay" and replay.generation == claim.generation
    assert json.dumps(replay.answer) == json.dumps(answer) and replay.event == EVENT


def test_in_doubt_is_retried_with_the_first_event_and_the_first_attached_event_wins(replicas):
    a, b = replicas
    name = key()
    a.begin("u", name, "fp", lease_s=0.2)
    assert a.attach("u", name, EVENT) == EVENT
    assert b.attach("u", name, {**EVENT, "price": 11.0}) == EVENT
    a.doubt("u", name)
    retry = b.begin("u", name, "fp", lease_s=30)
    assert retry.outcome == "retry" and retry.event == EVENT


def test_forget_releases_a_pending_record_for_a_fresh_attempt_under_the_same_ids(replicas):
    a, b = replicas
    pending, done = key(), key()
    claim = a.begin("u", pending, "fp", lease_s=30)
    a.attach("u", pending, EVENT)
    a.forget("u", pending)
    retry = b.begin("u", pending, "fp", lease_s=30)
    assert (retry.outcome, retry.event, retry.generation) == ("retry", None, claim.generation)
    a.begin("u", done, "fp", lease_s=30)
    a.attach("u", done, EVENT)
    a.finish("u", done, {"ok": True})
    b.forget("u", done)
    assert b.begin("u", done, "fp", lease_s=30).outcome == "replay"


def test_a_record_past_its_ttl_gives_the_key_a_new_generation_and_is_pruned(postgres):
    store = PostgresIdempotencyStore(postgres.settings.idempotency_dsn, ttl_s=1)
    try:
        name, held = key(), key()
        first = store.begin("u", name, "fp", lease_s=30)
        store.attach("u", name, EVENT)
        store.finish("u", name, {"ok": True})
        store.begin("u", held, "fp", lease_s=30)  # pending: an attempt holds it, never pruned
        time.sleep(1.2)
        again = store.begin("u", name, "other order", lease_s=30)
        assert again.outcome == "new" and again.generation > first.generation
        store.finish("u", name, {"ok": True})
        time.sleep(1.2)
        assert store.prune() >= 1
        assert store.begin("u", held, "fp", lease_s=30).outcome == "busy"
    finally:
        store.close()


def test_an_unreachable_database_is_store_unavailable_within_the_timeout():
    store = PostgresIdempotencyStore(f"postgresql://stockpulse@127.0.0.1:{free_port()}/stockpulse", 60, timeout_s=1)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        store.begin("u", key(), "fp", lease_s=30)
    assert time.monotonic() - started < 5
    store.close()


def test_a_replica_recovers_when_the_database_comes_back(postgres):
    store = PostgresIdempotencyStore(postgres.settings.idempotency_dsn, ttl_s=60, timeout_s=1)
    try:
        assert store.begin("u", key(), "fp", lease_s=30).outcome == "new"
        postgres.stop("postgres")
        with pytest.raises(StoreUnavailable):
            store.begin("u", key(), "fp", lease_s=30)
        postgres.start("postgres")
        name = key()
        deadline = time.monotonic() + 20
        while True:
            try:
                assert store.begin("u", name, "fp", lease_s=30).outcome == "new"
                break
            except StoreUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        store.close()


def test_a_record_costs_about_a_kilobyte_and_the_table_holds_only_live_ones(postgres):
    """A year at 3 keyed orders/s with a 24 h TTL keeps ~260k records: this measures what each costs."""
    import psycopg

    store = PostgresIdempotencyStore(postgres.settings.idempotency_dsn, ttl_s=3600)
    event = {
        "event_id": "9b2c1e0a-7d7e-5f43-a0a2-0c1c9ad2f1b4",
        "order_id": "2f6c8d2e-1b0a-5c3e-9d7f-4e5a6b7c8d9e",
        "stock_name": "GOOG",
        "side": "buy",
        "quantity": 5,
        "price": 171.25,
        "transaction_amount": 856.25,
        "transaction_timestamp": "2026-12-03T13:20:00.123456+00:00",
        "user_id": "customer-000123",
        "session_id": "s-4f1c",
        "schema_version": 1,
    }
    answer = {k: event[k] for k in ("order_id", "stock_name", "side", "quantity", "price", "transaction_timestamp")}
    try:
        with psycopg.connect(postgres.settings.idempotency_dsn, autocommit=True) as conn:
            store.begin("size", "warm-up", "fp", lease_s=1)  # creates the table
            conn.execute("DELETE FROM keyed_order WHERE scope = 'size'")
            conn.execute("VACUUM FULL keyed_order")
            before = conn.execute("SELECT pg_total_relation_size('keyed_order')").fetchone()[0]
            count = 2000
            for n in range(count):
                name = f"size-{n:05d}-{'x' * 24}"
                store.begin("size", name, "f" * 64, lease_s=30)
                store.attach("size", name, event)
                store.finish("size", name, answer)
            conn.execute("VACUUM keyed_order")
            after = conn.execute("SELECT pg_total_relation_size('keyed_order')").fetchone()[0]
        per_record = (after - before) / count
        print(f"idempotency record: {per_record:.0f} bytes on disk (table and indexes), {count} records")
        assert 300 < per_record < 2048
    finally:
        store.close()
