"""``stockpulse sql``: Spark SQL against the lake's catalog, the seed's pyspark session as one command."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterable
from typing import Any, TextIO

from pyspark.sql import DataFrame, SparkSession


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


def run_sql(spark: SparkSession, query: str, out: TextIO, as_json: bool = False) -> int:
    frame = spark.sql(query)
    rows = rows_as_dicts(frame)
    print_rows(rows, frame.columns, out, as_json)
    return len(rows)
