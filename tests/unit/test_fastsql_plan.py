"""Which queries the fast path takes, what it reads and how it names columns: DuckDB's parser, no tables."""

from __future__ import annotations

import pytest
from stockpulse.lake.fastsql import Unsupported, forced_plan, plan
from stockpulse.lake.seed import SEED_QUERIES


def test_every_seed_query_takes_the_fast_path_with_sparks_column_names():
    plans = [plan(q) for q in SEED_QUERIES]
    assert [p.table for p in plans] == ["stock_call"] * 4 + ["stock_operation"] * 2
    assert [p.star for p in plans] == [True, False, False, False, True, False]
    assert [p.names for p in plans] == [
        None,
        ["count(stock_name)"],
        ["stock_name", "query_count"],
        ["stock_name", "query_count"],
        None,
        ["max_transaction"],
    ]
    assert plans[5].columns == {"transaction_amount"}


def test_names_follow_spark_for_unaliased_aggregates_and_columns_as_typed():
    query = "SELECT Stock_Name, COUNT(*), count(DISTINCT side), MIN(price) FROM stock_operation GROUP BY Stock_Name"
    assert plan(query).names == ["Stock_Name", "count(1)", "count(DISTINCT side)", "min(price)"]


def test_only_the_columns_the_query_uses_are_read():
    query = "SELECT side, SUM(quantity) AS n FROM stock_operation WHERE stock_name IN ('GOOG') AND price > 1.5"
    query += " GROUP BY side"
    found = plan(query)
    assert found.columns == {"side", "quantity", "stock_name", "price"} and found.integer_args == {"quantity"}


@pytest.mark.parametrize(
    "query",
    [
        "SELECT ROUND(price, 2) AS p FROM stock_operation",  # the engines round doubles differently
        "SELECT price * quantity AS x FROM stock_operation",
        "SELECT c.stock_name FROM stock_call c JOIN stock_operation o ON c.session_id = o.session_id",
        "SELECT * FROM default.stock_call",
        "SELECT * FROM other_table",
        "SELECT stock_name FROM stock_call ORDER BY stock_name NULLS LAST",
        "SELECT stock_name FROM stock_call LIMIT 5 OFFSET 5",
        "SELECT COUNT(stock_name) FROM stock_call GROUP BY stock_name UNION SELECT 1",
        "WITH x AS (SELECT * FROM stock_call) SELECT * FROM x",
        "SELECT SUM(price + 1) AS s FROM stock_operation",
        "SELECT stock_name, price FROM stock_call WHERE lower(stock_name) = 'goog'",
        "CREATE TABLE t AS SELECT 1",
        "SELECT 1; SELECT 2",
        "not sql at all",
    ],
)
def test_queries_whose_answer_could_differ_go_to_spark(query):
    with pytest.raises(Unsupported):
        plan(query)


def test_forcing_duckdb_still_needs_one_lake_table():
    assert forced_plan("SELECT ROUND(price, 2) AS p FROM stock_operation").table == "stock_operation"
    with pytest.raises(Unsupported, match="lake table"):
        forced_plan("SELECT * FROM other_table")
