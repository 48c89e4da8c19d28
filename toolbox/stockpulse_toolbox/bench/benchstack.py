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

from stockpulse.settings import Settings

from ..devstack.local_stack import LocalStack, on_free_ports
from ..devstack.process import ManagedProcess

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
    return on_free_ports(settings, run_dir, log_level="WARNING")


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


def bench_stack(bench: Settings) -> LocalStack:
    """The measurement's stack (``devstack.local_stack``); the ingest runs without Spark's UI."""
    return LocalStack(bench, ingest_ui=False)


def start_part(stack: LocalStack, name: str, stops: Stops) -> None:
    """Start one part of ``stack`` (after the parts it needs), usable when this returns; ``stop_all`` stops
    it, also after a failed start."""
    for part in stack.with_needs((name,)):
        stops.append((part, stack.part(part).stop))
        say(f"{part} {stack.starter(part)()}")


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
