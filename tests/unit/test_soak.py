"""The soak's arithmetic: its scaled plan, the bounds it checks, its verdict and its doc rows.

Expected values are worked out by hand from docs/lake.md's bounds, not by the code under test.
"""

from __future__ import annotations

import re

from stockpulse.settings import load_settings
from stockpulse_toolbox.bench.report import DOC, SOAK_MARKER, insert_rows
from stockpulse_toolbox.bench.soak import MergeWatch, SoakPlan, merge_figures, soak_rows, verdict


def plan(maintenance: bool = True, minutes: float = 30) -> SoakPlan:
    return SoakPlan.make(minutes, maintenance, load_settings({}))


def test_a_30_minute_soak_scales_retention_and_interval_and_keeps_the_default_trigger():
    p = plan()
    assert (p.window_s, p.warmup_s, p.trigger_seconds) == (180, 60, 2)
    assert (p.retention_hours, p.interval_minutes) == (0.1, 5)


def test_bounds_follow_docs_lake():
    p = plan()
    # snapshots: max(360 s / 2 s, 100 kept) + 300 s / 2 s + the run's 4 commits
    assert p.snapshot_bound() == 180 + 150 + 4
    # files: 1 compacted + (300 s interval + 180 s window) / 2 s
    assert p.files_bound() == 1 + 240
    # with fewer commits in the retention than are kept, the kept ones bound it
    short = SoakPlan.make(12, True, load_settings({}))  # retention 2.4 min = 72 commits < 100 kept
    assert short.snapshot_bound() == 100 + 60 + 4


def test_merge_figures_add_up_each_batch_and_skip_batches_without_a_merge():
    batches = [
        {"batch": 1, "merge_s": {"stock_call": 0.5, "stock_operation": 0.3}},
        {"batch": 2, "merge_s": {"stock_call": 0.7}},
        {"batch": 3, "merge_s": {}},
        {"batch": 4, "merge_s": {"stock_call": 0.2, "stock_operation": 0.9}},
    ]
    figures = merge_figures(batches)
    assert figures["batches"] == 4
    # per batch: 0.7, 0.8, 1.1 -> nearest rank p50 is the 2nd, p95 the 3rd
    assert figures["per_batch"] == {"p50": 0.8, "p95": 1.1}
    assert figures["per_table"]["stock_operation"] == {"p50": 0.3, "p95": 0.9}


def window(merge_p50: float, fresh_p95: float, snapshots: int, files: int) -> dict:
    tables = {
        name: {"snapshots": snapshots, "data_files": files, "max_files_per_partition": files, "manifests": 3}
        for name in ("stock_call", "stock_operation", "quarantine", "stock_insights")
    }
    return {
        "merge_s": {"batches": 90, "per_batch": {"p50": merge_p50, "p95": merge_p50 * 2}, "per_table": {}},
        "freshness_s": {"orders": 100, "visible": 100, "p50": fresh_p95 / 2, "p95": fresh_p95},
        "tables": tables,
        "seed_queries_s": {"fast_path_max_s": 0.31, "spark_command_all_six_s": 14.26},
    }


def test_verdict_holds_within_20_percent_and_the_bounds():
    check = verdict(plan(), window(1.0, 4.0, 100, 50), window(1.15, 4.6, 334, 241))
    assert check["merge_p50_growth"] == 0.15 and check["freshness_p95_growth"] == 0.15
    assert check["within_20_percent"] and check["snapshots_within_bound"] and check["files_within_bound"]


def test_verdict_fails_on_decay_or_a_bound_passed():
    slower = verdict(plan(), window(1.0, 4.0, 100, 50), window(1.25, 4.0, 100, 50))
    assert slower["merge_p50_growth"] == 0.25 and not slower["within_20_percent"]
    staler = verdict(plan(), window(1.0, 4.0, 100, 50), window(1.0, 5.0, 100, 50))
    assert not staler["within_20_percent"]
    piled = verdict(plan(), window(1.0, 4.0, 100, 50), window(1.0, 4.0, 335, 242))
    assert not piled["snapshots_within_bound"] and not piled["files_within_bound"]


def test_soak_rows_fit_the_table_in_docs_performance(tmp_path):
    result = {
        "plan": {**plan().__dict__},
        "start": window(1.0, 4.0, 120, 61),
        "end": window(1.1, 4.2, 300, 90),
    }
    result["verdict"] = verdict(plan(), result["start"], result["end"])
    figures = {"date": "2026-11-30T14:00:00Z", "soak": {"with_maintenance": result}}
    [row] = soak_rows(figures)
    assert row == (
        "| 2026-11-30 14:00 UTC | 30 min, T 2 s, retention 6 min, every 5 min | with | 1.00 → 1.10 | 4.00 → 4.20 "
        "| 120 → 300 / 120 → 300 (bound 334) | 61 → 90 / 61 → 90 (bound 241) | 0.31 → 0.31 | 14.3 → 14.3 | yes |"
    )
    header = [line for line in DOC.read_text().split(SOAK_MARKER)[0].splitlines() if line.startswith("| date")][-1]
    assert row.count(" | ") == header.count(" | ")
    doc = tmp_path / "performance.md"
    doc.write_text(f"before\n{SOAK_MARKER}\nafter\n")
    assert insert_rows(doc, SOAK_MARKER, [row])
    assert re.fullmatch(rf"before\n{re.escape(row)}\n{re.escape(SOAK_MARKER)}\nafter\n", doc.read_text())
    assert not insert_rows(tmp_path / "missing.md", SOAK_MARKER, [row])


def test_a_window_counts_every_batch_that_ran_during_it_also_in_part():
    watch = MergeWatch(job=None)  # type: ignore[arg-type] - never started: only its bookkeeping
    spans = {1: (90.0, 99.0), 2: (99.0, 112.0), 3: (105.0, 108.0), 4: (112.0, 130.0), 5: (121.0, 125.0)}
    watch.batches = {b: {"batch": b, "started_at": s, "finished_at": f} for b, (s, f) in spans.items()}
    # the window [100, 120): batch 2 started before it, 4 ended after it; 1 ended and 5 started outside it
    assert sorted(b["batch"] for b in watch.between(100.0, 120.0)) == [2, 3, 4]
