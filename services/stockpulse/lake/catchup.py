"""When the ingest has caught up: the one rule the demo, the bench and the tests wait on.

Caught up means that everything in Kafka's lake topics when we asked is committed to the
tables, so every event acknowledged before the question is readable. From the ingest's
progress file (``lake.progress``) and the topics' end offsets:

* no batch is in flight (the last started batch has finished; both are unset when the job
  has run none since it started);
* Spark's last progress is that finished batch, or an idle trigger after it (the next batch
  id, no input rows; Spark reports one after about ten idle seconds), so its end offsets are
  the committed ones and not a batch's still being written;
* those offsets cover every partition's end offset.

The insights query (the driver's second query) has caught up when the end offsets of its
last progress, which the driver copies into the progress file, cover the topics' end
offsets: a backlog it still works through takes CPU from the ingest, so the bench measures
freshness only after both are done.
"""

from __future__ import annotations

from typing import Any

from .progress import lag


def caught_up(progress: dict[str, Any] | None, end_offsets: dict[str, dict[int, int]]) -> bool:
    """True when ``progress`` shows a committed state that covers ``end_offsets`` (see above)."""
    if not progress or not progress.get("end_offsets"):
        return False
    finished = progress.get("batch_finished")
    if progress.get("batch_started") != finished:
        return False
    batch_id = progress.get("batch_id")
    idle = not progress.get("num_input_rows")
    # with no batch since the job started, only an idle trigger's offsets are committed ones
    settled = idle if finished is None else batch_id == finished or (batch_id == finished + 1 and idle)
    return settled and sum(lag(end_offsets, progress).values()) == 0


def insights_caught_up(progress: dict[str, Any] | None, end_offsets: dict[str, dict[int, int]]) -> bool:
    """True when the insights query's last progress covers ``end_offsets``."""
    if not progress or not progress.get("insights_end_offsets"):
        return False
    return sum(lag(end_offsets, {"end_offsets": progress["insights_end_offsets"]}).values()) == 0
