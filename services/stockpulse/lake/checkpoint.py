"""Start-up care of the ingest checkpoint: which batches it planned, and one Spark bug worked around.

Spark 4.1.0 and 4.1.1's Kafka source fail when they replay a batch whose commit was not
recorded, so before the query starts the offsets entry of such a batch is removed and Spark
plans it afresh from the last committed offsets. The repair acts only on the versions in
``REPLAY_BUG_VERSIONS`` and only while this process holds the driver lease (``lake.lease``).
It is safe because the sink is idempotent (``lake.writer``) and a re-planned batch keeps the
rules of its batch id (``lake.rules``). Details: docs/lake.md, "Crash recovery".
"""

from __future__ import annotations

import logging

from .hadoopfs import HadoopFolder
from .lease import DriverLease

log = logging.getLogger(__name__)

#: Spark releases whose Kafka source cannot replay an uncommitted batch (inclusive range).
REPLAY_BUG_VERSIONS = ((4, 1, 0), (4, 1, 1))


def _version(text: str) -> tuple[int, int, int]:
    """``4.1.1`` (or ``4.1.1-SNAPSHOT``) -> (4, 1, 1)."""
    parts = [*text.split("-", 1)[0].split("."), "0", "0"][:3]
    return (int(parts[0]), int(parts[1]), int(parts[2]))


def has_replay_bug(spark_version: str) -> bool:
    low, high = REPLAY_BUG_VERSIONS
    return low <= _version(spark_version) <= high


def batch_ids(folder: HadoopFolder) -> list[int]:
    return sorted(int(name) for name in folder.names() if name.isdigit())


def next_batch_id(checkpoint: HadoopFolder) -> int:
    """The id Spark gives the first batch it plans from now on (0 for a new checkpoint)."""
    planned = batch_ids(checkpoint.child("offsets"))
    return planned[-1] + 1 if planned else 0


def drop_uncommitted_batch(checkpoint: HadoopFolder, lease: DriverLease, spark_version: str) -> int | None:
    """Remove the offsets entry of a batch that started but never committed; return its id.

    Nothing is done on a Spark version without the replay bug; CheckpointBusy is raised,
    before anything is touched, when ``lease`` is not (or no longer) this process's.
    """
    offsets_dir = checkpoint.child("offsets")
    offsets = batch_ids(offsets_dir)
    commits = batch_ids(checkpoint.child("commits"))
    if not offsets or (commits and commits[-1] >= offsets[-1]):
        return None
    last = offsets[-1]
    if not has_replay_bug(spark_version):
        log.info("Spark replays the uncommitted batch itself", extra={"batch_id": last, "spark": spark_version})
        return None
    lease.verify()
    for name in (str(last), f".{last}.crc"):
        offsets_dir.delete(name)
    log.warning("re-planning uncommitted batch", extra={"batch_id": last, "checkpoint": checkpoint.uri})
    return last
