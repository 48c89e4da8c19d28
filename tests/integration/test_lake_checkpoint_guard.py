"""The checkpoint repair on real Spark and Kafka: only for the buggy Spark versions, never under a live driver.

A running ingest driver is frozen (SIGSTOP) while a micro-batch is in flight, so its
checkpoint has an offsets entry without a commit: exactly what the start-up repair
deletes after a crash. A second driver must leave it alone, and so must the repair on a
Spark version without the replay bug.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from stockpulse.lake.checkpoint import drop_uncommitted_batch, has_replay_bug
from stockpulse.lake.hadoopfs import HadoopFolder
from stockpulse.lake.lease import CheckpointBusy, DriverLease
from stockpulse_toolbox.devstack.ingest_job import IngestJob

from tests.support.lake import (
    encode,
    ingest_available_now,
    lake_table,
    produce,
    valid_events,
)
from tests.support.stacks import lake_parts

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def batch_ids(folder: Path) -> list[int]:
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.is_dir() else []


def uncommitted(checkpoint: Path) -> int | None:
    offsets, commits = batch_ids(checkpoint / "offsets"), batch_ids(checkpoint / "commits")
    if offsets and (not commits or commits[-1] < offsets[-1]):
        return offsets[-1]
    return None


def freeze_mid_batch(job: IngestJob, checkpoint: Path, timeout: float = 180.0) -> int:
    """SIGSTOP the driver's process group while its checkpoint shows a batch without a commit."""
    pgid = job.process.pid()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if uncommitted(checkpoint) is not None:
            os.killpg(pgid, signal.SIGSTOP)
            batch = uncommitted(checkpoint)
            if batch is not None:
                return batch
            os.killpg(pgid, signal.SIGCONT)  # it committed in between: try the next batch
        time.sleep(0.01)
    raise AssertionError("no batch in flight was caught")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    with lake_parts(
        tmp_path_factory.mktemp("guard-run"), lake={"trigger_seconds": 0.5, "max_offsets_per_trigger": 60}
    ) as stack:
        yield stack


def test_a_second_driver_leaves_a_live_drivers_batch_in_flight_alone(lake, spark):
    settings = lake.settings
    checkpoint = settings.run_dir / "checkpoints" / "ingest"
    events = valid_events(random.Random(3), {"GOOG": 150, "MSFT": 150}, orders=200)
    produce(settings.kafka.bootstrap, [(t, k, encode(e)) for t, k, e in events])
    first = lake.ingest
    first.start(ui=False)
    try:
        batch = freeze_mid_batch(first, checkpoint)
        try:
            offsets_file = checkpoint / "offsets" / str(batch)
            before = offsets_file.read_bytes()

            # a second driver on the same checkpoint waits one (short) lease TTL, then gives up untouched
            second = ingest_available_now(settings.with_overrides(lake={"checkpoint_lease_seconds": 3}))
            assert second.returncode == 3, second.stdout[-2000:] + second.stderr[-2000:]
            assert "is held by driver pid" in second.stdout + second.stderr
            assert offsets_file.read_bytes() == before and uncommitted(checkpoint) == batch

            # the repair itself, called by a process that does not hold the lease, refuses
            folder = HadoopFolder(spark, settings.checkpoint_uri + "/ingest")
            outsider = DriverLease(folder, ttl_s=3)
            with pytest.raises(CheckpointBusy):
                drop_uncommitted_batch(folder, outsider, "4.1.1")
            # and on a Spark release without the bug it does nothing at all
            assert drop_uncommitted_batch(folder, outsider, "4.2.0") is None
            assert offsets_file.read_bytes() == before and uncommitted(checkpoint) == batch
        finally:
            os.killpg(first.process.pid(), signal.SIGCONT)
        first.wait_caught_up()
    finally:
        first.stop()
    produced = sorted(e["event_id"] for t, _, e in events if t == "stock_call")
    assert sorted(lake_table(settings, "stock_call", ("event_id",)).column("event_id").to_pylist()) == produced


def test_only_the_spark_releases_with_the_replay_bug_are_repaired():
    assert has_replay_bug("4.1.1") and has_replay_bug("4.1.0")
    assert not has_replay_bug("4.1.2") and not has_replay_bug("4.2.0") and not has_replay_bug("4.0.1")
