"""``stockpulse demo`` end to end on free loopback ports: load, lake caught up, report, stack stopped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from stockpulse.settings import DEFAULT_TICKERS

from tests.support.processes import our_pids
from tests.support.stack_env import stack_env

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def test_demo_runs_the_whole_pipeline_and_stops_the_stack(tmp_path):
    run_dir = tmp_path / "run"
    env = stack_env(run_dir)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "stockpulse"), "demo", "--sessions", "25"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "every acknowledged event is in the lake exactly once" in result.stderr
    assert "stockpulse advisory report" in result.stdout and "most checked:" in result.stdout
    html = run_dir / "report.html"
    assert f"HTML report: {html}" in result.stdout
    assert "<svg" in html.read_text()
    # the burst on the last ticker was flagged by the live insights, and printed
    assert "Insights of AMD after the burst" in result.stdout, result.stderr[-3000:]
    assert '"code": "unusual_attention"' in result.stdout
    # the backfilled week gives every ticker a baseline, in the lake and in the live insights
    unusual = json.loads((run_dir / "report.json").read_text())["unusual_activity"]
    assert {r["stock_name"] for r in unusual} == set(DEFAULT_TICKERS)
    for row in unusual:
        assert row["baseline_hours"] >= 7 * 24 and row["z_score"] is not None, row
        assert row["live_baseline_windows"] and row["live_baseline_windows"] >= 7 * 24 * 4 - 8, row
    assert our_pids(run_dir) == []
