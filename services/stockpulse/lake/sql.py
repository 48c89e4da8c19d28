"""``stockpulse sql``: SQL against the lake's tables, by DuckDB when it answers as Spark would, else by Spark.

Each query goes to the fast path (``lake.fastsql``: pyiceberg + DuckDB, well under a
second) when ``fastsql.plan`` accepts it, else to Spark SQL (the seed's pyspark session,
about 10 s to start, started only when a query needs it). ``--engine spark|duckdb``
forces one. A JSON log line on stderr names the engine that answered each query.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from ..settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)
ENGINES = ("auto", "spark", "duckdb")


def jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "asDict"):
        return jsonable(value.asDict(recursive=True))
    return value


def rows_as_dicts(frame: DataFrame) -> list[dict[str, Any]]:
    return [jsonable(row.asDict(recursive=True)) for row in frame.collect()]


def print_rows(rows: list[dict[str, Any]], columns: Iterable[str], out: TextIO, as_json: bool) -> None:
    columns = list(columns)
    if as_json:
        for row in rows:
            out.write(json.dumps(row) + "\n")
        return
    cells = [[("NULL" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out.write(line + "\n")
    out.write("|" + "|".join(f" {c:<{w}} " for c, w in zip(columns, widths, strict=True)) + "|\n")
    out.write(line + "\n")
    for r in cells:
        out.write("|" + "|".join(f" {v:<{w}} " for v, w in zip(r, widths, strict=True)) + "|\n")
    out.write(line + "\n")
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


class QueryError(RuntimeError):
    """A query failed on the engine that ran it; the message is one line."""


def run_queries(settings: Settings, queries: Sequence[str], out: TextIO, as_json: bool, engine: str = "auto") -> int:
    """Run ``queries`` in order, each on the engine chosen for it; QueryError on the first failure."""
    from . import fastsql

    fast: fastsql.FastLake | None = None
    spark: SparkSession | None = None
    if engine == "auto" and not fastsql.available():
        engine = "spark"
    elif engine == "duckdb" and not fastsql.available():
        raise QueryError("duckdb: DuckDB or pyiceberg is not installed here")
    try:
        for query in queries:
            started = time.monotonic()
            chosen, plan, why = engine, None, ""
            if engine != "spark":
                try:
                    plan = fastsql.plan(query) if engine == "auto" else _forced(query)
                    chosen = "duckdb"
                except fastsql.Unsupported as exc:
                    chosen, why = "spark", str(exc)
            if chosen == "duckdb" and plan is not None:
                fast = fast or fastsql.FastLake(settings.metastore_thrift_uri)
                try:
                    columns, rows = fast.run(query, plan)
                except fastsql.Unsupported as exc:  # found only once the table's types were known
                    chosen, why = "spark", str(exc)
                except Exception as exc:
                    raise QueryError(f"duckdb: {str(exc).splitlines()[0]}") from exc
            if chosen == "spark":
                if spark is None:
                    from .session import build_session

                    spark = build_session(settings, "stockpulse-sql")
                columns, rows = spark_rows(spark, query)
            print_rows([jsonable(r) for r in rows], columns, out, as_json)
            log.info(
                "query answered",
                extra={"engine": chosen, "seconds": round(time.monotonic() - started, 3), "why_not_duckdb": why},
            )
    finally:
        if fast is not None:
            fast.close()
        if spark is not None:
            spark.stop()
    return 0


def _forced(query: str):
    from . import fastsql

    try:
        return fastsql.plan(query)
    except fastsql.Unsupported:
        try:
            return fastsql.forced_plan(query)
        except fastsql.Unsupported as exc:
            raise QueryError(f"duckdb: {exc}") from None


def spark_rows(spark: SparkSession, query: str) -> tuple[list[str], list[dict[str, Any]]]:
    from pyspark.errors import PySparkException

    try:
        frame = spark.sql(query)
        return frame.columns, rows_as_dicts(frame)
    except PySparkException as exc:
        raise QueryError(str(exc).splitlines()[0]) from exc
