"""The locustfile against a real API (gunicorn + Kafka): headless runs end with no failure.

Short runs of what the acceptance asks for (``-u 50 -r 25 -t 30s`` against ``make up``),
judged from Locust's own ``--csv`` statistics.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import call

pytestmark = pytest.mark.integration

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtest" / "locustfile.py"
LOCUST = str(Path(sys.executable).parent / "locust")


def run_locust(tmp_path: Path, host: str, *args: str, **env: str) -> dict[str, dict[str, str]]:
    """Run Locust headless; return its stats rows by request name (plus "Aggregated")."""
    prefix = tmp_path / "run"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "STOCKPULSE_"))}
    result = subprocess.run(
        [
            LOCUST,
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--host",
            host,
            "--csv",
            str(prefix),
            "--only-summary",
            "--stop-timeout",
            "10",
            *args,
        ],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=90,
    )
    stats_file = Path(f"{prefix}_stats.csv")
    assert stats_file.exists(), result.stderr[-3000:]
    with stats_file.open() as fh:
        rows = {row["Name"]: row for row in csv.DictReader(fh)}
    assert result.returncode == 0, f"locust exit {result.returncode}: {result.stderr[-3000:]}"
    return rows


def metric_sum(host: str, prefix: str) -> float:
    """Sum of the Prometheus samples whose line starts with ``prefix`` (name, optionally with labels)."""
    text = call(host, "GET", "/metrics").body
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def test_customers_check_buy_and_sell_without_a_failure(api, tmp_path):
    host = api.settings.api_url
    failed_before = metric_sum(host, "stockpulse_events_failed_total")
    orders_before = metric_sum(host, 'stockpulse_events_produced_total{topic="stock_operation"}')
    rows = run_locust(tmp_path, host, "-u", "20", "-r", "20", "-t", "8s", STOCKPULSE_WAIT="0.05,0.3")

    for name in ("/stocks/[ticker]", "/stocks/[ticker]/orders buy", "/stocks/[ticker]/orders sell"):
        assert name in rows, f"{name} missing from {sorted(rows)}"
        assert int(rows[name]["Request Count"]) > 0
        assert int(rows[name]["Failure Count"]) == 0
    total = rows["Aggregated"]
    assert int(total["Request Count"]) > 100
    assert int(total["Failure Count"]) == 0
    assert len(rows) == 4  # the ticker in the URL is grouped: one row per kind, plus "Aggregated"
    assert metric_sum(host, "stockpulse_events_failed_total") == failed_before
    orders = int(rows["/stocks/[ticker]/orders buy"]["Request Count"]) + int(
        rows["/stocks/[ticker]/orders sell"]["Request Count"]
    )
    # every order Locust saw answered 201 was acknowledged by Kafka (orders still in flight when Locust
    # stopped its users were answered too, but are not in its statistics: hence >=)
    assert metric_sum(host, 'stockpulse_events_produced_total{topic="stock_operation"}') - orders_before >= orders


def test_seed_shape_replays_the_seed_script_on_the_seed_routes(api, tmp_path):
    rows = run_locust(
        tmp_path,
        api.settings.api_url,
        "-t",
        "20s",
        STOCKPULSE_LOAD_SHAPE="seed",
        STOCKPULSE_SEED_USERS="4",
        STOCKPULSE_SEED_DURATION="5",
        STOCKPULSE_MIX="check:2,buy:1,sell:1",
    )
    assert set(rows) <= {"/[ticker]", "/[ticker]/buy/[quantity]", "/[ticker]/sell/[quantity]", "Aggregated"}
    assert int(rows["Aggregated"]["Request Count"]) > 0
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    assert "/[ticker]" in rows
