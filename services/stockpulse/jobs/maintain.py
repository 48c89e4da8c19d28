"""The table maintenance job: ``lake.maintenance``'s run over every table, once or on an interval.

Run it::

    stockpulse maintain [--table stock_call] [--every MINUTES]
    spark-submit spark/maintain.py     # one run, as the ScheduledSparkApplication does

It exits 1 when a step of the last run failed, so a scheduled run shows as failed.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence

from pyspark.sql import SparkSession

from ..arguments import MAINTAIN_EPILOG, MAINTAIN_HELP, job_main, maintain_arguments
from ..lake.maintenance import TABLES, Plan, maintain, status_path
from ..lake.progress import write_progress
from ..lake.session import build_session
from ..lake.tables import ensure_tables, settings_properties
from ..settings import Settings


def run(settings: Settings, tables: Sequence[str] | None = None, every_minutes: float | None = None) -> int:
    """One maintenance run (or one every ``every_minutes`` until SIGTERM); 1 when a step of the last run failed.

    With ``every_minutes`` the SparkSession is built at the first run, not at start, so the
    local stack's ``up`` pays no JVM start for it.
    """
    stop = threading.Event()
    if every_minutes is not None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    spark: SparkSession | None = None
    failed = False
    plan = Plan.from_settings(settings)
    try:
        while every_minutes is None or not stop.wait(every_minutes * 60):
            if spark is None:
                spark = build_session(settings, "stockpulse-maintain")
                ensure_tables(spark, settings_properties(settings))
            report = maintain(spark, plan, tables or TABLES)
            write_progress(status_path(settings.run_dir), report)
            failed = bool(report["failed"])
            if every_minutes is None:
                break
    finally:
        if spark is not None:
            spark.stop()
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """The entry point ``spark/maintain.py`` calls."""
    parser = argparse.ArgumentParser(prog="stockpulse maintain", description=MAINTAIN_HELP, epilog=MAINTAIN_EPILOG)
    maintain_arguments(parser)
    return job_main(parser, argv, lambda settings, args: run(settings, args.table or None, args.every))
