"""When the ingest has caught up: the one rule the demo, the bench and the tests wait on.

Caught up: everything in the lake topics when asked is committed, so every event acknowledged
before the question is readable. From the progress file (``lake.progress``): no batch is in
flight, Spark's last progress is that finished batch or an idle trigger after it (so its end
offsets are committed ones), and those offsets cover every partition's end offset. The
insights query has caught up when its last progress's end offsets cover the topics' ends;
the bench waits for both, as the insights' backlog takes CPU from the ingest.
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
