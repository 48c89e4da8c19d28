"""``stockpulse maintain`` on real parts, run while the streaming ingest keeps committing.

Many small micro-batches make many snapshots and small files; maintenance then runs
beside the live ingest. Afterwards pyiceberg (not Spark) checks what it did: the old
snapshots are gone, each partition is a few sorted files, an old orphan file was
removed and a young one kept, and every event is still there exactly once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow.parquet as pq
import pytest
from stockpulse.lake.maintenance import status_path

from tests.support.lake import (
    STOCKPULSE,
    encode,
    lake_table,
    produce,
    valid_events,
)
from tests.support.stacks import lake_parts

pytestmark = [pytest.mark.integration, pytest.mark.spark]

KEPT = 3
RETENTION_H = 0.002  # 7.2 s


def local(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


def catalog_table(settings, name: str):
    from pyiceberg.catalog.hive import HiveCatalog

    return HiveCatalog("tests", uri=settings.metastore_thrift_uri).load_table(f"default.{name}")


@pytest.fixture(scope="module")
def maintained(tmp_path_factory):
    small_batches = {"trigger_seconds": 0.5, "max_offsets_per_trigger": 12}
    retention = {"snapshot_retention_hours": RETENTION_H, "snapshots_kept": KEPT}
    with lake_parts(tmp_path_factory.mktemp("maintain-run"), lake=small_batches, maintenance=retention) as stack:
        yield _maintain_beside_the_ingest(stack)


def _maintain_beside_the_ingest(stack) -> dict:
    """Fill the lake in small batches, then run `stockpulse maintain` while the ingest keeps committing."""
    settings = stack.settings
    run_dir = settings.run_dir
    rng = random.Random(11)
    events = valid_events(rng, {t: 20 for t in ("GOOG", "MSFT", "AAPL", "TSLA")}, orders=20)
    job = stack.ingest
    try:
        produce(settings.kafka.bootstrap, [(t, k, encode(e)) for t, k, e in events])
        job.start(ui=False)
        job.wait_caught_up(timeout=900)
        table = catalog_table(settings, "stock_call")
        before = sorted(table.snapshots(), key=lambda s: s.timestamp_ms)
        data = local(table.location()) / "data"
        partition = next(p for p in data.iterdir() if p.is_dir())
        old_orphan, young_orphan = partition / "00000-orphan-old.parquet", partition / "00000-orphan-young.parquet"
        for orphan in (old_orphan, young_orphan):
            orphan.write_bytes(b"PAR1 left by a writer that died mid-commit")
        four_days_ago = time.time() - 4 * 86400
        os.utime(old_orphan, (four_days_ago, four_days_ago))
        time.sleep(RETENTION_H * 3600 + 1)  # every snapshot so far is past the retention

        started_ms = time.time() * 1000
        env = {**os.environ, **settings.to_env(), "SPARK_LOCAL_IP": "127.0.0.1"}
        log_file = run_dir / "maintain.log"
        with log_file.open("wb") as log:  # a file, not a pipe: Spark's log lines would fill a pipe nobody reads
            run = subprocess.Popen(
                [STOCKPULSE, "maintain"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 1200
        # The ingest commits every 2 s or so for as long as maintenance runs, also between the
        # compaction and the manifest rewrite (its MERGE drops the compaction's manifest of only
        # deleted files, which the rewrite planned to replace: apache/iceberg#3744). Not faster:
        # the progress history, which counts the batches since the run began, keeps 50.
        while run.poll() is None:
            if time.monotonic() > deadline:
                os.killpg(run.pid, signal.SIGKILL)  # the driver and its JVM
                raise AssertionError("maintenance did not finish; see " + str(log_file))
            more = valid_events(rng, {"GOOG": 2, "NVDA": 2}, orders=1)
            events += more
            produce(settings.kafka.bootstrap, [(t, k, encode(e)) for t, k, e in more])
            time.sleep(2.0)
        assert run.returncode == 0, log_file.read_text()[-4000:]
        finished_ms = time.time() * 1000
        job.wait_caught_up(timeout=900)
        history = job.progress()["history"]
        batches_since = sum(1 for b in history if b["started_at"] * 1000 >= started_ms)
        during = sum(1 for b in history if started_ms <= b["finished_at"] * 1000 <= finished_ms)
    finally:
        job.stop()
    return {
        "settings": settings,
        "before": before,
        "batches_since": batches_since,
        "batches_during": during,
        "old_orphan": old_orphan,
        "young_orphan": young_orphan,
        "status": json.loads(status_path(run_dir).read_text()),
        "produced": events,
    }


def test_every_event_is_still_there_exactly_once(maintained):
    settings = maintained["settings"]
    for name in ("stock_call", "stock_operation"):
        rows = Counter(lake_table(settings, name, ("event_id",)).column("event_id").to_pylist())
        produced = {e["event_id"] for t, _, e in maintained["produced"] if t == name}
        assert set(rows) == produced and set(rows.values()) == {1}, name


def test_every_step_succeeded_while_the_ingest_kept_committing(maintained):
    """The manifest rewrite too: it tries again when a MERGE dropped a manifest it planned to replace."""
    status = maintained["status"]
    assert status["failed"] == []
    assert maintained["batches_during"] >= 5, "the ingest hardly committed while maintenance ran"
    for table in ("stock_call", "stock_operation"):
        steps = status["tables"][table]["steps"]
        assert set(steps) == {"rewrite_data_files", "expire_snapshots", "rewrite_manifests", "remove_orphan_files"}
        assert all("error" not in step for step in steps.values()), steps


def test_snapshots_past_the_retention_are_expired_but_the_newest_are_kept(maintained):
    table = catalog_table(maintained["settings"], "stock_call")
    left = {s.snapshot_id for s in table.snapshots()}
    before = maintained["before"]
    assert len(before) > KEPT + 3, "the ingest made too few snapshots to test expiry"
    # every snapshot made before the run was past the retention: only the newest KEPT may remain
    assert not {s.snapshot_id for s in before[:-KEPT]} & left
    assert table.current_snapshot().snapshot_id in left


def test_small_files_are_compacted_into_files_sorted_by_ticker_and_time(maintained):
    table = catalog_table(maintained["settings"], "stock_call")
    replaces = [s for s in table.snapshots() if s.summary.operation.value == "replace"]
    assert replaces, "no compaction commit"
    compaction = replaces[0]
    added = [
        e["data_file"]["file_path"]
        for e in table.inspect.entries(snapshot_id=compaction.snapshot_id).to_pylist()
        if e["snapshot_id"] == compaction.snapshot_id and e["status"] == 1
    ]
    assert added
    for path in added:
        rows = pq.read_table(local(path), columns=["stock_name", "event_time"]).to_pylist()
        keys = [(r["stock_name"], r["event_time"]) for r in rows]
        assert keys == sorted(keys), path
    # per partition: the compacted file(s) plus at most one file per batch since maintenance started
    files = Counter(str(r["partition"]) for r in table.inspect.files().select(["partition"]).to_pylist())
    assert max(files.values()) <= len(added) + maintained["batches_since"]
    status = maintained["status"]["tables"]["stock_call"]
    assert status["before"]["data_files"] > status["after"]["data_files"]


def test_old_orphan_files_are_removed_and_young_ones_kept(maintained):
    assert not maintained["old_orphan"].exists()
    assert maintained["young_orphan"].exists()
    removed = maintained["status"]["tables"]["stock_call"]["steps"]["remove_orphan_files"]
    assert [Path(unquote(urlparse(p).path)).name for p in removed["orphan_files"]] == ["00000-orphan-old.parquet"]
