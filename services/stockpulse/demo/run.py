"""The demo: up, load, wait until the lake holds every acknowledged event, report, down."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

from ..settings import Settings
from .driver import LoadResult, run_load


def _say(message: str, end: str = "\n") -> None:
    print(f"[demo] {message}", end=end, file=sys.stderr, flush=True)


def lake_counts(settings: Settings, session_prefix: str) -> dict[str, int]:
    """Rows of this demo run per table, read with pyiceberg (no JVM) from the committed snapshots."""
    from pyiceberg.catalog.hive import HiveCatalog
    from pyiceberg.exceptions import NoSuchTableError
    from pyiceberg.expressions import StartsWith

    catalog = HiveCatalog("lake", uri=settings.metastore_thrift_uri)
    counts = {}
    for table in ("stock_call", "stock_operation"):
        try:
            scan = catalog.load_table(f"default.{table}").scan(
                row_filter=StartsWith("session_id", session_prefix), selected_fields=("event_id",)
            )
            counts[table] = scan.to_arrow().num_rows
        except NoSuchTableError:
            counts[table] = 0
    return counts


def wait_for_lake(settings: Settings, prefix: str, load: LoadResult, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    want = {k: load.acknowledged.get(k, 0) for k in ("stock_call", "stock_operation")}
    counts = {k: 0 for k in want}
    while time.monotonic() < deadline:
        counts = lake_counts(settings, prefix)
        _say(
            "lake holds " + ", ".join(f"{k} {counts[k]}/{want[k]}" for k in want) + "   ",
            end="\r",
        )
        if counts == want:
            break
        time.sleep(1.0)
    print(file=sys.stderr)
    return counts


def demo(settings: Settings, sessions: int = 150, timeout: float = 300.0) -> int:
    from ..devstack import stack
    from ..lake.report import report_from_lake
    from ..lake.report_render import print_report, render_html
    from ..lake.session import build_session

    run_id = f"demo-{uuid.uuid4().hex[:8]}"
    html = settings.run_dir / "report.html"
    try:
        stack.up(settings)
        _say(f"driving {sessions} customer sessions against {settings.api_url} (run {run_id})")
        started = time.monotonic()
        load = run_load(
            settings.api_url,
            settings.tickers,
            sessions,
            run_id,
            progress=lambda n, total: _say(f"sessions {n}/{total}", end="\r"),
        )
        print(file=sys.stderr)
        _say(
            f"{load.requests} requests in {time.monotonic() - started:.1f}s: acknowledged "
            f"{dict(load.acknowledged)}, not acknowledged {dict(load.failed) or 0}"
        )
        counts = wait_for_lake(settings, run_id, load, timeout)
        missing = {k: load.acknowledged.get(k, 0) - counts.get(k, 0) for k in counts}
        spark = build_session(settings, "stockpulse-demo-report")
        try:
            report = report_from_lake(spark)
        finally:
            spark.stop()
        print_report(report, sys.stdout)
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_html(report), encoding="utf-8")
        print(f"\nHTML report: {Path(html).resolve()}")
        if any(missing.values()) or load.failed:
            _say(f"FAILED: acknowledged events missing from the lake: {missing}; failed requests: {dict(load.failed)}")
            return 1
        _say("every acknowledged event is in the lake exactly once")
        return 0
    finally:
        stack.down(settings)
