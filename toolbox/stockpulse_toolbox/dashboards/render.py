"""Render the dashboards to JSON files, or check that the committed files are what the code renders."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders.dashboard import Dashboard
from stockpulse.settings import PROJECT_ROOT

from . import api, business, pipeline
from .common import as_json

#: File name (without .json) -> the module's builder; the chart ships every file as a ConfigMap.
DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    "api": api.build,
    "pipeline": pipeline.build,
    "business": business.build,
}
OUT_DIR = PROJECT_ROOT / "charts" / "stockpulse" / "dashboards"


def rendered() -> dict[str, str]:
    """File name -> JSON text, stable (sorted keys, two-space indent, final newline) so diffs stay readable."""
    return {
        f"{name}.json": json.dumps(as_json(build()), indent=2, sort_keys=True) + "\n"
        for name, build in DASHBOARDS.items()
    }


def stale(out_dir: Path = OUT_DIR) -> list[str]:
    """Files in ``out_dir`` that differ from the code's rendering, are missing, or have no dashboard module."""
    want = rendered()
    have = {path.name: path.read_text() for path in out_dir.glob("*.json")}
    return sorted(name for name in set(want) | set(have) if want.get(name) != have.get(name))


def write(out_dir: Path = OUT_DIR) -> list[str]:
    """Write every dashboard, remove JSON files no module renders; return the names written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    want = rendered()
    for path in out_dir.glob("*.json"):
        if path.name not in want:
            path.unlink()
    for name, text in want.items():
        (out_dir / name).write_text(text)
    return sorted(want)
