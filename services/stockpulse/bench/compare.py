"""The product API against an experimental variant, same run, same gunicorn settings, same loads.

    .venv/bin/python -m stockpulse.bench.compare [--seconds 20] [--app stockpulse.bench.experiment_app:create_app()]

Prints one JSON object: for each server (``product``, ``variant``), the order-only and mixed
figures as ``stockpulse bench`` measures them (wrk, 50 connections, warm-up discarded).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from ..devstack.kafka import KafkaBroker
from ..devstack.process import free_port
from ..events.admin import ensure_topics
from ..settings import load_settings
from .api import GunicornServer, measure
from .runner import _wait_ready, bench_settings, drop_data
from .wrk import ensure_wrk

KEEP = ("rps", "latency_ms", "errors", "every_order_acked", "server_cores_busy", "other_cores_busy")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--app", default="stockpulse.bench.experiment_app:create_app()")
    args = parser.parse_args(argv)
    wrk = ensure_wrk()
    base = load_settings()
    run_dir = Path(tempfile.mkdtemp(prefix="compare-", dir=base.run_dir if base.run_dir.is_dir() else None))
    settings = bench_settings(base, run_dir)
    broker = KafkaBroker(run_dir, settings.kafka_port, settings.kafka_controller_port)
    servers = {
        "product": GunicornServer(settings, "product", "stockpulse.api:create_app()"),
        "variant": GunicornServer(settings.with_overrides(api_bind=f"127.0.0.1:{free_port()}"), "variant", args.app),
    }
    results: dict[str, dict] = {}
    try:
        broker.start()
        broker.wait_ready()
        ensure_topics(broker.bootstrap)
        for server in servers.values():
            server.start()
            _wait_ready(server.url + "/readyz")
        for mix in ("order", "mixed"):
            for name, server in servers.items():
                figures = measure(
                    wrk, server.url, mix, settings.tickers, args.seconds, args.warmup, server.process.pid(), server.url
                )
                results.setdefault(name, {})[mix] = {k: figures.get(k) for k in KEEP}
    finally:
        for server in servers.values():
            server.stop()
        broker.stop()
        drop_data(run_dir)
    print(json.dumps({"app": args.app, "seconds": args.seconds, "connections": 50, **results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
