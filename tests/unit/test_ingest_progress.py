"""The ingest's progress file says which tables a batch has committed so far, which is what lets the
fault suite kill a driver between two tables' commits."""

from __future__ import annotations

from stockpulse.jobs.ingest import IngestProgress
from stockpulse.lake.progress import read_progress

from tests.support.lake import between_tables


def test_each_table_commit_is_written_and_a_new_batch_starts_with_none(tmp_path):
    path = tmp_path / "progress.json"
    progress = IngestProgress(path, rules_version=1)
    progress.batch_started(7)
    assert read_progress(path)["batch_merged"] == []
    progress.table_merged(7, "stock_call")
    assert read_progress(path)["batch_merged"] == ["stock_call"]
    assert between_tables(read_progress(path))
    progress.table_merged(7, "stock_operation")
    assert read_progress(path)["batch_merged"] == ["stock_call", "stock_operation"]
    assert not between_tables(read_progress(path))
    progress.batch_started(8)
    assert read_progress(path)["batch_merged"] == []
    progress.table_merged(7, "quarantine")  # a late report of a batch that is no longer running
    assert read_progress(path)["batch_merged"] == []


def test_a_finished_batch_is_not_between_tables():
    done = {"batch_started": 4, "batch_finished": 4, "batch_merged": ["stock_call"]}
    assert not between_tables(done)
    assert between_tables({**done, "batch_finished": 3})
