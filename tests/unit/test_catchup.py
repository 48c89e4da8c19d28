"""The one caught-up rule (``lake.catchup``), on progress files as the ingest writes them."""

from __future__ import annotations

import pytest
from stockpulse.lake.catchup import caught_up

ENDS = {"stock_call": {0: 40, 1: 12}, "stock_operation": {0: 7}}
COVERED = {"stock_call": {"0": 40, "1": 12}, "stock_operation": {"0": 7}}


def progress(**fields):
    base = {"batch_started": 5, "batch_finished": 5, "batch_id": 5, "num_input_rows": 30, "end_offsets": COVERED}
    return {**base, **fields}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (progress(), True),
        # Spark's idle trigger after the batch: the next id, no rows
        (progress(batch_id=6, num_input_rows=0), True),
        # a restarted job that has run no batch: only its idle trigger counts
        (progress(batch_started=None, batch_finished=None, batch_id=9, num_input_rows=0), True),
        (progress(batch_started=None, batch_finished=None, batch_id=9, num_input_rows=12), False),
        # a batch in flight
        (progress(batch_started=6), False),
        # Spark already reports the next batch (with rows) that the writer has not finished
        (progress(batch_id=6, num_input_rows=4), False),
        # one partition behind by one record
        (progress(end_offsets={"stock_call": {"0": 40, "1": 11}, "stock_operation": {"0": 7}}), False),
        # a partition Spark has not read at all
        (progress(end_offsets={"stock_call": {"0": 40, "1": 12}}), False),
        (progress(end_offsets={}), False),
        (None, False),
    ],
)
def test_caught_up_only_when_committed_offsets_cover_kafka(state, expected):
    assert caught_up(state, ENDS) is expected


def test_an_empty_topic_needs_no_offsets():
    assert caught_up(progress(), {**ENDS, "stock_call": {0: 40, 1: 12, 2: 0}}) is True
