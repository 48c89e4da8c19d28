"""The ``stockpulse`` command: the local stack and the lake from one entry point.

Every subcommand has ``--help``. Configuration comes from ``STOCKPULSE_*``
environment variables (see README); a bad value exits with code 2 and one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .logconfig import configure_logging
from .settings import Settings, SettingsError, load_settings


def _cmd_up(settings: Settings, _args: argparse.Namespace) -> int:
    from .devstack import stack

    try:
        stack.up(settings)
    except Exception as exc:
        stack.say(f"start failed: {exc}; stopping what was started")
        stack.down(settings)
        return 1
    return 0


def _cmd_down(settings: Settings, _args: argparse.Namespace) -> int:
    from .devstack import stack

    stack.down(settings)
    return 0


def _cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    from .devstack import stack

    report = stack.status(settings)
    if args.json:
        print(json.dumps(report))
    else:
        for name, info in report.items():
            state = "healthy" if info["healthy"] else ("running, unhealthy" if info["running"] else "stopped")
            print(f"{name:<10} {state:<20} {info['detail']}")
    return 0 if all(info["healthy"] for info in report.values()) else 1


def _cmd_topics(settings: Settings, args: argparse.Namespace) -> int:
    import logging
    import time

    from .events.admin import ensure_topics
    from .events.topics import ALL_TOPICS

    log = logging.getLogger("stockpulse.topics")
    specs = args.topic or list(ALL_TOPICS)
    deadline = time.monotonic() + args.wait
    while True:
        try:
            created = ensure_topics(settings.kafka_bootstrap, specs, timeout=10)
        except Exception as exc:  # Kafka not reachable yet: the Job starts beside the broker
            if time.monotonic() >= deadline:
                print(
                    f"stockpulse topics: {settings.kafka_bootstrap} not usable after {args.wait:.0f} s: {exc}",
                    file=sys.stderr,
                )
                return 1
            log.info("waiting for Kafka at %s: %s", settings.kafka_bootstrap, exc)
            time.sleep(3)
            continue
        log.info(
            "topics at %s: created %s, %d present",
            settings.kafka_bootstrap,
            created or "none",
            len(specs) - len(created),
        )
        return 0


def _cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    from .lake.ingest import run

    return run(settings, available_now=args.available_now, ui=not args.no_ui)


def _cmd_sql(settings: Settings, args: argparse.Namespace) -> int:
    from .lake.sql import QueryError, run_queries

    try:
        return run_queries(settings, args.query, sys.stdout, as_json=args.json, engine=args.engine)
    except QueryError as exc:
        print(f"stockpulse sql: {exc}", file=sys.stderr)
        return 1


def _cmd_report(settings: Settings, args: argparse.Namespace) -> int:
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


def _cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from .demo.run import demo

    return demo(settings, sessions=args.sessions, timeout=args.timeout)


def _cmd_maintain(settings: Settings, args: argparse.Namespace) -> int:
    from .lake.maintenance import run

    return run(settings, tables=args.table or None, every_minutes=args.every)


def _cmd_bench(settings: Settings, args: argparse.Namespace) -> int:
    from .bench import run

    out = args.out or settings.run_dir / "bench.json"
    if args.soak is not None:
        from .bench.soak import run as run_soak

        which = {"both": (True, False), "with": (True,), "without": (False,)}[args.maintenance]
        return run_soak(settings, out=out, minutes=args.soak, which=which)
    return run(settings, out=out, quick=args.quick, skip_lake=args.skip_lake)


def _cmd_dashboards(_settings: Settings, args: argparse.Namespace) -> int:
    from .dashboards.render import OUT_DIR, stale, write

    args.out = args.out or OUT_DIR
    if args.check:
        differ = stale(args.out)
        for name in differ:
            print(f"stockpulse dashboards: {args.out / name} differs from the code; run `stockpulse dashboards`")
        return 1 if differ else 0
    for name in write(args.out):
        print(args.out / name)
    return 0


def _positive_minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"minutes must be a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"minutes must be positive, got {text}")
    return value


def _topic_spec(text: str):
    from .events.topics import TopicSpec

    try:
        return TopicSpec.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stockpulse",
        description="Stock checks and orders through Kafka into the lake: run the local stack and query it.",
        epilog="Configuration: STOCKPULSE_* environment variables (see README.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("up", help="start the local stack in the background (state under .run/)").set_defaults(func=_cmd_up)
    sub.add_parser("down", help="stop every process of the local stack").set_defaults(func=_cmd_down)
    p = sub.add_parser("status", help="show each part of the local stack and whether it is healthy")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_status)
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
    p = sub.add_parser("ingest", help="run the streaming ingest job in the foreground (Kafka -> lake tables)")
    p.add_argument("--available-now", action="store_true", help="process what is in Kafka now, then exit")
    p.add_argument("--no-ui", action="store_true", help="do not start the Spark UI")
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
    p = sub.add_parser("demo", help="start the stack, drive load, wait for the lake, print the report, stop")
    p.add_argument("--sessions", type=int, default=150, help="customer sessions to simulate (default 150)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the lake to catch up")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser(
        "maintain",
        help="table maintenance: compact small files, expire old snapshots, rewrite manifests, remove orphan files",
        epilog="Retention, kept snapshots, orphan margin and target file size: STOCKPULSE_SNAPSHOT_RETENTION_HOURS, "
        "STOCKPULSE_SNAPSHOTS_KEPT, STOCKPULSE_ORPHAN_MARGIN_HOURS, STOCKPULSE_TARGET_FILE_MB (docs/lake.md).",
    )
    p.add_argument(
        "--table", action="append", choices=("stock_call", "stock_operation", "quarantine"), help="only this table"
    )
    p.add_argument(
        "--every", type=_positive_minutes, default=None, metavar="MINUTES", help="run again every MINUTES until stopped"
    )
    p.set_defaults(func=_cmd_maintain)
    p = sub.add_parser(
        "bench", help="measure API throughput/latency, freshness and ingest rate; figures to .run/bench.json"
    )
    p.add_argument("--out", type=Path, default=None, help="where to write the figures (default .run/bench.json)")
    p.add_argument("--quick", action="store_true", help="short runs, to check the benchmark itself works")
    p.add_argument("--skip-lake", action="store_true", help="only the API figures (no Spark)")
    p.add_argument(
        "--soak",
        type=_positive_minutes,
        default=None,
        metavar="MINUTES",
        help="instead: the local stack at a steady mixed load for MINUTES (30 for the doc's rows), "
        "MERGE time, freshness, snapshots, files and seed queries at the start and the end (docs/performance.md)",
    )
    p.add_argument(
        "--maintenance",
        choices=("both", "with", "without"),
        default="both",
        help="with --soak: soak with `stockpulse maintain` running, without, or both one after the other",
    )
    p.set_defaults(func=_cmd_bench)
    p = sub.add_parser("dashboards", help="render the Grafana dashboards (Grafana Foundation SDK) to the chart's JSON")
    p.add_argument("--out", type=Path, default=None, help="folder to write to (default charts/stockpulse/dashboards)")
    p.add_argument("--check", action="store_true", help="exit 1 when the files there differ from what the code renders")
    p.set_defaults(func=_cmd_dashboards)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"stockpulse: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, stream=sys.stderr)
    return args.func(settings, args)


if __name__ == "__main__":
    sys.exit(main())
