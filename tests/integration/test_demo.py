"""``stockpulse demo`` end to end on free loopback ports: load, lake caught up, report, stack stopped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from stockpulse.devstack.process import free_port

from tests.integration.test_local_stack import our_pids

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def test_demo_runs_the_whole_pipeline_and_stops_the_stack(tmp_path):
    run_dir = tmp_path / "run"
    kafka_port = free_port()
    env = {
        **os.environ,
        "STOCKPULSE_RUN_DIR": str(run_dir),
        "STOCKPULSE_KAFKA_PORT": str(kafka_port),
        "STOCKPULSE_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka_port}",
        "STOCKPULSE_KAFKA_CONTROLLER_PORT": str(free_port()),
        "STOCKPULSE_API_BIND": f"127.0.0.1:{free_port()}",
        "STOCKPULSE_METASTORE_PORT": str(free_port()),
        "STOCKPULSE_SPARK_UI_PORT": str(free_port()),
    }
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
    assert our_pids(run_dir) == []
