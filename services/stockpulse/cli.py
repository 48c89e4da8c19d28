"""The ``stockpulse`` command: the product's own subcommands, and those of installed plugins.

Every subcommand has ``--help``. Configuration comes from ``STOCKPULSE_*``
environment variables (see README); a bad value exits with code 2 and one line.

The same command runs in the API image (``topics``) and the Spark image (``ingest``,
``maintain``, ``sql``, ``report``), which hold different libraries, so each subcommand
imports its module when it runs. The toolbox (local stack, demo, bench, dashboards) adds
its subcommands through the ``stockpulse.commands`` entry point group: the product names
no toolbox module.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

from .arguments import (
    INGEST_HELP,
    MAINTAIN_EPILOG,
    MAINTAIN_HELP,
    ingest_arguments,
    job_main,
    maintain_arguments,
)
from .events.topics import ALL_TOPICS, TopicSpec
from .settings import Settings

#: Entry point group whose functions ``register(subparsers)`` add subcommands.
PLUGINS = "stockpulse.commands"


def _cmd_topics(settings: Settings, args: argparse.Namespace) -> int:
    import logging
    import time

    from .events.admin import ensure_topics  # confluent-kafka: in the API image only

    log = logging.getLogger("stockpulse.topics")
    specs = args.topic or list(ALL_TOPICS)
    deadline = time.monotonic() + args.wait
    while True:
        try:
            created = ensure_topics(settings.kafka.bootstrap, specs, timeout=10)
        except Exception as exc:  # Kafka not reachable yet: the Job starts beside the broker
            if time.monotonic() >= deadline:
                print(
                    f"stockpulse topics: {settings.kafka.bootstrap} not usable after {args.wait:.0f} s: {exc}",
                    file=sys.stderr,
                )
                return 1
            log.info("waiting for Kafka at %s: %s", settings.kafka.bootstrap, exc)
            time.sleep(3)
            continue
        log.info(
            "topics at %s: created %s, %d present",
            settings.kafka.bootstrap,
            created or "none",
            len(specs) - len(created),
        )
        return 0


def _cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    from .jobs.ingest import run  # pyspark: in the Spark image only

    return run(settings, available_now=args.available_now, ui=not args.no_ui)


def _cmd_sql(settings: Settings, args: argparse.Namespace) -> int:
    from .lake.sql import QueryError, run_queries  # pyspark, DuckDB: in the Spark image only

    try:
        return run_queries(settings, args.query, sys.stdout, as_json=args.json, engine=args.engine)
    except QueryError as exc:
        print(f"stockpulse sql: {exc}", file=sys.stderr)
        return 1


def _cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    # pyspark: in the Spark image only
    from .lake.report import report_from_lake
    from .lake.report_render import print_report, render_html
    from .lake.session import build_session

    spark = build_session(settings, "stockpulse-report")
    try:
        report = report_from_lake(spark)
    finally:
        spark.stop()
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report, sys.stdout)
    if args.html:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(render_html(report), encoding="utf-8")
        print(f"HTML report: {args.html.resolve()}", file=sys.stderr)
    return 0


def _cmd_maintain(settings: Settings, args: argparse.Namespace) -> int:
    from .jobs.maintain import run  # pyspark: in the Spark image only

    return run(settings, tables=args.table or None, every_minutes=args.every)


def _topic_spec(text: str) -> TopicSpec:
    try:
        return TopicSpec.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stockpulse",
        description="Stock checks and orders through Kafka into the lake: run the jobs and query the lake.",
        epilog="Configuration: STOCKPULSE_* environment variables (see README.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("topics", help="create the Kafka topics that are missing (what the chart's topics Job runs)")
    p.add_argument(
        "--topic",
        action="append",
        type=_topic_spec,
        metavar="NAME:PARTITIONS:REPLICAS:MIN_ISR:RETENTION_MS",
        help="a topic to ensure (repeatable); default: the three event topics with the local stack's settings",
    )
    p.add_argument("--wait", type=float, default=300.0, help="seconds to keep retrying while Kafka is unreachable")
    p.set_defaults(func=_cmd_topics)
    p = sub.add_parser("ingest", help=INGEST_HELP)
    ingest_arguments(p)
    p.set_defaults(func=_cmd_ingest)
    p = sub.add_parser(
        "sql",
        help='query the lake, e.g. stockpulse sql "SELECT * FROM stock_call"',
        description="Small SELECTs over one lake table are answered by DuckDB through pyiceberg (no JVM, "
        "well under a second) when their answer is the same as Spark's; everything else by Spark SQL.",
    )
    p.add_argument("query", nargs="+", help="one or more SQL statements, run in order")
    p.add_argument("--json", action="store_true", help="print one JSON object per row")
    p.add_argument(
        "--engine",
        choices=("auto", "spark", "duckdb"),
        default="auto",
        help="auto (default): DuckDB when the query is supported, else Spark; spark or duckdb: force one",
    )
    p.set_defaults(func=_cmd_sql)
    p = sub.add_parser("report", help="the advisory report over the lake (terminal tables, --json, --html PATH)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--html", type=Path, default=None, metavar="PATH", help="also write a self-contained HTML page")
    p.set_defaults(func=_cmd_report)
    p = sub.add_parser("maintain", help=MAINTAIN_HELP, epilog=MAINTAIN_EPILOG)
    maintain_arguments(p)
    p.set_defaults(func=_cmd_maintain)
    # by name: a stale egg-info beside an editable install can list the same plugin twice
    plugins = {ep.name: ep for ep in entry_points(group=PLUGINS)}
    for name in sorted(plugins):
        plugins[name].load()(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return job_main(build_parser(), argv, lambda settings, args: args.func(settings, args))


if __name__ == "__main__":
    sys.exit(main())
