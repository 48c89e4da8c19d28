"""Deterministic routing on real Kafka and Spark: a record's table depends on the record and its batch's rules only.

One scenario is run once for the module: a batch is ingested under the default tickers,
its commit is lost (the crash between the sink's write and Spark's commit-log write),
and the ingest restarts with a configuration that accepts one more ticker. The tests
then read the tables through pyiceberg and compare event ids.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from stockpulse.events import stock_operation_event
from stockpulse.settings import DEFAULT_TICKERS

from tests.support.lake import (
    encode,
    ingest_available_now,
    lake_table,
    produce,
    quarantined_ids,
)
from tests.support.stacks import lake_parts

pytestmark = [pytest.mark.integration, pytest.mark.spark]

HOUR_MS = 3600_000.0


def orders(ticker: str, n: int, **changes) -> list[dict]:
    events = []
    for i in range(n):
        event = stock_operation_event(ticker, "buy" if i % 2 else "sell", 1 + i, 10.0 + i, {"user_id": "routing"})
        events.append({**event, **changes})
    return events


def records(events: list[dict]) -> list[tuple[str, str, bytes]]:
    return [("stock_operation", e["stock_name"], encode(e)) for e in events]


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    with lake_parts(tmp_path_factory.mktemp("routing-run"), lake={"trigger_seconds": 0.5}) as stack:
        yield stack


@pytest.fixture(scope="module")
def scenario(lake):
    settings = lake.settings
    checkpoint = settings.run_dir / "checkpoints" / "ingest"
    now_ms = time.time() * 1000.0
    first = {
        "newt": orders("NEWT", 4),  # a ticker the first configuration does not accept
        "goog": orders("GOOG", 4),
        # the same event_id twice in one batch, a day apart: one row, the first logged
        "twice": orders("AMZN", 1),
    }
    twin = {**first["twice"][0], "event_timestamp": first["twice"][0]["event_timestamp"] - 24 * HOUR_MS}
    produce(settings.kafka.bootstrap, records(first["newt"] + first["goog"] + first["twice"] + [twin]))
    # logged by Kafka 25 h and 23 h before their own timestamps: the first is "in the future"
    ahead = orders("MSFT", 1, event_timestamp=now_ms, transaction_timestamp=now_ms)
    near = orders("MSFT", 1, event_timestamp=now_ms, transaction_timestamp=now_ms)
    produce(settings.kafka.bootstrap, records(ahead), logged_ms=now_ms - 25 * HOUR_MS)
    produce(settings.kafka.bootstrap, records(near), logged_ms=now_ms - 23 * HOUR_MS)

    done = ingest_available_now(settings)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    commits = sorted(int(p.name) for p in (checkpoint / "commits").iterdir() if p.name.isdigit())
    # the crash: the sink wrote the last batch, Spark never recorded its commit
    (checkpoint / "commits" / str(commits[-1])).unlink()
    (checkpoint / "commits" / f".{commits[-1]}.crc").unlink(missing_ok=True)

    accepting = settings.with_overrides(tickers=(*DEFAULT_TICKERS, "NEWT"))
    job = lake.ingest_job(accepting)
    job.start(ui=False)
    try:
        job.wait_caught_up()
        later = orders("NEWT", 3)
        # the first event again, re-sent later with a timestamp two days earlier: still one row
        resent = {**first["twice"][0], "event_timestamp": first["twice"][0]["event_timestamp"] - 48 * HOUR_MS}
        produce(settings.kafka.bootstrap, records([*later, resent]))
        job.wait_caught_up()
        rules_version = job.progress()["rules_version"]
    finally:
        job.stop()
    table = lake_table(settings, "stock_operation", ("event_id", "event_timestamp"))
    return {
        "first": first,
        "twin": twin,
        "ahead": ahead,
        "near": near,
        "later": later,
        "rules_version": rules_version,
        "rows": Counter(table.column("event_id").to_pylist()),
        "timestamps": dict(zip(*(table.column(c).to_pylist() for c in ("event_id", "event_timestamp")), strict=True)),
        "quarantined": Counter(quarantined_ids(settings)),
    }


def ids(events: list[dict]) -> set[str]:
    return {e["event_id"] for e in events}


def test_a_replayed_batch_routes_by_the_rules_it_was_planned_with(scenario):
    newt = ids(scenario["first"]["newt"])
    assert {i: scenario["quarantined"][i] for i in newt} == dict.fromkeys(newt, 1)
    assert not newt & set(scenario["rows"])
    goog = ids(scenario["first"]["goog"])
    assert {i: scenario["rows"][i] for i in goog} == dict.fromkeys(goog, 1)


def test_batches_planned_after_a_configuration_change_use_the_new_rules(scenario):
    later = ids(scenario["later"])
    assert scenario["rules_version"] == 2
    assert {i: scenario["rows"][i] for i in later} == dict.fromkeys(later, 1)
    assert not later & set(scenario["quarantined"])


def test_one_event_id_is_one_row_whatever_its_timestamps(scenario):
    (event,) = scenario["first"]["twice"]
    assert scenario["rows"][event["event_id"]] == 1
    assert scenario["timestamps"][event["event_id"]] == event["event_timestamp"]
    assert event["event_id"] not in scenario["quarantined"]


def test_the_future_is_measured_from_the_kafka_timestamp(scenario):
    (ahead,) = scenario["ahead"]
    (near,) = scenario["near"]
    assert scenario["quarantined"][ahead["event_id"]] == 1 and ahead["event_id"] not in scenario["rows"]
    assert scenario["rows"][near["event_id"]] == 1 and near["event_id"] not in scenario["quarantined"]
