"""The fault suite's last run as a table under .run/figures/; ``make docs-figures`` puts it into
docs/reliability.md between its two markers."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

from stockpulse.settings import PROJECT_ROOT

#: Where the suite leaves its table (``stockpulse_toolbox.figures`` reads it from there).
FIGURES = PROJECT_ROOT / ".run" / "figures" / "fault-suite.md"

HEADER = (
    "| fault | answers given | order intents: 201 / in doubt at the end | order events in Kafka (distinct orders) "
    "| order rows in the lake | orders lost | orders duplicated | events without a 2xx (unexplained) "
    "| checks: 200 answers / rows (lost, duplicated) | seconds |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def _statuses(row: dict[str, Any]) -> str:
    return ", ".join(f"{name}: {n}" for name, n in row["answers_by_status"].items())


def render(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Last run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node() or 'this machine'}, "
        f"{os.cpu_count()} CPUs.",
        "",
        HEADER,
    ]
    for row in rows:
        lines.append(
            f"| {row['fault']} | {row['answers']} | {row['intents']}: {row['acknowledged']} / {row['in_doubt']} "
            f"| {row['kafka_events']} ({row['kafka_orders']}) | {row['lake_rows']} | {row['lost']} "
            f"| {row['duplicated']} | {row['without_2xx']} ({row['unexplained']}) "
            f"| {row['checks_answered']} / {row['check_rows']} ({row['checks_lost']}, {row['checks_duplicated']}) "
            f"| {row['seconds']:.0f} |"
        )
    lines += ["", "Answers by kind and status:", ""]
    lines += [f"- {row['fault']}: {_statuses(row)}" for row in rows]
    return "\n".join(lines)


def write(rows: list[dict[str, Any]]) -> Path:
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(render(rows) + "\n")
    return FIGURES
