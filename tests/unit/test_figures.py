"""``make docs-figures``: the one step that writes measured figures into tracked docs."""

from __future__ import annotations

from stockpulse_toolbox import figures
from stockpulse_toolbox.bench.report import ROWS_MARKER, SOAK_MARKER


def test_the_fault_table_replaces_what_stood_between_the_markers(tmp_path) -> None:
    doc = tmp_path / "reliability.md"
    doc.write_text(f"intro\n{figures.FAULTS_BEGIN} (do not edit) -->\nold table\n{figures.FAULTS_END}\nafter\n")
    assert figures.faults_into(doc, "| new | table |\n")
    assert doc.read_text() == (
        f"intro\n{figures.FAULTS_BEGIN} (do not edit) -->\n| new | table |\n{figures.FAULTS_END}\nafter\n"
    )
    assert not figures.faults_into(doc, "| new | table |\n")  # the same table again changes nothing


def test_a_doc_without_the_markers_is_left_alone(tmp_path) -> None:
    doc = tmp_path / "reliability.md"
    doc.write_text("no markers\n")
    assert not figures.faults_into(doc, "| t |\n")
    assert doc.read_text() == "no markers\n"


def test_a_bench_row_is_added_once_and_quick_or_failed_runs_add_none(tmp_path, monkeypatch) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text(f"head\n{ROWS_MARKER}\n{SOAK_MARKER}\n")
    monkeypatch.setattr(figures.report, "doc_row", lambda f: f"| {f['date']} |")
    run = {"date": "2026-12-03T10:00", "api": {}}
    assert figures.bench_into(doc, run) == 1
    assert figures.bench_into(doc, run) == 0
    assert figures.bench_into(doc, {**run, "date": "x", "quick": True}) == 0
    assert figures.bench_into(doc, {**run, "date": "y", "error": "broker died"}) == 0
    assert doc.read_text() == f"head\n| 2026-12-03T10:00 |\n{ROWS_MARKER}\n{SOAK_MARKER}\n"


def test_only_a_soak_of_thirty_minutes_or_more_adds_rows(tmp_path, monkeypatch) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text(f"{ROWS_MARKER}\n{SOAK_MARKER}\n")
    monkeypatch.setattr(figures, "soak_rows", lambda f: [f"| soak {f['command']} |"])
    assert figures.bench_into(doc, {"soak": {}, "command": "stockpulse bench --soak 1 --maintenance with"}) == 0
    assert figures.bench_into(doc, {"soak": {}, "command": "stockpulse bench --soak 30 --maintenance both"}) == 1
    assert doc.read_text() == f"{ROWS_MARKER}\n| soak stockpulse bench --soak 30 --maintenance both |\n{SOAK_MARKER}\n"
