"""``make docs-figures``: copy the latest measured figures from ``.run/`` into the docs.

Tests and benchmarks write their figures under ``.run/`` only, so ``git status`` stays
clean after ``make test``; this is the one step that changes tracked docs, run on purpose:

* the fault suite's table (``.run/figures/fault-suite.md``) between the markers of
  docs/reliability.md;
* the row of a full ``stockpulse bench`` run, or the rows of a soak of 30 minutes or more
  (``.run/bench.json``), above their markers in docs/performance.md, once per run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from stockpulse.settings import PROJECT_ROOT

from .bench import report
from .bench.soak import DOC_MINUTES, soak_rows

RUN = PROJECT_ROOT / ".run"
FAULTS = RUN / "figures" / "fault-suite.md"
RELIABILITY = PROJECT_ROOT / "docs" / "reliability.md"
FAULTS_BEGIN = "<!-- fault-suite:begin"
FAULTS_END = "<!-- fault-suite:end -->"


def faults_into(doc: Path, table: str) -> bool:
    """Replace what stands between the fault-suite markers of ``doc`` with ``table``."""
    text = doc.read_text()
    start = text.find(FAULTS_BEGIN)
    end = text.find(FAULTS_END)
    if start < 0 or end < start:
        return False
    begin_line_end = text.index("\n", start) + 1
    new = text[:begin_line_end] + table.rstrip("\n") + "\n" + text[end:]
    doc.write_text(new)
    return new != text


def bench_rows(figures: dict) -> tuple[str, list[str]]:
    """The marker and rows a bench or soak run adds to docs/performance.md (none for quick or failed runs)."""
    if figures.get("error"):
        return report.ROWS_MARKER, []
    if figures.get("soak") is not None:
        minutes = float(figures["command"].split("--soak ")[1].split()[0])
        return report.SOAK_MARKER, soak_rows(figures) if minutes >= DOC_MINUTES else []
    if figures.get("quick") or "api" not in figures:
        return report.ROWS_MARKER, []
    return report.ROWS_MARKER, [report.doc_row(figures)]


def bench_into(doc: Path, figures: dict) -> int:
    """Add the run's rows above their marker unless ``doc`` already has them; the number added."""
    marker, rows = bench_rows(figures)
    text = doc.read_text()
    new = [row for row in rows if row not in text]
    if new and report.insert_rows(doc, marker, new):
        return len(new)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stockpulse_toolbox.figures", description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=RUN / "bench.json", help="bench or soak figures (JSON)")
    parser.add_argument("--faults", type=Path, default=FAULTS, help="the fault suite's table")
    args = parser.parse_args(argv)
    if args.faults.exists():
        changed = faults_into(RELIABILITY, args.faults.read_text())
        print(f"{RELIABILITY}: {'fault-suite table updated' if changed else 'unchanged'}")
    else:
        print(f"{args.faults}: none (run the fault suite: make test-system)")
    if args.bench.exists():
        added = bench_into(report.DOC, json.loads(args.bench.read_text()))
        print(f"{report.DOC}: {added} row(s) added")
    else:
        print(f"{args.bench}: none (run make bench or make soak)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
