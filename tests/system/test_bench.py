"""``stockpulse bench --quick`` end to end: the API figures alone and, with the lake, the full
pipeline's (speed is not asserted)."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from stockpulse.lake.seed import SEED_QUERIES
from stockpulse.settings import load_settings
from stockpulse_toolbox.bench.sqlpath import demo_like_events

from tests.support.stack_env import bench_cli

pytestmark = pytest.mark.integration


def test_quick_bench_writes_every_api_figure(tmp_path):
    out = tmp_path / "bench.json"
    doc = Path(__file__).resolve().parents[2] / "docs" / "performance.md"
    doc_before = doc.read_text() if doc.exists() else None
    bench_cli("--quick", "--skip-lake", "--out", str(out), run_dir=tmp_path / "run", timeout=180)
    figures = json.loads(out.read_text())

    assert figures["machine"]["cores"] == os.cpu_count()
    assert figures["date"] and figures["quick"] is True
    assert figures["settings"]["workers"] >= 1 and figures["settings"]["threads"] >= 1
    assert figures["settings"]["java_tool_options"] == os.environ.get("JAVA_TOOL_OPTIONS")
    assert figures["tools"]["wrk"].startswith("wrk")
    for scenario in ("ceiling", "check", "order", "mixed"):
        load = figures["api"][scenario]
        assert load["requests"] > 0 and load["rps"] > 0, scenario
        assert 0 < load["latency_ms"]["p50"] <= load["latency_ms"]["p95"] <= load["latency_ms"]["p99"], scenario
        assert sum(load["errors"].values()) == 0, (scenario, load["errors"])
        assert load["connections"] == 50
    for scenario in ("order", "mixed"):
        assert figures["api"][scenario]["sent"]["orders"] > 0
        assert figures["api"][scenario]["every_order_acked"] is True
    assert figures["api"]["check"]["sent"]["orders"] == 0
    assert figures["api"]["order"]["sent"]["checks"] == 0
    assert figures["api"]["mixed_share_of_ceiling"] > 0
    assert figures["freshness"] is None and figures["ingest"] is None and figures["sql"] is None
    assert figures["insight_freshness"] is None
    assert figures["full_pipeline"] is None
    assert figures["targets"]["freshness_p95_s"]["met"] is None
    assert figures["targets"]["pipeline_order_rps"]["met"] is None
    assert set(figures["targets"]) == {
        "mixed_share_of_ceiling",
        "mixed_p99_ms",
        "pipeline_order_rps",
        "pipeline_check_rps",
        "pipeline_mixed_p99_ms",
        "freshness_p95_s",
        "insight_freshness_p95_s",
        "ingest_events_per_second",
        "fast_path_seed_query_s",
    }
    # a quick run is a smoke test of the bench: it must not add a row to the performance doc
    assert (doc.read_text() if doc.exists() else None) == doc_before
    assert not list((tmp_path / "run" / "bench").glob("*/pids/*.pid")), "a bench process was left running"


@pytest.mark.spark
def test_quick_bench_with_the_lake_measures_the_full_pipeline_and_the_ingests_cpu(tmp_path):
    """The loads run while the ingest consumes, each part's CPU is recorded, and the ingest
    catches up after them (speed is not asserted)."""
    out = tmp_path / "bench.json"
    bench_cli("--quick", "--out", str(out), run_dir=tmp_path / "run", timeout=900)
    figures = json.loads(out.read_text())
    pipeline = figures["full_pipeline"]
    for scenario in ("check", "order", "mixed"):
        load = pipeline[scenario]
        assert load["requests"] > 0 and sum(load["errors"].values()) == 0, (scenario, load["errors"])
        assert set(load["others_cpu_s"]) == {"kafka", "metastore", "ingest"}
        assert load["others_cpu_s"]["ingest"] > 0 and load["others_cpu_s"]["kafka"] > 0, load["others_cpu_s"]
    assert pipeline["order"]["every_order_acked"] is True
    assert pipeline["ingest_caught_up_after_load_s"] >= 0
    ingest = figures["ingest"]
    assert ingest["caught_up"] is True
    assert ingest["cpu_seconds"] > 0
    # cpu_seconds is rounded to 0.1 s in the JSON, the per-1,000 figure is not
    per_1000 = ingest["cpu_seconds"] / ingest["events_in_kafka"] * 1000
    assert ingest["cpu_seconds_per_1000_events"] == pytest.approx(per_1000, abs=0.1 / ingest["events_in_kafka"] * 1000)
    assert figures["targets"]["pipeline_order_rps"]["measured"] == pipeline["order"]["rps"]
    # the seed queries on the bench's own demo-sized lake: both engines, every query timed
    sql = figures["sql"]
    produced = Counter(topic for topic, _ in demo_like_events(load_settings({}).tickers, sql["events"]))
    assert sql["events"] == 300 and sql["identical"] is True, sql["identical_per_query"]
    assert list(sql["fast_path"]) == list(SEED_QUERIES) == list(sql["fast_path_command"])
    for query in SEED_QUERIES:
        assert sql["fast_path"][query]["median"] > 0 and sql["fast_path_command"][query] > 0, query
    assert sql["rows"][SEED_QUERIES[0]] == produced["stock_call"]
    assert sql["rows"][SEED_QUERIES[4]] == produced["stock_operation"]
    assert sql["spark_command_all_six_s"] is None  # a quick run spares that JVM start
    insight = figures["insight_freshness"]
    assert insight["probes"] == 5 and 0 < insight["seconds"]["p50"] <= insight["seconds"]["p95"] <= insight["max_s"]
    assert figures["targets"]["insight_freshness_p95_s"]["measured"] == insight["seconds"]["p95"]
    assert not list((tmp_path / "run" / "bench").glob("*/pids/*.pid")), "a bench process was left running"
