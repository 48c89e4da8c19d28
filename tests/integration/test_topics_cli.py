"""`stockpulse topics`, what the chart's topics Job runs, against the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

pytestmark = pytest.mark.integration


def topics_cli(bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STOCKPULSE_KAFKA_BOOTSTRAP": bootstrap}
    return subprocess.run(
        [sys.executable, "-m", "stockpulse.cli", "topics", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_topics_creates_what_is_missing_with_the_given_settings_once(kafka) -> None:
    name = f"t_{uuid.uuid4().hex[:8]}"
    first = topics_cli(kafka.bootstrap, "--topic", f"{name}:2:1:1:3600000")
    assert first.returncode == 0, first.stderr
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    metadata = admin.list_topics(timeout=10).topics[name]
    assert len(metadata.partitions) == 2
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    config = admin.describe_configs([resource])[resource].result(timeout=10)
    assert config["retention.ms"].value == "3600000"
    assert config["min.insync.replicas"].value == "1"
    again = topics_cli(kafka.bootstrap, "--topic", f"{name}:2:1:1:3600000")
    assert again.returncode == 0, again.stderr
    assert "created none" in again.stderr


def test_topics_gives_up_with_one_line_when_kafka_never_answers() -> None:
    proc = topics_cli("127.0.0.1:1", "--wait", "3")
    assert proc.returncode == 1
    assert "not usable after 3 s" in proc.stderr


def test_a_malformed_topic_is_a_usage_error() -> None:
    proc = topics_cli("127.0.0.1:1", "--topic", "stock_call:3")
    assert proc.returncode == 2 and "name:partitions:replicas" in proc.stderr
