"""A failed bench names the part that died on its own and prints the end of its log (CI keeps only output)."""

from __future__ import annotations

import sys
import time

from stockpulse_toolbox.bench.benchstack import report_exited
from stockpulse_toolbox.devstack.process import ManagedProcess


def test_a_part_that_exited_is_named_with_its_log_and_a_running_one_is_not(tmp_path, capsys):
    died = ManagedProcess("api", tmp_path)
    died.start([sys.executable, "-c", "print('Worker failed to boot.'); raise SystemExit(3)"])
    alive = ManagedProcess("kafka", tmp_path)
    alive.start([sys.executable, "-c", "import time; print('still here'); time.sleep(60)"])
    try:
        deadline = time.monotonic() + 10
        while died.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        report_exited(tmp_path)
    finally:
        alive.stop()
        died.stop()
    err = capsys.readouterr().err
    assert "[bench] api is no longer running" in err
    assert "Worker failed to boot." in err
    assert "kafka" not in err and "still here" not in err


def test_a_part_stopped_by_the_bench_is_not_reported(tmp_path, capsys):
    part = ManagedProcess("ingest", tmp_path)
    part.start([sys.executable, "-c", "import time; time.sleep(60)"])
    part.stop()
    report_exited(tmp_path)
    assert capsys.readouterr().err == ""
