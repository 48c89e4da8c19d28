"""Kafka -> Spark -> Iceberg on real parts: every event exactly once, through crashes, for every reader."""

from __future__ import annotations

import random
import uuid
from collections import Counter

import pytest
from stockpulse.events import stock_call_event, stock_operation_event
from stockpulse.settings import DEFAULT_TICKERS

from tests.support.lake import (
    encode,
    in_flight,
    ingest_available_now,
    kill_when,
    produce,
    sql_json,
    valid_events,
)
from tests.support.stacks import lake_parts

pytestmark = [pytest.mark.integration, pytest.mark.spark]

TICKERS = list(DEFAULT_TICKERS)


def bad_records(tag: str) -> list[tuple[str, str | None, bytes]]:
    call = stock_call_event("GOOG", {"price": 1.0}, {})
    order = stock_operation_event("AMZN", "buy", 1, 2.0, {})

    def variant(event, **changes):
        out = {**event, "event_id": str(uuid.uuid4())}
        for key, value in changes.items():
            if value is ...:
                out.pop(key)
            else:
                out[key] = value
        return encode(out)

    return [
        ("stock_call", None, f"not json {tag}".encode()),
        ("stock_operation", "AMZN", b'{"side": "buy", '),
        ("stock_call", "GOOG", variant(call, price=...)),
        ("stock_operation", "AMZN", variant(order, order_id=..., side=...)),
        ("stock_call", "GOOG", variant(call, price="cheap")),
        ("stock_operation", "AMZN", variant(order, quantity="10")),
        ("stock_call", "ZZZZ", variant(call, stock_name="ZZZZ", event_type="check_stock_ZZZZ")),
        ("stock_operation", "AMZN", variant(order, quantity=0)),
        ("stock_operation", "AMZN", variant(order, quantity=-4)),
    ]


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    with lake_parts(
        tmp_path_factory.mktemp("lake-run"), lake={"trigger_seconds": 0.5, "max_offsets_per_trigger": 100}
    ) as stack:
        yield stack


def test_every_event_lands_exactly_once_through_driver_crashes(lake):
    settings = lake.settings
    rng = random.Random(7)
    # a unique most- and least-checked ticker, so the seed's LIMIT 1 queries have one right answer
    calls_per_ticker = {t: 4 + 3 * i for i, t in enumerate(TICKERS)}
    events = valid_events(rng, calls_per_ticker, orders=180)
    first, second, third = events[:200], events[200:420], events[420:]
    produced = {e["event_id"]: (topic, e) for topic, _, e in events}
    records = lambda batch: [(topic, key, encode(e)) for topic, key, e in batch]  # noqa: E731

    # phase 1: events, exact duplicates inside the phase, garbage
    dups1 = [(t, k, encode(e)) for t, k, e in rng.sample(first, 15)]
    bad1 = bad_records("one")
    produce(settings.kafka.bootstrap, records(first) + dups1 + bad1)
    job = lake.ingest
    job.start(ui=False)
    job.wait_caught_up()
    # crash between batches: nothing in flight
    kill_when(job, lambda p: p.get("batch_started") == p.get("batch_finished"))
    assert not job.running()

    # phase 2: more events, duplicates of phase-1 events (across batches and restarts), garbage; crash mid-batch
    dups2 = [(t, k, encode(e)) for t, k, e in rng.sample(first, 10) + rng.sample(second, 10)]
    bad2 = bad_records("two")
    produce(settings.kafka.bootstrap, records(second) + dups2 + bad2)
    job.start(ui=False)

    crashed_in = kill_when(job, in_flight)
    assert crashed_in["batch_started"] != crashed_in["batch_finished"]

    # phase 3: restart, more events, catch up
    produce(settings.kafka.bootstrap, records(third))
    job.start(ui=False)
    job.wait_caught_up()
    job.stop()

    bad = bad1 + bad2
    valid_calls = {i for i, (t, _) in produced.items() if t == "stock_call"}
    valid_orders = {i for i, (t, _) in produced.items() if t == "stock_operation"}

    call_ids = [r["event_id"] for r in sql_json(settings, "SELECT event_id FROM stock_call")]
    order_ids = [r["event_id"] for r in sql_json(settings, "SELECT event_id FROM stock_operation")]
    assert len(call_ids) == len(valid_calls) and set(call_ids) == valid_calls
    assert len(order_ids) == len(valid_orders) and set(order_ids) == valid_orders

    quarantined = sql_json(settings, "SELECT topic, kafka_partition, kafka_offset, raw_value, reason FROM quarantine")
    assert len(quarantined) == len(bad)
    assert len({(q["topic"], q["kafka_partition"], q["kafka_offset"]) for q in quarantined}) == len(bad)
    assert sorted(q["raw_value"] for q in quarantined) == sorted(v.decode() for _, _, v in bad)
    assert all(q["reason"] for q in quarantined)
    reasons = " | ".join(q["reason"] for q in quarantined)
    for expected in (
        "not a JSON object",
        "missing fields: price",
        "fields of the wrong type",
        "unknown ticker: ZZZZ",
        "quantity must be positive",
    ):
        assert expected in reasons

    # a full replay from the earliest offsets with a fresh checkpoint, in catch-up (availableNow) mode,
    # adds nothing: the merges are idempotent across checkpoints, not only across batch retries
    replay = settings.with_overrides(
        lake={"checkpoint_dir": (settings.run_dir / "replay-checkpoints").as_uri(), "max_offsets_per_trigger": 10_000}
    )
    caught_up = ingest_available_now(replay)
    assert caught_up.returncode == 0, caught_up.stdout[-3000:]
    assert len(sql_json(settings, "SELECT event_id FROM stock_call")) == len(valid_calls)
    assert len(sql_json(settings, "SELECT event_id FROM stock_operation")) == len(valid_orders)

    # a reader that is not Spark: pyiceberg through the same Hive metastore, straight from the committed snapshot
    from pyiceberg.catalog.hive import HiveCatalog

    catalog = HiveCatalog("lake", uri=settings.metastore_thrift_uri)
    arrow_calls = catalog.load_table("default.stock_call").scan().to_arrow()
    arrow_orders = catalog.load_table("default.stock_operation").scan().to_arrow()
    assert sorted(arrow_calls.column("event_id").to_pylist()) == sorted(call_ids)
    assert sorted(arrow_orders.column("event_id").to_pylist()) == sorted(order_ids)
    amounts = dict(
        zip(
            arrow_orders.column("event_id").to_pylist(),
            arrow_orders.column("transaction_amount").to_pylist(),
            strict=True,
        )
    )
    assert all(amounts[i] == produced[i][1]["transaction_amount"] for i in valid_orders)

    # the seed's section-7 SQL, unchanged, through `stockpulse sql`, against counts of what was produced
    calls = Counter(produced[i][1]["stock_name"] for i in valid_calls)
    assert len(sql_json(settings, "SELECT * FROM stock_call")) == sum(calls.values())
    per_ticker = sql_json(settings, "SELECT COUNT(stock_name) FROM stock_call GROUP BY stock_name")
    assert sorted(r["count(stock_name)"] for r in per_ticker) == sorted(calls.values())
    most = sql_json(
        settings,
        "SELECT stock_name, COUNT(stock_name) as query_count FROM stock_call "
        "GROUP BY stock_name ORDER BY query_count desc LIMIT 1",
    )
    least = sql_json(
        settings,
        "SELECT stock_name, COUNT(stock_name) as query_count FROM stock_call "
        "GROUP BY stock_name ORDER BY query_count asc LIMIT 1",
    )
    assert most == [{"stock_name": calls.most_common()[0][0], "query_count": calls.most_common()[0][1]}]
    assert least == [{"stock_name": calls.most_common()[-1][0], "query_count": calls.most_common()[-1][1]}]
    assert len(sql_json(settings, "SELECT * FROM stock_operation")) == len(valid_orders)
    top = sql_json(settings, "SELECT MAX(transaction_amount) AS max_transaction FROM stock_operation")
    assert top == [{"max_transaction": max(produced[i][1]["transaction_amount"] for i in valid_orders)}]
