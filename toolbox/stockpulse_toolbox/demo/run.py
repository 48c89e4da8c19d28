"""The demo: a backfilled week, up, live load, a burst the insights must flag, wait until the
ingest has caught up, check every acknowledged event by its id in the lake (exactly once),
report, down."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from stockpulse.lake.report import report_from_lake
from stockpulse.lake.report_render import print_report, render_html
from stockpulse.lake.session import build_session
from stockpulse.settings import Settings

from ..customers import Customers
from ..devstack import stack
from ..devstack.local_stack import LocalStack


def _say(message: str, end: str = "\n") -> None:
    print(f"[demo] {message}", end=end, file=sys.stderr, flush=True)


LAKE_TABLES = ("stock_call", "stock_operation")


def lake_event_ids(settings: Settings, session_prefix: str) -> dict[str, list[str]]:
    """``event_id`` of every row of this demo run per table (duplicates kept), read with pyiceberg
    (no JVM) from the committed snapshots."""
    from pyiceberg.catalog.hive import HiveCatalog
    from pyiceberg.exceptions import NoSuchTableError
    from pyiceberg.expressions import StartsWith

    catalog = HiveCatalog("lake", uri=settings.metastore_thrift_uri)
    ids: dict[str, list[str]] = {}
    for table in LAKE_TABLES:
        try:
            scan = catalog.load_table(f"default.{table}").scan(
                row_filter=StartsWith("session_id", session_prefix), selected_fields=("event_id",)
            )
            ids[table] = scan.to_arrow().column("event_id").to_pylist()
        except NoSuchTableError:
            ids[table] = []
    return ids


@dataclass(frozen=True)
class LakeAudit:
    """Acknowledged events against the lake's rows, by id: a loss and a duplicate never cancel out."""

    missing: dict[str, list[str]]  # acknowledged, no row
    duplicated: dict[str, list[str]]  # more than one row
    unacknowledged: dict[str, int]  # rows no 2xx named (an order answered 504 may land)

    @property
    def exactly_once(self) -> bool:
        return not any(self.missing.values()) and not any(self.duplicated.values())


def audit(acknowledged: dict[str, list[str]], in_lake: dict[str, list[str]]) -> LakeAudit:
    missing, duplicated, unacknowledged = {}, {}, {}
    for table in LAKE_TABLES:
        rows = Counter(in_lake.get(table, []))
        sent = set(acknowledged.get(table, []))
        missing[table] = sorted(sent - set(rows))
        duplicated[table] = sorted(event_id for event_id, n in rows.items() if n > 1)
        unacknowledged[table] = len(set(rows) - sent)
    return LakeAudit(missing, duplicated, unacknowledged)


def wait_for_lake(settings: Settings, run_id: str, acknowledged: dict[str, list[str]], timeout: float) -> LakeAudit:
    """Caught up (the one rule, ``lake.catchup``), then every acknowledged id looked up. A check's
    event is sent after its 200 (asynchronously), so one may reach Kafka after the first catch-up:
    while ids are missing and time is left, catch up again."""

    job = LocalStack(settings).ingest  # the running stack's ingest, read through its progress file
    deadline = time.monotonic() + timeout
    while True:
        job.wait_caught_up(max(deadline - time.monotonic(), 1.0))
        found = audit(acknowledged, lake_event_ids(settings, run_id))
        if found.exactly_once or time.monotonic() > deadline:
            return found
        time.sleep(1.0)


def backfill_once(settings: Settings) -> None:
    """The simulated week, unless this run folder's insights already have history (a second demo
    would add a second week, and the insights would count it as late)."""
    from .backfill import produce_backfill

    view = settings.run_dir / "checkpoints" / "insights-view"
    if not settings.lake.checkpoint_dir and view.is_dir() and any(view.iterdir()):
        _say(f"backfill: skipped, {view} already has the history")
        return
    started = time.monotonic()
    done = produce_backfill(settings.kafka.bootstrap, settings.tickers, progress=_say)
    _say(
        f"backfill: a simulated week, {done.checks} checks and {done.orders} orders produced to Kafka "
        f"in {time.monotonic() - started:.1f}s"
    )


def get_json(url: str) -> tuple[int, dict]:
    """(status, JSON body); status 0 and an empty body when no answer came."""
    req = urllib.request.Request(url, headers={"User-Agent": "stockpulse-toolbox/1"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read())
        except ValueError:
            return exc.code, {}
    except (OSError, ValueError):
        return 0, {}


def show_burst(settings: Settings, customers: Customers, timeout: float = 90.0) -> bool:
    """A burst of buys on the least popular ticker; True once ``/insights?sort=unusual`` ranks it
    first. Prints what a customer of that ticker is told."""
    ticker = settings.tickers[-1]
    ids = customers.burst(ticker, orders=60)
    sent = time.monotonic()
    _say(f"burst: {len(ids)} buys of {ticker} acknowledged; waiting for the insights to flag it")
    while time.monotonic() - sent < timeout:
        status, ranked = get_json(f"{settings.api.url}/insights?sort=unusual&limit=3")
        if status == 200 and ranked["tickers"] and ranked["tickers"][0]["stock_name"] == ticker:
            status, body = get_json(f"{settings.api.url}/stocks/{ticker}/insights")
            if status == 200 and body["windows"]["15m"]["buy_orders"] >= len(ids):
                _say(f"burst: /insights ranks {ticker} first as unusual {time.monotonic() - sent:.1f}s after the burst")
                shown = {k: body[k] for k in ("stock_name", "attention_rank", "unusual", "signals", "staleness_s")}
                shown["15m"] = body["windows"]["15m"]
                print(f"Insights of {ticker} after the burst:\n{json.dumps(shown, indent=2)}\n")
                return True
        time.sleep(0.5)
    _say(f"FAILED: the insights did not flag {ticker} within {timeout:.0f}s")
    return False


def demo(settings: Settings, sessions: int = 150, timeout: float = 300.0, keep_running: bool = False) -> int:

    run_id = f"demo-{uuid.uuid4().hex[:8]}"
    html = settings.run_dir / "report.html"
    try:
        stack.up(settings, before={"ingest": lambda: backfill_once(settings)})
        _say(f"driving {sessions} customer sessions against {settings.api.url} (run {run_id})")
        started = time.monotonic()
        customers = Customers(settings.api.url, settings.tickers, run_id)
        load = customers.sessions(sessions, progress=lambda n, total: _say(f"sessions {n}/{total}", end="\r"))
        print(file=sys.stderr)
        _say(
            f"{load.requests} requests in {time.monotonic() - started:.1f}s: acknowledged "
            f"{dict(load.acknowledged)}, not acknowledged {dict(load.failed) or 0}"
        )
        flagged = show_burst(settings, customers)
        _say("waiting until the ingest has committed everything in Kafka")
        waited = time.monotonic()
        found = wait_for_lake(settings, run_id, load.event_ids, timeout)
        _say(
            f"lake caught up in {time.monotonic() - waited:.1f}s; acknowledged events found: "
            + ", ".join(
                f"{table} {len(load.event_ids.get(table, [])) - len(found.missing[table])}"
                f"/{len(load.event_ids.get(table, []))}"
                for table in LAKE_TABLES
            )
        )
        spark = build_session(settings, "stockpulse-demo-report")
        try:
            report = report_from_lake(spark)
        finally:
            spark.stop()
        print_report(report, sys.stdout)
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_html(report), encoding="utf-8")
        html.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
        print(f"\nHTML report: {Path(html).resolve()} (data: {html.with_suffix('.json').name})")
        if not flagged:
            return 1
        if not found.exactly_once or load.failed:
            _say(
                f"FAILED: acknowledged events missing from the lake: {found.missing}; "
                f"in it more than once: {found.duplicated}; failed requests: {dict(load.failed)}"
            )
            return 1
        _say("every acknowledged event is in the lake exactly once")
        return 0
    finally:
        if keep_running:
            _say("the stack keeps running: `stockpulse status` shows it, `stockpulse down` stops it")
        else:
            stack.down(settings)
