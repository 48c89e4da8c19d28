"""The report for people: terminal tables and a self-contained HTML page with charts."""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any, TextIO

from .charts import ACCENT, BUY, NEUTRAL, SELL, bar_chart, line_chart
from .sql import print_rows

SECTIONS = (
    ("order_flow", "Order flow per ticker (imbalance = (buy - sell) / (buy + sell) shares)"),
    ("conversion", "Check-to-order conversion per ticker"),
    ("attention", "Attention (share of checks) against buying concentration (share of money bought)"),
    ("top_customers", "Top customers by traded amount"),
    ("unusual_activity", "Unusual activity: last hour against the ticker's own earlier hours"),
)


def _table(out: TextIO, title: str, rows: list[dict[str, Any]]) -> None:
    out.write(f"\n== {title}\n")
    if rows:
        print_rows(rows, rows[0].keys(), out, as_json=False)
    else:
        out.write("(no rows)\n")


def print_report(report: dict[str, Any], out: TextIO) -> None:
    cov, seed = report["coverage"], report["seed"]
    out.write("stockpulse advisory report\n")
    out.write(
        f"covers {cov['first_event']} .. {cov['last_event']}: {cov['stock_call_rows']} checks, "
        f"{cov['stock_operation_rows']} orders, {cov['quarantine_rows']} quarantined records\n"
    )
    out.write(f"\n== The seed's questions\nall checks: {seed['total_checks']}\n")
    if seed["most_checked"]:
        out.write(f"most checked: {seed['most_checked']['stock_name']} ({seed['most_checked']['query_count']})\n")
        out.write(f"least checked: {seed['least_checked']['stock_name']} ({seed['least_checked']['query_count']})\n")
    out.write(f"largest transaction: {seed['max_transaction']}\n")
    _table(
        out, "Checks per ticker", [{"stock_name": k, "query_count": v} for k, v in seed["checks_per_ticker"].items()]
    )
    for key, title in SECTIONS:
        _table(out, title, report[key])
    _table(out, "Volume per ticker and day", report["windows"]["day"])


def _hourly_totals(report: dict[str, Any]) -> tuple[list[str], list[float], list[float]]:
    checks: dict[str, float] = defaultdict(float)
    orders: dict[str, float] = defaultdict(float)
    for w in report["windows"]["hour"]:
        checks[w["window_start"]] += w["checks"]
        orders[w["window_start"]] += w["buy_shares"] + w["sell_shares"]
    hours = sorted(set(checks) | set(orders))
    return [h[5:16].replace("T", " ") for h in hours], [checks[h] for h in hours], [orders[h] for h in hours]


def _html_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>(no rows)</p>"
    head = "".join(f"<th>{escape(str(c))}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('' if v is None else str(v))}</td>" for v in r.values()) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict[str, Any]) -> str:
    flow = report["order_flow"]
    att = report["attention"]
    conv = report["conversion"]
    hours, hourly_checks, hourly_shares = _hourly_totals(report)
    seed, cov = report["seed"], report["coverage"]
    charts = [
        bar_chart(
            "Checks per ticker",
            list(seed["checks_per_ticker"]),
            [("checks", list(seed["checks_per_ticker"].values()), NEUTRAL)],
        ),
        bar_chart(
            "Money bought and sold per ticker",
            [r["stock_name"] for r in flow],
            [("bought", [r["buy_amount"] for r in flow], BUY), ("sold", [r["sell_amount"] for r in flow], SELL)],
        ),
        bar_chart(
            "Order-flow imbalance (buy - sell) / (buy + sell)",
            [r["stock_name"] for r in flow],
            [("imbalance", [r["imbalance"] or 0.0 for r in flow], ACCENT)],
        ),
        line_chart(
            "Activity per hour", hours, [("checks", hourly_checks, NEUTRAL), ("shares traded", hourly_shares, ACCENT)]
        ),
        bar_chart(
            "Attention against buying concentration",
            [r["stock_name"] for r in att],
            [
                ("share of checks", [r["attention"] or 0.0 for r in att], NEUTRAL),
                ("share of money bought", [r["buy_concentration"] or 0.0 for r in att], BUY),
            ],
        ),
        bar_chart(
            "Check-to-order conversion",
            [r["stock_name"] for r in conv],
            [
                ("orders per check", [r["orders_per_check"] or 0.0 for r in conv], NEUTRAL),
                ("sessions that ordered", [r["session_conversion"] or 0.0 for r in conv], BUY),
            ],
        ),
    ]
    most = seed["most_checked"] or {}
    least = seed["least_checked"] or {}
    summary = (
        f"<p>Covers {escape(str(cov['first_event']))} to {escape(str(cov['last_event']))}: "
        f"<b>{cov['stock_call_rows']}</b> checks, <b>{cov['stock_operation_rows']}</b> orders, "
        f"{cov['quarantine_rows']} quarantined records. Most checked: <b>{escape(str(most.get('stock_name')))}</b> "
        f"({most.get('query_count')}); least checked: <b>{escape(str(least.get('stock_name')))}</b> "
        f"({least.get('query_count')}); largest transaction: <b>{seed['max_transaction']}</b>.</p>"
    )
    tables = "".join(f"<h2>{escape(title)}</h2>{_html_table(report[key])}" for key, title in SECTIONS)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stockpulse advisory report</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 16px; }}
.chart {{ background: #fafafa; border: 1px solid #ddd; }}
.chart .title {{ font-weight: 600; font-size: 14px; }}
.chart .tick {{ font-size: 11px; fill: #555; }}
.chart .axis {{ stroke: #888; }}
table {{ border-collapse: collapse; margin: 8px 0 20px; }}
td, th {{ border: 1px solid #ddd; padding: 3px 8px; text-align: right; }}
th {{ background: #f0f0f0; }}
</style></head>
<body><h1>stockpulse advisory report</h1>{summary}
<div class="charts">{"".join(charts)}</div>{tables}</body></html>
"""
