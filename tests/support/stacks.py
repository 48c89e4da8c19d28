"""The tests' stacks, all through the toolbox's one builder (``LocalStack``) on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stockpulse.settings import Settings, load_settings
from stockpulse_toolbox.devstack.kafka import KafkaBroker
from stockpulse_toolbox.devstack.local_stack import LocalStack, on_free_ports


def stack_settings(run_dir: Path, **overrides: Any) -> Settings:
    """The defaults (none of the caller's ``STOCKPULSE_*``) on free ports, state under ``run_dir``."""
    return on_free_ports(load_settings({}), run_dir, **overrides)


def start_broker(run_dir: Path) -> KafkaBroker:
    """A broker of the test's own, ready, with the product's topics; the test stops it."""
    stack = LocalStack(stack_settings(run_dir), "kafka")
    stack.start()
    return stack.kafka


def api_settings(run_dir: Path, bootstrap: str, **overrides: Any) -> Settings:
    """An API of two workers of four threads on ``bootstrap``."""
    settings = stack_settings(run_dir, kafka={"bootstrap": bootstrap}, api={"workers": 2, "threads": 4})
    return settings.with_overrides(**overrides)


@contextmanager
def lake_parts(run_dir: Path, **overrides: Any) -> Iterator[LocalStack]:
    """A Kafka broker and a Hive metastore, running; the stack's ``ingest`` and ``api`` wait to be started."""
    with LocalStack(stack_settings(run_dir, **overrides), "kafka", "metastore", ingest_ui=False) as stack:
        try:
            yield stack
        finally:
            stack.stop("api", "ingest")
