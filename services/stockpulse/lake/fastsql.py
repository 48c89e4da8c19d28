"""The fast path of ``stockpulse sql``: DuckDB over the Iceberg tables, read by pyiceberg, no JVM.

pyiceberg loads the committed snapshot of the table a query names through the Hive metastore
and scans only the columns the query uses into Arrow; DuckDB runs the SQL in process, so a
small query pays no Spark start. DuckDB's SQL is not Spark's: ``plan`` accepts a query only
when its answer is the same on both (a sum of doubles, for one, depends on the order of
addition), and answers are shaped like Spark's (column names, ``NULL`` order, timestamps).
``--engine duckdb`` forces DuckDB. What is accepted: docs/lake.md, "Querying".
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..events.topics import STOCK_CALL, STOCK_OPERATION

LAKE_TABLES = (STOCK_CALL, STOCK_OPERATION, "quarantine")
DATABASE = "default"

_AGGREGATES = {"count", "count_star", "min", "max", "sum", "avg"}
_INTEGER_ONLY = {"sum", "avg"}
_COMPARISONS = {
    "COMPARE_EQUAL",
    "COMPARE_NOTEQUAL",
    "COMPARE_LESSTHAN",
    "COMPARE_GREATERTHAN",
    "COMPARE_LESSTHANOREQUALTO",
    "COMPARE_GREATERTHANOREQUALTO",
}
_OPERATORS = {"OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL", "OPERATOR_NOT", "COMPARE_IN", "COMPARE_NOT_IN"}
_LITERALS = {"INTEGER", "BIGINT", "STRING", "VARCHAR", "DECIMAL", "NUMERIC", "BOOLEAN", "DOUBLE"}


class Unsupported(ValueError):
    """The fast path declines the query (Spark answers it instead)."""


def available() -> bool:
    """Whether DuckDB and pyiceberg are installed (the Spark image has neither: Spark answers there)."""
    try:
        import duckdb  # noqa: F401
        import pyiceberg  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Plan:
    """What the fast path needs: the table, the columns to read, the names of the answer's columns."""

    table: str
    columns: set[str] = field(default_factory=set)  # lower-case; empty with ``star``
    star: bool = False
    names: list[str] | None = None  # Spark's column names; None: keep DuckDB's (``SELECT *``, forced queries)
    integer_args: set[str] = field(default_factory=set)  # columns under SUM/AVG: must be integers


def _ast(query: str) -> dict[str, Any]:
    import duckdb

    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise Unsupported(f"DuckDB cannot parse it: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise Unsupported("not a single SELECT")
    with duckdb.connect() as con:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [query]).fetchone()[0])
    if tree.get("error"):
        raise Unsupported(tree.get("error_message", "not serialisable"))
    return tree["statements"][0]["node"]


def _arguments(function: dict[str, Any]) -> list[dict[str, Any]]:
    """A function's argument expressions (DuckDB wraps each in ``{"name", "expression"}``)."""
    return [a.get("expression", a) for a in function["arguments"]]


def _walk(expr: dict[str, Any] | None, plan: Plan) -> None:
    """Check one expression against the allow-list, collecting the columns it reads."""
    if expr is None:
        return
    kind, cls = expr.get("type"), expr.get("class")
    if cls == "COLUMN_REF":
        if len(expr["column_names"]) != 1:
            raise Unsupported("qualified column references")
        plan.columns.add(expr["column_names"][0].lower())
    elif cls == "CONSTANT":
        if expr["literal"].get("kind") not in _LITERALS:
            raise Unsupported(f"literal of kind {expr['literal'].get('kind')}")
    elif cls == "COMPARISON" and kind in _COMPARISONS:
        _walk(expr["left"], plan)
        _walk(expr["right"], plan)
    elif cls == "CONJUNCTION" or (cls == "OPERATOR" and kind in _OPERATORS):
        for child in expr["children"]:
            _walk(child, plan)
    elif cls == "BETWEEN":
        for part in ("input", "lower", "upper"):
            _walk(expr[part], plan)
    elif cls == "FUNCTION" and not expr.get("is_operator") and expr["function_name"] in _AGGREGATES:
        if expr.get("filter") or expr["order_bys"]["orders"] or expr.get("schema") or expr.get("catalog"):
            raise Unsupported("aggregate with FILTER or ORDER BY")
        args = _arguments(expr)
        if expr["function_name"] in _INTEGER_ONLY:
            if len(args) != 1 or args[0].get("class") != "COLUMN_REF":
                raise Unsupported("SUM/AVG of an expression")
            plan.integer_args.add(args[0]["column_names"][-1].lower())
        for arg in args:
            _walk(arg, plan)
    else:
        raise Unsupported(f"{cls} {kind}" + (f" {expr.get('function_name')}" if cls == "FUNCTION" else ""))


def _spark_name(expr: dict[str, Any]) -> str:
    """The column name Spark gives a select item (tested against Spark 4.1 for these shapes)."""
    if expr.get("alias"):
        return expr["alias"]
    if expr["class"] == "COLUMN_REF":
        return expr["column_names"][-1]
    if expr["class"] == "FUNCTION" and expr["function_name"] in _AGGREGATES:
        if expr["function_name"] == "count_star":
            return "count(1)"
        args = _arguments(expr)
        if len(args) == 1 and args[0]["class"] == "COLUMN_REF":
            inner = args[0]["column_names"][-1]
            return f"{expr['function_name']}({'DISTINCT ' if expr['distinct'] else ''}{inner})"
    raise Unsupported("an unnamed expression (give it an alias)")


def plan(query: str) -> Plan:
    """The fast path's plan for ``query``; Unsupported when Spark's answer could differ."""
    node = _ast(query)
    if node.get("type") != "SELECT_NODE":
        raise Unsupported(node.get("type", "unknown statement"))
    if node["cte_map"]["map"] or node.get("sample") or node.get("qualify"):
        raise Unsupported("WITH, SAMPLE or QUALIFY")
    source = node["from_table"]
    if source.get("type") != "BASE_TABLE" or source.get("schema_name") or source.get("catalog_name"):
        raise Unsupported("a FROM other than one unqualified lake table")
    if source.get("sample") or source.get("at_clause") or source.get("column_name_alias"):
        raise Unsupported("a table sample, time travel or column aliases")
    table = source["table_name"].lower()
    if table not in LAKE_TABLES:
        raise Unsupported(f"{table} is not a lake table")
    result = Plan(table=table)
    items = node["select_list"]
    if len(items) == 1 and items[0]["class"] == "STAR":
        star = items[0]
        if star.get("exclude_list") or star.get("replace_list") or star.get("relation_name") or star.get("expr"):
            raise Unsupported("SELECT * with EXCLUDE/REPLACE/COLUMNS")
        result.star = True
    else:
        for item in items:
            _walk(item, result)
        result.names = [_spark_name(item) for item in items]
    for expr in (node.get("where_clause"), node.get("having"), *node["group_expressions"]):
        _walk(expr, result)
    for modifier in node["modifiers"]:
        if modifier["type"] == "ORDER_MODIFIER":
            for order in modifier["orders"]:
                if order["null_order"] != "ORDER_DEFAULT":
                    raise Unsupported("NULLS FIRST/LAST")  # Spark and DuckDB agree on the defaults only
                _walk(order["expression"], result)  # a column or an alias: only table columns are read
        elif modifier["type"] == "LIMIT_MODIFIER":
            if modifier.get("offset") is not None or modifier["limit"]["class"] != "CONSTANT":
                raise Unsupported("OFFSET or a computed LIMIT")
        elif modifier["type"] != "DISTINCT_MODIFIER" or modifier.get("distinct_on_targets"):
            raise Unsupported(f"{modifier['type']}")
    return result


def forced_plan(query: str) -> Plan:
    """A plan for ``--engine duckdb``: any SELECT whose tables are all lake tables, read whole."""
    import duckdb

    _ast(query)  # a single SELECT
    tables = {name.lower() for name in duckdb.get_table_names(query)}
    if len(tables) != 1 or not tables <= set(LAKE_TABLES):
        raise Unsupported(f"the fast path reads one lake table ({', '.join(LAKE_TABLES)}), not {sorted(tables)}")
    return Plan(table=tables.pop(), star=True)


def _local_naive(value: Any) -> Any:
    """A zoned timestamp as pyspark returns one: naive, in the process's local time."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone().replace(tzinfo=None)
    return value


class FastLake:
    """pyiceberg's catalog and one DuckDB connection; tables are loaded per query."""

    def __init__(self, metastore_uri: str) -> None:
        import duckdb
        from pyiceberg.catalog.hive import HiveCatalog

        self.catalog = HiveCatalog("lake", uri=metastore_uri)
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET default_null_order = 'nulls_first_on_asc_last_on_desc'")

    def run(self, query: str, plan: Plan) -> tuple[list[str], list[dict[str, Any]]]:
        """Columns and rows of ``query``; Unsupported when a SUM/AVG argument is not an integer column."""
        from pyiceberg.types import IntegerType, LongType

        table = self.catalog.load_table(f"{DATABASE}.{plan.table}")
        schema = table.schema()
        fields = {f.name.lower(): f for f in schema.fields}
        for name in plan.integer_args:
            if name in fields and not isinstance(fields[name].field_type, IntegerType | LongType):
                raise Unsupported(f"SUM/AVG of the non-integer column {name}")
        wanted = ("*",) if plan.star else tuple(fields[c].name for c in sorted(plan.columns) if c in fields)
        arrow = table.scan(selected_fields=wanted or (schema.fields[0].name,)).to_arrow()
        self.con.register(plan.table, arrow)
        try:
            cursor = self.con.execute(query)
            columns = [d[0] for d in cursor.description]
            values = cursor.fetchall()
        finally:
            self.con.unregister(plan.table)
        names = plan.names or columns
        return names, [dict(zip(names, map(_local_naive, row), strict=True)) for row in values]

    def close(self) -> None:
        self.con.close()


def answers(metastore_uri: str, queries: list[str], force: bool = False) -> Iterator[tuple[list[str], list[dict]]]:
    """Columns and rows of each query in turn, all through the fast path (tests and the bench)."""
    lake = FastLake(metastore_uri)
    try:
        for query in queries:
            yield lake.run(query, forced_plan(query) if force else plan(query))
    finally:
        lake.close()
