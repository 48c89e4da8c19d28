"""``stockpulse maintain``: keep the streaming-written tables small in metadata and files.

The ingest commits a snapshot per table per trigger, each adding small data files; left
alone, metadata, query planning and the MERGEs slow down as they pile up. Each run calls,
per table, Iceberg's Spark procedures ``rewrite_data_files`` (event tables sorted by ticker
and event time, the others bin-packed), ``expire_snapshots``, ``rewrite_manifests`` and
``remove_orphan_files``. A failed step is logged and listed in the report's ``failed``; the
others still run. Bounds, and why each step is safe beside the ingest: docs/lake.md, "Maintenance".
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from ..events.topics import STOCK_CALL, STOCK_OPERATION
from ..settings import Settings
from .tables import DATABASE, INSIGHTS, QUARANTINE

log = logging.getLogger(__name__)

TABLES = (STOCK_CALL, STOCK_OPERATION, QUARANTINE, INSIGHTS)
#: Compaction's sort for the event tables; the quarantine and the insights are bin-packed.
SORT_ORDER = "stock_name ASC NULLS LAST, event_time ASC NULLS LAST"
#: Upper bound of one run's compaction per table; the rest waits for the next run.
MAX_FILES_PER_RUN = 5000
CATALOG = "spark_catalog"
#: Attempts per step. ``rewrite_manifests`` fails with "Manifest is missing" when a commit lands
#: between its plan and its commit and drops a manifest it planned to replace: the ingest's next
#: MERGE drops the manifest of only deleted files that the compaction just wrote (apache/iceberg
#: #3744). A new attempt plans against the new current snapshot. The other steps do not conflict
#: with appends (compaction retries its own commits).
ATTEMPTS = {"rewrite_manifests": 3}


@dataclass(frozen=True)
class Plan:
    """What one maintenance run keeps and removes (from the ``STOCKPULSE_*`` settings)."""

    retention_hours: float
    snapshots_kept: int
    orphan_margin_hours: float
    target_file_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Plan:
        return cls(
            retention_hours=settings.maintenance.snapshot_retention_hours,
            snapshots_kept=settings.maintenance.snapshots_kept,
            orphan_margin_hours=settings.maintenance.orphan_margin_hours,
            target_file_bytes=settings.maintenance.target_file_mb * 1024 * 1024,
        )


def _timestamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def procedure_calls(table: str, plan: Plan, now: float) -> list[tuple[str, str]]:
    """The four ``CALL`` statements for ``table`` as (step name, SQL); the session time zone is UTC.

    The table is named with its catalog: a bare ``default.x`` makes Iceberg first try ``default``
    as a catalog and log a warning with a stack trace at every step.
    """
    ident = f"{CATALOG}.{DATABASE}.{table}"
    options = {
        "target-file-size-bytes": str(plan.target_file_bytes),
        "partial-progress.enabled": "true",
        "max-concurrent-file-group-rewrites": "1",
        "max-files-to-rewrite": str(MAX_FILES_PER_RUN),
    }
    option_map = ", ".join(f"'{k}', '{v}'" for k, v in options.items())
    binpack = table in (QUARANTINE, INSIGHTS)
    strategy = "strategy => 'binpack'" if binpack else f"strategy => 'sort', sort_order => '{SORT_ORDER}'"
    expire_before = _timestamp(now - plan.retention_hours * 3600)
    orphans_before = _timestamp(now - plan.orphan_margin_hours * 3600)
    system = f"{CATALOG}.system"
    return [
        (
            "rewrite_data_files",
            f"CALL {system}.rewrite_data_files(table => '{ident}', {strategy}, options => map({option_map}))",
        ),
        (
            "expire_snapshots",
            f"CALL {system}.expire_snapshots(table => '{ident}', older_than => TIMESTAMP '{expire_before}', "
            f"retain_last => {plan.snapshots_kept}, stream_results => true)",
        ),
        ("rewrite_manifests", f"CALL {system}.rewrite_manifests(table => '{ident}')"),
        (
            "remove_orphan_files",
            f"CALL {system}.remove_orphan_files(table => '{ident}', older_than => TIMESTAMP '{orphans_before}')",
        ),
    ]


def _result(rows: list[Any], step: str) -> dict[str, Any]:
    """The procedure's counts; ``remove_orphan_files`` answers one row per removed file instead."""
    if step == "remove_orphan_files":
        return {"orphan_files_removed": len(rows), "orphan_files": [r[0] for r in rows[:20]]}
    return rows[0].asDict() if rows else {}


def table_shape(spark: SparkSession, table: str) -> dict[str, int]:
    """Snapshots, live data files and the most files in one partition: what maintenance bounds."""
    ident = f"{DATABASE}.{table}"
    snapshots = spark.sql(f"SELECT COUNT(*) AS n FROM {ident}.snapshots").collect()[0]["n"]
    files = spark.sql(f"SELECT COUNT(*) AS n, MAX(file_count) AS most FROM {ident}.partitions").collect()[0]
    live = spark.sql(f"SELECT COUNT(*) AS n FROM {ident}.data_files").collect()[0]["n"]
    return {"snapshots": int(snapshots), "data_files": int(live), "most_files_in_a_partition": int(files["most"] or 0)}


def failure_reason(exc: BaseException) -> str:
    """What went wrong, in one line: for an error from the JVM, its exception's class and message
    (Py4J's own first line only names the call, "An error occurred while calling o68.sql.")."""
    java = getattr(exc, "java_exception", None)
    text = str(exc)
    if java is not None:
        with contextlib.suppress(Exception):  # the gateway is gone: keep what Python has
            text = str(java.toString())
    lines = [line.strip().lstrip(": ") for line in text.splitlines()]
    useful = [line for line in lines if line and not line.startswith("An error occurred while calling")]
    return (useful[0] if useful else text.strip())[:500]


def maintain(
    spark: SparkSession, plan: Plan, tables: Sequence[str] = TABLES, now: Callable[[], float] = time.time
) -> dict[str, Any]:
    """One run over ``tables``; returns per table the shape before and after and each step's result."""
    started = now()
    report: dict[str, Any] = {"started_at": started, "plan": plan.__dict__, "tables": {}, "failed": []}
    for table in tables:
        entry: dict[str, Any] = {"before": table_shape(spark, table), "steps": {}}
        for step, sql in procedure_calls(table, plan, now()):
            t0 = time.monotonic()
            attempts = ATTEMPTS.get(step, 1)
            for attempt in range(1, attempts + 1):
                try:
                    result = {**_result(spark.sql(sql).collect(), step), "attempts": attempt}
                    break
                except Exception as exc:  # keep going: the other steps still help
                    message = failure_reason(exc)
                    if attempt < attempts:
                        log.warning(
                            "maintenance step failed, trying again",
                            extra={"table": table, "step": step, "attempt": attempt, "error": message},
                        )
                        continue
                    log.error("maintenance step failed", extra={"table": table, "step": step, "error": message})
                    report["failed"].append(f"{table}.{step}: {message}")
                    result = {"error": message, "attempts": attempt}
            entry["steps"][step] = {**result, "seconds": round(time.monotonic() - t0, 2)}
        entry["after"] = table_shape(spark, table)
        report["tables"][table] = entry
        log.info("maintained", extra={"table": table, "before": entry["before"], "after": entry["after"]})
    report["seconds"] = round(now() - started, 2)
    report["finished_at"] = now()
    return report


def status_path(run_dir: Path) -> Path:
    return run_dir / "maintain" / "last.json"
