"""Where an API worker's time goes under load: py-spy samples the gunicorn workers during a wrk run.

Run it (py-spy from PyPI: ``.venv/bin/pip install py-spy==0.4.3``)::

    .venv/bin/python -m stockpulse_toolbox.bench.profile --mix mixed --seconds 15 [--out .run/profile-mixed.txt]

It starts its own Kafka broker and API on free loopback ports (the user's workers/threads),
drives ``wrk`` at 50 connections, records every worker with py-spy (``--idle`` off: threads
blocked waiting are not counted, so the figures are CPU-bound Python time), stops everything,
and prints the functions with the most samples, by own time and including callees.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from stockpulse.settings import load_settings

from ..devstack.local_stack import LocalStack
from ..devstack.paths import venv_bin
from .benchstack import bench_settings, drop_data
from .wrk import ensure_wrk, run_wrk


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


#: Where a request's Python time goes: a sample counts for every category whose frame is on its stack.
CATEGORIES = {
    "Flask app (framework + routes)": "Flask.__call__",
    "route: quote check": "quote (stockpulse/api/routes/quotes.py",
    "route: create_order": "create_order (stockpulse/api/routes/orders.py",
    "werkzeug (request/response objects)": "werkzeug/",
    "publish_async (check events)": "KafkaPublisher.publish_async",
    "publish_sync (order events)": "KafkaPublisher.publish_sync",
    "prometheus_client (multiprocess metrics)": "prometheus_client/",
    "json encoding": "json/encoder.py",
    "gunicorn access/error logging": "gunicorn/glogging.py",
    "gthread request handling (parse, respond)": "ThreadWorker.handle (",
    "gthread event loop (accept, keep-alive, hand-off)": "ThreadWorker.run (",
}


def summarize(collapsed: list[Path], top: int = 25) -> str:
    """Own-time and inclusive sample counts per function from py-spy's raw (collapsed-stack) output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    total = 0
    for path in collapsed:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = stack.split(";")
            total += n
            own[frames[-1]] += n
            for frame in set(frames):
                inclusive[frame] += n
            for name, pattern in CATEGORIES.items():
                if pattern in stack:
                    categories[name] += n
    lines = [f"samples: {total}", "", "categories (a sample can be in several):"]
    lines += [f"{categories[name] / total:6.1%}  {name}" for name in CATEGORIES] if total else []
    lines += ["", "own time:"]
    lines += [f"{n / total:6.1%}  {f}" for f, n in own.most_common(top)] if total else []
    lines += ["", "including callees:"]
    lines += [f"{n / total:6.1%}  {f}" for f, n in inclusive.most_common(top)] if total else []
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mix", choices=("check", "order", "mixed"), default="mixed")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=None, help="also write the summary here")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or venv_bin("py-spy")
    if not Path(py_spy).exists():
        print("py-spy is not installed: .venv/bin/pip install py-spy==0.4.3", file=sys.stderr)
        return 1
    wrk = ensure_wrk()
    base = load_settings()
    run_dir = Path(tempfile.mkdtemp(prefix="profile-", dir=base.run_dir if base.run_dir.is_dir() else None))
    settings = bench_settings(base, run_dir)
    stack = LocalStack(settings, "kafka", "api")
    api = stack.api
    outputs: list[Path] = []
    try:
        stack.start()
        run_wrk(wrk, settings.api.url, args.mix, settings.tickers, 3)  # warm-up
        load = threading.Thread(
            target=run_wrk, args=(wrk, settings.api.url, args.mix, settings.tickers, args.seconds + 4), daemon=True
        )
        load.start()
        recorders = []
        for pid in worker_pids(api.process.pid() or 0):
            out = run_dir / f"py-spy-{pid}.txt"
            outputs.append(out)
            argv = [py_spy, "record", "--pid", str(pid), "--duration", str(int(args.seconds)), "--rate", "100", "--gil"]
            argv += ["--format", "raw", "--output", str(out)]
            recorders.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for recorder in recorders:
            recorder.wait(timeout=args.seconds + 60)
        load.join(timeout=args.seconds + 60)
    finally:
        stack.stop()
        drop_data(run_dir)
    summary = (
        f"py-spy, {args.mix} load, {args.seconds:g}s, workers={settings.api.workers} threads={settings.api.threads}\n"
    )
    summary += summarize([p for p in outputs if p.exists()])
    print(summary)
    if args.out:
        args.out.write_text(summary + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
