"""What every bench measurement shares: private settings on free ports, readiness, cleanup.

Its own module so that the runner and the measurements (``lake``, ``sqlpath``, ``profile``)
import it instead of each other.
"""

from __future__ import annotations

import shutil
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stockpulse.events.admin import ensure_topics
from stockpulse.settings import Settings

from ..devstack.api_server import ApiServer
from ..devstack.kafka import KafkaBroker
from ..devstack.process import ManagedProcess, free_ports

#: What a measurement started, in order, as (name, stop): ``stop_all`` stops them in reverse.
Stops = list[tuple[str, Callable[[], Any]]]


def drop_data(run_dir: Path) -> None:
    """Delete what a run stored (Kafka log, metastore, lake, checkpoints); logs and profiles stay."""
    for sub in ("kafka", "warehouse", "metastore", "checkpoints"):
        shutil.rmtree(run_dir / sub, ignore_errors=True)


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def bench_settings(settings: Settings, run_dir: Path) -> Settings:
    """The user's knobs (workers, threads, trigger, tickers...) on fresh ports and a private run folder."""
    kafka, controller, api, metastore, spark_ui, ingest_metrics, kafka_metrics, prometheus = free_ports(8)
    return settings.with_overrides(
        run_dir=run_dir,
        kafka_port=kafka,
        kafka_controller_port=controller,
        kafka_bootstrap=f"127.0.0.1:{kafka}",
        api_bind=f"127.0.0.1:{api}",
        metastore_port=metastore,
        metastore_uri="",
        warehouse="",
        checkpoint_dir="",
        spark_ui_port=spark_ui,
        ingest_metrics_bind=f"127.0.0.1:{ingest_metrics}",
        kafka_metrics_port=kafka_metrics,
        prometheus_port=prometheus,
        log_level="WARNING",
    )


def wait_ready(url: str, timeout: float = 60.0) -> None:
    """Until ``url`` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s")


def start_kafka(bench: Settings, stops: Stops) -> KafkaBroker:
    """The bench's own broker, ready, with the product's topics."""
    broker = KafkaBroker(bench.run_dir, bench.kafka_port, bench.kafka_controller_port)
    say(f"kafka on {broker.bootstrap} (run folder {bench.run_dir})")
    broker.start()
    stops.append(("kafka", broker.stop))
    broker.wait_ready()
    ensure_topics(broker.bootstrap)
    return broker


def start_api(bench: Settings, stops: Stops) -> ApiServer:
    """gunicorn with the bench's settings, answering ``/readyz``."""
    api = ApiServer(bench)
    api.start()
    stops.append(("api", api.stop))
    wait_ready(bench.api_url + "/readyz")
    return api


def report_exited(run_dir: Path, lines: int = 15) -> None:
    """After a failed measurement: each part that exited on its own (its pid file is there, its
    process is not), with the end of its log, since a CI run keeps only the output."""
    for pid_file in sorted((run_dir / "pids").glob("*.pid")):
        process = ManagedProcess(pid_file.stem, run_dir)
        if process.running():
            continue
        say(f"{process.name} is no longer running; the end of {process.log_file}:")
        try:
            tail = process.log_file.read_text(errors="replace").splitlines()[-lines:]
        except FileNotFoundError:
            tail = ["(no log)"]
        for line in tail:
            say("  " + line[:400])


def stop_all(stops: Stops) -> None:
    """Stop every part, last started first; a part that fails to stop does not keep the others running."""
    for name, stop in reversed(stops):
        try:
            stop()
        except Exception as exc:
            say(f"stopping {name} failed: {exc}")
