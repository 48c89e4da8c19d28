"""The ingest job's progress file: what ``status`` shows and what tests and the demo wait on.

The job rewrites it (atomically) after every micro-batch and while idle; readers in other
processes never see half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def progress_path(run_dir: Path) -> Path:
    return run_dir / "ingest" / "progress.json"


def write_progress(path: Path, progress: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".progress-")
    with os.fdopen(fd, "w") as fh:
        json.dump(progress, fh)
    os.replace(tmp, path)


def read_progress(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def committed_offsets(progress: dict[str, Any] | None) -> dict[str, dict[int, int]]:
    """Kafka offsets (next to read, per topic and partition) of the last finished batch."""
    if not progress or not progress.get("end_offsets"):
        return {}
    return {topic: {int(p): int(o) for p, o in parts.items()} for topic, parts in progress["end_offsets"].items()}


def lag(end_offsets: dict[str, dict[int, int]], progress: dict[str, Any] | None) -> dict[str, int]:
    """Records per topic that are in Kafka but not yet in the lake."""
    done = committed_offsets(progress)
    return {
        topic: sum(max(high - done.get(topic, {}).get(p, 0), 0) for p, high in parts.items())
        for topic, parts in end_offsets.items()
    }
