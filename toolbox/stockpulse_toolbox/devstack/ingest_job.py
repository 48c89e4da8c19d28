"""The streaming ingest job as a background process of the local stack."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from stockpulse.events.admin import topic_end_offsets
from stockpulse.events.topics import LAKE_TOPICS
from stockpulse.lake.catchup import caught_up, insights_caught_up
from stockpulse.lake.progress import progress_path, read_progress
from stockpulse.settings import Settings

from .process import ManagedProcess, wait_until


class IngestJob:
    def __init__(self, settings: Settings, name: str = "ingest") -> None:
        self.settings = settings
        self.process = ManagedProcess(name, settings.run_dir)
        self.progress_file = progress_path(settings.run_dir)

    def env(self) -> dict[str, str]:
        """The environment that makes the job load this object's settings."""
        return {**os.environ, **self.settings.to_env(), "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONUNBUFFERED": "1"}

    @staticmethod
    def argv(available_now: bool = False, ui: bool = True) -> list[str]:
        """``stockpulse ingest`` as this interpreter runs it."""
        flags = (["--available-now"] if available_now else []) + ([] if ui else ["--no-ui"])
        return [sys.executable, "-m", "stockpulse.cli", "ingest", *flags]

    def start(self, timeout: float = 300.0, ui: bool = True) -> None:
        """Start the job and wait until its query runs (the first progress is written)."""
        self.progress_file.unlink(missing_ok=True)
        self.process.start(self.argv(ui=ui), env=self.env())
        wait_until(self.progress_file.exists, timeout, "ingest", interval=0.5, alive=self.process.running)

    def catch_up(self, timeout: float = 300.0) -> subprocess.CompletedProcess:
        """``stockpulse ingest --available-now`` in the foreground, as its own driver: read what is in
        Kafka, then exit. Its exit code and output are the caller's to judge."""
        return subprocess.run(
            self.argv(available_now=True, ui=False), env=self.env(), capture_output=True, text=True, timeout=timeout
        )

    def progress(self) -> dict | None:
        return read_progress(self.progress_file)

    def wait_caught_up(self, timeout: float = 300.0, insights: bool = False) -> dict[str, Any]:
        """Until the lake holds everything in Kafka's lake topics (``lake.catchup``), and with
        ``insights`` the insights query has read it too; the progress then.

        Raises RuntimeError when the job dies or the timeout passes."""
        from confluent_kafka import KafkaException

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"ingest died; see {self.process.log_file}")
            progress = self.progress()
            if progress and progress.get("end_offsets"):
                try:
                    ends = topic_end_offsets(self.settings.kafka.bootstrap, LAKE_TOPICS, timeout=5)
                except KafkaException:  # a loaded broker's slow metadata answer: ask again
                    ends = None
                done = ends is not None and caught_up(progress, ends)
                if done and (not insights or insights_caught_up(progress, ends)):
                    return progress
            time.sleep(0.5)
        raise RuntimeError(f"ingest did not catch up in {timeout:.0f} s: {self.progress()}")

    def stop(self, timeout: float = 60.0) -> bool:
        return self.process.stop(timeout)

    def kill(self) -> None:
        self.process.kill()

    def running(self) -> bool:
        return self.process.running()
