"""The analysts' figures: the seed's six queries on the fast path (pyiceberg + DuckDB) and on Spark.

Measured on a demo-sized lake (``DEMO_EVENTS``) in its own metastore and warehouse, so the ingest
figures stay untouched; every ticker gets its own check count, so the seed's ``LIMIT 1`` questions
have one right answer on both engines. ``measure_queries`` gives ``fast_path`` (cold and warm, in
process), ``fast_path_command`` (one ``stockpulse sql`` process per query), ``spark_command_all_six_s``
(one Spark process for all six; None in a quick run) and ``identical`` (same answers on both).
Method and figures: docs/performance.md, "Analyst queries: the fast path".
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from stockpulse.events import stock_call_event, stock_operation_event
from stockpulse.events.topics import STOCK_CALL, STOCK_OPERATION
from stockpulse.lake import fastsql
from stockpulse.lake.seed import ORDERED, SEED_QUERIES
from stockpulse.lake.sql import jsonable
from stockpulse.settings import Settings, load_settings

from ..devstack.local_stack import LocalStack
from ..devstack.process import free_port
from ..devstack.produce import produce_records

DEMO_EVENTS = 1_000
REPEATS = 5
STOCKPULSE = str(Path(sys.executable).parent / "stockpulse")

SPARK_ANSWERS = """
import json, sys
from stockpulse.lake.session import build_session
from stockpulse.lake.sql import jsonable, spark_rows
from stockpulse.settings import load_settings

spark = build_session(load_settings(), "stockpulse-spark-answers")
out = []
for query in json.loads(sys.stdin.read()):
    columns, rows = spark_rows(spark, query)
    out.append({"columns": columns, "rows": [jsonable(r) for r in rows]})
spark.stop()
print("ANSWERS " + json.dumps(out))
"""


def _env(settings: Settings) -> dict[str, str]:
    return {**os.environ, **settings.to_env(), "SPARK_LOCAL_IP": "127.0.0.1"}


def spark_answers(settings: Settings, queries: list[str], timeout: float = 300) -> list[dict[str, Any]]:
    """Columns and JSON rows of each query from Spark SQL, all in one driver process."""
    result = subprocess.run(
        [sys.executable, "-c", SPARK_ANSWERS],
        input=json.dumps(queries),
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"Spark answers failed: {result.stderr[-2000:]}")
    line = next(x for x in result.stdout.splitlines() if x.startswith("ANSWERS "))
    return json.loads(line.removeprefix("ANSWERS "))


def fast_answers(settings: Settings, queries: list[str]) -> list[dict[str, Any]]:
    """The same from the fast path, as JSON data."""

    return [
        {"columns": columns, "rows": json.loads(json.dumps([jsonable(r) for r in rows]))}
        for columns, rows in fastsql.answers(settings.metastore_thrift_uri, queries)
    ]


def same_answer(query: str, one: dict[str, Any], other: dict[str, Any]) -> bool:
    """Same columns and rows; row order counts only where the query defines it."""

    def rows(answer: dict[str, Any]) -> list[str]:
        lines = [json.dumps(row, sort_keys=True) for row in answer["rows"]]
        return lines if query in ORDERED else sorted(lines)

    return one["columns"] == other["columns"] and rows(one) == rows(other)


def time_fast_path(settings: Settings, repeats: int = REPEATS) -> dict[str, dict[str, float]]:
    """Seconds per seed query: cold (a new catalog connection and table load) and the median of ``repeats`` more."""

    figures: dict[str, dict[str, float]] = {}
    for query in SEED_QUERIES:
        runs = []
        started = time.perf_counter()
        lake = fastsql.FastLake(settings.metastore_thrift_uri)
        try:
            for _ in range(repeats + 1):
                lake.run(query, fastsql.plan(query))
                runs.append(time.perf_counter() - started)
                started = time.perf_counter()
        finally:
            lake.close()
        figures[query] = {"cold": round(runs[0], 3), "median": round(statistics.median(runs[1:]), 3)}
    return figures


def time_command(settings: Settings, *args: str) -> float:
    """Wall seconds of one ``stockpulse sql --json ARGS`` process."""
    started = time.perf_counter()
    result = subprocess.run(
        [STOCKPULSE, "sql", "--json", *args], env=_env(settings), capture_output=True, text=True, timeout=600
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"stockpulse sql failed: {result.stderr[-2000:]}")
    return round(elapsed, 3)


def measure_queries(settings: Settings, spark_command: bool = True) -> dict[str, Any]:
    """Every figure of this module on the lake ``settings`` points at."""
    queries = list(SEED_QUERIES)
    spark = spark_answers(settings, queries)
    fast = fast_answers(settings, queries)
    commands = {query: time_command(settings, query) for query in queries}
    in_process = time_fast_path(settings)
    same = {q: same_answer(q, s, f) for q, s, f in zip(queries, spark, fast, strict=True)}
    return {
        "rows": {query: len(answer["rows"]) for query, answer in zip(queries, fast, strict=True)},
        "identical": all(same.values()),
        "identical_per_query": same,
        "fast_path": in_process,
        "fast_path_max_s": max(figure["cold"] for figure in in_process.values()),
        "fast_path_command": commands,
        "fast_path_command_max_s": max(commands.values()),
        "spark_command_all_six_s": time_command(settings, "--engine", "spark", *queries) if spark_command else None,
    }


def demo_like_events(tickers: tuple[str, ...], events: int, order_share: float = 0.23) -> list[tuple[str, dict]]:
    """(topic, event) pairs: checks per ticker Zipf-like and all different, orders spread over the tickers."""

    checks = round(events * (1 - order_share))
    weights = [1.0 / (rank + 1) for rank in range(len(tickers))]
    counts = [max(1, int(checks * w / sum(weights))) for w in weights]
    for i in range(len(counts) - 2, -1, -1):  # strictly decreasing: one most and one least checked ticker
        counts[i] = max(counts[i], counts[i + 1] + 1)
    context = {"user_id": "bench", "session_id": "bench-sql", "headers": {"Accept": "*/*"}}
    out: list[tuple[str, dict]] = []
    for ticker, n in zip(tickers, counts, strict=True):
        quote = {"price": 100.0 + len(out) % 50, "currency": "USD", "source": "simulated"}
        out += [(STOCK_CALL, stock_call_event(ticker, quote, context)) for _ in range(n)]
    for i in range(max(events - len(out), 0)):
        ticker = tickers[i % len(tickers)]
        side = "buy" if i % 2 else "sell"
        out.append((STOCK_OPERATION, stock_operation_event(ticker, side, 1 + i % 50, 10.0 + i % 490, context)))
    return out


def measure_sql(bench: Settings, events: int = DEMO_EVENTS, spark_command: bool = True) -> dict[str, Any]:
    """A demo-sized lake of its own (metastore, warehouse, checkpoint under ``<run>/sql``), then the figures."""
    settings = bench.with_overrides(run_dir=bench.run_dir / "sql", local={"metastore_port": free_port()})
    with LocalStack(settings, "metastore") as stack:
        lake_events = demo_like_events(settings.tickers, events)
        produce_records(settings.kafka.bootstrap, ((topic, e["stock_name"], e) for topic, e in lake_events))
        caught_up = stack.ingest.catch_up(timeout=900)
        if caught_up.returncode != 0:
            raise RuntimeError(f"ingest for the SQL figures failed: {caught_up.stderr[-2000:]}")
        return {"events": events, **measure_queries(settings, spark_command)}


def main(argv: list[str] | None = None) -> int:
    """The SQL figures alone: ``python -m stockpulse_toolbox.bench.sqlpath [--events 1000]`` (own Kafka, folders)."""
    import argparse
    import tempfile

    from .benchstack import bench_settings, drop_data

    parser = argparse.ArgumentParser(description="the seed queries on the fast path and on Spark")
    parser.add_argument("--events", type=int, default=DEMO_EVENTS)
    args = parser.parse_args(argv)
    base = load_settings()
    run_dir = Path(tempfile.mkdtemp(prefix="sql-", dir=base.run_dir if base.run_dir.is_dir() else None))
    settings = bench_settings(base, run_dir)
    try:
        with LocalStack(settings, "kafka"):
            figures = measure_sql(settings, args.events)
    finally:
        drop_data(run_dir)
        drop_data(run_dir / "sql")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
