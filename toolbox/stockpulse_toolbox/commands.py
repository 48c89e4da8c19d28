"""The toolbox's subcommands of ``stockpulse``: up, down, status, demo, bench, dashboards.

The product's command finds them through the ``stockpulse.commands`` entry point, which
names ``register``; each subcommand imports its module when it runs, since the stack,
demo and bench load pyspark and the dashboards the Grafana SDK.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stockpulse.arguments import positive_minutes
from stockpulse.settings import Settings


def _cmd_up(settings: Settings, _args: argparse.Namespace) -> int:
    from .devstack import stack  # on run: the stack's modules load pyspark

    try:
        stack.up(settings)
    except stack.StartFailed as exc:
        stopped = ", ".join(exc.stopped) or "nothing"
        stack.say(f"start failed: {exc}; stopped what this run started ({stopped}); what ran before still runs")
        return 1
    return 0


def _cmd_down(settings: Settings, _args: argparse.Namespace) -> int:
    from .devstack import stack  # on run: the stack's modules load pyspark

    stack.down(settings)
    return 0


def _cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    from .devstack import stack  # on run: the stack's modules load pyspark

    report = stack.status(settings)
    if args.json:
        print(json.dumps(report))
    else:
        for name, info in report.items():
            state = "healthy" if info["healthy"] else ("running, unhealthy" if info["running"] else "stopped")
            print(f"{name:<10} {state:<20} {info['detail']}")
    return 0 if all(info["healthy"] for info in report.values()) else 1


def _cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from .demo.run import demo  # on run: loads pyspark

    return demo(settings, sessions=args.sessions, timeout=args.timeout, keep_running=args.keep_running)


def _cmd_bench(settings: Settings, args: argparse.Namespace) -> int:
    from .bench import run  # on run: loads pyspark

    out = args.out or settings.run_dir / "bench.json"
    if args.soak is not None:
        from .bench.soak import run as run_soak  # on run: loads pyspark and pyiceberg

        which = {"both": (True, False), "with": (True,), "without": (False,)}[args.maintenance]
        return run_soak(settings, out=out, minutes=args.soak, which=which)
    return run(settings, out=out, quick=args.quick, skip_lake=args.skip_lake)


def _cmd_dashboards(_settings: Settings, args: argparse.Namespace) -> int:
    from .dashboards.render import OUT_DIR, stale, write  # on run: loads the Grafana SDK

    args.out = args.out or OUT_DIR
    if args.check:
        differ = stale(args.out)
        for name in differ:
            print(f"stockpulse dashboards: {args.out / name} differs from the code; run `stockpulse dashboards`")
        return 1 if differ else 0
    for name in write(args.out):
        print(args.out / name)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the toolbox's subcommands to the ``stockpulse`` command's ``sub``."""
    sub.add_parser("up", help="start the local stack in the background (state under .run/)").set_defaults(func=_cmd_up)
    sub.add_parser("down", help="stop every process of the local stack").set_defaults(func=_cmd_down)
    p = sub.add_parser("status", help="show each part of the local stack and whether it is healthy")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_status)
    p = sub.add_parser("demo", help="start the stack, drive load, wait for the lake, print the report, stop")
    p.add_argument("--sessions", type=int, default=150, help="customer sessions to simulate (default 150)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the lake to catch up")
    p.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the stack up afterwards (to look at it: stockpulse status, Grafana; stop it with stockpulse down)",
    )
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser(
        "bench", help="measure API throughput/latency, freshness and ingest rate; figures to .run/bench.json"
    )
    p.add_argument("--out", type=Path, default=None, help="where to write the figures (default .run/bench.json)")
    p.add_argument("--quick", action="store_true", help="short runs, to check the benchmark itself works")
    p.add_argument("--skip-lake", action="store_true", help="only the API figures (no Spark)")
    p.add_argument(
        "--soak",
        type=positive_minutes,
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
