"""Where the project keeps fetched jars and run state."""

from __future__ import annotations

import sys
from pathlib import Path

from stockpulse.settings import JARS_DIR

KAFKA_JARS = JARS_DIR / "kafka"
SPARK_JARS = JARS_DIR / "spark"
DERBY_JARS = JARS_DIR / "derby"


def venv_bin(name: str) -> str:
    """A console script installed beside the running interpreter (gunicorn, locust, ...)."""
    return str(Path(sys.executable).parent / name)


def require_jars(folder: Path) -> None:
    if not folder.is_dir() or not any(folder.glob("*.jar")):
        raise FileNotFoundError(f"{folder} has no jars; run `make setup` first")
