"""Command-line arguments and start-up shared by the ``stockpulse`` command and the jobs' entry scripts.

Kept apart from the jobs themselves, and in every image's slice, so that building the
command's parser imports no pyspark and the API image can run ``stockpulse topics``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .logconfig import configure_logging
from .settings import Settings, SettingsError, load_settings

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


def job_main(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    work: Callable[[Settings, argparse.Namespace], int],
) -> int:
    """Parse ``argv``, load the settings (a bad value exits 2 with one line), configure logging, run ``work``."""
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"{parser.prog}: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, stream=sys.stderr)
    return work(settings, args)
