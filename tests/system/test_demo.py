"""``stockpulse demo`` end to end on a fresh run folder and free loopback ports (load, lake
caught up, report), then the stack it left running as a newcomer and an operator meet it:
``status``, ``up`` again, the API, a maintenance run, each part killed in turn and repaired
by ``up``, and ``down``. One stack start serves all of it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stockpulse.settings import DEFAULT_TICKERS
from stockpulse_toolbox.devstack.local_stack import PARTS
from stockpulse_toolbox.devstack.process import ManagedProcess

from tests.support import wait_for
from tests.support.http import call
from tests.support.processes import our_pids
from tests.support.stack_env import stack_env

pytestmark = [pytest.mark.integration, pytest.mark.spark]

STOCKPULSE = str(Path(sys.executable).parent / "stockpulse")


def run(env: dict[str, str], *args: str, timeout: float = 420) -> subprocess.CompletedProcess:
    return subprocess.run([STOCKPULSE, *args], env=env, capture_output=True, text=True, timeout=timeout)


def check_demo(result: subprocess.CompletedProcess, run_dir: Path) -> None:
    assert result.returncode == 0, result.stderr[-4000:]
    assert "kafka ready" in result.stderr and "api ready" in result.stderr
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


def healthy(env: dict[str, str]) -> bool:
    status = run(env, "status", "--json")
    return status.returncode == 0 and all(part["healthy"] for part in json.loads(status.stdout).values())


def test_demo_then_the_running_stack_through_status_up_and_down(tmp_path):
    run_dir = tmp_path / "run"
    # the first maintenance run falls in or just after the demo, not over and over during it
    env = stack_env(run_dir, STOCKPULSE_MAINTAIN_INTERVAL_MINUTES="1.5")
    api_port = int(env["STOCKPULSE_API_BIND"].rsplit(":", 1)[1])
    try:
        demo = run(env, "demo", "--sessions", "25", "--keep-running", timeout=600)
        check_demo(demo, run_dir)
        assert "the stack keeps running" in demo.stderr

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

        # the maintenance part runs on its interval and reports the run in status
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

        # one part at a time dies (SIGKILL to its whole group); `up` starts it alone and exits 0
        for name in PARTS:
            others = {other: ManagedProcess(other, run_dir).pid() for other in PARTS if other != name}
            ManagedProcess(name, run_dir).kill()
            assert wait_for(lambda n=name: not ManagedProcess(n, run_dir).running(), timeout=30), name
            repaired = run(env, "up")
            assert repaired.returncode == 0, (name, repaired.stderr[-3000:])
            assert f"starting {name} ..." in repaired.stderr, (name, repaired.stderr[-3000:])
            assert all(f"{other} already running" in repaired.stderr for other in others), repaired.stderr[-3000:]
            assert {other: ManagedProcess(other, run_dir).pid() for other in others} == others, name
            assert wait_for(lambda: healthy(env), timeout=120, interval=2), (name, run(env, "status").stdout)
    finally:
        down = run(env, "down")
    assert down.returncode == 0, down.stderr
    assert our_pids(run_dir) == []
    stopped = run(env, "status")
    assert stopped.returncode == 1 and "stopped" in stopped.stdout
