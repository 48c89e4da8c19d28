"""The insights query's catch-up rule: its last progress's end offsets cover Kafka's end offsets."""

from __future__ import annotations

from stockpulse.lake.catchup import insights_caught_up

ENDS = {"stock_call": {0: 5, 1: 3}, "stock_operation": {0: 2}}


def test_the_insights_query_caught_up_only_when_every_partition_is_covered():
    covered = {"insights_end_offsets": {"stock_call": {"0": 5, "1": 3}, "stock_operation": {"0": 2}}}
    behind = {"insights_end_offsets": {"stock_call": {"0": 5, "1": 2}, "stock_operation": {"0": 2}}}
    missing_topic = {"insights_end_offsets": {"stock_call": {"0": 5, "1": 3}}}
    assert insights_caught_up(covered, ENDS)
    assert not insights_caught_up(behind, ENDS)
    assert not insights_caught_up(missing_topic, ENDS)
    assert not insights_caught_up({}, ENDS) and not insights_caught_up(None, ENDS)
