"""Real parts on loopback: a Kafka 4 KRaft broker from the Maven jars and the API under gunicorn."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from stockpulse.events.admin import ensure_topics
from stockpulse.settings import Settings, load_settings
from stockpulse_toolbox.devstack.api_server import ApiServer
from stockpulse_toolbox.devstack.kafka import KafkaBroker
from stockpulse_toolbox.devstack.process import free_port, free_ports


def start_broker(run_dir) -> KafkaBroker:
    port, controller_port = free_ports(2)
    broker = KafkaBroker(run_dir, port=port, controller_port=controller_port)
    broker.start()
    broker.wait_ready()
    ensure_topics(broker.bootstrap)
    return broker


@pytest.fixture(scope="session")
def kafka(tmp_path_factory) -> Iterator[KafkaBroker]:
    broker = start_broker(tmp_path_factory.mktemp("kafka-run"))
    yield broker
    broker.stop()


def api_settings(run_dir, bootstrap: str, **overrides: Any) -> Settings:
    return load_settings({}).with_overrides(
        run_dir=run_dir,
        kafka_bootstrap=bootstrap,
        api_bind=f"127.0.0.1:{free_port()}",
        workers=2,
        threads=4,
        **overrides,
    )


@pytest.fixture(scope="module")
def api(kafka, tmp_path_factory) -> Iterator[ApiServer]:
    server = ApiServer(api_settings(tmp_path_factory.mktemp("api-run"), kafka.bootstrap))
    server.start()
    yield server
    server.stop()


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


def call(
    base_url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Reply:
    request = urllib.request.Request(base_url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            raw, status, hdrs = resp.read(), resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raw, status, hdrs = exc.read(), exc.code, dict(exc.headers)
    try:
        parsed: Any = json.loads(raw)
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return Reply(status, parsed, hdrs)


def metric_total(url: str, name: str, **labels: str) -> float:
    """Sum of the samples of metric ``name`` (with these labels) that ``/metrics`` shows now."""
    text = call(url, "GET", "/metrics").body
    total = 0.0
    for line in text.splitlines():
        if not (line.startswith(name + "{") or line.startswith(name + " ")):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total
