"""Start-up care of the ingest checkpoint.

Spark 4.1.1's Kafka source throws a NullPointerException while reporting progress
for a batch that is *replayed* after a crash (SPARK-55271 / SPARK-57438: its
``latestPartitionOffsets`` is never set on that path; fixed after 4.1.1, whose
Kafka connector is the newest one Maven Central serves for Spark 4.1). So before
the query starts, an offsets-log entry without its commit is removed: Spark then
plans that batch afresh from the last committed offsets instead of replaying it.

This is safe here, and only here, because the query is stateless and its sink is
idempotent (``lake.writer`` merges on ``event_id`` and Kafka coordinates): whatever
range the re-planned batch covers, each record still lands exactly once.
"""

from __future__ import annotations

import logging

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


def _batch_ids(fs, folder) -> list[int]:
    if not fs.exists(folder):
        return []
    return sorted(int(s.getPath().getName()) for s in fs.listStatus(folder) if s.getPath().getName().isdigit())


def drop_uncommitted_batch(spark: SparkSession, checkpoint: str) -> int | None:
    """Remove the offsets entry of a batch that started but never committed; return its id."""
    jvm = spark.sparkContext._jvm
    root = jvm.org.apache.hadoop.fs.Path(checkpoint)
    fs = root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    offsets_dir = jvm.org.apache.hadoop.fs.Path(root, "offsets")
    offsets = _batch_ids(fs, offsets_dir)
    commits = _batch_ids(fs, jvm.org.apache.hadoop.fs.Path(root, "commits"))
    if not offsets or (commits and commits[-1] >= offsets[-1]):
        return None
    last = offsets[-1]
    for name in (str(last), f".{last}.crc"):
        path = jvm.org.apache.hadoop.fs.Path(offsets_dir, name)
        if fs.exists(path):
            fs.delete(path, False)
    log.warning("re-planning uncommitted batch", extra={"batch_id": last, "checkpoint": checkpoint})
    return last
