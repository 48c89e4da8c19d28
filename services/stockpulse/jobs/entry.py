"""What every command and job ``main`` does before its work: arguments, settings from the environment, logging."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ..logconfig import configure_logging
from ..settings import Settings, SettingsError, load_settings


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
