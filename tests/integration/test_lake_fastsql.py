"""The fast path (pyiceberg + DuckDB) answers the seed's six queries exactly as Spark SQL does, on real parts."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
from collections import Counter

import pytest
from stockpulse.lake.seed import SEED_QUERIES
from stockpulse_toolbox.bench.sqlpath import fast_answers, same_answer, spark_answers

from tests.support.lake import (
    STOCKPULSE,
    TICKERS,
    encode,
    ingest_available_now,
    produce,
    valid_events,
)
from tests.support.stacks import lake_parts

pytestmark = [pytest.mark.integration, pytest.mark.spark]


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    with lake_parts(tmp_path_factory.mktemp("fastsql-run")) as stack:
        yield stack.settings, _fill(stack.settings)


def _fill(settings) -> list:
    # a unique most- and least-checked ticker, so the LIMIT 1 questions have one right answer
    events = valid_events(random.Random(5), {t: 3 + 2 * i for i, t in enumerate(TICKERS)}, orders=60)
    produce(settings.kafka.bootstrap, [(t, k, encode(e)) for t, k, e in events])
    done = ingest_available_now(settings)
    assert done.returncode == 0, done.stderr[-3000:]
    return events


def test_the_seed_queries_answer_the_same_on_both_engines(lake):
    settings, events = lake
    spark = spark_answers(settings, list(SEED_QUERIES))
    fast = fast_answers(settings, list(SEED_QUERIES))
    for query, on_spark, on_duckdb in zip(SEED_QUERIES, spark, fast, strict=True):
        assert on_duckdb["columns"] == on_spark["columns"], query
        assert len(on_duckdb["rows"]) == len(on_spark["rows"]), query
        assert same_answer(query, on_spark, on_duckdb), query

    # and both are right: against what was produced, not against each other only
    calls = Counter(e["stock_name"] for t, _, e in events if t == "stock_call")
    orders = {e["event_id"]: e for t, _, e in events if t == "stock_operation"}
    call_ids = sorted(e["event_id"] for t, _, e in events if t == "stock_call")
    assert sorted(r["event_id"] for r in fast[0]["rows"]) == call_ids
    assert sorted(r["count(stock_name)"] for r in fast[1]["rows"]) == sorted(calls.values())
    assert fast[2]["rows"] == [{"stock_name": calls.most_common()[0][0], "query_count": calls.most_common()[0][1]}]
    assert fast[3]["rows"] == [{"stock_name": calls.most_common()[-1][0], "query_count": calls.most_common()[-1][1]}]
    assert sorted(r["event_id"] for r in fast[4]["rows"]) == sorted(orders)
    assert fast[5]["rows"] == [{"max_transaction": max(e["transaction_amount"] for e in orders.values())}]


def run_cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.to_env(), "SPARK_LOCAL_IP": "127.0.0.1"}
    return subprocess.run([STOCKPULSE, "sql", "--json", *args], env=env, capture_output=True, text=True, timeout=300)


def engines(result: subprocess.CompletedProcess) -> list[str]:
    return [json.loads(line)["engine"] for line in result.stderr.splitlines() if '"query answered"' in line]


def test_supported_queries_take_the_fast_path_and_the_rest_spark(lake):
    settings, events = lake
    orders = [e for t, _, e in events if t == "stock_operation"]
    shares = sum(e["quantity"] for e in orders if e["side"] == "buy")
    rounded = "SELECT ROUND(MAX(price), 0) AS p FROM stock_operation"  # ROUND differs between the engines
    result = run_cli(
        settings,
        "SELECT SUM(quantity) AS shares FROM stock_operation WHERE side = 'buy'",
        rounded,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert engines(result) == ["duckdb", "spark"]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    half_up = math.floor(max(e["price"] for e in orders) + 0.5)  # Spark's ROUND; Python's round() is half-even
    assert rows == [{"shares": shares}, {"p": float(half_up)}]


def test_the_engine_can_be_forced(lake):
    settings, events = lake
    # ROUND is not on the auto path's list (the engines round differently), but DuckDB can run it
    forced = run_cli(settings, "--engine", "duckdb", "SELECT ROUND(MAX(quantity), 0) AS q FROM stock_operation")
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert engines(forced) == ["duckdb"]
    assert json.loads(forced.stdout) == {"q": max(e["quantity"] for t, _, e in events if t == "stock_operation")}
    elsewhere = run_cli(settings, "--engine", "duckdb", "SELECT * FROM some_other_table")
    assert elsewhere.returncode == 1
    assert "lake table" in elsewhere.stderr
