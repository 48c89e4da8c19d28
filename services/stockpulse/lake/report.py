"""The advisory report: the seed's questions and the ones the advisory team asks, from the lake tables.

``build_report(calls, orders)`` takes the two tables as DataFrames, so tests feed it a
fixed event set and the CLI feeds it the Iceberg tables; it returns plain JSON data.
Every figure is a Spark SQL query over temp views; the unusual-activity section also shows
what the live insights last said (``stock_insights``). Definitions: docs/report.md.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame

from .sql import rows_as_dicts

CALLS = "report_calls"
ORDERS = "report_orders"
INSIGHTS = "report_insights"


def _sql(spark, query: str) -> list[dict[str, Any]]:
    return rows_as_dicts(spark.sql(query))


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)


def seed_answers(spark) -> dict[str, Any]:
    """Section 7 of the seed, as data."""
    per_ticker = _sql(
        spark,
        f"SELECT stock_name, COUNT(stock_name) AS query_count FROM {CALLS} GROUP BY stock_name "
        "ORDER BY query_count DESC, stock_name",
    )
    least = sorted(per_ticker, key=lambda r: (r["query_count"], r["stock_name"]))
    top = _sql(spark, f"SELECT MAX(transaction_amount) AS max_transaction FROM {ORDERS}")[0]["max_transaction"]
    return {
        "total_checks": sum(r["query_count"] for r in per_ticker),
        "checks_per_ticker": {r["stock_name"]: r["query_count"] for r in per_ticker},
        "most_checked": per_ticker[0] if per_ticker else None,
        "least_checked": least[0] if least else None,
        "max_transaction": top,
    }


def order_flow(spark) -> list[dict[str, Any]]:
    rows = _sql(
        spark,
        f"""
        SELECT stock_name,
               SUM(IF(side = 'buy', quantity, 0)) AS buy_shares,
               SUM(IF(side = 'sell', quantity, 0)) AS sell_shares,
               SUM(IF(side = 'buy', transaction_amount, 0)) AS buy_amount,
               SUM(IF(side = 'sell', transaction_amount, 0)) AS sell_amount,
               COUNT(*) AS orders
        FROM {ORDERS} GROUP BY stock_name ORDER BY stock_name
        """,
    )
    for r in rows:
        total = r["buy_shares"] + r["sell_shares"]
        r["net_shares"] = r["buy_shares"] - r["sell_shares"]
        r["net_amount"] = _round(r["buy_amount"] - r["sell_amount"], 4)
        r["buy_amount"] = _round(r["buy_amount"], 4)
        r["sell_amount"] = _round(r["sell_amount"], 4)
        r["imbalance"] = _round(r["net_shares"] / total) if total else None
    return rows


def windows(spark, unit: str) -> list[dict[str, Any]]:
    """Buy and sell volume (shares and money) and checks per ticker and ``hour``/``day`` window."""
    return _sql(
        spark,
        f"""
        WITH o AS (
          SELECT stock_name, date_trunc('{unit}', event_time) AS window_start,
                 SUM(IF(side = 'buy', quantity, 0)) AS buy_shares, SUM(IF(side = 'sell', quantity, 0)) AS sell_shares,
                 ROUND(SUM(IF(side = 'buy', transaction_amount, 0)), 4) AS buy_amount,
                 ROUND(SUM(IF(side = 'sell', transaction_amount, 0)), 4) AS sell_amount
          FROM {ORDERS} GROUP BY 1, 2),
        c AS (SELECT stock_name, date_trunc('{unit}', event_time) AS window_start, COUNT(*) AS checks
              FROM {CALLS} GROUP BY 1, 2)
        SELECT COALESCE(o.stock_name, c.stock_name) AS stock_name,
               COALESCE(o.window_start, c.window_start) AS window_start,
               COALESCE(c.checks, 0) AS checks,
               COALESCE(o.buy_shares, 0) AS buy_shares, COALESCE(o.sell_shares, 0) AS sell_shares,
               COALESCE(o.buy_amount, 0.0) AS buy_amount, COALESCE(o.sell_amount, 0.0) AS sell_amount
        FROM o FULL OUTER JOIN c ON o.stock_name = c.stock_name AND o.window_start = c.window_start
        ORDER BY window_start, stock_name
        """,
    )


def conversion(spark) -> list[dict[str, Any]]:
    rows = _sql(
        spark,
        f"""
        WITH checks AS (SELECT stock_name, COUNT(*) AS checks FROM {CALLS} GROUP BY stock_name),
             orders AS (SELECT stock_name, COUNT(*) AS orders FROM {ORDERS} GROUP BY stock_name),
             checked AS (SELECT DISTINCT session_id, stock_name FROM {CALLS} WHERE session_id IS NOT NULL),
             ordered AS (SELECT DISTINCT session_id, stock_name FROM {ORDERS} WHERE session_id IS NOT NULL),
             sessions AS (
               SELECT k.stock_name, COUNT(*) AS checked_sessions, COUNT(o.session_id) AS converted_sessions
               FROM checked k LEFT JOIN ordered o ON k.session_id = o.session_id AND k.stock_name = o.stock_name
               GROUP BY k.stock_name)
        SELECT COALESCE(c.stock_name, o.stock_name) AS stock_name, COALESCE(c.checks, 0) AS checks,
               COALESCE(o.orders, 0) AS orders, COALESCE(s.checked_sessions, 0) AS checked_sessions,
               COALESCE(s.converted_sessions, 0) AS converted_sessions
        FROM checks c FULL OUTER JOIN orders o ON c.stock_name = o.stock_name
        LEFT JOIN sessions s ON s.stock_name = COALESCE(c.stock_name, o.stock_name)
        ORDER BY stock_name
        """,
    )
    for r in rows:
        r["orders_per_check"] = _round(r["orders"] / r["checks"]) if r["checks"] else None
        r["session_conversion"] = (
            _round(r["converted_sessions"] / r["checked_sessions"]) if r["checked_sessions"] else None
        )
    return rows


def attention(spark) -> list[dict[str, Any]]:
    rows = _sql(
        spark,
        f"""
        WITH t AS (SELECT stock_name FROM {CALLS} UNION SELECT stock_name FROM {ORDERS}),
             c AS (SELECT stock_name, COUNT(*) AS checks FROM {CALLS} GROUP BY stock_name),
             b AS (SELECT stock_name, SUM(transaction_amount) AS bought FROM {ORDERS} WHERE side = 'buy'
                   GROUP BY stock_name)
        SELECT t.stock_name, COALESCE(c.checks, 0) AS checks, COALESCE(b.bought, 0.0) AS bought
        FROM t LEFT JOIN c ON c.stock_name = t.stock_name LEFT JOIN b ON b.stock_name = t.stock_name
        ORDER BY t.stock_name
        """,
    )
    total_checks = sum(r["checks"] for r in rows)
    total_bought = sum(r["bought"] for r in rows)
    for r in rows:
        r["attention"] = _round(r["checks"] / total_checks) if total_checks else None
        r["buy_concentration"] = _round(r["bought"] / total_bought) if total_bought else None
        r["bought"] = _round(r["bought"], 4)
        r["attention_gap"] = (
            _round(r["attention"] - r["buy_concentration"])
            if r["attention"] is not None and r["buy_concentration"] is not None
            else None
        )
    return rows


def top_customers(spark, limit: int = 10) -> list[dict[str, Any]]:
    return _sql(
        spark,
        f"""
        SELECT user_id, COUNT(*) AS orders, ROUND(SUM(transaction_amount), 4) AS traded_amount,
               ROUND(SUM(IF(side = 'buy', transaction_amount, 0)), 4) AS buy_amount,
               ROUND(SUM(IF(side = 'sell', transaction_amount, 0)), 4) AS sell_amount
        FROM {ORDERS} WHERE user_id IS NOT NULL
        GROUP BY user_id ORDER BY traded_amount DESC, user_id LIMIT {int(limit)}
        """,
    )


def unusual_activity(spark) -> list[dict[str, Any]]:
    """The last hour of the data against each ticker's own earlier hours."""
    rows = _sql(
        spark,
        f"""
        WITH events AS (
          SELECT stock_name, date_trunc('hour', event_time) AS h FROM {CALLS}
          UNION ALL SELECT stock_name, date_trunc('hour', event_time) AS h FROM {ORDERS}),
        bounds AS (SELECT MIN(h) AS first_h, MAX(h) AS last_h FROM events),
        hours AS (SELECT explode(sequence(first_h, last_h, INTERVAL 1 HOUR)) AS h FROM bounds),
        tickers AS (SELECT DISTINCT stock_name FROM events),
        counts AS (SELECT stock_name, h, COUNT(*) AS n FROM events GROUP BY stock_name, h),
        grid AS (
          SELECT t.stock_name, hours.h, COALESCE(counts.n, 0) AS n
          FROM tickers t CROSS JOIN hours
          LEFT JOIN counts ON counts.stock_name = t.stock_name AND counts.h = hours.h)
        SELECT g.stock_name, MAX(b.last_h) AS last_hour,
               SUM(IF(g.h = b.last_h, g.n, 0)) AS last_hour_events,
               AVG(IF(g.h < b.last_h, g.n, NULL)) AS baseline_mean,
               STDDEV_SAMP(IF(g.h < b.last_h, g.n, NULL)) AS baseline_stddev,
               COUNT(IF(g.h < b.last_h, 1, NULL)) AS baseline_hours
        FROM grid g CROSS JOIN bounds b GROUP BY g.stock_name ORDER BY g.stock_name
        """,
    )
    for r in rows:
        sd = r["baseline_stddev"]
        r["z_score"] = _round((r["last_hour_events"] - r["baseline_mean"]) / sd) if sd else None
        r["baseline_mean"] = _round(r["baseline_mean"])
        r["baseline_stddev"] = _round(sd)
    rows.sort(key=lambda r: (r["z_score"] is None, -(r["z_score"] or 0), r["stock_name"]))
    return rows


def latest_insights(spark) -> dict[str, dict[str, Any]]:
    """The last snapshot per ticker the insights query wrote to the lake."""
    rows = _sql(
        spark,
        f"""
        SELECT stock_name, as_of, unusual_score, baseline_windows, attention_rank FROM (
          SELECT *, ROW_NUMBER() OVER (PARTITION BY stock_name ORDER BY as_of_minute DESC) AS n FROM {INSIGHTS})
        WHERE n = 1
        """,
    )
    return {r.pop("stock_name"): r for r in rows}


def with_live_insights(rows: list[dict[str, Any]], live: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    for r in rows:
        snap = live.get(r["stock_name"], {})
        r["live_z_score"] = snap.get("unusual_score")
        r["live_baseline_windows"] = snap.get("baseline_windows")
        r["live_as_of"] = snap.get("as_of")
    return rows


def coverage(spark) -> dict[str, Any]:
    row = _sql(
        spark,
        f"""
        SELECT (SELECT COUNT(*) FROM {CALLS}) AS stock_call_rows,
               (SELECT COUNT(*) FROM {ORDERS}) AS stock_operation_rows,
               LEAST((SELECT MIN(event_time) FROM {CALLS}), (SELECT MIN(event_time) FROM {ORDERS})) AS first_event,
               GREATEST((SELECT MAX(event_time) FROM {CALLS}), (SELECT MAX(event_time) FROM {ORDERS})) AS last_event
        """,
    )[0]
    return row


def build_report(
    calls: DataFrame, orders: DataFrame, quarantine_rows: int | None = None, insights: DataFrame | None = None
) -> dict[str, Any]:
    spark = calls.sparkSession
    calls.createOrReplaceTempView(CALLS)
    orders.createOrReplaceTempView(ORDERS)
    live: dict[str, dict[str, Any]] = {}
    if insights is not None:
        insights.createOrReplaceTempView(INSIGHTS)
        live = latest_insights(spark)
    report = {
        "coverage": {**coverage(spark), "quarantine_rows": quarantine_rows},
        "seed": seed_answers(spark),
        "order_flow": order_flow(spark),
        "windows": {"hour": windows(spark, "hour"), "day": windows(spark, "day")},
        "conversion": conversion(spark),
        "attention": attention(spark),
        "top_customers": top_customers(spark),
        "unusual_activity": with_live_insights(unusual_activity(spark), live) if live else unusual_activity(spark),
    }
    return report


def report_from_lake(spark) -> dict[str, Any]:
    """The report over the committed lake tables."""
    from .tables import DATABASE, INSIGHTS, QUARANTINE, ensure_tables

    ensure_tables(spark)
    quarantined = spark.table(f"{DATABASE}.{QUARANTINE}").count()
    return build_report(
        spark.table(f"{DATABASE}.stock_call"),
        spark.table(f"{DATABASE}.stock_operation"),
        quarantined,
        spark.table(f"{DATABASE}.{INSIGHTS}"),
    )
