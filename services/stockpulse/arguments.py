"""Command-line arguments shared by the ``stockpulse`` command and the jobs' entry scripts.

Kept apart from the jobs themselves so that building the command's parser imports no pyspark.
"""

from __future__ import annotations

import argparse

#: The tables ``stockpulse maintain --table`` accepts.
MAINTAINED_TABLES = ("stock_call", "stock_operation", "quarantine")
MAINTAIN_HELP = "table maintenance: compact small files, expire old snapshots, rewrite manifests, remove orphan files"
MAINTAIN_EPILOG = (
    "Retention, kept snapshots, orphan margin and target file size: STOCKPULSE_SNAPSHOT_RETENTION_HOURS, "
    "STOCKPULSE_SNAPSHOTS_KEPT, STOCKPULSE_ORPHAN_MARGIN_HOURS, STOCKPULSE_TARGET_FILE_MB (docs/lake.md)."
)
INGEST_HELP = "run the streaming ingest job in the foreground (Kafka -> lake tables)"


def positive_minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"minutes must be a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"minutes must be positive, got {text}")
    return value


def ingest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--available-now", action="store_true", help="process what is in Kafka now, then exit")
    parser.add_argument("--no-ui", action="store_true", help="do not start the Spark UI")


def maintain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", action="append", choices=MAINTAINED_TABLES, help="only this table")
    parser.add_argument(
        "--every", type=positive_minutes, default=None, metavar="MINUTES", help="run again every MINUTES until stopped"
    )
