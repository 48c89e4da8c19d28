"""``stockpulse up`` / ``status`` / ``down`` as a newcomer runs them, on free loopback ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.http import call
from tests.support.processes import our_pids
from tests.support.stack_env import stack_env

pytestmark = pytest.mark.integration

STOCKPULSE = str(Path(sys.executable).parent / "stockpulse")


def run(env: dict[str, str], *args: str, timeout: float = 420) -> subprocess.CompletedProcess:
    return subprocess.run([STOCKPULSE, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_up_status_down_on_a_fresh_run_dir(tmp_path):
    run_dir = tmp_path / "run"
    env = stack_env(run_dir, STOCKPULSE_MAINTAIN_INTERVAL_MINUTES="0.1")
    api_port = int(env["STOCKPULSE_API_BIND"].rsplit(":", 1)[1])
    try:
        up = run(env, "up")
        assert up.returncode == 0, up.stderr
        assert "kafka ready" in up.stderr and "api ready" in up.stderr

        status = run(env, "status", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        report = json.loads(status.stdout)
        assert report["kafka"]["healthy"] and report["api"]["healthy"] and report["prometheus"]["healthy"]

        url = f"http://127.0.0.1:{api_port}"
        quote = call(url, "GET", "/GOOG")
        assert quote.status == 200 and quote.body["ticker"] == "GOOG"
        order = call(url, "POST", "/AMZN/buy/10")
        assert (order.status, order.body) == (201, {"task": "bought_10_AMZN"})

        again = run(env, "up")
        assert again.returncode == 0 and "already running" in again.stderr

        # the maintenance part runs on its interval (6 s here) and reports the run in status
        deadline = time.monotonic() + 900  # generous: a run is a dozen Spark jobs on a shared 2-core machine
        maintain = {}
        while time.monotonic() < deadline and "last_run" not in maintain:
            time.sleep(3)
            maintain = json.loads(run(env, "status", "--json").stdout)["maintain"]
        assert maintain.get("healthy"), maintain
        assert sorted(maintain["last_run"]["tables"]) == [
            "quarantine",
            "stock_call",
            "stock_insights",
            "stock_operation",
        ]
    finally:
        down = run(env, "down")
    assert down.returncode == 0, down.stderr
    assert our_pids(run_dir) == []
    stopped = run(env, "status")
    assert stopped.returncode == 1 and "stopped" in stopped.stdout


def test_every_command_has_help():
    for args in (["--help"], ["up", "--help"], ["down", "--help"], ["status", "--help"], ["maintain", "--help"]):
        result = subprocess.run([STOCKPULSE, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "usage: stockpulse" in result.stdout


def test_bad_configuration_exits_2_with_one_line():
    env = {**os.environ, "STOCKPULSE_MAX_QUANTITY": "lots"}
    result = run(env, "status")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "STOCKPULSE_MAX_QUANTITY" in result.stderr
