"""The bench's output: the JSON figures, the targets they meet or miss, and its row for docs/performance.md."""

from __future__ import annotations

import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from stockpulse.settings import PROJECT_ROOT

from ..devstack.paths import KAFKA_JARS

DOC = PROJECT_ROOT / "docs" / "performance.md"
#: ``stockpulse bench`` adds its row just above this line of docs/performance.md.
ROWS_MARKER = "<!-- bench rows: `stockpulse bench` adds one row above this line -->"
#: ``stockpulse bench --soak`` adds a row per soak just above this line.
SOAK_MARKER = "<!-- soak rows: `stockpulse bench --soak` adds its rows above this line -->"

TARGETS = {
    "mixed_share_of_ceiling": ("API only: mixed load >= 50% of the ceiling, every order acked", 0.50),
    "mixed_p99_ms": ("API only: mixed p99 <= 50 ms at 50 connections", 50.0),
    "pipeline_order_rps": ("full pipeline: orders >= 2,500/s, every order acked", 2_500.0),
    "pipeline_check_rps": ("full pipeline: checks >= 3,000/s", 3_000.0),
    "pipeline_mixed_p99_ms": ("full pipeline: mixed p99 <= 50 ms", 50.0),
    "freshness_p95_s": ("freshness p95 <= 2 s with the default trigger", 2.0),
    "insight_freshness_p95_s": ("insight freshness (order 201 -> /stocks/<t>/insights counts it) p95 <= 5 s", 5.0),
    "ingest_events_per_second": ("ingest >= 30,000 events/s sustained on local[2] (after the first batch)", 30_000.0),
    "fast_path_seed_query_s": ("fast path answers each seed query < 1 s on a demo-sized lake, same as Spark", 1.0),
}
#: Lower is better for these.
AT_MOST = {"mixed_p99_ms", "pipeline_mixed_p99_ms", "freshness_p95_s", "insight_freshness_p95_s"}


def tool_versions(wrk_version: str) -> dict[str, str]:
    versions = {"wrk": wrk_version, "python": platform.python_version()}
    for dist in ("gunicorn", "flask", "confluent-kafka", "pyspark", "pyiceberg", "pyarrow", "requests"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    try:
        import confluent_kafka

        versions["librdkafka"] = confluent_kafka.libversion()[0]
    except ImportError:
        pass
    clients = sorted(Path(KAFKA_JARS).glob("kafka-clients-*.jar"))
    versions["kafka"] = clients[0].stem.removeprefix("kafka-clients-") if clients else "unknown"
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
        lines = [line for line in (java.stderr or java.stdout).splitlines() if not line.startswith("Picked up ")]
        versions["java"] = lines[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        versions["java"] = "unknown"
    return versions


def machine() -> dict[str, Any]:
    import os

    info: dict[str, Any] = {"cores": os.cpu_count(), "platform": platform.platform()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return info


def evaluate(figures: dict[str, Any]) -> dict[str, Any]:
    """Each target with the measured value and whether it is met (None: not measured in this run)."""
    api = figures.get("api") or {}
    mixed = api.get("mixed") or {}
    pipeline = figures.get("full_pipeline") or {}
    measured = {
        "mixed_share_of_ceiling": api.get("mixed_share_of_ceiling"),
        "mixed_p99_ms": (mixed.get("latency_ms") or {}).get("p99"),
        "pipeline_order_rps": (pipeline.get("order") or {}).get("rps"),
        "pipeline_check_rps": (pipeline.get("check") or {}).get("rps"),
        "pipeline_mixed_p99_ms": ((pipeline.get("mixed") or {}).get("latency_ms") or {}).get("p99"),
        "freshness_p95_s": ((figures.get("freshness") or {}).get("seconds") or {}).get("p95"),
        "insight_freshness_p95_s": ((figures.get("insight_freshness") or {}).get("seconds") or {}).get("p95"),
        "ingest_events_per_second": (figures.get("ingest") or {}).get("sustained_events_per_second_after_first_batch"),
        "fast_path_seed_query_s": (figures.get("sql") or {}).get("fast_path_max_s"),
    }
    out: dict[str, Any] = {}
    for key, (text, limit) in TARGETS.items():
        value = measured[key]
        if value is None:
            met = None
        elif key in AT_MOST:
            met = value <= limit
        elif key == "fast_path_seed_query_s":
            met = value < limit and bool((figures.get("sql") or {}).get("identical"))
        else:
            met = value >= limit
        if key == "mixed_share_of_ceiling" and met is not None:
            met = met and bool(mixed.get("every_order_acked"))
        if key == "pipeline_order_rps" and met is not None:
            met = met and bool((pipeline.get("order") or {}).get("every_order_acked"))
        out[key] = {"target": text, "limit": limit, "measured": value, "met": met}
    return out


def write_json(path: Path, figures: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(figures, indent=2) + "\n")
    tmp.replace(path)


def _f(value: Any, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def _other_work(mixed: dict[str, Any]) -> str:
    other = mixed.get("other_cores_busy")
    return "" if other is None else f"other processes used {other:.2f} cores during the mixed load"


def doc_row(figures: dict[str, Any]) -> str:
    api = figures.get("api") or {}

    def load(name: str) -> dict[str, Any]:
        return api.get(name) or {}

    def rps_p99(name: str) -> str:
        return f"{_f(load(name).get('rps'))} / {_f((load(name).get('latency_ms') or {}).get('p99'), '{:.1f}')}"

    mixed_lat = load("mixed").get("latency_ms") or {}
    fresh = (figures.get("freshness") or {}).get("seconds") or {}
    insight = (figures.get("insight_freshness") or {}).get("seconds") or {}
    ingest = figures.get("ingest") or {}
    pipeline = figures.get("full_pipeline") or {}

    def pipeline_rps(name: str) -> str:
        return _f((pipeline.get(name) or {}).get("rps"))

    pipeline_p99 = ((pipeline.get("mixed") or {}).get("latency_ms") or {}).get("p99")
    cells = [
        figures["date"][:16].replace("T", " ") + " UTC",
        str(figures["machine"]["cores"]),
        _f(load("ceiling").get("rps")),
        rps_p99("check"),
        rps_p99("order"),
        f"{_f(load('mixed').get('rps'))} / "
        + " / ".join(_f(mixed_lat.get(p), "{:.1f}") for p in ("p50", "p95", "p99")),
        _f(api.get("mixed_share_of_ceiling"), "{:.0%}"),
        "yes" if load("mixed").get("every_order_acked") else "no",
        " / ".join(_f(fresh.get(p), "{:.2f}") for p in ("p50", "p95")),
        f"{_f(ingest.get('events_per_second'))} / {_f(ingest.get('sustained_events_per_second_after_first_batch'))}",
        " / ".join(pipeline_rps(name) for name in ("check", "order", "mixed")) + f" / {_f(pipeline_p99, '{:.1f}')}",
        _f(ingest.get("cpu_seconds_per_1000_events"), "{:.2f}"),
        " / ".join(_f(insight.get(p), "{:.2f}") for p in ("p50", "p95")),
        figures.get("note") or _other_work(load("mixed")),
    ]
    return "| " + " | ".join(cells) + " |"


def insert_rows(doc: Path, marker: str, rows: list[str]) -> bool:
    """Insert ``rows`` just above ``marker``; False when the doc or its marker is missing."""
    try:
        text = doc.read_text()
    except FileNotFoundError:
        return False
    if marker not in text:
        return False
    doc.write_text(text.replace(marker, "".join(row + "\n" for row in rows) + marker, 1))
    return True
