"""Where a micro-batch's time goes, from a Spark event log: the ingest's profile.

Record an event log for any run that starts the ingest, e.g.::

    PYSPARK_SUBMIT_ARGS="--conf spark.eventLog.enabled=true --conf spark.eventLog.compress=false \\
      --conf spark.eventLog.dir=file:/tmp/sparklog pyspark-shell" .venv/bin/python -m stockpulse.bench.lake
    .venv/bin/python -m stockpulse.bench.sparklog /tmp/sparklog

For every streaming micro-batch it prints Spark's ``durationMs`` (``addBatch`` is the
``foreachBatch`` writer) and the SQL executions that ran inside it, in order, with their wall
time: in ``lake.writer`` they are the per-topic ``count()``, ``MERGE`` and quarantine steps.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _lines(path: Path) -> Iterator[str]:
    if path.suffix == ".zstd":
        import zstandard

        with path.open("rb") as fh, zstandard.ZstdDecompressor().stream_reader(fh) as reader:
            yield from reader.read().decode().splitlines()
    else:
        yield from path.read_text().splitlines()


def read_events(folder: Path) -> list[dict[str, Any]]:
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith((".", "appstatus"))]
    events = []
    for path in files:
        for line in _lines(path):
            if line.strip():
                events.append(json.loads(line))
    return events


def _spans_another(execution: dict[str, Any], others: list[dict[str, Any]]) -> bool:
    """The micro-batch's own execution encloses the writer's statements; keep only the innermost."""
    end = execution["start"] + execution["ms"]
    return any(o is not execution and execution["start"] <= o["start"] and o["start"] + o["ms"] <= end for o in others)


def batches(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each micro-batch with its duration breakdown and its SQL executions (time ms)."""
    executions: list[dict[str, Any]] = []
    started: dict[int, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for event in events:
        kind = event["Event"]
        if kind.endswith("SQLExecutionStart"):
            started[event["executionId"]] = {"start": event["time"], "what": event.get("description", "")}
        elif kind.endswith("SQLExecutionEnd") and event["executionId"] in started:
            execution = started.pop(event["executionId"])
            execution["ms"] = event["time"] - execution["start"]
            executions.append(execution)
        elif kind.endswith("QueryProgressEvent"):
            progress = event["progress"]
            rows = sum(s.get("numInputRows", 0) for s in progress.get("sources", []))
            inner = [e for e in executions if "batch" in e["what"] and not _spans_another(e, executions)]
            out.append({"batch": progress["batchId"], "rows": rows, "ms": progress["durationMs"], "sql_ms": inner})
            executions = []
    return out


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m stockpulse.bench.sparklog EVENT_LOG_DIR", file=sys.stderr)
        return 2
    for batch in batches(read_events(Path(args[0]))):
        steps = ", ".join(str(e["ms"]) for e in batch["sql_ms"])
        ms = batch["ms"]
        print(
            f"batch {batch['batch']}: {batch['rows']} rows, trigger {ms.get('triggerExecution')} ms, "
            f"addBatch {ms.get('addBatch')} ms; SQL executions inside (ms, in order): {steps}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
