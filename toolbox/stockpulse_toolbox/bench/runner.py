"""``stockpulse bench``: start the parts on free loopback ports, measure, write the figures.

Order: Kafka and the API first; with the lake, the seed queries on a demo-sized lake of their
own (``bench.sqlpath``), the metastore, the ingest throughput from a pre-filled topic (the SQL
figures' events are in it too), then freshness with the continuous ingest, then the three API
loads while the ingest consumes them (the full pipeline, as users run it, with the CPU each part
took). The Spark job and the metastore then stop, and the ceiling and the three API loads run
again on the API alone. Every process started is stopped by its pid, also on error.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stockpulse.settings import Settings

from ..devstack.local_stack import LocalStack
from ..devstack.process import free_port
from . import report
from .api import CeilingServer, measure_all, measure_pipeline
from .benchstack import (
    Stops,
    bench_settings,
    bench_stack,
    drop_data,
    report_exited,
    say,
    start_part,
    stop_all,
    wait_ready,
)
from .wrk import WrkError, ensure_wrk, wrk_version


@dataclass(frozen=True)
class Plan:
    seconds: float  # each measured API load
    warmup: float  # each discarded warm-up load
    ingest_events: int  # produced straight to Kafka before the available-now ingest
    fresh_orders: int  # orders through the API for freshness
    fresh_rate: float  # their rate, per second
    sql_events: int  # the demo-sized lake the seed queries are timed on
    insight_probes: int  # orders, one at a time, for insight freshness
    spark_command: bool  # time `stockpulse sql --engine spark` too (one more JVM start)

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(
                3,
                1,
                ingest_events=5_000,
                fresh_orders=30,
                fresh_rate=10,
                sql_events=300,
                insight_probes=5,
                spark_command=False,
            )
        return cls(
            30,
            5,
            ingest_events=600_000,
            fresh_orders=300,
            fresh_rate=10,
            sql_events=1_000,
            insight_probes=40,
            spark_command=True,
        )


def run(settings: Settings, out: Path, quick: bool = False, skip_lake: bool = False) -> int:
    plan = Plan.make(quick)
    try:
        wrk = ensure_wrk()
    except WrkError as exc:
        say(str(exc))
        return 1
    started_at = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started_at))
    run_dir = settings.run_dir / "bench" / stamp
    bench = bench_settings(settings, run_dir)
    figures: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_at)),
        "quick": quick,
        "machine": {**report.machine(), "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]},
        "settings": {
            "workers": bench.api.workers,
            "threads": bench.api.threads,
            "worker_class": "gthread",
            "connections": 50,
            "load_tool": "wrk, 2 threads, closed loop",
            "trigger_seconds": bench.lake.trigger_seconds,
            "max_offsets_per_trigger": bench.lake.max_offsets_per_trigger,
            "spark_master": bench.spark.master,
            # JVM flags every local JVM picked up (the test suite sets C1-only): figures to compare need equal ones
            "java_tool_options": os.environ.get("JAVA_TOOL_OPTIONS"),
            "tickers": list(bench.tickers),
            "plan": asdict(plan),
            "run_dir": str(run_dir),
        },
        "tools": report.tool_versions(wrk_version(wrk)),
        "api": None,
        "full_pipeline": None,
        "freshness": None,
        "insight_freshness": None,
        "ingest": None,
        "sql": None,
        "command": "stockpulse bench" + (" --quick" if quick else "") + (" --skip-lake" if skip_lake else ""),
    }
    stops: Stops = []
    ok = False
    try:
        stack = bench_stack(bench)
        start_part(stack, "kafka", stops)
        start_part(stack, "api", stops)
        broker, api, job, metastore = stack.kafka, stack.api, stack.ingest, stack.metastore
        if not skip_lake:
            figures["sql"], figures["ingest"], figures["freshness"] = _lake(stack, plan, stops)
            from .lake import measure_insight_freshness

            say(f"insight freshness: {plan.insight_probes} orders, one at a time, until /insights counts each")
            figures["insight_freshness"] = measure_insight_freshness(bench, plan.insight_probes)
            say(f"insight freshness: {figures['insight_freshness']['seconds']}")
            say(f"full pipeline: check, order, mixed while the ingest consumes; {plan.seconds:g}s each")
            others = {"kafka": broker.process.pid(), "metastore": metastore.process.pid(), "ingest": job.process.pid()}
            pipeline = measure_pipeline(wrk, bench, api.process.pid(), plan.seconds, plan.warmup, others)
            started_catch_up = time.monotonic()
            job.wait_caught_up(timeout=900)
            pipeline["ingest_caught_up_after_load_s"] = round(time.monotonic() - started_catch_up, 1)
            figures["full_pipeline"] = pipeline
            # the API-only loads follow: Spark and the metastore would take CPU from gunicorn
            job.stop()
            metastore.stop()
        ceiling = CeilingServer(bench.with_overrides(api={"bind": f"127.0.0.1:{free_port()}"}))
        ceiling.start()
        stops.append(("ceiling", ceiling.stop))
        wait_ready(ceiling.url + "/")
        say(f"API loads: ceiling, check, order, mixed; {plan.warmup:g}s warm-up + {plan.seconds:g}s each")
        figures["api"] = measure_all(wrk, bench, ceiling, api.process.pid(), plan.seconds, plan.warmup)
        figures["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        ok = True
    except Exception as exc:
        say(f"failed: {exc}")
        figures["error"] = str(exc)
        report_exited(run_dir)
    finally:
        stop_all(stops)
    figures["targets"] = report.evaluate(figures)
    figures["seconds_total"] = round(time.time() - started_at, 1)
    report.write_json(out, figures)
    say(f"figures written to {out}")
    if ok:
        drop_data(run_dir)
        if not quick:
            say(f"`make docs-figures` adds its row to {report.DOC}")
    print(json.dumps({"targets": figures["targets"], "out": str(out)}, indent=2))
    return 0 if ok else 1


def _lake(stack: LocalStack, plan: Plan, stops: Stops) -> tuple[dict, dict, dict]:
    """SQL, ingest and freshness figures; the ingest job and the metastore are left running."""
    from .lake import measure_freshness, measure_ingest
    from .sqlpath import measure_sql

    bench = stack.settings
    say(f"sql: the seed's six queries on a lake of {plan.sql_events:,} events, fast path and Spark")
    sql = measure_sql(bench, plan.sql_events, spark_command=plan.spark_command)
    say(
        f"sql: slowest seed query on the fast path {sql['fast_path_max_s']} s "
        f"({sql['fast_path_command_max_s']} s as a command)"
    )
    start_part(stack, "metastore", stops)
    say(f"ingest: {plan.ingest_events:,} events to Kafka, then `stockpulse ingest --available-now`")
    ingest = measure_ingest(bench, plan.ingest_events)
    say(f"ingest: {ingest['events_per_second']} events/s; freshness: {plan.fresh_orders} orders through the API")
    start_part(stack, "ingest", stops)
    freshness = measure_freshness(bench, stack.ingest, plan.fresh_orders, plan.fresh_rate)
    say(f"freshness: {freshness['seconds']}")
    return sql, ingest, freshness
