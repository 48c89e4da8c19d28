"""``stockpulse bench --soak MINUTES``: does the lake stay fast under a steady load, with and without maintenance?

The ingest adds a snapshot and small files every trigger, so what decays is metadata and file
counts. A soak runs the local stack on its own ports, with ``stockpulse maintain --every`` or without,
under a paced mix of checks and orders, and measures a window at the start and one at the end:
``merge_s``, ``freshness_s``, ``tables`` (snapshots, files, manifests) and ``seed_queries_s``.
Retention and interval are scaled to the soak (``SoakPlan.make``); the bounds are docs/lake.md's
(``snapshot_bound``, ``files_bound``). Method and rows: docs/performance.md, "Soak".
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stockpulse.events.topics import STOCK_CALL, STOCK_OPERATION
from stockpulse.lake.maintenance import TABLES, status_path
from stockpulse.lake.progress import read_progress
from stockpulse.lake.seed import SEED_QUERIES
from stockpulse.settings import Settings

from ..customers import Customers, SteadyRun
from ..devstack.ingest_job import IngestJob
from .benchstack import Stops, bench_settings, bench_stack, drop_data, report_exited, say, start_part, stop_all
from .lake import iceberg_catalog, visible_at
from .stats import percentiles

#: End against start: what "stays fast" allows (docs/lake.md, the soak's bounds).
ALLOWED_GROWTH = 0.20
#: Requests per second of the steady load, and its mix (a share of checks, the rest orders).
RATE = 20.0
CHECK_SHARE = 0.6
#: Soaks shorter than this are smoke runs (the tests'): no doc row, and the seed queries on the fast path only.
DOC_MINUTES = 30.0


@dataclass(frozen=True)
class SoakPlan:
    minutes: float
    maintenance: bool
    window_s: float  # each measuring window, at the start (after warm-up) and at the end
    warmup_s: float  # after the ingest caught up, before the start window
    retention_hours: float
    interval_minutes: float
    trigger_seconds: float
    snapshots_kept: int
    spark_queries: bool  # also time the seed queries on Spark (a JVM start per window)

    @classmethod
    def make(cls, minutes: float, maintenance: bool, settings: Settings) -> SoakPlan:
        seconds = minutes * 60
        return cls(
            minutes=minutes,
            maintenance=maintenance,
            window_s=min(180.0, seconds / 6),
            warmup_s=min(60.0, seconds / 20),
            retention_hours=round(minutes / 5 / 60, 4),
            interval_minutes=round(minutes / 6, 3),
            trigger_seconds=settings.lake.trigger_seconds,
            snapshots_kept=settings.maintenance.snapshots_kept,
            spark_queries=minutes >= DOC_MINUTES,
        )

    def snapshot_bound(self) -> int:
        """docs/lake.md: max(retention / T, kept) + I / T commits, plus the run's own (four per table)."""
        per_trigger = lambda seconds: math.ceil(seconds / self.trigger_seconds)  # noqa: E731
        retained = max(per_trigger(self.retention_hours * 3600), self.snapshots_kept)
        return retained + per_trigger(self.interval_minutes * 60) + 4

    def files_bound(self, compacted: int = 1) -> int:
        """docs/lake.md: the compacted files of a partition plus one file per trigger since the last run.

        A run itself takes a while, and the ingest appends during it: one interval and one window
        are allowed for (the end window may start while a run is still going)."""
        return compacted + math.ceil((self.interval_minutes * 60 + self.window_s) / self.trigger_seconds)


class MergeWatch(threading.Thread):
    """Every batch's ``merge_s`` from the ingest's progress history (it keeps the last 50 batches)."""

    def __init__(self, job: IngestJob) -> None:
        super().__init__(name="soak-merges", daemon=True)
        self.job = job
        self.batches: dict[int, dict[str, Any]] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(2.0):
            for entry in (self.job.progress() or {}).get("history") or []:
                self.batches.setdefault(entry["batch"], entry)

    def between(self, since: float, until: float) -> list[dict[str, Any]]:
        """The batches that ran during [since, until), also in part: a batch may outlast a short window."""
        return [b for b in list(self.batches.values()) if b["started_at"] < until and b["finished_at"] >= since]

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def merge_figures(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """p50/p95 seconds per table's MERGE, and of a batch's MERGEs together."""
    per_table: dict[str, list[float]] = {}
    for batch in batches:
        for table, seconds in (batch.get("merge_s") or {}).items():
            per_table.setdefault(table, []).append(seconds)
    totals = [sum((b.get("merge_s") or {}).values()) for b in batches if b.get("merge_s")]
    return {
        "batches": len(batches),
        "per_batch": {k: round(v, 3) for k, v in percentiles(totals, (50, 95)).items()},
        "per_table": {t: {k: round(v, 3) for k, v in percentiles(s, (50, 95)).items()} for t, s in per_table.items()},
    }


def table_figures(settings: Settings) -> dict[str, dict[str, int]]:
    """Snapshots, data files, the fullest partition's data files and manifests of each table (pyiceberg)."""
    catalog = iceberg_catalog(settings)
    figures = {}
    for name in TABLES:
        table = catalog.load_table(f"default.{name}")
        if table.current_snapshot() is None:
            figures[name] = {"snapshots": 0, "data_files": 0, "max_files_per_partition": 0, "manifests": 0}
            continue
        files = table.inspect.files().select(["content", "partition"]).to_pylist()
        partitions = Counter(repr(sorted(f["partition"].items())) for f in files if f["content"] == 0)
        figures[name] = {
            "snapshots": len(table.snapshots()),
            "data_files": sum(partitions.values()),
            "max_files_per_partition": max(partitions.values(), default=0),
            "manifests": table.inspect.manifests().num_rows,
        }
    return figures


def seed_query_figures(settings: Settings, spark: bool) -> dict[str, Any]:
    """The seed's six queries: fast path cold seconds each and, with ``spark``, one Spark command with all six."""

    from .sqlpath import time_command, time_fast_path

    fast = time_fast_path(settings, repeats=1)
    return {
        "fast_path_cold_s": {q: f["cold"] for q, f in fast.items()},
        "fast_path_max_s": max(f["cold"] for f in fast.values()),
        "spark_command_all_six_s": time_command(settings, "--engine", "spark", *SEED_QUERIES) if spark else None,
    }


def window_figures(
    settings: Settings, plan: SoakPlan, load: SteadyRun, merges: MergeWatch, since: float, until: float
) -> dict[str, Any]:
    """Everything measured for the window [since, until) of wall time, read right after it."""
    sent = load.answers.orders_between(since, until)
    # the window's last orders land a batch or two after it: read until all are there (or 120 s)
    deadline = time.monotonic() + 120
    seen = visible_at(settings, since * 1000.0)
    while any(order_id not in seen for order_id, _ in sent) and time.monotonic() < deadline:
        time.sleep(3)
        seen = visible_at(settings, since * 1000.0)
    delays = [seen[order_id] / 1000.0 - at for order_id, at in sent if order_id in seen]
    return {
        "from": time.strftime("%H:%M:%S", time.gmtime(since)),
        "seconds": round(until - since, 1),
        "merge_s": merge_figures(merges.between(since, until)),
        "freshness_s": {
            "orders": len(sent),
            "visible": len(delays),
            **{k: round(v, 3) for k, v in percentiles(delays, (50, 95)).items()},
        },
        "tables": table_figures(settings),
        "seed_queries_s": seed_query_figures(settings, plan.spark_queries),
    }


def growth(start: float | None, end: float | None) -> float | None:
    """End against start as a fraction (0.1 = 10% slower); None without both."""
    if not start or end is None:
        return None
    return round(end / start - 1.0, 3)


def verdict(plan: SoakPlan, start: dict[str, Any], end: dict[str, Any]) -> dict[str, Any]:
    """The acceptance's checks on one soak's two windows."""
    merge = growth(start["merge_s"]["per_batch"].get("p50"), end["merge_s"]["per_batch"].get("p50"))
    fresh = growth(start["freshness_s"].get("p95"), end["freshness_s"].get("p95"))
    snapshots = max(t["snapshots"] for t in end["tables"].values())
    files = max(t["max_files_per_partition"] for t in end["tables"].values())
    return {
        "merge_p50_growth": merge,
        "freshness_p95_growth": fresh,
        "within_20_percent": merge is not None and fresh is not None and max(merge, fresh) <= ALLOWED_GROWTH,
        "max_snapshots": snapshots,
        "snapshot_bound": plan.snapshot_bound(),
        "snapshots_within_bound": snapshots <= plan.snapshot_bound(),
        "max_files_per_partition": files,
        "files_bound": plan.files_bound(),
        "files_within_bound": files <= plan.files_bound(),
    }


def soak_settings(settings: Settings, plan: SoakPlan, run_dir: Path) -> Settings:
    """The bench's private ports and folder, with the retention and interval scaled to the soak."""
    return bench_settings(settings, run_dir).with_overrides(
        maintenance={"snapshot_retention_hours": plan.retention_hours, "interval_minutes": plan.interval_minutes}
    )


def _wait_until(wall: float) -> None:
    time.sleep(max(0.0, wall - time.time()))


def run_soak(settings: Settings, plan: SoakPlan, run_dir: Path) -> dict[str, Any]:
    """One soak; every process it started is stopped by its pid, also on error."""
    soak = soak_settings(settings, plan, run_dir)
    stops: Stops = []
    label = "with" if plan.maintenance else "without"
    stack = bench_stack(soak)
    try:
        for name in ("kafka", "metastore", "api", "ingest"):
            start_part(stack, name, stops)
        job = stack.ingest
        job.wait_caught_up(timeout=600)
        if plan.maintenance:
            start_part(stack, "maintain", stops)
        load = Customers(soak.api.url, soak.tickers, "soak", seed=11).steady(RATE, CHECK_SHARE)
        merges = MergeWatch(job)
        load.start()
        stops.append(("load", load.stop))
        merges.start()
        stops.append(("merge watch", merges.stop))
        began = time.time()
        say(f"soak {label} maintenance: {plan.minutes:g} min at {RATE:g} requests/s (run folder {run_dir})")
        start_from = began + plan.warmup_s
        _wait_until(start_from + plan.window_s)
        start = window_figures(soak, plan, load, merges, start_from, start_from + plan.window_s)
        say(f"soak {label}: start window {_summary(start)}")
        end_from = began + plan.minutes * 60 - plan.window_s
        while time.time() < end_from:
            _wait_until(min(end_from, time.time() + 300))
            answers = dict(load.answers.by_status)
            say(f"soak {label}: {(time.time() - began) / 60:.1f} of {plan.minutes:g} min; answers {answers}")
        _wait_until(end_from + plan.window_s)
        end = window_figures(soak, plan, load, merges, end_from, end_from + plan.window_s)
        say(f"soak {label}: end window {_summary(end)}")
        maintained = last_maintenance_run(soak, timeout=600) if plan.maintenance else None
        return {
            "plan": asdict(plan),
            "answers": dict(load.answers.by_status),
            "start": start,
            "end": end,
            "verdict": verdict(plan, start, end),
            "last_maintenance_run": maintained,
        }
    except Exception:
        report_exited(run_dir)
        raise
    finally:
        stop_all(stops)


def last_maintenance_run(settings: Settings, timeout: float) -> dict[str, Any]:
    """The report of the last finished maintenance run, waiting for the first one if none finished yet:
    a soak "with maintenance" whose maintenance never ran measured nothing of it."""

    deadline = time.monotonic() + timeout
    while (report := read_progress(status_path(settings.run_dir))) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no maintenance run finished within the soak and {timeout:.0f} s after it")
        time.sleep(2)
    return report


def _summary(window: dict[str, Any]) -> str:
    merge = window["merge_s"]["per_batch"].get("p50")
    fresh = window["freshness_s"].get("p95")
    snapshots = {t: f["snapshots"] for t, f in window["tables"].items()}
    return f"merge p50 {merge} s, freshness p95 {fresh} s, snapshots {snapshots}"


def soak(settings: Settings, minutes: float, which: tuple[bool, ...], stamp: str) -> dict[str, Any]:
    """The soaks ``which`` asks for (True = with maintenance), one after the other, on their own stacks."""
    figures: dict[str, Any] = {}
    for maintenance in which:
        plan = SoakPlan.make(minutes, maintenance, settings)
        run_dir = settings.run_dir / "bench" / f"soak-{stamp}-{'with' if maintenance else 'without'}"
        figures["with_maintenance" if maintenance else "without_maintenance"] = run_soak(settings, plan, run_dir)
        drop_data(run_dir)
    return figures


def summary_cells(result: dict[str, Any]) -> list[str]:
    """The doc row's cells for one soak (see ``report.soak_row``)."""
    start, end, check = result["start"], result["end"], result["verdict"]

    def pair(path: tuple[str, ...], fmt: str = "{:.2f}") -> str:
        values = []
        for window in (start, end):
            value: Any = window
            for key in path:
                value = (value or {}).get(key)
            values.append("-" if value is None else fmt.format(value))
        return " → ".join(values)

    tables = (STOCK_CALL, STOCK_OPERATION)
    return [
        "with" if result["plan"]["maintenance"] else "without",
        pair(("merge_s", "per_batch", "p50")),
        pair(("freshness_s", "p95")),
        " / ".join(f"{start['tables'][t]['snapshots']} → {end['tables'][t]['snapshots']}" for t in tables)
        + f" (bound {check['snapshot_bound']})",
        " / ".join(
            f"{start['tables'][t]['max_files_per_partition']} → {end['tables'][t]['max_files_per_partition']}"
            for t in tables
        )
        + f" (bound {check['files_bound']})",
        pair(("seed_queries_s", "fast_path_max_s")),
        pair(("seed_queries_s", "spark_command_all_six_s"), "{:.1f}"),
        "yes" if check["within_20_percent"] else "no",
    ]


def soak_rows(figures: dict[str, Any]) -> list[str]:
    """docs/performance.md's rows for the soaks of one ``--soak`` run."""
    when = figures["date"][:16].replace("T", " ") + " UTC"
    rows = []
    for result in figures["soak"].values():
        plan = result["plan"]
        setup = f"{plan['minutes']:g} min, T {plan['trigger_seconds']:g} s"
        if plan["maintenance"]:
            setup += f", retention {plan['retention_hours'] * 60:g} min, every {plan['interval_minutes']:g} min"
        rows.append("| " + " | ".join([when, setup, *summary_cells(result)]) + " |")
    return rows


def run(settings: Settings, out: Path, minutes: float, which: tuple[bool, ...]) -> int:
    """``stockpulse bench --soak MINUTES``: the soaks, figures to ``out`` (``make docs-figures`` copies them)."""
    from . import report

    started_at = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started_at))
    maintenance = {(True,): "with", (False,): "without"}.get(which, "both")
    figures: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_at)),
        "command": f"stockpulse bench --soak {minutes:g} --maintenance {maintenance}",
        "machine": report.machine(),
        "soak": None,
    }
    ok = False
    try:
        figures["soak"] = soak(settings, minutes, which, stamp)
        ok = True
    except Exception as exc:
        say(f"soak failed: {exc}")
        figures["error"] = str(exc)
    figures["seconds_total"] = round(time.time() - started_at, 1)
    report.write_json(out, figures)
    say(f"figures written to {out}")
    if ok and minutes >= DOC_MINUTES:
        say(f"`make docs-figures` adds its rows to {report.DOC}")
    return 0 if ok else 1
